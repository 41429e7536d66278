"""Moved to resnetlab.provenance (kept for one release)."""

from resnetlab.provenance import cpu_name, machine

__all__ = ["cpu_name", "machine"]
