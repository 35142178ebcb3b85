"""Damaged and foreign files: every data reader returns what the file really holds, or raises
DataError naming the file; never another exception, never a wrong array.

Hypothesis starts from a small valid file in the layout each reader expects and damages it
the ways files get damaged: cut off at any byte, bytes flipped, overwritten or inserted, junk
appended, header fields (IDX magic, sizes, counts; .npy shape and dtype; zip member names)
changed, gzip-compressed or not. Where a plain decoding of the damaged bytes is short to
write (IDX, CSV), the reader must agree with it exactly: load what it loads, refuse what it
refuses. Elsewhere what loads must be well formed, and equal to the original when the
damage happened to be harmless.

Hypothesis and pytest's function-scoped tmp_path do not mix (one folder would serve every
example), so each example makes its own temporary folder.
"""
import gzip
import io
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gans.data import (
    CELEBA_GROUP,
    CELEBA_IMAGE_SHAPE,
    CelebAFile,
    DataError,
    build_celeba_hdf5,
    read_csv,
    read_idx,
    read_mnist_idx,
)
from gans.evaluation.evaluator import as_images
from gans.evaluation.scoring import load_images

# At least 60 examples per reader (more under HYPOTHESIS_PROFILE=thorough); every example
# reads one small file, so the whole module runs in seconds. The deadline is generous: it
# is there to catch a reader that loops, not to time a loaded test machine.
FUZZ = settings(
    max_examples=max(60, settings.default.max_examples),
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
LABELS = np.array([3, 1, 4], dtype=np.uint8)
GZIP_ERRORS = (OSError, EOFError, zlib.error)  # what gzip.decompress says about damaged data


@contextmanager
def file_holding(content: bytes, name: str):
    """A path called ``name`` in a fresh temporary folder, holding ``content``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        yield path


def refused(path, read, *args) -> DataError:
    """Call ``read(*args)``: it must raise DataError (any other exception fails the test)
    with a message naming ``path`` and saying more than that."""
    with pytest.raises(DataError) as info:
        read(*args)
    message = str(info.value)
    assert str(path) in message, f"the message does not name the file: {message}"
    assert len(message) > len(str(path)) + 10, f"the message says nothing about the problem: {message}"
    return info.value


# ----------------------------------------------------------------------------------------
# Damage, drawn as a small recipe (so that a falsifying example reads well) and applied to
# the bytes of a valid file


@dataclass(frozen=True)
class Damage:
    """One way a file gets damaged: cut off, bytes flipped, a run overwritten or inserted,
    junk appended, or none. Positions are taken modulo the size of the file, or of its
    first ``hot`` bytes (where the headers are) when ``near_start``."""

    kind: str
    at: tuple[int, ...]
    near_start: bool
    chunk: bytes  # the new bytes; for "flip", the masks to xor with

    def __call__(self, good: bytes, hot: int = 0) -> bytes:
        data = bytearray(good)
        span = min(hot, len(data)) if self.near_start and hot else len(data)
        where = [at % span for at in self.at]
        if self.kind == "cut":
            del data[where[0]:]
        elif self.kind == "flip":
            for at, mask in zip(where, self.chunk):
                data[at] ^= mask or 0xFF
        elif self.kind == "overwrite":
            data[where[0]:where[0] + len(self.chunk)] = self.chunk
        elif self.kind == "insert":
            data[where[0]:where[0]] = self.chunk
        elif self.kind == "append":
            data += self.chunk
        return bytes(data)


def damage(chunks=st.binary(min_size=1, max_size=8)):
    return st.builds(
        Damage,
        kind=st.sampled_from(["cut", "flip", "overwrite", "insert", "append", "none"]),
        at=st.lists(st.integers(0, 2**20), min_size=1, max_size=4).map(tuple),
        near_start=st.booleans(),
        chunk=chunks,
    )


GZIP_WRAPS = st.sampled_from(["raw", "gzip", "damaged gzip"])


def wrap(raw: bytes, how: str, gzip_damage: Damage) -> bytes:
    """``raw`` as it is, gzip-compressed, or gzip-compressed and then damaged."""
    if how == "raw":
        return raw
    packed = gzip.compress(raw, mtime=0)
    return gzip_damage(packed, hot=20) if how == "damaged gzip" else packed


def gunzip(content: bytes) -> bytes | None:
    """``content`` decompressed if it starts with gzip's magic bytes (as the readers decide),
    as it is if not; None if it is damaged gzip."""
    if content[:2] != b"\x1f\x8b":
        return content
    try:
        return gzip.decompress(content)
    except GZIP_ERRORS:
        return None


# ----------------------------------------------------------------------------------------
# MNIST IDX


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding, written here from the format rather than by write_idx."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def decode_idx(content: bytes) -> np.ndarray | None:
    """A plain decoding of an unsigned-byte IDX file (raw or gzip), or None where read_idx
    must refuse it: damaged gzip, a bad magic number, or not exactly the promised bytes."""
    raw = gunzip(content)
    if raw is None or len(raw) < 4 or raw[:3] != b"\0\0\x08" or not 0 < raw[3] <= 32:
        return None
    ndim = raw[3]
    sizes, data = raw[4:4 + 4 * ndim], raw[4 + 4 * ndim:]
    if len(sizes) < 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", sizes)
    if len(data) != math.prod(shape):
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


# Sizes near the real ones (a count one off, 27 or 29 rows) and anything at all.
SIZES = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 27, 28, 29, 784]), st.integers(0, 2**32 - 1))
HEADER_EDITS = st.one_of(
    st.just(("none", 0)),
    st.tuples(st.sampled_from(["type code", "dimensions"]), st.integers(0, 255)),
    st.tuples(st.just("size"), SIZES),
)
IDX_NAMES = st.sampled_from(["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"])


def damaged_idx(array, edit, raw_damage, how, gzip_damage) -> bytes:
    """``array`` as IDX with one header field changed (``edit``: the type code, the number of
    dimensions, or the last size), damaged anywhere, then perhaps gzip-wrapped."""
    raw = bytearray(idx_bytes(array))
    field, value = edit
    if field == "type code":
        raw[2] = value
    elif field == "dimensions":
        raw[3] = value
    elif field == "size":
        raw[4 * array.ndim:4 * array.ndim + 4] = struct.pack(">I", value)
    return wrap(raw_damage(bytes(raw), hot=4 + 4 * array.ndim), how, gzip_damage)


@FUZZ
@given(edit=HEADER_EDITS, raw_damage=damage(), how=GZIP_WRAPS, gzip_damage=damage(), name=IDX_NAMES)
def test_read_idx_gives_exactly_the_file_or_names_it(edit, raw_damage, how, gzip_damage, name):
    content = damaged_idx(IMAGES, edit, raw_damage, how, gzip_damage)
    expected = decode_idx(content)
    with file_holding(content, name) as path:
        if expected is None:
            refused(path, read_idx, path)
        else:
            got = read_idx(path)
            assert got.dtype == np.uint8 and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)


@FUZZ
@given(which=st.sampled_from(["images", "labels"]), edit=HEADER_EDITS, raw_damage=damage(), how=GZIP_WRAPS,
       gzip_damage=damage())
def test_read_mnist_idx_loads_a_consistent_pair_or_names_the_damaged_file(which, edit, raw_damage, how,
                                                                          gzip_damage):
    with tempfile.TemporaryDirectory() as folder:
        paths = {"images": Path(folder) / "train-images-idx3-ubyte", "labels": Path(folder) / "train-labels-idx1-ubyte"}
        paths["images"].write_bytes(idx_bytes(IMAGES))
        paths["labels"].write_bytes(idx_bytes(LABELS))
        paths[which].write_bytes(damaged_idx(IMAGES if which == "images" else LABELS, edit, raw_damage, how,
                                             gzip_damage))
        images, labels = (decode_idx(paths[key].read_bytes()) for key in ("images", "labels"))
        consistent = (
            images is not None and labels is not None and images.ndim == 3 and images.shape[1:] == (28, 28)
            and labels.ndim == 1 and len(images) == len(labels) and np.all(labels < 10)
        )
        if not consistent:
            refused(paths[which], read_mnist_idx, paths["images"], paths["labels"])
            return
        got_images, got_labels = read_mnist_idx(paths["images"], paths["labels"])
        assert got_images.dtype == np.uint8 and got_labels.dtype == np.int64
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, labels)


# ----------------------------------------------------------------------------------------
# MNIST CSV

CSV_GOOD = "".join(
    ",".join(map(str, [label, *image.reshape(-1)])) + "\n" for label, image in zip(LABELS, IMAGES)
).encode()
# What a damaged CSV plausibly holds: digits, separators, signs, spaces, line ends, letters.
CSV_CHUNKS = st.one_of(st.text("0123456789,,,-+ \r\n\t.xe", min_size=1, max_size=8).map(str.encode),
                       st.binary(min_size=1, max_size=4))
INTEGER = re.compile(r"[+-]?[0-9]+")  # decimal digits, perhaps a sign; no spaces


def decode_csv(content: bytes):
    """A plain decoding of the book's CSV (lines of 785 integers, label 0..9, pixels 0..255),
    or None where it is not one."""
    body = gunzip(content)
    if body is None:
        return None
    try:
        lines = body.rstrip().decode("ascii").split("\n")
    except UnicodeDecodeError:
        return None
    rows = [line.removesuffix("\r").split(",") for line in lines]
    if not all(len(row) == 785 and all(INTEGER.fullmatch(value) for value in row) for row in rows):
        return None  # includes the empty file: one row with one empty value
    table = np.array([[int(value) for value in row] for row in rows])
    labels, pixels = table[:, 0], table[:, 1:]
    if labels.min() < 0 or labels.max() > 9 or pixels.min() < 0 or pixels.max() > 255:
        return None
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels


@FUZZ
@given(csv_damage=damage(CSV_CHUNKS), how=GZIP_WRAPS, gzip_damage=damage())
def test_read_csv_gives_the_digits_or_names_the_file(csv_damage, how, gzip_damage):
    content = wrap(csv_damage(CSV_GOOD), how, gzip_damage)
    expected = decode_csv(content)
    with file_holding(content, "mnist_train.csv") as path:
        if expected is None:
            refused(path, read_csv, path)
        else:
            images, labels = read_csv(path)
            assert images.dtype == np.uint8 and labels.dtype == np.int64
            np.testing.assert_array_equal(images, expected[0])
            np.testing.assert_array_equal(labels, expected[1])


# ----------------------------------------------------------------------------------------
# The .npy files that gans eval --images scores

NPY_SHAPES = [(4, 784), (4, 28, 28), (4, 1, 28, 28)]
NPY_DTYPES = ["<f8", "<f4", "|u1"]
# Header values a damaged or foreign file may hold: other shapes (too few or too many
# images, wrong image size, negative, huge), and dtypes that are not pixels or need pickle.
FOREIGN_SHAPES = [(4, 783), (3, 784), (5, 784), (4, 28, 27), (784,), (), (4, -784), (2**40, 784), (0, 784)]
FOREIGN_DESCRS = ["<f8", "<f4", "|u1", ">f8", "<i8", "|b1", "<c16", "|O", "<U3", [("a", "<f8")], "<f2", "zz"]


def npy_bytes(header: dict, data: bytes) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + data


@FUZZ
@given(shape=st.sampled_from(NPY_SHAPES), descr=st.sampled_from(NPY_DTYPES),
       edit=st.one_of(st.just(("none", None)), st.tuples(st.just("shape"), st.sampled_from(FOREIGN_SHAPES)),
                      st.tuples(st.just("descr"), st.sampled_from(FOREIGN_DESCRS)),
                      st.just(("fortran_order", True))),
       file_damage=damage())
def test_eval_images_loader_gives_checked_images_or_names_the_file(shape, descr, edit, file_damage):
    """Digit images in [0, 1] saved as np.save does, with one header field swapped for another
    shape, dtype or memory order, then damaged anywhere."""
    values = RNG.random(shape)
    array = (values * 255).astype(descr) if descr == "|u1" else values.astype(descr)
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if edit[0] != "none":
        header[edit[0]] = edit[1]
    good = npy_bytes(header, array.tobytes())
    content = file_damage(good, hot=128)
    with file_holding(content, "samples.npy") as path:
        if edit[0] == "none" and content == good:
            np.testing.assert_array_equal(load_images(path), as_images(array))
            return
        try:
            images = load_images(path)
        except DataError:
            refused(path, load_images, path)
            return
    # Loaded: digit images in [0, 1], exactly what NumPy itself reads from the same bytes.
    assert images.dtype == np.float64 and images.shape[1:] == (1, 28, 28) and len(images) > 0
    assert np.all(np.isfinite(images)) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(images, as_images(np.load(io.BytesIO(content), allow_pickle=False)))


# ----------------------------------------------------------------------------------------
# CelebA HDF5


def celeba_faces() -> list[np.ndarray]:
    """Two simple faces: flat colours compress well, so the file is mostly metadata."""
    first = np.zeros(CELEBA_IMAGE_SHAPE, np.uint8)
    first[50:170, 40:140] = (230, 180, 150)
    return [first, np.full(CELEBA_IMAGE_SHAPE, 90, np.uint8)]


@lru_cache(maxsize=None)
def celeba_h5_bytes() -> bytes:
    """A valid two-image file in the book's layout, compressed as build_celeba_hdf5 writes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "celeba.h5"
        with h5py.File(path, "w") as f:
            f.attrs["synthetic"] = False
            f.attrs["description"] = "two test faces"
            for i, face in enumerate(celeba_faces()):
                f.create_dataset(f"{CELEBA_GROUP}/{i}.jpg", data=face, compression="gzip", compression_opts=4)
        return path.read_bytes()


def read_all_faces(path):
    with CelebAFile(path) as faces:
        return [faces[i] for i in range(len(faces))]


@FUZZ
@given(file_damage=damage())
def test_celeba_hdf5_reader_gives_faces_or_names_the_file(file_damage):
    good = celeba_h5_bytes()
    content = file_damage(good, hot=4096)  # the superblock, group and dataset headers
    with file_holding(content, "img_align_celeba.h5") as path:
        try:
            faces = read_all_faces(path)
        except DataError:
            refused(path, read_all_faces, path)
            return
    for face in faces:
        assert face.dtype == np.uint8 and face.shape == CELEBA_IMAGE_SHAPE
    if content == good:
        assert len(faces) == 2
        for face, original in zip(faces, celeba_faces()):
            np.testing.assert_array_equal(face, original)


# ----------------------------------------------------------------------------------------
# The CelebA zip importer


@lru_cache(maxsize=None)
def jpeg(size=(178, 218), colour=(200, 120, 90), image_format="JPEG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=image_format)
    return out.getvalue()


# Extra members a foreign zip may carry: unsafe paths (each would land in the folder that
# holds out/, had anything unpacked it), images of the wrong size or format, non-images.
EXTRA_MEMBERS = {
    "none": None,
    "../evil.jpg": jpeg(),
    "/evil.jpg": jpeg(),
    "img_align_celeba/../../evil.jpg": jpeg(),
    "..\\evil.jpg": jpeg(),
    "C:/evil.jpg": jpeg(),
    "img_align_celeba/name..with.dots.jpg": jpeg(),  # '..' inside a name is no path step
    "img_align_celeba/000003.jpg": jpeg(size=(100, 100)),
    "img_align_celeba/000004.jpg": jpeg(image_format="PNG"),
    "img_align_celeba/000005.jpg": b"not a jpeg at all",
    "__MACOSX/img_align_celeba/._000001.jpg": b"resource fork",
    "img_align_celeba/list.txt": b"not an image",
}
UNSAFE = {"../evil.jpg", "/evil.jpg", "img_align_celeba/../../evil.jpg", "..\\evil.jpg", "C:/evil.jpg"}
BAD_IMAGES = {"img_align_celeba/000003.jpg", "img_align_celeba/000004.jpg", "img_align_celeba/000005.jpg"}


@FUZZ
@given(extra=st.sampled_from(sorted(EXTRA_MEMBERS)),
       compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]), zip_damage=damage())
