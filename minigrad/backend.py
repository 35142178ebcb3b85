"""The only place that knows about NumPy versus CuPy.

Every op in minigrad is written once against an *array module* ``xp`` (NumPy on the
CPU, CuPy on CUDA) and asks this module which one to use.  Moving data between host
and device also happens only here.
"""
import numpy as np

try:  # CuPy is optional: ``pip install minigrad-gans[cuda]``
    import cupy as cp
except ImportError:  # pragma: no cover - depends on the machine
    cp = None


def gpu_module_installed():
    """True when CuPy can be imported (whether or not a GPU is present)."""
    return cp is not None


def cuda_available():
    """True when CuPy is installed and can see at least one GPU."""
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        return False


def require_cuda():
    if cp is None:
        raise RuntimeError("CUDA was requested but CuPy is not installed "
                           "(pip install 'minigrad-gans[cuda]' or a cupy-cudaXXx wheel)")
    if not cuda_available():
        raise RuntimeError("CUDA was requested but no CUDA GPU is available "
                           "(minigrad.cuda.is_available() is False)")


def device_type_of(array):
    """'cuda' for a CuPy array, 'cpu' for anything else (NumPy arrays and scalars)."""
    return "cuda" if is_gpu_array(array) else "cpu"


def array_module(array):
    """The array module that computes with ``array``: CuPy for GPU arrays, NumPy for host
    arrays and numbers, and for a tensor its ``__array_namespace__`` (the Array API
    standard's hook): how a backward formula runs on tensors when it is recorded."""
    if type(array) is np.ndarray:
        return np
    if is_gpu_array(array):
        return cp
    namespace = getattr(array, "__array_namespace__", None)
    return namespace() if namespace is not None and not isinstance(array, np.generic) else np


def module_for(device_type):
    """The array module that makes arrays on ``device_type`` ('cpu' or 'cuda')."""
    if device_type == "cuda":
        require_cuda()
        return cp
    return np


_pending_checks = []  # (device scalar, message): bad input the GPU found, reported at the next read


def check_later(value, message):
    """Raise ``RuntimeError(message)`` at the next read from the GPU if the device scalar
    ``value`` is NaN.  Checking now would make the host wait for the GPU in the middle of
    a training step; like a CUDA device-side assert, the error comes at the next sync."""
    _pending_checks.append((value, message))
    if len(_pending_checks) >= 256:  # nothing read back for a long time: check now
        raise_pending()


def raise_pending():
    """Report what ``check_later`` registered (waits for the GPU)."""
    if not _pending_checks:
        return
    checks = list(_pending_checks)
    _pending_checks.clear()
    values = cp.asnumpy(cp.stack([value.reshape(()) for value, _ in checks]))
    for value, (_, message) in zip(values, checks):
        if value != value:
            raise RuntimeError(message)


def to_host(value):
    """A minigrad or PyTorch tensor, or a CuPy array, as something NumPy can read."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu") and not isinstance(value, np.ndarray):
        value = value.cpu()
    return move(value, "cpu")


def move(array, device_type):
    """Copy ``array`` to the host ('cpu') or the current GPU ('cuda'); no copy if it is there."""
    if device_type == "cpu":
        if not is_gpu_array(array):
            return array
        raise_pending()
        return cp.asnumpy(array)
    require_cuda()
    return cp.asarray(array)


def matmul(a, b):
    """``a @ b``.  Every matrix product in minigrad comes through here: CuPy refuses to call
    cuBLAS while a CUDA graph is being recorded, and ``minigrad.accel.graphs`` then routes
    them to the graph's own cuBLAS handle."""
    return a @ b


def scatter_add(xp, target, index, values):
    """``target[index] += values`` with repeated indices summed (NumPy's ``add.at``)."""
    if xp is np:
        np.add.at(target, index, values)
    else:  # checked on the GPU (newer CuPy also offers cupy.add.at, and warns that this is deprecated)
        import cupyx
        cupyx.scatter_add(target, index, values)


def erf(array):
    """The error function, elementwise (for the exact GELU)."""
    xp = array_module(array)
    if xp is not np and xp is not cp:  # a tensor: recorded
        return xp.erf(array)
    if xp is np:
        from scipy.special import erf as scipy_erf
        return scipy_erf(array)
    from cupyx.scipy.special import erf as cupy_erf
    return cupy_erf(array)


def quiet(xp):
    """Silence NumPy's floating-point warnings for an expected log(0) or overflow."""
    if xp is np:
        return np.errstate(divide="ignore", over="ignore", invalid="ignore")
    import contextlib
    return contextlib.nullcontext()


def is_gpu_array(value):
    """True for a CuPy array.  (An isinstance test: CuPy builds its CUDA array interface,
    a dict, on each access, and minigrad asks hundreds of times a step.)"""
    return cp is not None and isinstance(value, cp.ndarray)
