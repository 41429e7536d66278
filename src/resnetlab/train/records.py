"""Moved to resnetlab.train.run_folder (records and the train state are one run folder); kept
for one release. The old name is the very same module object."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("resnetlab.train.run_folder")
