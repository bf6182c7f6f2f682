"""``load_dataset(name, ...)``: every dataset by name, as one :class:`DatasetSplit`.

=================  ======================================================================
name               what ``data_dir`` means / where the test split comes from
=================  ======================================================================
``mnist``          IDX files' folder (else cache, see :mod:`barenet.data.datasets`); official
``fashion-mnist``  same (also Debian's /usr/share/datasets/fashion-mnist); official split
``digits``         ignored (ships with scikit-learn); stratified ``test_size`` split
``sine``           ignored; ``n_train``/``n_test`` samples of y = sin x (regression)
``kaggle``         folder holding ``train.csv`` (or the file); stratified split of it,
                   since Kaggle's test.csv has no labels
``folder``         ``data_dir/<class>/<image>``; images resized to ``size``; stratified
``xor``, ``blobs``  ignored; small synthetic smoke-test tasks
=================  ======================================================================

Images are always ``(N, C, H, W) float32`` in [0, 1] and labels ``(N,) int64``;
for ``sine`` x and y are ``(N, 1) float32``. Splits are seeded by ``seed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import synthetic
from .datasets import FASHION_MNIST_CLASSES, digits, fashion_mnist, mnist
from .folder import load_image_folder
from .kaggle import kaggle_train
from .split import stratified_split

__all__ = ["DatasetSplit", "load_dataset", "DATASET_NAMES"]

DATASET_NAMES = ("mnist", "fashion-mnist", "digits", "sine", "kaggle", "folder", "xor", "blobs")
_DIGIT_NAMES = [str(d) for d in range(10)]


@dataclass
class DatasetSplit:
    """A train/test pair ready for training.

    ``x_*: (N, *input_shape)``; ``y_*: (N,) int64`` for ``task="classification"``
    (labels index ``class_names``) or ``(N, 1) float32`` for ``"regression"``
    (``class_names`` is ``None``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] | None
    task: str
    input_shape: tuple[int, ...]
    name: str = ""

    @property
    def num_classes(self) -> int | None:
        """Number of classes, or ``None`` for regression."""
        return None if self.class_names is None else len(self.class_names)

    def __repr__(self) -> str:
        k = f", classes={self.num_classes}" if self.class_names is not None else ""
        return (
            f"DatasetSplit({self.name!r}, task={self.task!r}, input_shape={self.input_shape}, "
            f"train={len(self.x_train)}, test={len(self.x_test)}{k})"
        )


def _split(name, x, y, class_names, test_size, seed) -> DatasetSplit:
    tr, te = stratified_split(y, test_size, seed)
    return DatasetSplit(
        x[tr], y[tr], x[te], y[te], class_names, "classification", tuple(x.shape[1:]), name
    )


def _need_dir(name: str, data_dir) -> str | os.PathLike:
    if data_dir is None:
        raise ValueError(f"load_dataset({name!r}): data_dir is required")
    return data_dir


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    *,
    seed: int = 0,
    test_size: float = 0.2,
    size: tuple[int, int] = (28, 28),
    n_train: int | None = None,
    n_test: int | None = None,
) -> DatasetSplit:
    """Load dataset ``name`` (one of :data:`DATASET_NAMES`) as a :class:`DatasetSplit`.

    ``download`` applies to mnist/fashion-mnist; ``test_size`` and ``seed`` to the
    stratified splits (digits, kaggle, folder); ``size=(H, W)`` to folder;
    ``n_train``/``n_test`` to the synthetic sets. Raises ``ValueError`` for an
    unknown name, plus whatever the loader raises (missing or corrupt files).
    """
    key = name.strip().lower().replace("_", "-")
    if key in ("mnist", "fashion-mnist"):
        loader, classes = (
            (mnist, _DIGIT_NAMES) if key == "mnist" else (fashion_mnist, FASHION_MNIST_CLASSES)
        )
        (xtr, ytr), (xte, yte) = loader(data_dir, download=download)
        shape = (1, *xtr.shape[-2:])  # 28x28 for the published files
        return DatasetSplit(xtr, ytr, xte, yte, list(classes), "classification", shape, key)
    if key == "digits":
        (xtr, ytr), (xte, yte) = digits(test_size, seed)
        return DatasetSplit(xtr, ytr, xte, yte, _DIGIT_NAMES, "classification", (1, 8, 8), key)
    if key == "kaggle":
        x, y = kaggle_train(_need_dir(key, data_dir))
        return _split(key, x, y, _DIGIT_NAMES, test_size, seed)
    if key == "folder":
        x, y, classes = load_image_folder(_need_dir(key, data_dir), size)
        return _split(key, x, y, classes, test_size, seed)
    counts = {k: v for k, v in (("n_train", n_train), ("n_test", n_test)) if v is not None}
    if key == "sine":
        (xtr, ytr), (xte, yte) = synthetic.sine(seed=seed, **counts)
        return DatasetSplit(xtr, ytr, xte, yte, None, "regression", (1,), key)
    if key == "xor":
        (xtr, ytr), (xte, yte) = synthetic.xor(seed=seed, **counts)
        return DatasetSplit(xtr, ytr, xte, yte, ["same", "differ"], "classification", (2,), key)
    if key == "blobs":
        (xtr, ytr), (xte, yte) = synthetic.blobs_images(n_classes=4, seed=seed, **counts)
        names = ["0", "1", "2", "3"]
        return DatasetSplit(xtr, ytr, xte, yte, names, "classification", tuple(xtr.shape[1:]), key)
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
