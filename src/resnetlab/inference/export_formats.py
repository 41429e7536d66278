"""Writers for the three export formats, each carrying the model's description inside.

The description (model name, classes, normalisation, input size ...) is one JSON document:
ONNX keeps it in metadata_props under "resnetlab" (and the plain keys "classes",
"normalization", "input_size" for other tools), TorchScript and ExportedProgram in the
extra file "resnetlab.json" of their archive.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.inference.onnx_tools import onnx_proto, quiet_exporter, require

META_KEY = "resnetlab"
EXTRA_FILE = "resnetlab.json"
PLAIN_KEYS = ("model", "classes", "normalization", "input_size")


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    dynamic_batch_choice: bool  # False: the format always accepts any batch size


FORMATS = {
    "onnx": Format("onnx", ".onnx", True),
    "torchscript": Format("torchscript", ".pt", False),
    "exported-program": Format("exported-program", ".pt2", True),
}


def write_onnx(model: nn.Module, example: torch.Tensor, path: str, meta: dict[str, Any],
               dynamic_batch: bool, opset: int | None) -> dict[str, Any]:
    onnx = require("onnx", purpose="ONNX export")
    proto, exporter = onnx_proto(model, example, dynamic_batch, opset)
    props = {META_KEY: json.dumps(meta, sort_keys=True)}
    props.update({k: json.dumps(meta[k]) for k in PLAIN_KEYS if k in meta})
    onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto)
    onnx.save_model(proto, path)
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return {"exporter": exporter, "opset": opsets.get("ai.onnx")}


def write_torchscript(model: nn.Module, example: torch.Tensor, path: str, meta: dict[str, Any],
                      dynamic_batch: bool, opset: int | None) -> dict[str, Any]:
    """torch.jit.script: the ResNet's forward has no data-dependent branches to lose, and a
    scripted module accepts any batch size. (PyTorch 2.13 deprecates TorchScript in favour
    of torch.export; it is kept for runtimes that still load only TorchScript.)"""
    buf = io.BytesIO()  # through a buffer: the archive's folder is then not the temp name
    with quiet_exporter():
        scripted = torch.jit.script(model.eval())
        torch.jit.save(scripted, buf, _extra_files={EXTRA_FILE: json.dumps(meta,
                                                                           sort_keys=True)})
    Path(path).write_bytes(buf.getvalue())
    return {"exporter": "torch.jit.script"}


def write_exported_program(model: nn.Module, example: torch.Tensor, path: str,
                           meta: dict[str, Any], dynamic_batch: bool,
                           opset: int | None) -> dict[str, Any]:
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    with quiet_exporter():
        ep = torch.export.export(model.eval(), (example,), dynamic_shapes=shapes)
        buf = io.BytesIO()
        torch.export.save(ep, buf, extra_files={EXTRA_FILE: json.dumps(meta, sort_keys=True)})
    Path(path).write_bytes(buf.getvalue())
    return {"exporter": "torch.export"}


WRITERS = {
    "onnx": write_onnx,
    "torchscript": write_torchscript,
    "exported-program": write_exported_program,
}


def read_export_meta(path: str | Path) -> dict[str, Any]:
    """The resnetlab description embedded in an exported .onnx, .pt or .pt2 file.

    Only metadata is read (protobuf fields or a zip member): no model code is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {path}")
    if path.suffix == ".onnx":
        onnx = require("onnx", purpose="reading ONNX files")
        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as e:  # onnx raises DecodeError and others
            raise ValueError(f"{path}: not a readable ONNX file ({e})") from e
        props = {p.key: p.value for p in proto.metadata_props}
        if META_KEY not in props:
            raise ValueError(f"{path}: no resnetlab metadata (not written by resnetlab export)")
        return json.loads(props[META_KEY])
    try:
        with zipfile.ZipFile(path) as z:
            member = next((n for n in z.namelist() if n.endswith("/" + EXTRA_FILE)
                           or n.endswith("/extra/" + EXTRA_FILE)), None)
            if member is None:
                raise ValueError(f"{path}: no {EXTRA_FILE} inside (not written by resnetlab "
                                 "export)")
            return json.loads(z.read(member))
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: not a TorchScript/ExportedProgram archive ({e})") from e
