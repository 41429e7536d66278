"""Export moved to resnetlab.inference (export, formats, verify, runtime); this re-exports it."""

from resnetlab.inference.export import CARRIED, SUFFIXES, ExportReport, export_model
from resnetlab.inference.formats import FORMATS, read_export_meta
from resnetlab.inference.runtime import MissingDependency
from resnetlab.inference.verify import DEFAULT_TOLERANCE, Check

__all__ = ["CARRIED", "DEFAULT_TOLERANCE", "FORMATS", "SUFFIXES", "Check", "ExportReport",
           "MissingDependency", "export_model", "read_export_meta"]
