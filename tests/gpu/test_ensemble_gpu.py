"""An ensemble whose members live on the GPU: the CPU's averaged probabilities."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet.testing import copy_on
from barenet.train import predict

pytestmark = pytest.mark.gpu


def _members(n=3):
    bn.seed(0)
    layers = lambda: (bn.Flatten(), bn.Linear(16, 8), bn.ReLU(), bn.Linear(8, 3))  # noqa: E731
    cpu = [bn.Sequential(*layers()).to(np.float64) for _ in range(n)]
    gpu = []
    for m in cpu:
        gpu.append(copy_on(m, "cuda", np.float64))
    return cpu, gpu


def test_an_ensemble_on_the_gpu_gives_the_cpus_probabilities():
    import cupy

    cpu, gpu = _members()
    x = np.random.default_rng(0).standard_normal((6, 1, 4, 4))
    want = bn.Ensemble(cpu).predict_proba(x)
    ens = bn.Ensemble(gpu)
    got = ens.predict_proba(cupy.asarray(x))
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-10)
    out = predict(ens, x, batch_size=4)  # host in, host out, the members on the device
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, bn.Ensemble(cpu)(x), rtol=1e-10)
