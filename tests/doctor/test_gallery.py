"""The planted-bug gallery: every bug gets its diagnosis, every correct twin of it ``ok``."""

from __future__ import annotations

import numpy as np
import pytest

import barenet as bn
from barenet import reference as R
from barenet.doctor import DIAGNOSES, check_layer

from .gallery import GALLERY


@pytest.mark.parametrize("bug", GALLERY, ids=[b.id for b in GALLERY])
def test_each_planted_bug_gets_its_diagnosis(bug, f64):
    obj, kw = bug.make()
    report = check_layer(obj, bug.input_shape, twin=False, **kw)
    row = report[bug.tensor]
    assert row.diagnosis == bug.expected, f"{bug.what}: {row.diagnosis}: {row.hint}"
    for words in bug.hint_words:
        assert words in row.hint, row.hint
    if bug.factor is not None:
        assert row.factor == pytest.approx(bug.factor, rel=1e-6)
    assert not report.ok
    assert all(t.diagnosis in DIAGNOSES for t in report.tensors)


def test_the_gallery_covers_the_layer_families_and_the_vocabulary():
    assert len(GALLERY) >= 12
    expected = {b.expected for b in GALLERY}
    assert expected == set(DIAGNOSES) - {"ok"}
    for family in ("conv", "linear", "maxpool", "avgpool", "batchnorm", "cross-entropy",
                   "leaky-relu", "dropout"):  # fmt: skip
        assert any(b.id.startswith(family) for b in GALLERY), family


def _geometry(stride, padding):
    return {"stride": (stride, stride), "padding": (padding,) * 4}


CORRECT = [
    ("conv s2 p1", (R.conv2d_forward, R.conv2d_backward), (2, 3, 9, 9),
     {"params": {"w": (4, 3, 3, 3), "b": (4,)}, "args": _geometry(2, 1)}),
    ("conv s1 p1", (R.conv2d_forward, R.conv2d_backward), (2, 3, 7, 7),
     {"params": {"w": (4, 3, 3, 3), "b": (4,)}, "args": _geometry(1, 1)}),
    ("linear", (R.linear_forward, R.linear_backward), (5, 6), {"params": {"w": (4, 6), "b": (4,)}}),
    ("maxpool 3x3 s2", (R.maxpool2d_forward, R.maxpool2d_backward), (2, 2, 9, 9),
     {"args": {"kernel": (3, 3), "stride": (2, 2)}}),
    ("avgpool", (R.avgpool2d_forward, R.avgpool2d_backward), (2, 2, 6, 6),
     {"args": {"kernel": (2, 2), "stride": (2, 2)}}),
    ("leaky relu", (R.leaky_relu_forward, R.leaky_relu_backward), (4, 7), {"args": {"slope": 0.1}}),
    ("dropout", (R.dropout_forward, R.dropout_backward), (4, 6),
     {"args": {"p": 0.4}, "fresh": {"rng": lambda: np.random.default_rng(0)}}),
]  # fmt: skip


@pytest.mark.parametrize("case", CORRECT, ids=[c[0] for c in CORRECT])
def test_the_correct_functions_the_bugs_vary_are_ok(case):
    _, fns, shape, kw = case
    report = check_layer(fns, shape, twin=False, **kw)
    assert report.ok, str(report)


@pytest.mark.parametrize(
    "make",
    [
        lambda: bn.Sequential(
            bn.Conv2d(2, 3, 3, padding=1), bn.ReLU(), bn.Conv2d(3, 2, 3, stride=2)
        ),
        lambda: bn.BatchNorm2d(3),
        lambda: bn.SoftmaxCrossEntropy(),
        lambda: bn.Sigmoid(),
        lambda: bn.Dropout(0.4),
    ],
    ids=["model", "batchnorm", "cross-entropy", "sigmoid", "dropout-train"],
)
def test_the_correct_layers_the_bugs_vary_are_ok(make, f64):
    shape = {bn.Sequential: (2, 2, 7, 7), bn.BatchNorm2d: (2, 3, 4, 4)}
    layer = make()
    report = check_layer(layer, shape.get(type(layer), (4, 5)), twin=False)
    assert report.ok, str(report)
