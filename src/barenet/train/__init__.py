"""Training: ``train_step`` (one step, for your own loop), ``fit``/``evaluate``/
``predict``, callbacks, checkpoints, metrics, and ``run_training`` (the function
behind ``barenet train`` and every sweep run)."""

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
from .config import TrainConfig, read_run_file, settings_reference
from .history import History
from .interrupts import ForcedInterrupt, Terminated, interrupts_handled
from .metrics import accuracy, classification_report, confusion_matrix, precision_recall_f1
from .progress import ProgressBar
from .run import (
    TrainingOutcome,
    TrainingRun,
    build_run,
    load_data,
    make_optimizer,
    run_training,
    train_run,
    write_run,
)
from .step import train_step
from .summary import summary
from .tbptt import LanguageModelMetrics, TruncatedBPTT
from .trainer import TrainContext, TrainingDiverged, evaluate, fit, predict

__all__ = [
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "ForcedInterrupt",
    "GradientNormRecorder",
    "History",
    "LambdaCallback",
    "LanguageModelMetrics",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "StepLR",
    "Terminated",
    "TrainConfig",
    "TrainContext",
    "TrainingOutcome",
    "TrainingRun",
    "TrainingDiverged",
    "TruncatedBPTT",
    "accuracy",
    "build_run",
    "classification_report",
    "confusion_matrix",
    "evaluate",
    "fit",
    "interrupts_handled",
    "load_checkpoint",
    "load_data",
    "make_optimizer",
    "make_schedule",
    "precision_recall_f1",
    "predict",
    "ProgressBar",
    "read_run_file",
    "run_training",
    "summary",
    "save_checkpoint",
    "settings_reference",
    "train_run",
    "train_step",
    "write_run",
]
