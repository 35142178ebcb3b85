"""MNIST digits: the original IDX files, the book's CSV files, or a small embedded subset.

Every reader returns ``images`` as uint8 of shape (N, 28, 28) with 0 = background and
255 = ink, and ``labels`` as int64 of shape (N,) with values 0..9 (int64 because that is
what PyTorch's ``cross_entropy`` and ``one_hot`` expect for class indices).

:func:`load_mnist` decides where the digits come from, first match wins:

1. an explicit ``path``: a folder of IDX files (raw or ``.gz``), a folder holding
   ``mnist_train.csv`` / ``mnist_test.csv``, or one CSV file (CSVs may be gzipped: ``.csv.gz``);
2. the cache folder ``data_home()/mnist``, once :func:`import_mnist` or
   :func:`~gans.data.download_mnist` has put the full data there;
3. the subset shipped inside the package (5000 train / 1000 test digits), so that the
   examples and tests run on a machine with no data and no network.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .download import atomic_output, data_home
from .errors import DataError, data_size_error, reading

SPLITS = ("train", "test")
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# File names of the original distribution, without the .gz; the test split is called t10k.
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CSV_NAMES = {"train": "mnist_train.csv", "test": "mnist_test.csv"}
SUBSET_PATH = Path(__file__).with_name("mnist_subset.npz")

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_IDX_MAX_DIMS = 32  # NumPy's limit before 2.0
_CSV_COLUMNS = 1 + IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
_CSV_WHAT = "(label + 784 pixels)"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_CSV_BYTES = b"0123456789+-,\r\n"  # all that a file in the format holds


@dataclass(frozen=True, eq=False)
class MnistData:
    """One split of MNIST: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,), and ``source``,
    a short human-readable note of where they came from (a path, or the embedded subset)."""

    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"MnistData({len(self)} images, source={self.source!r})"


# ----------------------------------------------------------------------------------------
# IDX files


def _open_binary(path: Path):
    """Open ``path`` for reading bytes, decompressing it if it is gzip.

    The gzip magic bytes decide, not the extension: files get renamed, and browsers
    sometimes decompress ``.gz`` downloads without renaming them.
    """
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_into(f, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``f``; return how many bytes arrived (fewer only at end of file)."""
    filled = 0
    while filled < len(buffer):
        n = f.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled


def _count_rest(f) -> int:
    """How many bytes are left in ``f``, read in chunks so that no more than one is in memory."""
    return sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))


