"""MNIST and Fashion-MNIST from their IDX files (found locally or downloaded), and
scikit-learn's bundled 8x8 digits.

Return convention (the same for every barenet loader)::

    (x_train, y_train), (x_test, y_test) = mnist()
    x: (N, 1, 28, 28) float32 in [0, 1]     y: (N,) int64 in 0..9
    # raw=True keeps the file's pixels: x: (N, 28, 28) uint8 in 0..255

Where the files are looked for, in order:

1. ``root`` when given (and only there): the four files, ``.gz`` or not;
2. otherwise the cache, ``$BARENET_DATA/<name>`` (default ``~/.cache/barenet/<name>``,
   ``<name>`` is ``mnist`` or ``fashion-mnist``), then the system copies in
   ``*_SYSTEM_DIRS`` (Debian's ``/usr/share/datasets/fashion-mnist``).

With ``download=True`` the missing files are fetched into ``root`` (or the
cache) from the ``*_MIRRORS`` base URLs, tried in order, and verified before they
are renamed into place. Fashion-MNIST files are checked against the SHA-256 of
their uncompressed contents; MNIST files against the MD5 of the ``.gz`` files
published with the dataset. Every file also passes the IDX structure checks.
Mirrors and checksums can be passed in (``mirrors=``, ``files=``).

``digits()`` gives scikit-learn's 1797 8x8 images (values 0..16) as
``(N, 1, 8, 8) float32`` in [0, 1], split by :func:`~barenet.data.split.stratified_split`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .download import DownloadError, FileSpec, cache_dir, download_file
from .idx import parse_idx, read_idx_bytes, read_idx_pair
from .split import stratified_split

__all__ = [
    "mnist",
    "digits",
    "fashion_mnist",
    "MNIST_MIRRORS",
    "MNIST_FILES",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SYSTEM_DIRS",
    "FASHION_MNIST_CLASSES",
]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
_KEYS = ("train_images", "train_labels", "test_images", "test_labels")

MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
MNIST_FILES: dict[str, FileSpec] = {
    "train_images": FileSpec("train-images-idx3-ubyte.gz", md5="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": FileSpec("train-labels-idx1-ubyte.gz", md5="d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": FileSpec("t10k-images-idx3-ubyte.gz", md5="9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": FileSpec("t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c"),
}
MNIST_SYSTEM_DIRS: list[Path] = []

FASHION_MNIST_MIRRORS: list[str] = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]
FASHION_MNIST_FILES: dict[str, FileSpec] = {
    "train_images": FileSpec(
        "train-images-idx3-ubyte.gz",
        sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": FileSpec(
        "train-labels-idx1-ubyte.gz",
        sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": FileSpec(
        "t10k-images-idx3-ubyte.gz",
        sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": FileSpec(
        "t10k-labels-idx1-ubyte.gz",
        sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
FASHION_MNIST_SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets/fashion-mnist")]
FASHION_MNIST_CLASSES: list[str] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def _validator(spec: FileSpec):
    def validate(path: Path) -> None:
        data = read_idx_bytes(path)
        parse_idx(data, str(path))  # magic, dtype, dims, exact length
        if spec.sha256 is not None:
            got = hashlib.sha256(data).hexdigest()
            if got != spec.sha256.lower():
                raise ValueError(
                    f"SHA-256 mismatch of the uncompressed contents: "
                    f"expected {spec.sha256}, got {got}"
                )

    return validate


def _find(directory: Path, spec: FileSpec) -> Path | None:
    """``name`` or, for a ``.gz`` name, its uncompressed twin, if present."""
    names = [spec.name] + ([spec.name[:-3]] if spec.name.endswith(".gz") else [])
    for n in names:
        if (directory / n).is_file():
            return directory / n
    return None


def _load(
    title: str,
    subdir: str,
    files: Mapping[str, FileSpec],
    mirrors: Sequence[str],
    system_dirs: Sequence[Path],
    root: str | os.PathLike | None,
    download: bool,
    raw: bool,
    timeout: float,
) -> Arrays:
    missing_keys = [k for k in _KEYS if k not in files]
    if missing_keys:
        raise ValueError(f"{title}: files= lacks entries for {missing_keys}")
    dest = Path(root).expanduser() if root is not None else cache_dir() / subdir
    searched = [dest] if root is not None else [dest, *map(Path, system_dirs)]
    found: dict[str, Path] | None = None
    for d in searched:
        paths = {k: _find(d, files[k]) for k in _KEYS}
        if all(paths.values()):
            found = paths  # type: ignore[assignment]
            break
    names = "\n".join(f"  {files[k].name}" for k in _KEYS)
    if found is None and not download:
        where = "\n".join(f"  {d}" for d in searched)
        raise FileNotFoundError(
            f"{title} not found. Looked in:\n{where}\n"
            f"Put these files (gzip-compressed or not) in {dest}:\n{names}\n"
            "or download them (download=True; on the command line, --download) from:\n"
            + "\n".join(f"  {m}" for m in mirrors)
        )
    if found is None:
        found = {}
        for k in _KEYS:
            present = _find(dest, files[k])
            try:
                found[k] = present or download_file(
                    files[k], mirrors, dest, validate=_validator(files[k]), timeout=timeout
                )
            except DownloadError as e:
                raise DownloadError(
                    f"{title}: {e}\nYou can put these files there by hand, in {dest}:\n{names}"
                ) from None
    out = []
    for split in ("train", "test"):
        images, labels = read_idx_pair(found[f"{split}_images"], found[f"{split}_labels"])
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(
                f"{found[f'{split}_labels']}: labels must be in 0..9, "
                f"found {labels.min()}..{labels.max()}"
            )
        if not raw:
            images = images[:, None, :, :].astype(np.float32)
            images /= np.float32(255.0)
        out.append((images, labels))
    (train, _), (test, _) = out
    if train.shape[1:] != test.shape[1:]:  # caught here, naming the files, not in a layer
        shape = "x".join
        raise ValueError(
            f"{title}: training images are {shape(map(str, train.shape[-2:]))} "
            f"({found['train_images']}) but test images are {shape(map(str, test.shape[-2:]))} "
            f"({found['test_images']}); both splits must have one image size"
        )
    return out[0], out[1]


def mnist(
    root: str | os.PathLike | None = None,
    download: bool = False,
    *,
    raw: bool = False,
    mirrors: Sequence[str] | None = None,
    files: Mapping[str, FileSpec] | None = None,
    timeout: float = 30.0,
) -> Arrays:
    """MNIST: ``(x_train, y_train), (x_test, y_test)``; 60000 and 10000 samples.

    ``x: (N, 1, 28, 28) float32`` in [0, 1] (``raw=True``: ``(N, 28, 28) uint8``),
    ``y: (N,) int64``. Raises ``FileNotFoundError`` (files absent, no download)
    or ``DownloadError`` (every mirror failed), both saying where to put the files.
    """
    return _load(
        "MNIST", "mnist", files or MNIST_FILES, MNIST_MIRRORS if mirrors is None else mirrors,
        MNIST_SYSTEM_DIRS, root, download, raw, timeout,
    )  # fmt: skip


def fashion_mnist(
    root: str | os.PathLike | None = None,
    download: bool = False,
    *,
    raw: bool = False,
    mirrors: Sequence[str] | None = None,
    files: Mapping[str, FileSpec] | None = None,
    timeout: float = 30.0,
) -> Arrays:
    """Fashion-MNIST, same shapes and conventions as :func:`mnist`;
    class names in ``FASHION_MNIST_CLASSES``."""
    return _load(
        "Fashion-MNIST", "fashion-mnist", files or FASHION_MNIST_FILES,
        FASHION_MNIST_MIRRORS if mirrors is None else mirrors,
        FASHION_MNIST_SYSTEM_DIRS, root, download, raw, timeout,
    )  # fmt: skip


def digits(
    test_size: float = 0.2, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``; stratified, the same for the same seed."""
    try:
        from sklearn.datasets import load_digits  # optional engine: scikit-learn, barenet[all]
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 8x8 digits ship with scikit-learn: pip install scikit-learn (or barenet[all])"
        ) from None
    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None, :, :]
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = stratified_split(y, test_size, seed)
    return (x[tr], y[tr]), (x[te], y[te])
