"""The run folder's lock (issue 24, item 5): one process writes a run folder at a time.

Real processes: a training held at a chosen step (it waits for a line on stdin), killed with
SIGKILL, or two started at once; in this process the second training, resume or reproduce.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from train_helpers import learnable_mnist, tiny_config

from resnetlab.cli import main as cli_main
from resnetlab.reproduce import runner
from resnetlab.reproduce.runner import RunSpec, execute
from resnetlab.train import fit, run_folder
from resnetlab.train.run_folder import HOLDER_FILE, LOCK_FILE, RunFolderBusy, check_out_dir, hold

UNIT = Path(__file__).resolve().parent
SRC = Path(run_folder.__file__).parents[2]

# fit(tiny_config) into argv[2]; "ready" then a stdin line before it starts (to race another),
# and "held N" then a stdin line before its step N (0: never), so the test decides when.
TRAINER = textwrap.dedent(f"""
    import sys
    sys.path.insert(0, {str(UNIT)!r})
    from pathlib import Path
    from train_helpers import tiny_config
    from resnetlab.train import engine, fit
    root, out, hold_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    orig, n = engine.TrainStep.__call__, [0]

    def call(self, x, y):
        n[0] += 1
        if n[0] == hold_at:
            print(f"held {{n[0]}}", flush=True)
            sys.stdin.readline()
        return orig(self, x, y)

    engine.TrainStep.__call__ = call
    print("ready", flush=True)
    sys.stdin.readline()
    r = fit(tiny_config(root), out)
    print("trained" if not r.already_complete else "complete already", flush=True)
""")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return learnable_mnist(tmp_path_factory.mktemp("mnist"))


def trainer(root: Path, out: Path, hold_at: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", TRAINER, str(root), str(out), str(hold_at)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def say(p: subprocess.Popen, expect: str) -> None:
    """Wait for the line `expect` from p, then let it go on."""
    line = p.stdout.readline().strip()
    assert line == expect, (line, p.stderr.read()[-2000:] if p.poll() is not None else "")
    p.stdin.write("\n")
    p.stdin.flush()


def finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def test_a_second_training_into_a_held_folder_is_refused_in_one_line(root, tmp_path, capsys):
    out = tmp_path / "run"
    p = trainer(root, out, hold_at=3)
    say(p, "ready")
    assert p.stdout.readline().strip() == "held 3"  # training, mid-run
    rc = cli_main(["train", "--model", "resnet8", "--data", "mnist", "--data-root", str(root),
                   "--iters", "4", "--device", "cpu", "--progress", "off", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert str(out) in err and f"pid {p.pid} " in err and "in use" in err, err
    assert not (out / "summary.json").is_file() or json.loads(
        (out / "summary.json").read_text())["status"] == "running"
    p.stdin.write("\n")
    p.stdin.flush()
    rc, said, err = finish(p)
    assert rc == 0 and said.strip() == "trained", err[-2000:]
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert not (out / HOLDER_FILE).exists()  # the holder's pid goes with its hold


def test_a_sigkilled_holder_blocks_neither_resume_nor_a_new_run(root, tmp_path):
    out = tmp_path / "run"
    p = trainer(root, out, hold_at=8)  # after the checkpoint at 5
    say(p, "ready")
    assert p.stdout.readline().strip() == "held 8"
    p.send_signal(signal.SIGKILL)
    finish(p)
    assert (out / LOCK_FILE).is_file() and str(p.pid) in (out / HOLDER_FILE).read_text()
    r = fit(tiny_config(root), out)  # --resume: the dead holder's lock is no lock
    assert r.summary["status"] == "complete" and not r.already_complete
    assert r.summary["iters"] == 16 and r.metrics[-1]["iter"] == 16


@pytest.mark.slow
def test_two_restarts_racing_after_a_sigkill_one_trains_the_other_is_refused(root, tmp_path):
    out = tmp_path / "run"
    p = trainer(root, out, hold_at=8)
    say(p, "ready")
    assert p.stdout.readline().strip() == "held 8"
    p.send_signal(signal.SIGKILL)
    finish(p)
    racers = [trainer(root, out, hold_at=1) for _ in range(2)]
    for r in racers:
        assert r.stdout.readline().strip() == "ready"
    for r in racers:  # released together
        r.stdin.write("\n")
        r.stdin.flush()
    # the winner stops before its first step and waits for us; the loser ends, refused
    first = racers[0].stdout.readline().strip()
    winner, loser = (racers[0], racers[1]) if first == "held 1" else (racers[1], racers[0])
    rc, said, err = finish(loser)
    assert rc != 0 and said == "" and "RunFolderBusy" in err and f"pid {winner.pid} " in err
    if first != "held 1":
        assert winner.stdout.readline().strip() == "held 1"
    winner.stdin.write("\n")
    winner.stdin.flush()
    rc, said, err = finish(winner)
    assert rc == 0 and said.strip() == "trained", err[-2000:]
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


# One process trains the run the other needs: the other waits, then reads it from the cache.
REPRODUCER = textwrap.dedent(f"""
    import json, sys
    sys.path.insert(0, {str(UNIT)!r})
    from pathlib import Path
    from train_helpers import tiny_config
    from resnetlab.reproduce.runner import RunSpec, execute
    root, runs = Path(sys.argv[1]), Path(sys.argv[2])
    specs = [RunSpec(m, {{"model": m}}) for m in ("resnet8", "plain8")]
    print("ready", flush=True)
    sys.stdin.readline()
    records = execute(specs, runs, build=lambda s: tiny_config(root, iters=6, **s.overrides))
    print(json.dumps([r.status for r in records]), flush=True)