def _most_bytes_left(path: Path, f, gzipped: bool) -> int:
    """An upper bound on the bytes left in ``f``, known without reading them: the rest of a raw
    file, or for gzip the compressed size times 1032, the largest ratio deflate can reach."""
    size = os.path.getsize(path)
    return size * 1032 if gzipped else size - f.tell()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a uint8 array of the shape it declares.

    The IDX layout, all integers big-endian: two zero bytes, a type code (0x08 = unsigned
    byte, the only one MNIST uses), the number of dimensions d, then d 32-bit sizes, then the
    values in C order. MNIST images therefore start with 0x00000803 and labels with 0x00000801.

    Raises :class:`DataError` naming the file for a bad magic number, an unsupported type,
    a file shorter than its header promises, extra bytes after the data, corrupt gzip, or a
    file that cannot be read at all.
    """
    path = Path(path)
    with reading(path):
        gzipped = _is_gzip(path)
        with _open_binary(path) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0" or magic[3] == 0:
                not_gzip = " (the name ends in .gz, but the file is not gzip-compressed)"
                raise DataError(
                    f"{path}: bad magic number 0x{magic.hex()}; an IDX file starts with two zero "
                    "bytes, a type code and the number of dimensions "
                    "(MNIST images: 0x00000803, labels: 0x00000801)"
                    + (not_gzip if path.name.endswith(".gz") and not gzipped else "")
                )
            type_code, ndim = magic[2], magic[3]
            if type_code != _IDX_UBYTE:
                raise DataError(
                    f"{path}: IDX type code 0x{type_code:02x} is not supported; "
                    "only 0x08 (unsigned byte), which MNIST uses"
                )
            if ndim > _IDX_MAX_DIMS:
                raise DataError(
                    f"{path}: the header declares {ndim} dimensions; read_idx reads at most "
                    f"{_IDX_MAX_DIMS} (MNIST images have 3, labels 1)"
                )
            header = f.read(4 * ndim)
            if len(header) < 4 * ndim:
                raise DataError(
                    f"{path}: truncated IDX file: the header declares {ndim} dimensions "
                    f"({4 * ndim} bytes of sizes) but the file ends after {len(header)} of them"
                )
            shape = tuple(int(size) for size in np.frombuffer(header, dtype=">u4"))
            promise, size = f"shape {shape}", math.prod(shape)
            # Checked before allocating, so that a damaged header cannot ask for terabytes.
            if size > _most_bytes_left(path, f, gzipped):
                raise data_size_error(path, "IDX", promise, size, _count_rest(f))
            # Read straight into the result: no intermediate bytes object, and the array is
            # writable (np.frombuffer on bytes would give a read-only one).
            array = np.empty(shape, dtype=np.uint8)
            got = _read_into(f, memoryview(array.reshape(-1)))
            extra = _count_rest(f)
            if got < size or extra:
                raise data_size_error(path, "IDX", promise, size, got + extra)
    return array


def read_mnist_idx(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair of MNIST IDX files: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Checks that the images are 28x28, that both files hold the same number of examples and
    that every label is a digit 0..9, and says which file is wrong otherwise.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{images_path}: expected MNIST images of shape (N, 28, 28), got {images.shape}"
        )
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected MNIST labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the two files must belong to the same split"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(f"{labels_path}: label {labels[bad]} at index {bad} is outside 0..9")
    return images, labels.astype(np.int64)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` (integers 0..255) as an unsigned-byte IDX file, gzipped if ``path`` is .gz.

    The write is atomic, and a gzip file gets a zero timestamp and no stored file name, so the
    same array always produces the same bytes.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError("write_idx needs an array with at least one dimension, got a scalar")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.integer) or (
            array.size and (array.min() < 0 or array.max() > 255)
        ):
            raise ValueError(
                f"write_idx stores unsigned bytes, so values must be integers in 0..255; "
                f"got dtype {array.dtype}"
                + (f" with range {array.min()}..{array.max()}" if array.size else "")
            )
        array = array.astype(np.uint8)
    header = bytes([0, 0, _IDX_UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with atomic_output(path) as tmp, open(tmp, "wb") as raw:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
                f.write(header)
                f.write(np.ascontiguousarray(array).tobytes())
        else:
            raw.write(header)
            raw.write(np.ascontiguousarray(array).tobytes())


# ----------------------------------------------------------------------------------------
# The book's CSV files


def read_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the book's MNIST CSV file (``mnist_train.csv``) as ``(images, labels)``:
    uint8 (N, 28, 28) and int64 (N,).

    Each line is one digit: its label, then its 784 pixel values 0..255, comma-separated
    decimal integers (a sign is allowed, spaces are not). There is no header line. Trailing
    newlines and Windows line endings are fine; blank lines between digits are not. A
    gzip-compressed CSV is recognised by its magic bytes.

    Raises :class:`DataError` naming the file and line for a wrong number of values, a
    non-numeric value, a label outside 0..9 or a pixel outside 0..255.
    """
    path = Path(path)
    with reading(path), _open_binary(path) as f:
        body = f.read().rstrip()
    if not body:
        raise DataError(
            f"{path}: the file is empty; expected lines of {_CSV_COLUMNS} comma-separated values"
        )
    if b"\0" in body[:4096]:  # a picture, an HDF5 or an IDX file given where a CSV was expected
        raise DataError(
            f"{path}: not a CSV file of digits (label, then 784 pixels per line): it holds binary "
            f"data, starting {body[:8]!r}"
        )

    # NumPy's loadtxt is written in C since 1.23 and reads the 60 000-line training file
    # several times faster than a Python loop calling int() on every value, so it does the
    # normal case. Its errors do not name our file and it silently skips empty lines, so on
    # any failure _find_csv_problem re-reads the text line by line to name the bad line.
    # loadtxt also takes more than the format allows: whitespace around a value (even \x1d,
    # which a damaged byte may become) and a lone \r as a line break. Such files, checked with
    # one fast pass over the bytes, go to the line-by-line reading too.
    has_empty_line = b"\n\n" in body or b"\n\r\n" in body or body[:1] in (b"\n", b"\r")
    only_format_bytes = (
        not body.translate(None, _CSV_BYTES) and body.count(b"\r") == body.count(b"\r\n")
    )
    table = None
    if only_format_bytes and not has_empty_line:
        try:
            text = io.TextIOWrapper(io.BytesIO(body), encoding="ascii")
            # int16 holds every valid value; anything larger fails here and is reported below.
            table = np.loadtxt(text, delimiter=",", dtype=np.int16, comments=None, ndmin=2)
        except ValueError:
            pass
    if table is None or table.shape[1] != _CSV_COLUMNS:
        raise _find_csv_problem(body, path)

    # With no empty lines, row r of the table is line r + 1 of the file.
    labels, pixels = table[:, 0], table[:, 1:]
    if labels.min() < 0 or labels.max() >= NUM_CLASSES or pixels.min() < 0 or pixels.max() > 255:
        bad_label = (labels < 0) | (labels >= NUM_CLASSES)
        bad_pixel = (pixels < 0) | (pixels > 255)
        row = int(np.argmax(bad_label | bad_pixel.any(axis=1)))
        if bad_label[row]:
            raise DataError(f"{path}, line {row + 1}: label {labels[row]} is outside 0..9")
        column = int(np.argmax(bad_pixel[row])) + 2  # 1-based, after the label
        raise DataError(
            f"{path}, line {row + 1}, column {column}: "
            f"pixel value {pixels[row, column - 2]} is outside 0..255"
        )
    return pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def _find_csv_problem(body: bytes, path: Path) -> DataError:
    """Scan the CSV line by line and return a DataError describing the first bad line.

    Only runs after the fast parse failed. A cheap check of each whole line (field count,
    characters, field lengths) passes good lines quickly; only a line that fails it is
    examined value by value to say exactly what is wrong.
    """
    for line_no, line in enumerate(body.split(b"\n"), start=1):
        where = f"{path}, line {line_no}"
        line = line.removesuffix(b"\r")
        if not line.strip():
            return DataError(f"{where}: blank line; expected {_CSV_COLUMNS} values {_CSV_WHAT}")
        fields = line.split(b",")
        if len(fields) != _CSV_COLUMNS:
            return DataError(
                f"{where}: expected {_CSV_COLUMNS} values {_CSV_WHAT}, got {len(fields)}"
            )
        plain = not line.translate(None, b"0123456789,") and 1 <= min(map(len, fields))
        if plain and max(map(len, fields)) <= 3 and int(fields[0]) < NUM_CLASSES:
            continue  # only digits, every value 0..999 and a one-digit label: look no closer
        for column, raw in enumerate(fields, start=1):
            text = raw.decode("ascii", errors="replace")
            if not text:
                return DataError(f"{where}, column {column}: empty value")
            # A regex, not int(): int() would also accept '1_000' and non-ASCII digits.
            if not _INTEGER.fullmatch(text):
                header = line_no == 1 and re.search("[A-Za-z]", text)
                hint = " (the file must not have a header line)" if header else ""
                return DataError(f"{where}, column {column}: non-numeric value {text!r}{hint}")
            value = int(text)
            if column == 1 and not 0 <= value < NUM_CLASSES:
                return DataError(f"{where}: label {value} is outside 0..9")
            if column > 1 and not 0 <= value <= 255:
                return DataError(
                    f"{where}, column {column}: pixel value {value} is outside 0..255"
                )
    return DataError(f"{path}: could not be read as MNIST CSV, but no single bad line was found")


