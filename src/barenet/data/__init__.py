"""Datasets, transforms and mini-batches for barenet.

Conventions shared by every loader:

- images ``x: (N, C, H, W) float32`` in [0, 1] (0 = black); labels ``y: (N,) int64``;
  the raw uint8 pixels of MNIST-style files stay available (``mnist(raw=True)``,
  :func:`read_idx`);
- loaders return ``(x_train, y_train), (x_test, y_test)``; :func:`load_dataset`
  wraps any of them, by name, in a :class:`DatasetSplit` for the trainer and CLI;
- everything random takes a seed and gives the same result for the same seed;
- bad files raise ``ValueError`` naming the file and what is wrong; files are
  written atomically (temporary file + ``os.replace``); nothing uses pickle.
"""

from .datasets import FASHION_MNIST_CLASSES, digits, fashion_mnist, mnist
from .download import DownloadError, FileSpec, cache_dir, download_file
from .folder import IMAGE_EXTENSIONS, load_image, load_image_folder
from .idx import parse_idx, read_idx, read_idx_pair, write_idx
from .kaggle import kaggle_test, kaggle_train, read_digit_csv, write_submission
from .loader import DataLoader
from .registry import DATASET_NAMES, DatasetSplit, load_dataset
from .split import stratified_split
from .synthetic import blobs_images, sine, xor
from .transforms import (
    Compose,
    Invert,
    RandomCropPad,
    RandomErasing,
    RandomHorizontalFlip,
    RandomPadCrop,
    RandomShift,
    SaltPepper,
    ScaleTo01,
    Standardize,
    Transform,
    parse_augment,
)

__all__ = [
    "DATASET_NAMES",
    "FASHION_MNIST_CLASSES",
    "IMAGE_EXTENSIONS",
    "Compose",
    "DataLoader",
    "DatasetSplit",
    "DownloadError",
    "FileSpec",
    "Invert",
    "RandomCropPad",
    "RandomErasing",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "RandomShift",
    "SaltPepper",
    "ScaleTo01",
    "Standardize",
    "Transform",
    "blobs_images",
    "cache_dir",
    "digits",
    "download_file",
    "fashion_mnist",
    "kaggle_test",
    "kaggle_train",
    "load_dataset",
    "load_image",
    "load_image_folder",
    "mnist",
    "parse_augment",
    "parse_idx",
    "read_digit_csv",
    "read_idx",
    "read_idx_pair",
    "sine",
    "stratified_split",
    "write_idx",
    "write_submission",
    "xor",
]
