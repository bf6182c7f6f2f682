"""The layer doctor: check a hand-written backward and say which element is wrong and why.

``check_layer(layer_or_functions, input_shape=..., twin=None)`` compares, in float64,
the gradient of the input and of every parameter with central differences (and with a
PyTorch twin when one is given or known) and gives each tensor a diagnosis from a fixed
vocabulary:

==========================  ===================================================================
``ok``                      analytic = numeric within tolerance
``scaled``                  analytic = k x numeric for one constant k (k is reported)
``sign``                    analytic = -numeric
``transposed``              analytic matches numeric with two axes swapped
``missing-accumulation``    wrong only where windows overlap or an input is used twice
``border``                  wrong only where the windows reach into the zero padding
``partial``                 wrong only on some samples or channels (named)
``zero``                    analytic is zero where numeric is not
``mutates-input``           backward changed dy, or forward changed x, in place
``not-deterministic``       forward gives different outputs for the same input
``shape``                   a gradient's shape differs from its tensor's
``wrong``                   none of the above: the worst elements are listed
==========================  ===================================================================

``barenet.doctor.exercises`` holds the exercises (a stub to complete, checked by the
doctor and the exercise's own shape cases); ``trace(model, loss_fn, x, y)`` records one
training step layer by layer.
"""

from .check import CheckReport, check_layer
from .diagnose import DIAGNOSES, TensorCheck
from .targets import DoctorInputError, LayerError
from .trace import TraceReport, trace

__all__ = [
    "DIAGNOSES",
    "CheckReport",
    "DoctorInputError",
    "LayerError",
    "TensorCheck",
    "TraceReport",
    "check_layer",
    "trace",
]
