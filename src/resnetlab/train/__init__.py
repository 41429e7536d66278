"""Training: recipes (typed configs), the fit() engine, schedules, resumable state, evaluation."""

from resnetlab.train.config import TrainConfig
from resnetlab.train.engine import DivergedError, RunResult, fit
from resnetlab.train.evaluate import EvalResult, evaluate_checkpoint, evaluate_model
from resnetlab.train.recipe_loading import list_recipes, load_recipe
from resnetlab.train.torch_schedule import ScheduleLR, lr_lambda

__all__ = [
    "DivergedError",
    "EvalResult",
    "RunResult",
    "ScheduleLR",
    "TrainConfig",
    "evaluate_checkpoint",
    "evaluate_model",
    "fit",
    "list_recipes",
    "load_recipe",
    "lr_lambda",
]
