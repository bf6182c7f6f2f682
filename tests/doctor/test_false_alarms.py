"""No false alarm: random correct layers (the larger run: benchmarks/doctor_false_alarms.py)."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.doctor import check_layer
from barenet.doctor.random_cases import build, random_case

CASES = 45


@pytest.mark.parametrize("block", range(3))
def test_random_correct_layers_are_all_ok(block):
    rng = np.random.default_rng([1234, block])
    alarms = []
    for _ in range(CASES // 3):
        case = random_case(rng)
        with bn.kernels(case.mode):
            report = check_layer(build(case), case.input_shape, False, seed=case.seed,
                                 **case.kwargs)  # fmt: skip
        if not report.ok:
            alarms.append(f"{case.label} ({case.mode}): {report.diagnoses}")
    assert alarms == []


def test_the_random_cases_cover_modules_functions_losses_and_models():
    rng = np.random.default_rng(0)
    labels = [random_case(rng).label for _ in range(300)]
    for prefix in ("table:", "Conv2d ", "conv2d_forward ", "MaxPool2d", "maxpool2d_forward",
                   "AvgPool2d", "Linear ", "linear_forward", "BatchNorm", "Dropout(",
                   "dropout_forward", "SoftmaxCrossEntropy", "model ", "LeakyReLU"):  # fmt: skip
        assert any(lab.startswith(prefix) for lab in labels), prefix
