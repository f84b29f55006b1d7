"""Risk models: point-in-time training data, LightGBM training with a time split and isotonic
calibration, metrics, and a versioned registry with a champion per model."""

from riskops.services.models.registry import ModelRegistry
from riskops.services.models.train import TrainedModel, TrainResult, explain, train

__all__ = ["ModelRegistry", "TrainResult", "TrainedModel", "explain", "train"]
