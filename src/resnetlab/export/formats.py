"""Moved to resnetlab.inference.formats (kept for one release)."""

from resnetlab.inference.formats import (
    EXTRA_FILE,
    FORMATS,
    META_KEY,
    PLAIN_KEYS,
    WRITERS,
    Format,
    read_export_meta,
    write_exported_program,
    write_onnx,
    write_torchscript,
)

__all__ = [
    "EXTRA_FILE",
    "FORMATS",
    "META_KEY",
    "PLAIN_KEYS",
    "WRITERS",
    "Format",
    "read_export_meta",
    "write_exported_program",
    "write_onnx",
    "write_torchscript",
]
