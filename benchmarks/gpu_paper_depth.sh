#!/usr/bin/env bash
# The depth experiment's paper budget (ResNet-20 and ResNet-56, one seed, 64k iterations of
# batch 128, lr 0.1 /10 at 32k and 48k, the paper's recipe with no departure) on Fashion-MNIST,
# on one GPU, within one call of the device tool (issue 11, item 4).
#
#   bash benchmarks/gpu_paper_depth.sh [SECONDS]     # SECONDS: training time allowed (510)
#
# Needs the Fashion-MNIST files in .data/fashion-mnist/ (an ignored folder that travels with
# `carry`), and writes everything under results/gpu/ plus logs and a tarball under $OUT.
# The two nets train side by side as two processes (small nets leave the GPU idle between
# kernel launches); a run cut off by SECONDS resumes from its last checkpoint (every 2,000
# iterations) when the script is called again on the same machine, or on a fresh one after
# unpacking the tarball of the last call into the repository root. torch.compile is tried
# first; a run whose compiled start fails trains eagerly instead, in the time left.
# BUDGET=smoke runs the same path on the CPU in seconds (how the script was checked here).
set -u
LIMIT=${1:-510}
BUDGET=${BUDGET:-paper}
OUT=${OUT:-results/gpu/out}
RUNS=results/gpu/runs
mkdir -p "$OUT" "$RUNS"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 RESNETLAB_DATA=$PWD/.data
PY=${PY:-python3}
start=$(date +%s)
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  $PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"
  nproc
} > "$OUT/env.txt" 2>&1

depth() {  # SECONDS DEPTHS OUT [ARGS...]: one `reproduce depth` on the shared run cache
  local secs=$1 depths=$2 out=$3
  shift 3
  timeout -s INT "$secs" $PY -m resnetlab reproduce depth --data fashion-mnist \
    --budget "$BUDGET" --depths "$depths" --seeds 1 --runs "$RUNS" --out "$out" "$@"
}

train() {  # depth: compiled first, eager if that fails before the limit
  local d=$1 rc left
  depth "$LIMIT" "$d" "results/gpu/depth-$d" --set compile=true
  rc=$?
  left=$(( LIMIT - ($(date +%s) - start) ))
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$left" -gt 30 ]; then
    echo "=== compiled run failed (rc $rc): eager, ${left}s left ==="
    depth "$left" "$d" "results/gpu/depth-$d" --set compile=false
    rc=$?
  fi
  echo "=== depth $d: rc $rc after $(( $(date +%s) - start ))s ==="
}

train 20 > "$OUT/train-20.log" 2>&1 &
train 56 > "$OUT/train-56.log" 2>&1 &
wait

# The report only when both runs are complete (else it would train them, past the limit).
complete=$(grep -l '"status": "complete"' "$RUNS"/*/summary.json 2>/dev/null)
done_runs=$(printf '%s' "$complete" | grep -c . || true)
if [ "$done_runs" -ge 2 ]; then
  depth 60 20,56 "results/gpu/depth-fashion-mnist-$BUDGET" > "$OUT/report.log" 2>&1
  echo "report rc $?" >> "$OUT/report.log"
else
  echo "only $done_runs of 2 runs complete: no report yet" > "$OUT/report.log"
fi
# Bring back each unfinished run's train_state.pt too, so that another session can carry the
# cache back and resume (a fresh machine starts bare); finished runs leave theirs behind.
skip=()
for f in $complete; do skip+=("--exclude=$(dirname "$f")/train_state.pt"); done
tar czf "$OUT/gpu-depth.tgz" --exclude=out "${skip[@]}" results/gpu
echo "total $(( $(date +%s) - start ))s" >> "$OUT/report.log"
