"""Build ``gans/data/mnist_subset.npz``, the small MNIST sample shipped inside the package.

The subset lets the examples and tests run on a machine with no data and no network.
It is class-balanced and involves no randomness: the first 500 training images of each
digit and the first 100 test images of each digit, kept in file order. That is easy to
explain and to check, and rebuilding it always selects the same digits.

Attribution: MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(http://yann.lecun.com/exdb/mnist/), made available under the Creative Commons
Attribution-Share Alike 3.0 licence; the subset is a derivative and carries the same
licence. The same text, with the exact indices, is stored in the file itself (arrays
``source``, ``train_indices`` and ``test_indices``).

Usage::

    python -m gans.data.make_mnist_subset [MNIST_DIR] [--out PATH]

``MNIST_DIR`` holds the four original IDX files (raw or .gz); default ``find_full_mnist()``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from .download import atomic_output
from .mnist import NUM_CLASSES, SUBSET_PATH, find_full_mnist, load_mnist

PER_CLASS = {"train": 500, "test": 100}

ATTRIBUTION = (
    "MNIST handwritten digits by Yann LeCun, Corinna Cortes and Christopher J. C. Burges "
    "(http://yann.lecun.com/exdb/mnist/), made available under the Creative Commons "
    "Attribution-Share Alike 3.0 licence; this subset is distributed under the same licence. "
    "Subset of the original IDX files: train indices = the first {train} images of each digit "
    "in train-images-idx3-ubyte, test indices = the first {test} images of each digit in "
    "t10k-images-idx3-ubyte, in file order (0-based positions stored in train_indices and "
    "test_indices). Built by gans/data/make_mnist_subset.py."
)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each digit, sorted into file order."""
    chosen = []
    for digit in range(NUM_CLASSES):
        positions = np.flatnonzero(labels == digit)[:per_class]
        if len(positions) < per_class:
            raise ValueError(f"only {len(positions)} examples of digit {digit}, need {per_class}")
        chosen.append(positions)
    return np.sort(np.concatenate(chosen))


def build_subset(mnist_dir: str | os.PathLike, out_path: str | os.PathLike = SUBSET_PATH) -> Path:
    """Select the subset from the full IDX files in ``mnist_dir`` and save it to ``out_path``."""
    arrays = {}
    for split, per_class in PER_CLASS.items():
        full = load_mnist(split, path=mnist_dir)
        indices = first_per_class(full.labels, per_class)
        arrays[f"{split}_images"] = full.images[indices]
        arrays[f"{split}_labels"] = full.labels[indices].astype(np.uint8)
        arrays[f"{split}_indices"] = indices.astype(np.int32)
    # A NumPy unicode array, not a Python str, so it loads with allow_pickle=False.
    arrays["source"] = np.array(ATTRIBUTION.format(**PER_CLASS))

    out_path = Path(out_path)
    # savez_compressed appends ".npz" to a file *name* that lacks it, so hand it an open file.
    with atomic_output(out_path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return out_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist_dir", nargs="?", help="folder with the original MNIST IDX files")
    parser.add_argument(
        "--out", default=str(SUBSET_PATH), help="output .npz (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    mnist_dir = args.mnist_dir or find_full_mnist()
    if mnist_dir is None:
        parser.error("no MNIST folder given and find_full_mnist() found none; pass MNIST_DIR")
    out = build_subset(mnist_dir, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) from {mnist_dir}")


if __name__ == "__main__":
    main()
