"""Tests for gans.data: MNIST readers, the embedded subset, import/download, CelebA HDF5.

Every test points MINIGRAD_GANS_DATA at a temporary folder, so nothing is ever written to
the real cache. Tests that need the full MNIST files skip (saying why) when they are absent.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import struct
import threading
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from gans.data import (
    CELEBA_GROUP,
    CELEBA_IMAGE_SHAPE,
    MNIST_SHA256,
    CelebAFile,
    DataError,
    DownloadError,
    build_celeba_hdf5,
    centre_crop,
    data_home,
    default_celeba_path,
    download_mnist,
    ensure_celeba,
    find_full_mnist,
    import_mnist,
    load_mnist,
    make_synthetic_celeba,
    mnist_subset_attribution,
    read_csv,
    read_idx,
    read_mnist_idx,
    read_npy,
    write_idx,
)
from gans.data.download import atomic_output
from gans.data.mnist import SUBSET_PATH

FULL_MNIST = find_full_mnist()
needs_full_mnist = pytest.mark.skipif(
    FULL_MNIST is None, reason="full MNIST IDX files not found (set MNIST_DIR to run this test)"
)


@pytest.fixture(autouse=True)
def isolated_data_home(tmp_path, monkeypatch):
    home = tmp_path / "data_home"
    monkeypatch.setenv("MINIGRAD_GANS_DATA", str(home))
    return home


def fake_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    return images, labels


def write_idx_pair(folder: Path, split: str, images, labels, suffix: str = ".gz") -> None:
    stem = "train" if split == "train" else "t10k"
    write_idx(folder / f"{stem}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{stem}-labels-idx1-ubyte{suffix}", labels)


def csv_text(images, labels, newline: str = "\n") -> str:
    rows = np.column_stack([labels, images.reshape(len(images), -1)])
    return "".join(",".join(str(v) for v in row) + newline for row in rows)


# ----------------------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    images, labels = fake_mnist(7)
    write_idx_pair(tmp_path, "train", images, labels, suffix)
    got_images, got_labels = read_mnist_idx(
        tmp_path / f"train-images-idx3-ubyte{suffix}", tmp_path / f"train-labels-idx1-ubyte{suffix}"
    )
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    assert got_labels.dtype == np.int64 and got_labels.shape == (7,)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.flags.writeable


def test_idx_bytes_follow_the_format(tmp_path):
    # Checked against the format itself, not only against our own reader.
    images, _ = fake_mnist(3)
    write_idx(tmp_path / "x", images)
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 3])  # 0x00000803: unsigned byte, 3 dimensions
    assert raw[4:16] == (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert raw[16:] == images.tobytes() and len(raw) == 16 + 3 * 784


def test_gzip_detected_by_magic_bytes_not_extension(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels.gz", labels)
    (tmp_path / "labels.gz").rename(tmp_path / "labels.idx")
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.idx"), labels)
    # ...and a raw file called .gz is read as raw.
    write_idx(tmp_path / "raw", labels)
    (tmp_path / "raw").rename(tmp_path / "raw.gz")
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), labels)


def test_truncated_idx_names_file_and_sizes(tmp_path):
    images, _ = fake_mnist(4)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"truncated IDX file.*3136 bytes of data, but only 3036") as err:
        read_idx(path)
    assert str(path) in str(err.value)

    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # header promises 12 bytes of sizes
    with pytest.raises(DataError, match="declares 3 dimensions"):
        read_idx(path)


def test_truncated_gzip_is_a_data_error(tmp_path):
    images, _ = fake_mnist(50)
    path = tmp_path / "images.gz"
    write_idx(path, images)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_extra_bytes_after_data_are_reported(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.zeros(5, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(DataError, match="2 unexpected bytes"):
        read_idx(path)


def test_bad_magic_number(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(bytes([0x12, 0x34, 0x56, 0x78]) + bytes(100))
    with pytest.raises(DataError, match="bad magic number 0x12345678") as err:
        read_idx(path)
    assert str(path) in str(err.value)
    path.write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]))  # float32 IDX
    with pytest.raises(DataError, match="type code 0x0d is not supported"):
        read_idx(path)


def test_a_gz_name_on_bytes_that_are_not_gzip_is_named_with_what_they_are(tmp_path):
    """A web page saved under the IDX name (a failed download) is refused as what it is."""
    write_idx_pair(tmp_path, "train", *fake_mnist(2))
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(b"<html><body>404 Not Found</body></html>")
    with pytest.raises(DataError) as err:
        load_mnist("train", path=tmp_path)
    message = str(err.value)
    assert message.startswith(f"{images}: bad magic number 0x3c68746d")
    assert "the name ends in .gz, but the file is not gzip-compressed" in message


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_header_promising_more_than_the_file_holds_is_refused_before_allocating(tmp_path, suffix):
    # 2**32 - 1 images of 2**32 - 1 x 28: allocating first would ask for 5e20 bytes.
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 28)
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    path.write_bytes(gzip.compress(header + bytes(100)) if suffix else header + bytes(100))
    with pytest.raises(DataError, match=r"truncated IDX file: the header promises shape "
                                        r"\(4294967295, 4294967295, 28\) = \d+ bytes of data, but only 100"):
        read_idx(path)


def test_idx_with_more_dimensions_than_numpy_holds(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 8, 200]) + bytes(800))
    with pytest.raises(DataError, match=r"x: the header declares 200 dimensions; read_idx reads at most 32"):
        read_idx(path)


def test_unreadable_files_are_data_errors_naming_them(tmp_path):
    for read in (read_idx, read_csv):
        with pytest.raises(DataError, match=f"{tmp_path}: cannot be read \\(Is a directory\\)"):
            read(tmp_path)
        with pytest.raises(DataError, match="absent: cannot be read \\(No such file or directory\\)"):
            read(tmp_path / "absent")


def test_half_an_idx_pair_says_which_file_is_missing(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", fake_mnist(2)[0])
    with pytest.raises(DataError, match=r"found train-images-idx3-ubyte.gz but not train-labels-idx1-ubyte\[.gz\]"):
        load_mnist("train", path=tmp_path)


def test_count_mismatch_between_images_and_labels(tmp_path):
    images, _ = fake_mnist(5)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match="holds 5 images but .*labels holds 4 labels"):
        read_mnist_idx(tmp_path / "images", tmp_path / "labels")


def test_labels_must_be_digits(tmp_path):
    images, _ = fake_mnist(2)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", np.array([3, 12], dtype=np.uint8))
    with pytest.raises(DataError, match="label 12 at index 1 is outside 0..9"):
        read_mnist_idx(tmp_path / "images", tmp_path / "labels")


def test_write_idx_rejects_values_that_are_not_bytes(tmp_path):
    with pytest.raises(ValueError, match=r"range -1..3"):
        write_idx(tmp_path / "x", np.array([-1, 3]))
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------------------
# CSV


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_good_file(tmp_path, newline):
    images, labels = fake_mnist(6)
    path = tmp_path / "mnist_train.csv"
    path.write_bytes((csv_text(images, labels, newline) + newline).encode())  # two trailing
    got_images, got_labels = read_csv(path)
    assert got_images.dtype == np.uint8 and got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_csv_single_line_without_trailing_newline(tmp_path):
    images, labels = fake_mnist(1)
    path = tmp_path / "one.csv"
    path.write_text(csv_text(images, labels).rstrip("\n"))
    got_images, got_labels = read_csv(path)
    assert got_images.shape == (1, 28, 28)
    np.testing.assert_array_equal(got_images, images)


def bad_csv(tmp_path, edit) -> Path:
    """Write a 5-line CSV, apply ``edit`` to its list of lines, return its path."""
    images, labels = fake_mnist(5)
    lines = csv_text(images, labels).splitlines()
    edit(lines)
    path = tmp_path / "mnist_test.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_wrong_column_count_names_file_and_line(tmp_path):
    def drop_values(lines):
        lines[2] = ",".join(lines[2].split(",")[:780])

    path = bad_csv(tmp_path, drop_values)
    with pytest.raises(DataError) as err:
        read_csv(path)
    message = str(err.value)
    assert str(path) in message
    assert "line 3: expected 785 values (label + 784 pixels), got 780" in message


def test_csv_non_numeric_value(tmp_path):
    def corrupt(lines):
        values = lines[1].split(",")
        values[4] = "abc"
        lines[1] = ",".join(values)

    with pytest.raises(DataError, match=r"mnist_test.csv, line 2, column 5: non-numeric value 'abc'"):
        read_csv(bad_csv(tmp_path, corrupt))


def test_csv_header_line_is_rejected_with_a_hint(tmp_path):
    path = bad_csv(tmp_path, lambda lines: lines.insert(0, "label," + ",".join(["px"] * 784)))
    with pytest.raises(DataError, match=r"line 1, column 1: non-numeric value 'label' \(the file must not have a header"):
        read_csv(path)

    def space_after_the_label(lines):
        lines[0] = lines[0].replace(",", ", ", 1)

    with pytest.raises(DataError, match=r"line 1, column 2: non-numeric value ' \d+'$"):  # no hint: a number
        read_csv(bad_csv(tmp_path, space_after_the_label))


@pytest.mark.parametrize(
    "column, value, expected",
    [
        (0, "12", r"line 4: label 12 is outside 0..9"),
        (9, "300", r"line 4, column 10: pixel value 300 is outside 0..255"),
        (9, "-1", r"line 4, column 10: pixel value -1 is outside 0..255"),
        (9, "99999", r"line 4, column 10: pixel value 99999 is outside 0..255"),
        (9, "", r"line 4, column 10: empty value"),
    ],
)
def test_csv_values_out_of_range(tmp_path, column, value, expected):
    def set_value(lines):
        values = lines[3].split(",")
        values[column] = value
        lines[3] = ",".join(values)

    with pytest.raises(DataError, match=expected):
        read_csv(bad_csv(tmp_path, set_value))


def test_csv_blank_line_in_the_middle(tmp_path):
    with pytest.raises(DataError, match=r"line 3: blank line"):
        read_csv(bad_csv(tmp_path, lambda lines: lines.insert(2, "")))


def test_csv_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_csv(tmp_path / "empty.csv")


def test_csv_damaged_gzip_is_named(tmp_path):
    images, labels = fake_mnist(3)
    path = tmp_path / "mnist_train.csv"
    path.write_bytes(gzip.compress(csv_text(images, labels).encode())[:-30])
    with pytest.raises(DataError, match=f"{path}: truncated or corrupt gzip data"):
        read_csv(path)


@pytest.mark.parametrize("value, shown", [(" 15", "' 15'"), ("15\x1d", "'15\\x1d'"), ("1\r5", "'1\\r5'")])
def test_csv_spaces_and_control_bytes_in_values_are_refused(tmp_path, value, shown):
    """NumPy's loadtxt would read ' 15' and '15\\x1d' (a damaged byte) as 15, and a lone \\r as a
    line break; the format has none of them."""
    def set_value(lines):
        values = lines[1].split(",")
        values[2] = value
        lines[1] = ",".join(values)

    with pytest.raises(DataError, match=f"line 2, column 3: non-numeric value {re.escape(shown)}"):
        read_csv(bad_csv(tmp_path, set_value))


# ----------------------------------------------------------------------------------------
# .npy files made elsewhere


class LeavesAMark:
    """Unpickling this creates ``path``: proof that a pickle was (or was not) loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_read_npy_round_trips_what_np_save_writes(tmp_path):
    for array in (np.arange(12.0).reshape(3, 4), np.asfortranarray(np.arange(12.0).reshape(3, 4)),
                  np.arange(6, dtype=">i4"), np.zeros((0, 784), np.float32)):
        np.save(tmp_path / "a.npy", array)
        got = read_npy(tmp_path / "a.npy")
        assert got.dtype == array.dtype and got.shape == array.shape
        np.testing.assert_array_equal(got, array)


