"""Exercises: each stub fails its check, barenet's reference solution passes it, a wrong
col2im is named, files are never overwritten without force, and an exercise with several
inputs and outputs (a recurrent cell) is one entry."""

from __future__ import annotations

import numpy as np
import pytest

from barenet.doctor import DoctorInputError
from barenet.doctor.exercises import (
    EXERCISES,
    Exercise,
    ShapeCase,
    check,
    find,
    solution_text,
    start,
    stub_text,
)

REQUIRED = ("linear", "relu", "leaky-relu", "sigmoid", "softmax-cross-entropy",
            "conv2d-forward", "conv2d-backward", "maxpool-backward", "batchnorm-backward",
            "dropout")  # fmt: skip


def test_the_required_exercises_exist_each_with_the_required_kinds_of_case():
    names = [e.name for e in EXERCISES]
    assert set(REQUIRED) <= set(names) and len(names) == len(set(names))
    for name in ("conv2d-forward", "conv2d-backward"):
        labels = " ".join(c.label for c in find(name).cases)
        for words in ("stride 2", "padding", "overlapping", "batch of 1"):
            assert words in labels, (name, words)
    for name in ("maxpool-backward", "avgpool-backward"):
        labels = " ".join(c.label for c in find(name).cases)
        assert "overlapping" in labels and "batch of 1" in labels


@pytest.mark.parametrize("ex", EXERCISES, ids=[e.name for e in EXERCISES])
def test_the_stub_fails_and_the_reference_solution_passes(ex, tmp_path):
    stub = tmp_path / ex.stub_name
    assert start(ex.name, stub) == stub
    assert stub.read_text().startswith(f"# barenet exercise: {ex.name}\n")
    report = check(stub)
    assert not report.ok and all(c.todo for c in report.cases)
    assert "still raises NotImplementedError" in str(report)
    for name in ex.write:
        assert f"def {name}(" in stub.read_text()
    solved = tmp_path / f"solved_{ex.stub_name}"
    solved.write_text(solution_text(ex))
    report = check(solved)
    assert report.ok, str(report)
    assert "cases pass: done" in str(report)


def _written(text: str, name: str, body: str) -> str:
    """``text`` with the NotImplementedError of function ``name`` replaced by ``body``."""
    head, _, rest = text.partition(f"def {name}(")
    sig, _, rest = rest.partition("    raise NotImplementedError(")
    _, _, tail = rest.partition(")\n")
    return head + f"def {name}(" + sig + body + tail


COL2IM_ASSIGN = """    n, c = x_pad_shape[:2]
    dx_pad = np.zeros(x_pad_shape)
    d = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            dx_pad[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] = d[
                :, i, j
            ].transpose(1, 0, 2, 3)
    return dx_pad
"""

CONV_BACKWARD = """    cols, x_pad_shape, w, has_bias, (sh, sw), (pt, pb, pl, pr) = cache
    n, o, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(o, n * oh * ow)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy2.sum(axis=1) if has_bias else None
    dx_pad = col2im(w.reshape(o, -1).T @ dy2, x_pad_shape, kh, kw, sh, sw, oh, ow)
    hp, wp = x_pad_shape[2:]
    return dx_pad[:, :, pt : hp - pb, pl : wp - pr], dw, db
"""


def test_a_wrong_col2im_is_named_case_by_case(tmp_path):
    text = stub_text(find("conv2d-backward"))
    text = _written(_written(text, "col2im", COL2IM_ASSIGN), "conv2d_backward", CONV_BACKWARD)
    path = tmp_path / "mine.py"
    path.write_text(text)
    report = check(path)
    assert not report.ok
    by_label = {c.label: c for c in report.cases}
    assert by_label["windows that do not overlap"].ok
    assert by_label["1x1 kernel, no bias"].ok
    bad = by_label["stride 2, padding 1"]
    assert bad.problems[0].startswith("dx: missing-accumulation: ")
    assert "rows 1, 3, 5, 7 and columns 1, 3, 5, 7" in bad.problems[0]
    assert "2 of 6 cases pass; still to fix: dx: missing-accumulation (4 cases)" in str(report)


