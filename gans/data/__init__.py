"""Data for the book's GANs: MNIST digits and CelebA faces, as NumPy uint8 arrays.

This layer knows nothing about minigrad or PyTorch; models turn the arrays into tensors.

MNIST (``load_mnist``) comes from an explicit path, the cache folder ``data_home()/mnist``
(filled by ``import_mnist`` or ``download_mnist``), or a subset shipped in the package.
CelebA (``CelebAFile``) uses the book's HDF5 layout, built from the official zip with
``build_celeba_hdf5``; without it, ``open_celeba`` generates synthetic face-like images
in the same layout and says so. ``read_npy`` reads one array from a ``.npy`` file
made elsewhere (``gans eval --images``) without ever unpickling.

Every reader reports a missing, damaged or foreign file as a :class:`DataError` whose
message names the file, what was expected there and what was found.
"""

from .celeba import (
    CELEBA_GROUP,
    CELEBA_IMAGE_SHAPE,
    CelebAFile,
    build_celeba_hdf5,
    celeba_cache_path,
    centre_crop,
    default_celeba_path,
    ensure_celeba,
    open_celeba,
    make_synthetic_celeba,
)
from .download import DEFAULT_MIRRORS, MNIST_SHA256, data_home, download_mnist
from .errors import DataError, DownloadError
from .mnist import (
    MnistData,
    find_full_mnist,
    import_mnist,
    load_mnist,
    load_mnist_subset,
    mnist_subset_attribution,
    read_csv,
    read_idx,
    read_mnist_idx,
    write_idx,
)
from .npy import read_npy

__all__ = [
    "CELEBA_GROUP",
    "CELEBA_IMAGE_SHAPE",
    "DEFAULT_MIRRORS",
    "MNIST_SHA256",
    "CelebAFile",
    "DataError",
    "DownloadError",
    "MnistData",
    "build_celeba_hdf5",
    "celeba_cache_path",
    "centre_crop",
    "data_home",
    "default_celeba_path",
    "download_mnist",
    "ensure_celeba",
    "open_celeba",
    "find_full_mnist",
    "import_mnist",
    "load_mnist",
    "load_mnist_subset",
    "make_synthetic_celeba",
    "mnist_subset_attribution",
    "read_csv",
    "read_idx",
    "read_mnist_idx",
    "read_npy",
    "write_idx",
]
