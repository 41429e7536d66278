"""Moved to resnetlab.analysis.report; kept for one release. The old name is the very same module
object."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("resnetlab.analysis.report")
