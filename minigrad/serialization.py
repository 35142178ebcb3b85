"""``minigrad.save`` and ``minigrad.load``: tensors, state_dicts and containers of them, in a
file that loads without pickle; and PyTorch's own ``torch.save`` files, read safely.

minigrad's format is a zip archive (as PyTorch's is) holding

- ``minigrad.json``: the saved object's structure, with each tensor replaced by
  ``{"tensor": k, "dtype": ..., "device": ..., "requires_grad": ...}`` (``"parameter"`` for a
  ``Parameter``); tuples, dicts (any keys: ``{"dict": [[key, value], ...]}``) and
  OrderedDicts are marked so that they come back as what they were;
- ``tensors/k.npy``: tensor k's values, in NumPy's documented ``.npy`` format.

Nothing in it is code, so loading cannot run any.  The same tensor saved twice is stored once
and comes back as one tensor.  A file is written to a temporary name beside its target and
renamed into place, so an interrupted save never leaves a damaged file where a good one was.

A file that PyTorch wrote (its zip format: a pickle of the structure beside raw storages) is
read by a restricted unpickler that accepts only tensors, parameters, storages and plain
containers, as PyTorch's ``weights_only=True`` does; anything else is refused, by name.
"""
import collections
import io
import json
import os
import pickle
import tempfile
import zipfile

import numpy as np

from . import backend

FORMAT = "minigrad.json"
VERSION = 1


class SaveError(TypeError):
    """An object that minigrad.save cannot store."""