def test_celeba_zip_importer_writes_faces_only_into_the_target_or_names_the_zip(extra, compression, zip_damage):
    """Two faces, perhaps one foreign member (see EXTRA_MEMBERS), then damage anywhere."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        archive.writestr("img_align_celeba/000001.jpg", jpeg(colour=(220, 30, 30)))
        archive.writestr("img_align_celeba/000002.jpg", jpeg(colour=(30, 220, 30)))
        if EXTRA_MEMBERS[extra] is not None:
            archive.writestr(extra, EXTRA_MEMBERS[extra])
    good = out.getvalue()
    content = zip_damage(good)
    # What the undamaged zip gives: a DataError, or this many faces.
    expected = None if extra in UNSAFE | BAD_IMAGES else 2 + (extra == "img_align_celeba/name..with.dots.jpg")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "in").mkdir()
        zip_path, out_path = root / "in" / "img_align_celeba.zip", root / "out" / "celeba.h5"
        zip_path.write_bytes(content)
        try:
            count = build_celeba_hdf5(zip_path, out_path, limit=None)
        except DataError:
            assert content != good or expected is None, "a valid zip was refused"
            refused(zip_path, build_celeba_hdf5, zip_path, out_path, None)
            written = set()
        else:
            faces = read_all_faces(out_path)
            assert len(faces) == count
            assert all(face.dtype == np.uint8 and face.shape == CELEBA_IMAGE_SHAPE for face in faces)
            if content == good:  # in name order: red, green; JPEG is lossy, so +-3
                assert count == expected
                np.testing.assert_allclose(faces[0][100, 80], (220, 30, 30), atol=3)
                np.testing.assert_allclose(faces[1][100, 80], (30, 220, 30), atol=3)
            written = {out_path}
        # Nothing written anywhere else: no unpacked members, no temporary files left behind.
        files = {Path(top) / name for top, _, names in os.walk(root) for name in names}
        assert files == {zip_path} | written
