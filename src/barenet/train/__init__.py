"""Training: ``fit``/``evaluate``/``predict``, callbacks, checkpoints, metrics,
and ``run_training`` (the function behind ``barenet train`` and every sweep run)."""

from .callbacks import (
    Callback,
    CosineLR,
    EarlyStopping,
    GradientNormRecorder,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    StepLR,
    make_schedule,
)
from .checkpoint import load_checkpoint, save_checkpoint
from .history import History
from .metrics import accuracy, classification_report, confusion_matrix, precision_recall_f1
from .run import load_data, make_optimizer, run_training
from .summary import summary
from .trainer import TrainContext, TrainingDiverged, evaluate, fit, predict

__all__ = [
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "GradientNormRecorder",
    "History",
    "LambdaCallback",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "StepLR",
    "TrainContext",
    "TrainingDiverged",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_data",
    "make_optimizer",
    "make_schedule",
    "precision_recall_f1",
    "predict",
    "run_training",
    "summary",
    "save_checkpoint",
]