def test_read_npy_never_unpickles(tmp_path):
    mark = tmp_path / "unpickled"
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([LeavesAMark(mark)], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"objects.npy: holds Python objects \(dtype object\), which only "
                                        r"unpickling could restore; .* pickles are never loaded"):
        read_npy(objects)
    pickled = tmp_path / "pickled.npy"
    pickled.write_bytes(pickle.dumps(LeavesAMark(mark)))
    with pytest.raises(DataError, match=r"pickled.npy: not a .npy file: it starts with b'\\x80"):
        read_npy(pickled)
    assert not mark.exists()


def test_read_npy_names_files_that_are_not_one_whole_array(tmp_path):
    path = tmp_path / "x.npy"
    np.savez(path.with_suffix(".npz"), a=np.zeros(3))
    path.write_bytes(path.with_suffix(".npz").read_bytes())
    with pytest.raises(DataError, match=r"x.npy: not a .npy file: .* \(a zip archive: an .npz\? save a single array"):
        read_npy(path)
    np.save(path, np.zeros((3, 784)))
    good = path.read_bytes()
    path.write_bytes(good[:-8])
    with pytest.raises(DataError, match=r"x.npy: truncated .npy file: the header promises shape \(3, 784\) of "
                                        r"float64 = 18816 bytes of data, but only 18808 bytes follow"):
        read_npy(path)
    path.write_bytes(good + b"junk")
    with pytest.raises(DataError, match=r"x.npy: 4 unexpected bytes after the 18816 bytes of data"):
        read_npy(path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (3 << 30, 784)})
    path.write_bytes(header.getvalue() + bytes(16))  # refused before NumPy is asked for 18 TB
    with pytest.raises(DataError, match=r"promises shape \(3221225472, 784\) .* but only 16 bytes follow"):
        read_npy(path)
    path.write_bytes(good.replace(b"'<f8'", b"'<q9'", 1))
    with pytest.raises(DataError, match=r"x.npy: damaged .npy header \(descr is not a valid dtype descriptor"):
        read_npy(path)
    path.write_bytes(good[:7])
    with pytest.raises(DataError, match=r"x.npy: truncated .npy file: 7 bytes, fewer than the 8 that start every"):
        read_npy(path)
    path.write_bytes(b"\x93NUMPY\x07\x00" + good[10:])
    with pytest.raises(DataError, match=r"x.npy: .npy format version 7.0 is not one NumPy writes"):
        read_npy(path)
    with pytest.raises(DataError, match=r"absent.npy: cannot be read \(No such file or directory\)"):
        read_npy(tmp_path / "absent.npy")