# ----------------------------------------------------------------------------------------
# Finding and loading a split


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    """The IDX file called ``stem`` in ``folder``, with or without .gz, also in the
    ``train-images.idx3-ubyte`` spelling that some re-distributions use; None if absent."""
    dotted = stem.replace("-idx", ".idx")
    candidates = (stem + ".gz", stem, dotted + ".gz", dotted)
    return next((folder / name for name in candidates if (folder / name).is_file()), None)


def _csv_names(split: str) -> tuple[str, str]:
    """The names a split's CSV file may have: ``mnist_test.csv``, or gzipped ``mnist_test.csv.gz``."""
    return CSV_NAMES[split], CSV_NAMES[split] + ".gz"


def _find_csv(folder: Path, split: str) -> Path | None:
    """The CSV file of ``split`` in ``folder``, or None."""
    return next((folder / n for n in _csv_names(split) if (folder / n).is_file()), None)


def _find_idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``split`` in ``folder``, or None if either is missing."""
    images, labels = (_find_idx_file(folder, stem) for stem in IDX_NAMES[split])
    return None if images is None or labels is None else (images, labels)


def _read_split(path: Path, split: str) -> MnistData:
    """Read ``split`` from a CSV file, or from a folder of IDX or CSV files.  A single CSV file
    is the training data; its test split is ``mnist_test.csv`` beside it (never the file itself,
    which would score a model on the digits it learned)."""
    if path.is_file():
        if path.suffix.lower() in (".h5", ".hdf5", ".npy", ".npz", ".zip"):  # a file of another kind
            raise DataError(f"{path}: not MNIST data; give a folder of MNIST's IDX files or a CSV file "
                            f"({CSV_NAMES['train']})")
        if split == "test" and path.name not in _csv_names("test"):
            test = _find_csv(path.parent, "test")
            if test is None:
                raise DataError(f"{path}: one CSV file holds one split; for the test split put "
                                f"{CSV_NAMES['test']}[.gz] beside it, or give the folder that holds both")
            path = test
        images, labels = read_csv(path)
        return MnistData(images, labels, str(path))
    if path.is_dir():
        pair = _find_idx_pair(path, split)
        if pair is not None:
            images, labels = read_mnist_idx(*pair)
            return MnistData(images, labels, f"{pair[0]}, {pair[1].name}")
        csv = _find_csv(path, split)
        if csv is not None:
            images, labels = read_csv(csv)
            return MnistData(images, labels, str(csv))
        images_name, labels_name = IDX_NAMES[split]
        images, labels = (_find_idx_file(path, stem) for stem in IDX_NAMES[split])
        if images or labels:
            found, missing = (images, labels_name) if images else (labels, images_name)
            raise DataError(
                f"{path}: found {found.name} but not {missing}[.gz]; the MNIST {split} split "
                "needs both its images and its labels"
            )
        raise DataError(
            f"{path}: no MNIST {split} data found; looked for {images_name}[.gz] with "
            f"{labels_name}[.gz], or {CSV_NAMES[split]}[.gz]"
        )
    raise DataError(f"{path}: no such file or folder")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def load_mnist(split: str = "train", path: str | os.PathLike | None = None) -> MnistData:
    """Load one split of MNIST, from ``path`` if given, else the cache, else the embedded subset.

    ``path`` may be a folder of IDX files (raw or .gz), a folder holding ``mnist_train.csv``
    and ``mnist_test.csv``, or a single CSV file of training data (its test split is the
    ``mnist_test.csv`` beside it); each CSV may be gzipped (``.csv.gz``).
    The cache is ``data_home()/mnist`` (see :func:`import_mnist`, :func:`download_mnist`).
    ``.source`` on the result says which one was used.
    """
    _check_split(split)
    if path is not None:
        return _read_split(Path(path), split)
    cache = data_home() / "mnist"
    if cache.is_dir() and _find_idx_pair(cache, split) is not None:
        return _read_split(cache, split)
    return load_mnist_subset(split)


def load_mnist_subset(split: str = "train") -> MnistData:
    """The class-balanced MNIST subset shipped in the package (see make_mnist_subset.py)."""
    _check_split(split)
    # allow_pickle=False: the file holds only plain arrays and one unicode string, and
    # refusing pickles means a tampered file cannot run code when it is loaded.
    with np.load(SUBSET_PATH, allow_pickle=False) as npz:
        images = npz[f"{split}_images"]
        labels = npz[f"{split}_labels"].astype(np.int64)
        sizes = len(npz["train_labels"]), len(npz["test_labels"])
    return MnistData(images, labels, f"embedded MNIST subset ({sizes[0]} train / {sizes[1]} test)")


def mnist_subset_attribution() -> str:
    """Where the embedded subset comes from, its authors and licence, as stored in the file."""
    with np.load(SUBSET_PATH, allow_pickle=False) as npz:
        return str(npz["source"])


def find_full_mnist() -> Path | None:
    """A folder holding the full original MNIST IDX files on this machine, or None.

    ``$MNIST_DIR`` if set and it holds the files, else ``shared/data/mnist`` beside the
    project folder (the development setup). Tests and benchmarks use this to run on the full
    data when it is available and skip otherwise.
    """
    candidates = []
    if os.environ.get("MNIST_DIR"):
        candidates.append(Path(os.environ["MNIST_DIR"]).expanduser())
    # gans/data/mnist.py -> parents[2] is the project folder; its sibling holds shared/.
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist")
    for folder in candidates:
        if folder.is_dir() and all(_find_idx_pair(folder, split) for split in SPLITS):
            return folder
    return None


def import_mnist(src_path: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy full MNIST from ``src_path`` into the cache as the four original ``.gz`` IDX files.

    ``src_path`` is a folder of IDX files (raw or .gz) or of ``mnist_train.csv`` and
    ``mnist_test.csv``. Both splits are read and validated before anything is written, and
    each file is written atomically, so a bad source never leaves a half-imported cache.
    Returns the destination folder (default ``data_home()/mnist``), where :func:`load_mnist`
    then finds the data without being told.
    """
    src = Path(src_path)
    if not src.is_dir():
        raise DataError(f"{src}: import_mnist needs a folder holding both the train and test split")
    dest = Path(dest) if dest is not None else data_home() / "mnist"

    splits = {split: (_read_split(src, split), _find_idx_pair(src, split)) for split in SPLITS}
    for split, (data, originals) in splits.items():
        names = [stem + ".gz" for stem in IDX_NAMES[split]]
        arrays = (data.images, data.labels)
        for name, array, original in zip(names, arrays, originals or (None, None)):
            if original is not None and _is_gzip(original):
                # Already in the stored form: copy the bytes, so the cache keeps the original
                # checksums and download_mnist recognises the files as complete.
                with atomic_output(dest / name) as tmp:
                    shutil.copyfile(original, tmp)
            else:
                write_idx(dest / name, array)
    return dest
