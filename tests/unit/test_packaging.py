"""What the package ships: the BSD-3-Clause LICENSE, py.typed, the recipes, and the extras."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_license_file_matches_the_declared_license():
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder" in text  # clause 3


def test_typed_and_classified():
    assert (ROOT / "src" / "resnetlab" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["resnetlab"]
    assert "Typing :: Typed" in PROJECT["classifiers"]
    # setuptools refuses a License :: classifier next to an SPDX expression
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])


def test_optional_features_are_extras():
    extras = PROJECT["optional-dependencies"]
    assert any(r.startswith("tensorboard") for r in extras["tensorboard"])
    assert not any(r.startswith("tensorboard") for r in PROJECT["dependencies"])


@pytest.mark.slow
def test_wheel_ships_license_typing_marker_and_recipes(tmp_path):
    """Builds the wheel as a user's pip would (isolated build: needs the package index)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                    str(ROOT)], check=True, timeout=600)
    (wheel,) = tmp_path.glob("resnetlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "resnetlab/py.typed" in names
    assert "resnetlab/train/recipes/demo.yaml" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: BSD-3-Clause" in meta
    assert "Provides-Extra: tensorboard" in meta


def test_matplotlib_is_only_the_plots_extra():
    assert not any(r.startswith("matplotlib") for r in PROJECT["dependencies"])
    assert PROJECT["optional-dependencies"]["plots"] == ["matplotlib>=3.7"]
    assert "plots" in (ROOT / "Makefile").read_text()  # the dev env draws everything


def test_the_torch_floor_is_the_one_make_test_floor_tests():
    import re

    (floor,) = [r.removeprefix("torch>=") for r in PROJECT["dependencies"]
                if r.startswith("torch")]
    tested = re.search(r"^TORCH_FLOOR := (\S+)$", (ROOT / "Makefile").read_text(), re.M)[1]
    assert tested.split(".")[:2] == floor.split(".")[:2] and tested.endswith(".0")
