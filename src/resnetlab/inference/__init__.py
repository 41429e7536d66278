"""Inference: a model file in, predictions or an exported file out.

preprocessing (image file -> model input), predict (batch top-k), fold (BatchNorm folding),
export (ONNX / TorchScript / ExportedProgram, each verified before it lands), with
export_formats (one writer per format), verify, and onnx_tools (the optional onnx /
onnxruntime packages, imported lazily: the ONNX exporter and ONNX Runtime sessions).
"""

from resnetlab.inference.export import ExportReport, export_model
from resnetlab.inference.export_formats import FORMATS, read_export_meta
from resnetlab.inference.fold import count_bn, fold_bn
from resnetlab.inference.onnx_tools import MissingDependency
from resnetlab.inference.predict import BACKENDS, Predictor, PredictResult, predict
from resnetlab.inference.preprocessing import Preprocessing, class_names, expand_inputs
from resnetlab.inference.verify import Check

__all__ = ["BACKENDS", "FORMATS", "Check", "ExportReport", "MissingDependency", "PredictResult",
           "Predictor", "Preprocessing", "class_names", "count_bn", "expand_inputs",
           "export_model", "fold_bn", "predict", "read_export_meta"]
