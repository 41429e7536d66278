"""The adversarial tests reuse the unit tests' helpers (tiny data sets, model files)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
