"""Moved to resnetlab.data.sets.sources; kept for one release.

The old name is the very same module object, so private names and monkeypatching still work.
"""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("resnetlab.data.sets.sources")
