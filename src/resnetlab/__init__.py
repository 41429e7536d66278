"""resnetlab: the deep residual networks of He et al. (2015), built, trained, reproduced."""

from resnetlab.checkpoint import load_model, save_model
from resnetlab.models import ModelSpec, ResNet, get_spec, list_models
from resnetlab.models.convert import (
    convert_state_dict,
    import_checkpoint,
    read_state_dict,
)
from resnetlab.models.stats import collect_responses, count_macs, count_params
from resnetlab.provenance import package_version
from resnetlab.weights import create_model  # the architecture, with weights on request

__version__ = package_version()

__all__ = [
    "ModelSpec",
    "ResNet",
    "collect_responses",
    "convert_state_dict",
    "count_macs",
    "count_params",
    "create_model",
    "get_spec",
    "import_checkpoint",
    "list_models",
    "load_model",
    "read_state_dict",
    "save_model",
]
