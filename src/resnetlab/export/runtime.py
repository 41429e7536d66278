"""Moved to resnetlab.inference.runtime (kept for one release)."""

from resnetlab.inference.runtime import (
    DYNAMO_MIN_OPSET,
    EXTRA_HINT,
    MissingDependency,
    onnx_proto,
    onnx_session,
    quiet_exporter,
    require,
    session_runner,
)

__all__ = [
    "DYNAMO_MIN_OPSET",
    "EXTRA_HINT",
    "MissingDependency",
    "onnx_proto",
    "onnx_session",
    "quiet_exporter",
    "require",
    "session_runner",
]
