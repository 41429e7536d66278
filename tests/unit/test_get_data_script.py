"""scripts/get-data.sh (`make data`, before `make demo` and `make test`): each branch, with
fake resnetlab / apt-get / sudo / id commands on PATH. The real apt-get never runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from datafiles import tiny_mnist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "get-data.sh"
MESSAGE = "fashion-mnist: data set not found; could not download train-images-idx3-ubyte.gz"

# resnetlab: found once $STATE/installed exists (what apt would put in place), or when
# FAKE_DATA=found|download; otherwise today's message on stderr and exit 2.
FAKE_RESNETLAB = f"""#!/bin/sh
echo "resnetlab $*" >> "$STATE/calls"
if [ "$FAKE_DATA" = download ]; then
    echo "fashion-mnist: downloaded, MD5 verified"; touch "$STATE/downloaded"
fi
if [ -e "$STATE/installed" ] || [ -n "$FAKE_DATA" ]; then
    echo "fashion-mnist: idx files in $STATE"; exit 0
fi
echo "resnetlab data: error: {MESSAGE}" >&2
exit 2
"""
# apt-get: FAKE_APT=ok (install works), update-first (install works after update), fail.
FAKE_APT = """#!/bin/sh
echo "apt-get $* uid=$FAKE_UID" >> "$STATE/calls"
case "$FAKE_APT:$1" in
  ok:install) touch "$STATE/installed"; exit 0 ;;
  update-first:update) touch "$STATE/updated"; exit 0 ;;
  update-first:install) [ -e "$STATE/updated" ] && touch "$STATE/installed" && exit 0; exit 100 ;;
  *) exit 100 ;;
esac
"""
# sudo -n: FAKE_SUDO=ok runs the command as root, anything else asks for a password.
FAKE_SUDO = """#!/bin/sh
echo "sudo $*" >> "$STATE/calls"
[ "$FAKE_SUDO" = ok ] || { echo "sudo: a password is required" >&2; exit 1; }
shift
FAKE_UID=0 exec "$@"
"""
FAKE_ID = """#!/bin/sh
echo "${FAKE_UID:-1000}"
"""


@pytest.fixture
def fake(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, text in {"resnetlab": FAKE_RESNETLAB, "apt-get": FAKE_APT, "sudo": FAKE_SUDO,
                       "id": FAKE_ID}.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()

    def run(data="", apt="fail", sudo="no", uid="1000", apt_get=str(bin_ / "apt-get"),
            resnetlab=str(bin_ / "resnetlab"), env=None):
        e = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path), "STATE": str(state),
             "FAKE_DATA": data, "FAKE_APT": apt, "FAKE_SUDO": sudo, "FAKE_UID": uid,
             "APT_GET": apt_get, "RESNETLAB": resnetlab, **(env or {})}
        p = subprocess.run(["bash", str(SCRIPT)], env=e, capture_output=True, text=True,
                           timeout=120)
        calls = (state / "calls").read_text().splitlines() if (state / "calls").exists() else []
        return p, calls

    run.state = state
    return run


def test_found_where_resnetlab_looks_needs_nothing_else(fake):
    p, calls = fake(data="found", apt="ok", uid="0")
    assert p.returncode == 0, p.stderr
    assert calls == ["resnetlab data get fashion-mnist"]  # no apt, no sudo
    assert "idx files in" in p.stdout and p.stderr == ""


def test_download_through_resnetlab_needs_no_apt(fake):
    p, calls = fake(data="download", apt="ok", uid="0")
    assert p.returncode == 0, p.stderr
    assert (fake.state / "downloaded").exists() and not (fake.state / "installed").exists()
    assert not any(c.startswith(("apt-get", "sudo")) for c in calls)


def test_apt_as_root_says_so(fake):
    p, calls = fake(apt="ok", uid="0")
    assert p.returncode == 0, p.stderr
    assert "installing Debian's dataset-fashion-mnist with" in p.stdout and "(as root)" in p.stdout
    assert "installed by" in p.stdout
    assert calls == ["resnetlab data get fashion-mnist",
                     "apt-get install -y -q dataset-fashion-mnist uid=0",
                     "resnetlab data get fashion-mnist"]


def test_apt_through_passwordless_sudo(fake):
    p, calls = fake(apt="ok", sudo="ok", uid="1000")
    assert p.returncode == 0, p.stderr
    assert "(through sudo)" in p.stdout
    assert "sudo -n true" in calls
    assert "apt-get install -y -q dataset-fashion-mnist uid=0" in calls  # ran as root


def test_apt_updates_its_lists_once_when_install_fails(fake):
    p, calls = fake(apt="update-first", uid="0")
    assert p.returncode == 0, p.stderr
    assert [c.split(" uid")[0] for c in calls if c.startswith("apt-get")] == [
        "apt-get install -y -q dataset-fashion-mnist", "apt-get update -q",
        "apt-get install -y -q dataset-fashion-mnist"]


@pytest.mark.parametrize("case, kw, why", [
    ("sudo asks for a password", dict(sudo="no", uid="1000"),
     "not root, and sudo is missing or asks for a password"),
    ("no apt-get", dict(uid="0", apt_get="apt-get-not-on-this-system"),
     "no apt-get-not-on-this-system on this system"),
    ("apt fails", dict(apt="fail", uid="0"), "install dataset-fashion-mnist failed"),
])
def test_nothing_works_prints_the_message_and_exits_1(fake, case, kw, why):
    p, calls = fake(**kw)
    assert p.returncode == 1, case
    assert MESSAGE in p.stderr and why in p.stderr
    assert not (fake.state / "installed").exists()
    if "password" in case:
        assert not any(c.startswith("apt-get") for c in calls)


def test_real_resnetlab_finds_data_in_resnetlab_data(fake, tmp_path):
    """The real command: a copy in $RESNETLAB_DATA comes before the system folders."""
    tiny_mnist(tmp_path / "data" / "fashion-mnist", n_train=20, n_test=10)
    cmd = tmp_path / "resnetlab-real"
    src = ROOT / "src"
    cmd.write_text(f"#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -m resnetlab \"$@\"\n")
    cmd.chmod(0o755)
    p, calls = fake(resnetlab=str(cmd), apt="ok", uid="0",
                    env={"RESNETLAB_DATA": str(tmp_path / "data"),
                         "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert p.returncode == 0, p.stderr
    assert f"idx files in {tmp_path / 'data' / 'fashion-mnist'}" in p.stdout
    assert not any(c.startswith("apt-get") for c in calls)


def test_make_demo_and_make_test_get_the_data_and_ci_runs_make_test():
    rules = {line.split(":")[0]: line.split(":", 1)[1].split()
             for line in (ROOT / "Makefile").read_text().splitlines()
             if line and not line.startswith(("\t", "#", " ")) and ":" in line and "=" not in line}
    assert "data" in rules["demo"] and "data" in rules["test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "apt-get" not in ci and "set -euo pipefail" in ci
    assert os.access(SCRIPT, os.X_OK)
