"""``minigrad.cuda``: what PyTorch's ``torch.cuda`` offers a beginner, backed by CuPy."""

import numpy as np

from . import backend, random, user_warnings


def is_available():
    """True when CuPy is installed and a CUDA GPU is visible."""
    return backend.cuda_available()


def device_count():
    return _cupy().cuda.runtime.getDeviceCount() if is_available() else 0


def current_device():
    backend.require_cuda()
    return _cupy().cuda.Device().id


def get_device_name(device=None):
    backend.require_cuda()
    index = 0 if device is None else getattr(device, "index", device) or 0
    name = _cupy().cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize():
    if is_available():
        _cupy().cuda.Device().synchronize()  # every stream, as torch.cuda.synchronize()
        backend.raise_pending()


def memory_allocated(device=None):
    """Bytes held by tensors now (CuPy's memory pool: bytes in use)."""
    return _cupy().get_default_memory_pool().used_bytes() if is_available() else 0


def max_memory_allocated(device=None):
    """Bytes the memory pool holds (CuPy keeps no peak counter; the pool only grows)."""
    return _cupy().get_default_memory_pool().total_bytes() if is_available() else 0


def manual_seed(seed):
    random.manual_seed(seed)


manual_seed_all = manual_seed


def memory_summary(device=None, abbreviated=False):
    """A few lines on GPU memory (the book prints ``torch.cuda.memory_summary(device)``)."""
    if not is_available():
        return "minigrad.cuda: no CUDA GPU, no GPU memory in use"
    gib = 1024 ** 3
    return (f"minigrad.cuda memory (CuPy's default pool)\n"
            f"  in use by tensors: {memory_allocated() / gib:.3f} GiB\n"
            f"  held by the pool:  {max_memory_allocated() / gib:.3f} GiB")


def FloatTensor(*data):
    """A float32 tensor on the GPU (the book's ``torch.cuda.FloatTensor``)."""
    if not is_available():  # PyTorch says "type torch.cuda.FloatTensor not available"; say why and what to do
        raise RuntimeError("minigrad.cuda.FloatTensor needs a CUDA GPU, and minigrad.cuda.is_available() is "
                           "False (no CuPy or no GPU). Use minigrad.FloatTensor(...) on the CPU, or "
                           "minigrad.tensor(..., device=device) with device = minigrad.device('cuda' if "
                           "minigrad.cuda.is_available() else 'cpu').")
    from .creation import typed_tensor
    return typed_tensor(np.float32, data, "cuda")


def graphed(step, *example_inputs, warmup=3, state=()):
    """Capture ``step(*example_inputs)`` once as a CUDA graph and return a callable that
    replays it on new inputs (``minigrad.accel.graphs``, which says the rules).  Here, for
    inputs not on CUDA: a stand-in that runs the step eagerly, so that code using it stays
    portable."""
    if all_on_cuda(example_inputs):  # (then only minigrad.accel could have captured it)
        return EagerStep(step, "minigrad.accel, which captures graphs, is off")
    return EagerStep(step, "the inputs are not on CUDA")


def all_on_cuda(inputs):
    """Are there inputs, and all of them tensors on a GPU?  (What a capture needs.)"""
    return bool(inputs) and all(getattr(t, "is_cuda", False) for t in inputs)


class EagerStep:
    """The stand-in for a captured step: calls the step as it is, after saying once why."""
    _warned = False

    def __init__(self, step, why):
        self.step = step
        if not EagerStep._warned:
            user_warnings.warn(f"minigrad.cuda.graphed: no CUDA graph ({why}), so the step runs eagerly")
            EagerStep._warned = True

    def __call__(self, *inputs):
        return self.step(*inputs)

    replay = __call__


def _cupy():
    return backend.module_for("cuda")
