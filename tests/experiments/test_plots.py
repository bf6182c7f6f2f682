from __future__ import annotations

import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from barenet.experiments import plots  # noqa: E402


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _hist(n, scale):
    return [
        {"epoch": e, "train_loss": scale / e, "val_loss": scale / e + 0.1, "val_acc": 1 - scale / e}
        for e in range(1, n + 1)
    ]


def check(path, size):
    assert path.suffix == ".png" and path.stat().st_size > 1000
    assert path.with_suffix(".svg").stat().st_size > 1000
    assert png_size(path) == (int(size[0] * plots.DPI), int(size[1] * plots.DPI))


def test_curves(tmp_path):
    series = {"sigmoid": [_hist(4, 0.5), _hist(4, 0.6)], "leaky_relu": [_hist(4, 0.2)]}
    check(plots.plot_curves(series, tmp_path / "c.png", size=(9, 3)), (9, 3))


def test_step_loss(tmp_path):
    series = {"bn": [np.linspace(2, 0.1, 200)], "plain": [np.linspace(2, 0.5, 200)] * 2}
    check(plots.plot_step_loss(series, tmp_path / "s", {"bn": 64, "plain": 64}), (8, 4.5))


@pytest.mark.parametrize(
    "values, groups",
    [([3e-7, 3e-5, 1e-2, 5e-2], None), (None, None), ([800, 1000, 800, 1000], list("aabb"))],
)
def test_final_vs_setting(tmp_path, values, groups):
    labels = ["a", "b", "c", "d"]
    p = plots.plot_final_vs_setting(
        labels,
        [0.1, 0.5, 0.9, 0.8],
        [0.01, 0, 0.02, 0.1],
        tmp_path / "f.png",
        "learning rate",
        "val acc",
        values=values,
        groups=groups,
    )
    check(p, (7, 4.5))


def test_fit_confusion_images_filters(tmp_path):
    x = np.linspace(-3, 3, 50)
    check(plots.plot_fit(x, np.sin(x), {"m": (x, 0.9 * np.sin(x))}, tmp_path / "fit"), (7, 4.5))
    cm = np.arange(9).reshape(3, 3)
    check(plots.plot_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "cm", svg=True), (5.5, 4.5))
    imgs = np.random.default_rng(0).random((7, 1, 8, 8))
    caps = [str(i) for i in range(7)]
    check(plots.plot_images(imgs, caps, tmp_path / "im", size=(8, 6)), (8, 6))
    w = np.random.default_rng(0).normal(size=(16, 1, 3, 3))
    check(plots.plot_filters(w, tmp_path / "flt", size=(8, 5)), (8, 5))
    with pytest.raises(ValueError, match="plot_filters"):
        plots.plot_filters(w[0], tmp_path / "bad")


def test_grad_flow(tmp_path):
    names = ["0.weight", "2.weight", "4.weight"]
    series = {
        "sigmoid": (names, np.array([[1e-5, 1e-3, 1e-1], [2e-5, 2e-3, 1e-1]])),
        "leaky_relu": (names, np.array([[1e-1, 1e-1, 1e-1], [1e-1, 2e-1, 1e-1]])),
    }
    check(plots.plot_grad_flow(series, tmp_path / "g.png", size=(9, 6)), (9, 6))
