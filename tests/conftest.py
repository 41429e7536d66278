"""Shared test helpers: where ../shared is, and torch kept to the machine's cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def fixtures_dir() -> Path:
    ref = FIXTURES / "cifar10-reference"
    if not ref.is_dir():
        pytest.skip(f"{ref} is absent (the fixtures live in the project's shared/ folder, "
                    "beside the checkout; a plain clone does not have them)")
    return FIXTURES