def save(obj, f):
    """Save ``obj`` (tensors, numbers, strings, None, and lists, tuples and dicts of them:
    a state_dict, an optimiser's state_dict, a checkpoint dict) to the path or file ``f``."""
    from .tensor import Tensor
    arrays, seen = [], {}

    def encode(value):
        if isinstance(value, Tensor):
            if id(value) not in seen:
                seen[id(value)] = len(arrays)
                arrays.append(backend.move(value.detach().array, "cpu"))
            from .nn.module import Parameter
            return {"parameter" if isinstance(value, Parameter) else "tensor": seen[id(value)],
                    "dtype": str(value.dtype), "device": str(value.device), "requires_grad": value.requires_grad}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"tuple": [encode(v) for v in value]}
        if isinstance(value, list):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {"dict": [[encode(k), encode(v)] for k, v in value.items()],
                    "ordered": isinstance(value, collections.OrderedDict)}
        raise SaveError(f"minigrad.save stores tensors, numbers, strings, None and lists, tuples and dicts of them; "
                        f"got {type(value).__module__}.{type(value).__qualname__} (save its state_dict() instead)")

    structure = {"format": "minigrad", "version": VERSION, "object": encode(obj)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(FORMAT, json.dumps(structure))
        for k, array in enumerate(arrays):
            member = io.BytesIO()
            np.save(member, np.asarray(array, order="C"), allow_pickle=False)  # (0-d stays 0-d)
            archive.writestr(f"tensors/{k}.npy", member.getvalue())
    _write(f, buffer.getvalue())


def _write(f, data):
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".saving")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)  # atomic: the old file stays whole until the new one is complete
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``minigrad.save`` or PyTorch's ``torch.save`` wrote.  ``map_location`` moves
    the tensors: a device ('cpu', 'cuda'), or a dict from saved to wanted device.
    ``weights_only`` is accepted and always true: nothing in a file can run code."""
    if hasattr(f, "read"):
        name, data = str(getattr(f, "name", "the file")), f.read()
    else:
        name = os.fspath(f)
        data = _read(name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.namelist()
    except zipfile.BadZipFile:
        old_torch = "; PyTorch's files from before version 1.6 are not read" if data[:1] == b"\x80" else ""
        raise RuntimeError(f"{name} is not a file minigrad.save or torch.save wrote (not a zip archive"
                           f"{old_torch})") from None
    if FORMAT in members:
        return _load_minigrad(archive, name, map_location)
    pickles = [m for m in members if m.endswith("/data.pkl")]
    if pickles:
        return _load_torch(archive, pickles[0][:-len("data.pkl")], name, map_location)
    raise RuntimeError(f"{name} is a zip archive, but neither minigrad's ({FORMAT}) nor PyTorch's (data.pkl)")


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'") from None


def _place(map_location, saved_device):
    """The device type a tensor saved on ``saved_device`` goes to."""
    if map_location is None:
        target = saved_device
    elif isinstance(map_location, dict):
        target = map_location.get(saved_device, saved_device)
    else:
        target = str(map_location)
    kind = target.split(":")[0]
    if kind == "cuda" and not backend.cuda_available():
        raise RuntimeError("Attempting to deserialize object on a CUDA device but CUDA is not available: load "
                           "with map_location='cpu' to place the tensors on the CPU")
    if kind not in ("cpu", "cuda"):
        raise RuntimeError(f"don't know how to place a tensor on device {target!r}")
    return kind


def _load_minigrad(archive, name, map_location):
    from .nn.module import Parameter
    from .tensor import Tensor
    try:
        structure = json.loads(archive.read(FORMAT))
    except ValueError as error:
        raise RuntimeError(f"{name}: {FORMAT} is damaged ({error})") from None
    if structure.get("format") != "minigrad" or structure.get("version", 0) > VERSION:
        raise RuntimeError(f"{name}: format {structure.get('format')!r} version {structure.get('version')!r}; "
                           f"this minigrad reads minigrad version {VERSION}")
    tensors = {}

    def decode(value):
        if isinstance(value, list):
            return [decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "tuple" in value:
            return tuple(decode(v) for v in value["tuple"])
        if "dict" in value:
            kind = collections.OrderedDict if value.get("ordered") else dict
            return kind((_hashable(decode(k)), decode(v)) for k, v in value["dict"])
        key = "parameter" if "parameter" in value else "tensor"
        k = value[key]
        if k not in tensors:
            try:
                array = np.load(io.BytesIO(archive.read(f"tensors/{k}.npy")), allow_pickle=False)
            except (KeyError, ValueError) as error:
                raise RuntimeError(f"{name}: tensor {k} is missing or damaged ({error})") from None
            array = backend.move(array, _place(map_location, value.get("device", "cpu")))
            t = Parameter(array, requires_grad=value["requires_grad"]) if key == "parameter" else \
                Tensor._make(array).requires_grad_(value["requires_grad"])
            tensors[k] = t
        return tensors[k]

    return decode(structure["object"])


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


# --- PyTorch's files ---------------------------------------------------------------------

_STORAGE_DTYPES = {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, _STORAGE_DTYPES[name]


def _load_torch(archive, prefix, name, map_location):
    from .nn.module import Parameter
    from .devices import Size
    from .tensor import Tensor
    byteorder = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in archive.namelist() else "little"

    def rebuild_tensor(storage, offset, size, stride, requires_grad, backward_hooks, metadata=None):
        flat, device = storage
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape=tuple(size),
                                               strides=tuple(s * itemsize for s in stride))
        t = Tensor._make(backend.move(np.array(view), _place(map_location, device)))
        return t.requires_grad_(requires_grad) if requires_grad else t

    def rebuild_parameter(data, requires_grad, backward_hooks, *rest):
        return Parameter(data, requires_grad=requires_grad)

    allowed = {("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
               ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
               ("collections", "OrderedDict"): collections.OrderedDict,
               ("torch", "Size"): Size}
    storages = {}

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, qualname):
            if (module, qualname) in allowed:
                return allowed[(module, qualname)]
            if module == "torch" and qualname in _STORAGE_DTYPES:
                return _StorageType(qualname)
            raise pickle.UnpicklingError(
                f"{name}: refusing to load {module}.{qualname}: a saved file may hold only tensors, parameters, "
                "storages, numbers, strings and lists, tuples and dicts of them (as torch.load(weights_only=True))")

        def persistent_load(self, pid):
            if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
                raise pickle.UnpicklingError(f"{name}: a storage of a kind minigrad cannot read: {pid!r:.80}")
            _, storage_type, key, location, numel = pid
            if key not in storages:
                raw = archive.read(f"{prefix}data/{key}")
                dtype = np.dtype(storage_type.dtype).newbyteorder("<" if byteorder == "little" else ">")
                storages[key] = (np.frombuffer(raw, dtype=dtype).astype(storage_type.dtype), str(location))
            return storages[key]

    try:
        return RestrictedUnpickler(io.BytesIO(archive.read(prefix + "data.pkl"))).load()
    except pickle.UnpicklingError:
        raise
    except Exception as error:
        raise RuntimeError(f"{name}: a PyTorch file minigrad could not read ({type(error).__name__}: {error})") from None
