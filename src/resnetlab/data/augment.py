"""Moved to resnetlab.data.pipeline.batch_augment; kept for one release.

The old name is the very same module object, so private names and monkeypatching still work.
"""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("resnetlab.data.pipeline.batch_augment")