""")


@pytest.mark.slow
def test_two_reproduce_commands_on_one_cache_both_end_well(root, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", REPRODUCER, str(root), str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("\n")
        p.stdin.flush()
    results = [finish(p) for p in procs]
    for rc, _, err in results:
        assert rc == 0, err[-2000:]
    said = [r[1] for r in results]
    mine, theirs = (json.loads(s.strip().splitlines()[-1]) for s in said)
    # each run trained exactly once, by one process, and read back by the other
    assert all(sorted([mine[i], theirs[i]]) == ["cached", "trained"] for i in (0, 1)), said
    assert "waiting for it to end" in "".join(said)


def test_a_run_the_process_holds_already_is_not_refused(root, tmp_path):
    """The reproduce runner holds a run's folder and calls fit, which holds it again."""
    with hold(tmp_path / "run"):
        r = fit(tiny_config(root, iters=2), tmp_path / "run")
    assert r.summary["status"] == "complete"


def test_evaluate_and_export_into_a_held_run_folder_are_refused(root, tmp_path, capsys):
    out = tmp_path / "run"
    fit(tiny_config(root, iters=2), out)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from resnetlab.train.run_folder import hold\n"
         "with hold(sys.argv[1]):\n print('held', flush=True); sys.stdin.readline()", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)})
    assert holder.stdout.readline().strip() == "held"
    for argv in (["evaluate", str(out)],
                 ["export", str(out), "--format", "torchscript", "--out", str(out / "m.pt")]):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"pid {holder.pid} " in err, err
    holder.communicate("\n", timeout=60)
    assert not list(out.glob("eval-*")) and not (out / "m.pt").exists()


def test_the_runner_waits_for_a_run_another_process_trains(tmp_path):
    spec = RunSpec("r", {"model": "resnet8"})
    build = lambda s: {"model": "resnet8", "iters": 3}  # noqa: E731
    out = runner.run_folder(tmp_path, spec, build(spec))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import json, sys
            from pathlib import Path
            from resnetlab.train.run_folder import hold
            out = Path(sys.argv[1])
            with hold(out):
                print("held", flush=True)
                sys.stdin.readline()
                (out / "metrics.jsonl").write_text(json.dumps({"iter": 3}) + "\\n")
                (out / "summary.json").write_text(json.dumps({"status": "complete"}))
        """), str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)})
    assert holder.stdout.readline().strip() == "held"
    logs = []

    def log(line):
        logs.append(line)
        if "waiting" in line:  # the holder finishes the run while this process waits
            holder.stdin.write("\n")
            holder.stdin.flush()

    def never(*a, **k):
        raise AssertionError("trained a run that another process was training")

    [record] = execute([spec], tmp_path, build=build, fit=never, log=log)
    holder.wait(timeout=60)
    assert record.status == "cached" and f"pid {holder.pid} " in logs[0]


def test_the_lock_files_are_not_somebody_elses_and_a_refused_start_leaves_no_folder(
        root, tmp_path):
    out = tmp_path / "run"
    with hold(out):
        assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, HOLDER_FILE])
        assert check_out_dir(out, tiny_config(root), resume=True, force=False) == "fresh"
    assert not out.exists()  # nothing was written: no folder left behind
    with pytest.raises(ValueError, match="holds no resnetlab run"):
        with hold(out):
            (out / "notes.txt").write_text("mine")
            check_out_dir(out, tiny_config(root), resume=True, force=False)
    assert (out / "notes.txt").is_file()


def test_a_rank_other_than_0_takes_nothing(tmp_path):
    with hold(tmp_path / "run", take=False):
        assert not (tmp_path / "run").exists()


def test_busy_is_a_value_error_the_cli_prints_in_one_line():
    assert issubclass(RunFolderBusy, ValueError)