def test_a_dropout_that_forgets_to_scale_fails_the_exercise_own_checks(tmp_path):
    text = stub_text(find("dropout"))
    text = _written(
        text, "dropout_forward", "    mask = rng.random(x.shape) >= p\n    return x * mask, mask\n"
    )
    text = _written(text, "dropout_backward", "    return dy * cache\n")  # fmt: skip
    path = tmp_path / "drop.py"
    path.write_text(text)
    report = check(path)
    assert all(c.ok for c in report.cases)  # consistent: its gradient is its forward's
    assert not report.ok and "expected x / (1 - p)" in str(report)


def test_start_never_overwrites_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = start("relu")
    assert path.name == "relu.py" and path.is_file()
    path.write_text("# mine\n")
    with pytest.raises(DoctorInputError, match="exists; pass --force"):
        start("relu")
    assert path.read_text() == "# mine\n"
    start("relu", force=True)
    assert path.read_text() == stub_text(find("relu"))
    assert [p.name for p in tmp_path.iterdir()] == ["relu.py"]  # no temporary file left
    with pytest.raises(DoctorInputError, match="unknown exercise 'nope'; the exercises are"):
        start("nope")


def test_files_that_are_not_exercises_are_refused(tmp_path):
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(DoctorInputError, match="not an exercise file"):
        check(other)
    with pytest.raises(DoctorInputError, match="no such file"):
        check(tmp_path / "missing.py")
    broken = tmp_path / "relu.py"
    broken.write_text("# barenet exercise: relu\ndef relu_forward(x:\n")
    with pytest.raises(DoctorInputError, match="relu.py, line 2: SyntaxError"):
        check(broken)
    lacking = tmp_path / "lacking.py"
    lacking.write_text("# barenet exercise: relu\ndef relu_forward(x):\n    return x, x\n")
    report = check(lacking)
    assert report.missing == ["relu_backward"] and "missing: relu_backward" in str(report)


def test_a_cell_with_several_inputs_and_outputs_is_one_entry(tmp_path):
    """What an LSTM-cell exercise needs: x, h and c in, (h', c') out, dy a pair."""
    cell = Exercise(
        "toy-cell", "write a toy recurrent cell's backward", ("cell_backward",),
        "cell_forward", "cell_backward",
        (ShapeCase("batch of 3", (3, 2), {"h": (3, 4), "c": (3, 4), "w": (2, 4), "u": (4, 4)}),
         ShapeCase("batch of 1", (1, 2), {"h": (1, 4), "c": (1, 4), "w": (2, 4), "u": (4, 4)})),
        {},
    )  # fmt: skip
    path = tmp_path / "cell.py"
    path.write_text(
        "import numpy as np\n\n"
        "def cell_forward(x, h, c, w, u):\n"
        "    hn = np.tanh(x @ w + h @ u)\n"
        "    return (hn, c + hn), (x, h, w, u, hn)\n\n"
        "def cell_backward(dout, cache):\n"
        "    dh, dc = dout\n"
        "    x, h, w, u, hn = cache\n"
        "    dz = (dh + dc) * (1 - hn ** 2)\n"
        "    return dz @ w.T, dz @ u.T, dc, x.T @ dz, h.T @ dz\n"
    )
    assert check(path, exercise=cell).ok
    path.write_text(path.read_text().replace("dz @ u.T, dc,", "dz @ u.T, 0 * dc,"))
    report = check(path, exercise=cell)
    assert not report.ok
    assert report.cases[0].problems[0].startswith("dc: zero: ")


def test_the_arrays_of_a_shape_case_are_reproducible():
    case = ShapeCase("c", (2, 3), {"w": (4, 3), "b": None, "g": lambda rng: rng.uniform(1, 2, 4)})
    a, b = case.arrays(0), case.arrays(0)
    assert list(a) == ["x", "w", "b", "g"] and a["b"] is None
    np.testing.assert_array_equal(a["w"], b["w"])
    assert np.all((a["g"] >= 1) & (a["g"] <= 2))
