"""Pure parts of the risk models: feature lists, the time split, metrics and calibration."""

from riskops.core.models.calibration import Calibration, fit_isotonic
from riskops.core.models.features import MODELS, ModelSpec, feature_problems, spec_problems
from riskops.core.models.metrics import average_precision, brier, recall_at_fpr, roc_auc
from riskops.core.models.split import Split, time_split

__all__ = [
    "MODELS",
    "Calibration",
    "ModelSpec",
    "Split",
    "average_precision",
    "brier",
    "feature_problems",
    "fit_isotonic",
    "recall_at_fpr",
    "roc_auc",
    "spec_problems",
    "time_split",
]
