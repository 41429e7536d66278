"""Training: recipes (typed configs), the fit() engine, schedules, resumable state, evaluation."""

from resnetlab.train.config import TrainConfig
from resnetlab.train.engine import fit
from resnetlab.train.evaluate import EvalResult, evaluate_checkpoint, evaluate_model
from resnetlab.train.recipe_loading import list_recipes, load_recipe
from resnetlab.train.schedule import ScheduleLR, lr_lambda
from resnetlab.train.summary import DivergedError, RunResult

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
