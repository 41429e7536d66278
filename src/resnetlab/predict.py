"""Moved to resnetlab.inference (predict, preprocessing); kept for one release."""

from resnetlab.data.pipeline.normalization import IMAGENET_MEAN, IMAGENET_STD
from resnetlab.inference.predict import (
    BACKENDS,
    SCHEMA,
    Predictor,
    PredictResult,
    predict,
    softmax,
    top_k,
)
from resnetlab.inference.preprocessing import (
    IMAGE_EXTENSIONS,
    Preprocessing,
    class_names,
    expand_inputs,
)

__all__ = ["BACKENDS", "IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_EXTENSIONS", "SCHEMA",
           "PredictResult", "Predictor", "Preprocessing", "class_names", "expand_inputs",
           "predict", "softmax", "top_k"]
