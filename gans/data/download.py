"""Where data lives on disk, how files get there safely, and the MNIST download.

Every file the data layer writes goes through :func:`atomic_output`: it is written under a
temporary name in the destination folder and renamed into place only once complete. A crash
or Ctrl-C half-way through therefore never leaves a truncated file under the real name, which
would otherwise be found, trusted and fail much later with a confusing error.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..progress import progress
from .errors import DownloadError

# Public mirrors of the original files from yann.lecun.com (which now often refuses downloads).
# They serve byte-identical copies, so one checksum table covers all of them.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of the four original gzip files, as published by the mirrors above.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}


def data_home() -> Path:
    """The cache folder for imported, downloaded and generated data.

    ``$MINIGRAD_GANS_DATA`` if set, else ``~/.cache/minigrad-gans``. Datasets live in
    subfolders (``mnist/``, ``celeba/``). The folder is not created here; writers create it.
    """
    env = os.environ.get("MINIGRAD_GANS_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "minigrad-gans"


@contextmanager
def atomic_output(path: str | os.PathLike, previous: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    The temporary file is in the same folder so that ``os.replace`` is a rename within one
    file system, which is atomic: readers see either the old file or the complete new one.
    If the block raises, the temporary file is removed and ``path`` is left untouched.
    ``previous``: the old file, if any, is first renamed there (so that there is always one
    complete file of the two, whenever the process stops).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:  # named by the file asked for, not by a temporary name
        raise OSError(err.errno, err.strerror, str(path)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename, so a crash cannot leave it half-written
            os.fsync(f.fileno())
        # mkstemp makes the file private; give the result a normal file's mode (0o666 less the umask)
        os.chmod(tmp, 0o666 & ~_umask())
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def download_mnist(
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    dest: str | os.PathLike | None = None,
    checksums: Mapping[str, str] = MNIST_SHA256,
    timeout: float = 60.0,
) -> Path:
    """Download the original MNIST ``.gz`` files into ``dest`` (default ``data_home()/mnist``).

    For each file in ``checksums`` (name -> expected SHA-256), the mirrors are tried in order;
    a network error or a checksum mismatch moves on to the next mirror. Files already present
    with the right checksum are not downloaded again. Each file is written atomically.

    Returns the destination folder, which :func:`~gans.data.load_mnist` then finds on its own.
    Raises :class:`DownloadError` listing every URL tried and why it failed.
    """
    dest = Path(dest) if dest is not None else data_home() / "mnist"
    if not mirrors:
        raise ValueError("download_mnist needs at least one mirror URL, got an empty list")
    made_dest = not dest.exists()  # a failed download leaves no empty folder behind

    for name, expected in checksums.items():
        target = dest / name
        if target.exists() and sha256_of(target) == expected:
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                with atomic_output(target) as tmp:
                    got = _download_to(url, tmp, timeout)
                    if got != expected:
                        # Raising inside the block makes atomic_output discard the bad copy.
                        raise _ChecksumMismatch(got)
            except OSError as err:  # URLError, HTTPError, timeouts and disk errors
                failures.append(f"  {url}: {err}")
            except _ChecksumMismatch as err:
                failures.append(
                    f"  {url}: SHA-256 mismatch (got {err.digest}, expected {expected})"
                )
            else:
                print(f"downloaded {name} from {url}")
                break
        else:
            if made_dest and dest.is_dir() and not any(dest.iterdir()):
                dest.rmdir()
            raise DownloadError(
                f"could not download {name} into {dest}; every mirror failed:\n"
                + "\n".join(failures)
            )
    return dest


class _ChecksumMismatch(Exception):
    def __init__(self, digest: str):
        super().__init__(digest)
        self.digest = digest


def _download_to(url: str, path: Path, timeout: float) -> str:
    """Stream ``url`` into ``path`` and return the SHA-256 of what was received."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out, \
            progress(None, url.rsplit("/", 1)[-1], unit="B", total=int(response.headers.get("Content-Length") or 0)
                     or None, unit_scale=True) as bar:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()