# ----------------------------------------------------------------------------------------
# load_mnist, the embedded subset, import_mnist


def test_embedded_subset_is_the_fallback():
    train, test = load_mnist("train"), load_mnist("test")
    assert train.source == "embedded MNIST subset (5000 train / 1000 test)"
    assert train.images.shape == (5000, 28, 28) and test.images.shape == (1000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.bincount(train.labels, minlength=10).tolist() == [500] * 10
    assert np.bincount(test.labels, minlength=10).tolist() == [100] * 10
    assert train.images.max() == 255 and train.images.min() == 0
    assert len(train) == 5000 and "5000 images" in repr(train)


def test_embedded_subset_file():
    assert SUBSET_PATH.stat().st_size < 3_000_000
    with np.load(SUBSET_PATH, allow_pickle=False) as npz:
        assert set(npz.files) == {
            "train_images", "train_labels", "train_indices",
            "test_images", "test_labels", "test_indices", "source",
        }
        for split, n, limit in [("train", 5000, 60000), ("test", 1000, 10000)]:
            indices = npz[f"{split}_indices"]
            assert len(indices) == n and np.all(np.diff(indices) > 0) and indices[-1] < limit
            assert npz[f"{split}_images"].dtype == np.uint8
            assert npz[f"{split}_labels"].dtype == np.uint8
    attribution = mnist_subset_attribution()
    assert "LeCun" in attribution and "Cortes" in attribution and "Burges" in attribution
    assert "Attribution-Share Alike 3.0" in attribution


@needs_full_mnist
def test_embedded_subset_matches_the_original_files():
    with np.load(SUBSET_PATH, allow_pickle=False) as npz:
        subset = {key: npz[key] for key in npz.files}
    for split, per_class in [("train", 500), ("test", 100)]:
        full = load_mnist(split, path=FULL_MNIST)
        indices = subset[f"{split}_indices"]
        np.testing.assert_array_equal(subset[f"{split}_images"], full.images[indices])
        np.testing.assert_array_equal(subset[f"{split}_labels"], full.labels[indices])
        # The selection rule: the first `per_class` examples of each digit in file order.
        expected = np.sort(np.concatenate(
            [np.flatnonzero(full.labels == d)[:per_class] for d in range(10)]
        ))
        np.testing.assert_array_equal(indices, expected)


@needs_full_mnist
def test_full_mnist_sizes_and_first_labels():
    train = load_mnist("train", path=FULL_MNIST)
    test = load_mnist("test", path=FULL_MNIST)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    # The well-known first training labels of MNIST.
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_load_mnist_from_csv_file_and_folder(tmp_path):
    images, labels = fake_mnist(4)
    (tmp_path / "mnist_test.csv").write_text(csv_text(images, labels))
    from_file = load_mnist("test", path=tmp_path / "mnist_test.csv")
    from_folder = load_mnist("test", path=tmp_path)
    for data in (from_file, from_folder):
        np.testing.assert_array_equal(data.images, images)
        np.testing.assert_array_equal(data.labels, labels)
        assert data.source == str(tmp_path / "mnist_test.csv")


def test_load_mnist_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_mnist("val")
    with pytest.raises(DataError, match=r"no MNIST train data found; looked for train-images-idx3-ubyte\[.gz\]"):
        load_mnist("train", path=tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        load_mnist("train", path=tmp_path / "missing")


def test_import_mnist_from_a_small_folder(tmp_path, isolated_data_home):
    src = tmp_path / "src"
    src.mkdir()
    train_images, train_labels = fake_mnist(8, seed=1)
    test_images, test_labels = fake_mnist(3, seed=2)
    write_idx_pair(src, "train", train_images, train_labels, suffix="")  # raw IDX
    (src / "mnist_test.csv").write_text(csv_text(test_images, test_labels))  # CSV

    dest = import_mnist(src)
    assert dest == isolated_data_home / "mnist" == data_home() / "mnist"
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_SHA256)  # and no temp files
    for name in MNIST_SHA256:
        assert (dest / name).read_bytes()[:2] == b"\x1f\x8b"

    train, test = load_mnist("train"), load_mnist("test")  # found in the cache, no path given
    assert train.source.startswith(str(dest))
    np.testing.assert_array_equal(train.images, train_images)
    np.testing.assert_array_equal(train.labels, train_labels)
    np.testing.assert_array_equal(test.images, test_images)
    np.testing.assert_array_equal(test.labels, test_labels)


def test_import_mnist_validates_before_writing(tmp_path, isolated_data_home):
    src = tmp_path / "src"
    src.mkdir()
    write_idx_pair(src, "train", *fake_mnist(2))  # no test split
    with pytest.raises(DataError, match="no MNIST test data found"):
        import_mnist(src)
    assert not (isolated_data_home / "mnist").exists()


@needs_full_mnist
def test_import_mnist_from_the_full_folder(isolated_data_home):
    dest = import_mnist(FULL_MNIST)
    for name, digest in MNIST_SHA256.items():  # copied byte for byte
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == digest
    assert len(load_mnist("test")) == 10000


def test_find_full_mnist_honours_mnist_dir(tmp_path, monkeypatch):
    write_idx_pair(tmp_path, "train", *fake_mnist(2))
    write_idx_pair(tmp_path, "test", *fake_mnist(2))
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert find_full_mnist() == tmp_path


# ----------------------------------------------------------------------------------------
# download_mnist against a loopback HTTP server


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """Serve a temporary folder on 127.0.0.1; yield (folder, base URL)."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_falls_back_to_the_next_mirror(http_root, tmp_path, capsys):
    root, url = http_root
    contents = {"a.gz": gzip.compress(b"first file"), "b.gz": gzip.compress(b"second file")}
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    (root / "bad").mkdir()
    (root / "good").mkdir()
    (root / "bad" / "a.gz").write_bytes(b"corrupt")  # wrong checksum; b.gz missing (404)
    for name, data in contents.items():
        (root / "good" / name).write_bytes(data)

    dest = tmp_path / "dest"
    got = download_mnist(mirrors=[f"{url}/bad/", f"{url}/good"], dest=dest, checksums=checksums)
    assert got == dest
    assert sorted(p.name for p in dest.iterdir()) == ["a.gz", "b.gz"]  # no temp files left
    for name, data in contents.items():
        assert (dest / name).read_bytes() == data
    out = capsys.readouterr().out
    assert f"downloaded a.gz from {url}/good/a.gz" in out

    # Files already present with the right checksum are not fetched again.
    (root / "good" / "a.gz").unlink()
    download_mnist(mirrors=[f"{url}/good/"], dest=dest, checksums=checksums)
    assert "downloaded" not in capsys.readouterr().out


def test_download_reports_every_failure(http_root, tmp_path):
    root, url = http_root
    (root / "bad").mkdir()
    (root / "bad" / "a.gz").write_bytes(b"corrupt")
    checksums = {"a.gz": hashlib.sha256(b"the real thing").hexdigest()}
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as err:
        download_mnist(mirrors=[f"{url}/bad/", f"{url}/missing/"], dest=dest, checksums=checksums)
    message = str(err.value)
    assert f"{url}/bad/a.gz: SHA-256 mismatch (got {hashlib.sha256(b'corrupt').hexdigest()}" in message
    assert f"{url}/missing/a.gz: HTTP Error 404" in message
    assert not dest.exists()  # the corrupt copy was not kept, nor the folder made for it
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(DownloadError):
        download_mnist(mirrors=[f"{url}/missing/"], dest=kept, checksums=checksums)
    assert kept.is_dir()  # a folder that was there stays


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------
# CelebA


def test_synthetic_celeba_layout_and_attrs(tmp_path):
    path = make_synthetic_celeba(tmp_path / "faces.h5", n=4, seed=1)
    with h5py.File(path, "r") as f:
        assert list(f.keys()) == [CELEBA_GROUP]
        assert sorted(f[CELEBA_GROUP].keys()) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
        for name in f[CELEBA_GROUP]:
            assert f[CELEBA_GROUP][name].shape == (218, 178, 3)
            assert f[CELEBA_GROUP][name].dtype == np.uint8
        assert f.attrs["synthetic"] == True  # noqa: E712 (numpy bool)
        assert f.attrs["description"] == "synthetic face-like images generated by minigrad-gans, not CelebA"
        first = f[CELEBA_GROUP]["0.jpg"][()]
    with CelebAFile(path) as faces:
        assert len(faces) == 4 and faces.synthetic
        np.testing.assert_array_equal(faces[0], first)
        np.testing.assert_array_equal(faces[-4], first)
        with pytest.raises(IndexError, match="image index 4 is out of range for 4 images"):
            faces[4]
        # Not blank: a face, hair and background use a good part of the range.
        assert first.std() > 20 and len(np.unique(first.reshape(-1, 3), axis=0)) > 50
    assert all(p.name == "faces.h5" for p in tmp_path.iterdir())


def test_synthetic_celeba_is_reproducible(tmp_path):
    make_synthetic_celeba(tmp_path / "a.h5", n=2, seed=3)
    make_synthetic_celeba(tmp_path / "b.h5", n=2, seed=3)
    make_synthetic_celeba(tmp_path / "c.h5", n=2, seed=4)
    with CelebAFile(tmp_path / "a.h5") as a, CelebAFile(tmp_path / "b.h5") as b, \
            CelebAFile(tmp_path / "c.h5") as c:
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1])


def write_h5(path, images: dict, group=CELEBA_GROUP):
    with h5py.File(path, "w") as f:
        g = f.create_group(group)
        for name, img in images.items():
            g.create_dataset(name, data=img)
    return path


def test_celeba_reader_validation(tmp_path):
    good = np.zeros(CELEBA_IMAGE_SHAPE, np.uint8)
    missing_group = write_h5(tmp_path / "g.h5", {"0.jpg": good}, group="faces")
    with pytest.raises(DataError, match=r"g.h5: no group 'img_align_celeba'.*found: \['faces'\]"):
        CelebAFile(missing_group)
    wrong_shape = write_h5(tmp_path / "s.h5", {"0.jpg": np.zeros((64, 64, 3), np.uint8)})
    with pytest.raises(DataError, match=r"s.h5: img_align_celeba/0.jpg has shape \(64, 64, 3\)"):
        CelebAFile(wrong_shape)
    wrong_dtype = write_h5(tmp_path / "d.h5", {"0.jpg": good.astype(np.float32)})
    with pytest.raises(DataError, match="dtype float32; expected shape .* and dtype uint8"):
        CelebAFile(wrong_dtype)
    with pytest.raises(DataError, match="holds no images"):
        CelebAFile(write_h5(tmp_path / "e.h5", {}))
    (tmp_path / "n.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="n.h5: not a readable HDF5 file"):
        CelebAFile(tmp_path / "n.h5")
    with pytest.raises(DataError, match="no such CelebA HDF5 file"):
        CelebAFile(tmp_path / "absent.h5")


def test_celeba_reader_names_entries_and_attributes_outside_the_layout(tmp_path):
    good = np.zeros(CELEBA_IMAGE_SHAPE, np.uint8)
    path = write_h5(tmp_path / "g.h5", {"0.jpg": good})
    with h5py.File(path, "a") as f:
        f[CELEBA_GROUP].create_group("1.jpg")
    with CelebAFile(path) as faces, pytest.raises(DataError, match=r"g.h5: img_align_celeba/1.jpg is a group"):
        faces[1]
    path = write_h5(tmp_path / "a.h5", {"0.jpg": good})
    with h5py.File(path, "a") as f:
        f.attrs["synthetic"] = "maybe"
    with pytest.raises(DataError, match=r"a.h5: attribute 'synthetic' is 'maybe'; expected True or False"):
        CelebAFile(path)


def test_celeba_reader_names_the_file_and_image_that_hdf5_cannot_read(tmp_path):
    path = make_synthetic_celeba(tmp_path / "faces.h5", n=2)
    with h5py.File(path, "r") as f:
        chunk = f[CELEBA_GROUP]["1.jpg"].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[chunk.byte_offset:chunk.byte_offset + chunk.size] = bytes(chunk.size)  # zeros: not deflate data
    path.write_bytes(raw)
    with CelebAFile(path) as faces:  # image 0 and the layout are intact
        assert faces[0].shape == CELEBA_IMAGE_SHAPE
        with pytest.raises(DataError, match=r"faces.h5: HDF5 cannot read img_align_celeba/1.jpg \(.*\); "
                                            r"the file is damaged"):
            faces[1]
    path.write_bytes(raw[:1000])  # cut off inside the metadata
    with pytest.raises(DataError, match="faces.h5: "):
        CelebAFile(path)


def test_celeba_reader_sorts_names_naturally(tmp_path):
    def image(value):
        return np.full(CELEBA_IMAGE_SHAPE, value, np.uint8)

    path = write_h5(tmp_path / "n.h5", {"10.jpg": image(10), "2.jpg": image(2), "1.jpg": image(1)})
    with CelebAFile(path) as f:
        assert [int(f[i][0, 0, 0]) for i in range(len(f))] == [1, 2, 10]
        assert not f.synthetic
    path = write_h5(tmp_path / "c.h5", {"000010.jpg": image(10), "000002.jpg": image(2)})
    with CelebAFile(path) as f:
        assert [int(f[i][0, 0, 0]) for i in range(len(f))] == [2, 10]


def test_celeba_file_closes(tmp_path):
    path = make_synthetic_celeba(tmp_path / "f.h5", n=1)
    with CelebAFile(path) as f:
        pass
    with pytest.raises(ValueError, match="closed"):
        f[0]


def make_jpeg_zip(path: Path, colours: dict, size=(178, 218)) -> Path:
    from PIL import Image

    with zipfile.ZipFile(path, "w") as archive:
        for name, colour in colours.items():
            with archive.open(name, "w") as member:
                Image.new("RGB", size, colour).save(member, format="JPEG", quality=95)
        archive.writestr("__MACOSX/img_align_celeba/._000001.jpg", b"resource fork, not a jpeg")
        archive.writestr("img_align_celeba/list.txt", "not an image")
    return path


def test_build_celeba_hdf5_from_zip(tmp_path):
    colours = {
        "img_align_celeba/000010.jpg": (0, 0, 250),
        "img_align_celeba/000001.jpg": (250, 0, 0),
        "img_align_celeba/000002.jpg": (0, 250, 0),
    }
    zip_path = make_jpeg_zip(tmp_path / "img_align_celeba.zip", colours)
    out = tmp_path / "celeba.h5"
    assert build_celeba_hdf5(zip_path, out, limit=None) == 3
    with h5py.File(out, "r") as f:
        assert sorted(f[CELEBA_GROUP].keys()) == ["0.jpg", "1.jpg", "2.jpg"]
        assert f.attrs["synthetic"] == False  # noqa: E712 (numpy bool)
    with CelebAFile(out) as faces:
        assert not faces.synthetic
        # In name order 000001 (red), 000002 (green), 000010 (blue); JPEG is lossy, so +-3.
        for i, expected in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250)]):
            assert faces[i].shape == CELEBA_IMAGE_SHAPE and faces[i].dtype == np.uint8
            np.testing.assert_allclose(faces[i][100, 80], expected, atol=3)

    assert build_celeba_hdf5(zip_path, tmp_path / "two.h5", limit=2) == 2
    with CelebAFile(tmp_path / "two.h5") as faces:
        assert len(faces) == 2


def test_build_celeba_hdf5_rejects_wrong_image_size(tmp_path):
    zip_path = make_jpeg_zip(tmp_path / "z.zip", {"a/1.jpg": (1, 2, 3)}, size=(100, 100))
    with pytest.raises(DataError, match=r"z.zip: a/1.jpg is 100x100, but aligned CelebA images are 218x178"):
        build_celeba_hdf5(zip_path, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_build_celeba_hdf5_names_a_file_that_is_not_a_zip_or_holds_no_faces(tmp_path):
    out = tmp_path / "out.h5"
    for content in (b"", b"these bytes are not a zip archive"):
        (tmp_path / "z.zip").write_bytes(content)
        with pytest.raises(DataError, match=r"z.zip: not a readable zip archive \(File is not a zip file\)"):
            build_celeba_hdf5(tmp_path / "z.zip", out)
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    with pytest.raises(DataError, match=r"empty.zip: no .jpg images found"):
        build_celeba_hdf5(tmp_path / "empty.zip", out)
    assert not out.exists()


@pytest.mark.parametrize("name", ["../evil.jpg", "/tmp/evil.jpg", "img_align_celeba/../../evil.jpg",
                                  "..\\evil.jpg", "C:/evil.jpg"])
def test_build_celeba_hdf5_refuses_members_that_point_outside_and_writes_nothing(tmp_path, name):
    (tmp_path / "in").mkdir()
    zip_path = make_jpeg_zip(tmp_path / "in" / "z.zip", {"img_align_celeba/000001.jpg": (1, 2, 3), name: (4, 5, 6)})
    out = tmp_path / "out" / "celeba.h5"
    with pytest.raises(DataError, match=f"z.zip: member {re.escape(repr(name))} has an absolute or '..' path"):
        build_celeba_hdf5(zip_path, out)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["in", "in/z.zip"]


def test_build_celeba_hdf5_names_the_member_it_cannot_read_or_decode(tmp_path):
    zip_path = make_jpeg_zip(tmp_path / "z.zip", {"a/000001.jpg": (1, 2, 3)})
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr("a/000002.jpg", b"\xff\xd8 a JPEG that stops here")
    with pytest.raises(DataError, match=r"z.zip: a/000002.jpg is not a JPEG image: its bytes start with "
                                        r"b'\\xff\\xd8 a JPE'$"):
        build_celeba_hdf5(zip_path, tmp_path / "out.h5")
    with zipfile.ZipFile(zip_path) as archive:
        jpeg = archive.read("a/000001.jpg")
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("a/000001.jpg", jpeg[:len(jpeg) // 2])
    with pytest.raises(DataError, match=r"z.zip: a/000001.jpg is not a decodable JPEG image \(image file is trunc"):
        build_celeba_hdf5(zip_path, tmp_path / "out.h5")

    # A byte changed inside a stored member: the zip's CRC-32 catches it.
    stored = tmp_path / "s.zip"
    with zipfile.ZipFile(stored, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("a/000001.jpg", bytes(1000))
    raw = bytearray(stored.read_bytes())
    raw[100] ^= 0xFF
    stored.write_bytes(raw)
    with pytest.raises(DataError, match=r"s.zip: a/000001.jpg cannot be read from the zip \(Bad CRC-32"):
        build_celeba_hdf5(stored, tmp_path / "out.h5")

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/000001.jpg", bytes(5 << 20))  # 5 MiB of zeros, 5 kB in the zip
    with pytest.raises(DataError, match=r"bomb.zip: a/000001.jpg claims 5242880 bytes"):
        build_celeba_hdf5(bomb, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_the_cli_names_a_damaged_file_and_exits_2(tmp_path, capsys):
    from gans import cli

    (tmp_path / "z.zip").write_bytes(b"not a zip")
    assert cli.main(["data", "celeba", "--from", str(tmp_path / "z.zip"), "--out", str(tmp_path / "o.h5")]) == 2
    assert capsys.readouterr().err == (f"gans data: error: {tmp_path / 'z.zip'}: not a readable zip archive "
                                       "(File is not a zip file)\n")
    write_idx_pair(tmp_path, "train", *fake_mnist(2))
    write_idx_pair(tmp_path, "test", *fake_mnist(2))
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-5])
    assert cli.main(["data", "mnist", "--from", str(tmp_path), "--out", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gans data: error: {labels}: truncated or corrupt gzip data") and "Traceback" not in err


def test_centre_crop_window():
    height, width = 218, 178
    # Each pixel holds its own coordinates, so the crop's corners say exactly where it is.
    rows, cols = np.mgrid[0:height, 0:width]
    img = np.stack([rows, cols, np.zeros_like(rows)], axis=-1)
    crop = centre_crop(img)
    assert crop.shape == (128, 128, 3)
    assert crop[0, 0, :2].tolist() == [45, 25]  # (218 - 128) // 2, (178 - 128) // 2
    assert crop[-1, -1, :2].tolist() == [172, 152]
    # Matches the book's crop_centre: start at height//2 - 64, width//2 - 64.
    np.testing.assert_array_equal(crop, img[109 - 64 : 109 + 64, 89 - 64 : 89 + 64])
    assert centre_crop(img[..., 0], size=64).shape == (64, 64)
    with pytest.raises(ValueError, match="cannot crop 200x200 from a 218x178 image"):
        centre_crop(img, 200)


def test_ensure_celeba_generates_synthetic_once(isolated_data_home, capsys):
    assert default_celeba_path() is None
    path, synthetic = ensure_celeba(synthetic_n=3)
    assert path == isolated_data_home / "celeba" / "synthetic_celeba.h5" and synthetic
    assert "synthetic" in capsys.readouterr().out
    modified = os.stat(path).st_mtime_ns
    again, synthetic = ensure_celeba(synthetic_n=3)
    assert again == path and synthetic and os.stat(path).st_mtime_ns == modified
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not real faces" in out
    with CelebAFile(path) as f:
        assert len(f) == 3
    ensure_celeba(synthetic_n=2)  # a different size is regenerated
    with CelebAFile(path) as f:
        assert len(f) == 2


def test_ensure_celeba_prefers_the_real_file(isolated_data_home, tmp_path, capsys):
    real = isolated_data_home / "celeba" / "img_align_celeba.h5"
    real.parent.mkdir(parents=True)
    write_h5(real, {"0.jpg": np.zeros(CELEBA_IMAGE_SHAPE, np.uint8)})
    assert default_celeba_path() == real
    assert ensure_celeba() == (real, False)
    assert capsys.readouterr().out == ""
    explicit = make_synthetic_celeba(tmp_path / "mine.h5", n=1)
    assert ensure_celeba(explicit) == (explicit, True)


def test_a_training_csv_file_never_serves_as_its_own_test_split(tmp_path):
    """gans train --data mnist_train.csv scores on mnist_test.csv beside it, or says it can't."""
    train_images, train_labels = fake_mnist(4)
    (tmp_path / "mnist_train.csv").write_text(csv_text(train_images, train_labels))
    with pytest.raises(DataError, match=r"for the test split put mnist_test.csv\[.gz\] beside it"):
        load_mnist("test", path=tmp_path / "mnist_train.csv")
    test_images, test_labels = fake_mnist(3)
    (tmp_path / "mnist_test.csv").write_text(csv_text(test_images, test_labels))
    test = load_mnist("test", path=tmp_path / "mnist_train.csv")
    assert test.source == str(tmp_path / "mnist_test.csv")
    np.testing.assert_array_equal(test.labels, test_labels)
    np.testing.assert_array_equal(load_mnist("train", path=tmp_path / "mnist_train.csv").labels, train_labels)


def test_a_gzipped_csv_file_loads_and_an_hdf5_file_is_named_as_not_mnist(tmp_path):
    images, labels = fake_mnist(3)
    with gzip.open(tmp_path / "mnist_train.csv.gz", "wt") as f:
        f.write(csv_text(images, labels))
    np.testing.assert_array_equal(load_mnist("train", path=tmp_path / "mnist_train.csv.gz").labels, labels)
    (tmp_path / "faces.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(DataError, match="faces.h5: not MNIST data"):
        load_mnist("train", path=tmp_path / "faces.h5")


def test_gzipped_csv_files_are_found_as_siblings_and_in_a_folder(tmp_path):
    """mnist_train.csv.gz given as a file scores on mnist_test.csv.gz beside it; a folder of
    gzipped CSVs serves both splits."""
    (train_images, train_labels), (test_images, test_labels) = fake_mnist(4), fake_mnist(3)
    for name, images, labels in (("mnist_train.csv.gz", train_images, train_labels),
                                 ("mnist_test.csv.gz", test_images, test_labels)):
        with gzip.open(tmp_path / name, "wt") as f:
            f.write(csv_text(images, labels))
    test = load_mnist("test", path=tmp_path / "mnist_train.csv.gz")
    assert test.source == str(tmp_path / "mnist_test.csv.gz")
    np.testing.assert_array_equal(test.images, test_images)
    np.testing.assert_array_equal(load_mnist("test", path=tmp_path / "mnist_test.csv.gz").labels, test_labels)
    for split, labels in (("train", train_labels), ("test", test_labels)):
        np.testing.assert_array_equal(load_mnist(split, path=tmp_path).labels, labels)
