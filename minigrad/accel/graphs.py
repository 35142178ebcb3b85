"""Capture a whole training step once as a CUDA graph and replay it (``minigrad.cuda.graphed``).

At the book's batch size of one a GPU mostly waits for kernel launches: a training
step is tens to a couple of hundred tiny kernels, each costing microseconds to launch from Python.  CUDA
graphs record those launches once and replay them with one call.

    step = minigrad.cuda.graphed(train_step, x, target)   # captures train_step(x, target)
    for x_new, t_new in data:
        losses = step(x_new, t_new)                        # copies inputs in, replays

The rules that make a step capturable (PyTorch's CUDA graphs have the same ones):

- Shapes, dtypes and devices are fixed: new inputs are copied into the static input
  buffers captured with the example inputs, and the returned outputs are the same
  tensors every time, overwritten by each replay.
- No host synchronisation inside the step: no ``.item()``, ``.numpy()``, ``print(loss)``
  and no Python ``if`` on tensor values.  Read the outputs after a replay instead.
- Python code runs once, at capture.  Anything the step keeps on the host would be
  frozen, so optimisers must keep their state on the device: build Adam with
  ``capturable=True`` (its step count and bias corrections then live on the GPU).
- Before capture the step runs eagerly ``warmup`` times so that lazily created state
  (Adam's moments, gradient arrays) exists; the model's parameters and optimiser
  state are restored afterwards when ``state`` lists the modules and optimisers, so
  the warm-up does not train on the example inputs.
- Memory comes from a pool private to the graph that stays alive with it, so replays
  never allocate and nothing else can take the graph's memory.
- CuPy refuses to call cuBLAS while a stream is captured (cuBLAS itself allows it), so
  during capture every matrix product (``backend.matmul``) calls cuBLAS directly, with a
  handle and workspace of the graph's own (:class:`CaptureBlas`).

Inputs that are not on CUDA (and minigrad without this package) get the engine's
``minigrad.cuda.graphed``: the step runs eagerly, after saying so once.
"""
import ctypes
import ctypes.util

import numpy as np

from .. import backend, cuda
from ..tensor import Tensor
from . import replaces


class Capture:
    """The capture under way: whether a graph is being recorded, and the cuBLAS handle that
    the matrix products use meanwhile (None: CuPy's)."""
    recording = False
    blas = None


def capturing():
    """True while a CUDA graph is being recorded (what would synchronise must wait)."""
    return Capture.recording


def _on_cuda(step, *example_inputs, **options):
    return cuda.all_on_cuda(example_inputs)


@replaces(cuda, "graphed", _on_cuda)
def graphed(step, *example_inputs, warmup=3, state=()):
    """``step(*inputs)`` captured as a CUDA graph, to be replayed (see the module's docstring)."""
    return GraphedStep(step, example_inputs, warmup, state)


def _capturing_on_gpu(a, b):
    return Capture.blas is not None and backend.is_gpu_array(a)


@replaces(backend, "matmul", _capturing_on_gpu)
def matmul_in_capture(a, b):
    return Capture.blas.matmul(a, b)


class GraphedStep:
    """A step recorded on a CUDA stream and replayed with ``graph.launch``."""

    def __init__(self, step, example_inputs, warmup, state):
        cp = backend.module_for("cuda")
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.static_inputs = [t.detach().clone() if not t.requires_grad else t for t in example_inputs]
        saved = _snapshot(state)
        # capture needs a stream of its own; it waits for the work that made the inputs
        self.stream.wait_event(cp.cuda.get_current_stream().record())
        with self.stream:
            for _ in range(warmup):  # create lazy state (Adam's moments, .grad arrays) outside the graph
                step(*self.static_inputs)
        self.stream.synchronize()
        _restore(state, saved)
        cp.cuda.Device().synchronize()
        self.pool = cp.cuda.MemoryPool()  # private: replays reuse exactly these blocks
        with cp.cuda.using_allocator(self.pool.malloc), self.stream:
            self.blas = Capture.blas = CaptureBlas(self.stream)
            Capture.recording = True
            try:
                self.stream.begin_capture(cp.cuda.runtime.streamCaptureModeRelaxed)
                try:
                    self.static_outputs = step(*self.static_inputs)
                finally:
                    self.graph = self.stream.end_capture()
            finally:
                Capture.recording, Capture.blas = False, None
        self.stream.synchronize()

    def __call__(self, *inputs):
        """Copy ``inputs`` into the static buffers and replay; returns the static outputs."""
        if len(inputs) != len(self.static_inputs):
            raise TypeError(f"the step was captured with {len(self.static_inputs)} inputs, got {len(inputs)}")
        for static, new in zip(self.static_inputs, inputs):
            if new.shape != static.shape or new.dtype != static.dtype:
                raise ValueError(f"a captured step needs inputs of shape {list(static.shape)} and dtype "
                                 f"{static.dtype}, got {list(new.shape)} {new.dtype}")
            static.array[...] = backend.move(new.array, "cuda")
        return self.replay()

    def replay(self):
        """Replay on the inputs already in the static buffers, on the current stream (so
        that what comes after, such as reading a loss, waits for it, as in PyTorch)."""
        self.graph.launch(backend.module_for("cuda").cuda.get_current_stream())
        return self.static_outputs


class CaptureBlas:
    """Matrix products while a graph is recorded: cuBLAS's gemm called through ctypes with a
    handle bound to the capturing stream and a workspace that lives as long as the graph
    (so cuBLAS allocates nothing inside the capture)."""
    WORKSPACE_BYTES = 32 * 2 ** 20
    GEMM = {np.dtype(np.float32): ("cublasSgemm_v2", ctypes.c_float),
            np.dtype(np.float64): ("cublasDgemm_v2", ctypes.c_double)}
    BATCHED = {np.dtype(np.float32): "cublasSgemmStridedBatched",
               np.dtype(np.float64): "cublasDgemmStridedBatched"}

    def __init__(self, stream):
        self.lib, self.stream = _cublas_library(), stream  # the handle needs the stream alive
        self.handle = ctypes.c_void_p()
        _check(self.lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        _check(self.lib.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream.ptr)), "cublasSetStream")
        self.workspace = backend.module_for("cuda").empty(self.WORKSPACE_BYTES, dtype=np.uint8)
        _check(self.lib.cublasSetWorkspace_v2(self.handle, ctypes.c_void_p(self.workspace.data.ptr),
                                              ctypes.c_size_t(self.WORKSPACE_BYTES)), "cublasSetWorkspace")

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.cublasDestroy_v2(self.handle)

    def matmul(self, a, b):
        """``a @ b`` with NumPy's rules (1-D operands, broadcast batch dimensions)."""
        cp = backend.module_for("cuda")
        if a.dtype != b.dtype or a.dtype not in self.GEMM:
            raise TypeError(f"a captured matrix product needs two float32 or float64 arrays, got {a.dtype} "
                            f"and {b.dtype}")
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        (m, k), n = a2.shape[-2:], b2.shape[-1]
        if b2.shape[-2] != k:
            raise ValueError(f"matrix products: shapes cannot be multiplied ({' x '.join(map(str, a.shape))} "
                             f"and {' x '.join(map(str, b.shape))})")
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        out = cp.empty(batch + (m, n), dtype=a.dtype)
        if not batch:
            self.gemm(a2, b2, out)
        elif out.size and k:  # a stack of products: one strided-batched call on contiguous copies
            count = out.size // (m * n)
            self.batched_gemm(cp.ascontiguousarray(cp.broadcast_to(a2, batch + (m, k))).reshape(count, m, k),
                              cp.ascontiguousarray(cp.broadcast_to(b2, batch + (k, n))).reshape(count, k, n),
                              out.reshape(count, m, n))
        else:
            out.fill(0)
        return out.reshape(batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ()))

    def batched_gemm(self, a, b, out):
        """out[i] = a[i] @ b[i] for C-contiguous stacks (count, m, k) and (count, k, n)."""
        count, m, k = a.shape
        n = b.shape[2]
        name, (_, scalar) = self.BATCHED[out.dtype], self.GEMM[out.dtype]
        one, zero = scalar(1), scalar(0)
        stride = ctypes.c_longlong
        _check(getattr(self.lib, name)(
            self.handle, 0, 0, n, m, k, ctypes.byref(one), ctypes.c_void_p(b.data.ptr), n, stride(k * n),
            ctypes.c_void_p(a.data.ptr), k, stride(m * k), ctypes.byref(zero), ctypes.c_void_p(out.data.ptr), n,
            stride(m * n), count), name)

    def gemm(self, a, b, out):
        """out = a @ b for matrices, out C-contiguous.  cuBLAS is column-major: a row-major
        matrix is its transpose there, so it computes outᵀ = bᵀ·aᵀ."""
        m, k = a.shape
        n = b.shape[1]
        if out.size == 0:
            return
        if k == 0:
            out.fill(0)
            return
        name, scalar = self.GEMM[out.dtype]
        (op_b, ld_b, b), (op_a, ld_a, a) = _column_major(b), _column_major(a)
        one, zero = scalar(1), scalar(0)
        _check(getattr(self.lib, name)(
            self.handle, op_b, op_a, n, m, k, ctypes.byref(one), ctypes.c_void_p(b.data.ptr), ld_b,
            ctypes.c_void_p(a.data.ptr), ld_a, ctypes.byref(zero), ctypes.c_void_p(out.data.ptr), n), name)


def _column_major(x):
    """(operation, leading dimension, array) that give cuBLAS the row-major matrix x's
    transpose: a row-contiguous x is xᵀ as it lies (no-op, 'N'); a column-contiguous x
    (a transposed view) is x itself, so cuBLAS transposes it ('T')."""
    item = x.itemsize
    rows, cols = x.shape
    s0, s1 = x.strides
    if s1 == item and s0 % item == 0 and (rows == 1 or s0 >= cols * item):
        return 0, max(s0 // item if rows > 1 else cols, 1), x
    if s0 == item and s1 % item == 0 and (cols == 1 or s1 >= rows * item):
        return 1, max(s1 // item if cols > 1 else rows, 1), x
    x = backend.module_for("cuda").ascontiguousarray(x)
    return 0, max(cols, 1), x


def _cublas_library():
    """The libcublas that CuPy loaded (found in the process's memory map), else the system's."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libcublas.so" in path:
                    return ctypes.CDLL(path)
    except OSError:
        pass
    name = ctypes.util.find_library("cublas")
    if name is None:
        raise RuntimeError("minigrad.cuda.graphed: cannot find the cuBLAS library to record matrix products")
    return ctypes.CDLL(name)


def _check(status, what):
    if status != 0:
        raise RuntimeError(f"{what} failed with cuBLAS status {status}")


def _snapshot(state):
    """Copies of the arrays of ``state`` (modules and optimisers), keyed by tensor."""
    return {id(t): t.array.copy() for t in state_tensors(state)}


def _restore(state, copies):
    """Undo the warm-up in place (the graph will write to these very arrays): arrays that
    existed go back to their values; optimiser state the warm-up created (Adam's moments
    and step count, SGD's momentum) goes back to zero, its value before a first step."""
    for t in state_tensors(state):
        saved = copies.get(id(t))
        if saved is None:
            t.array[...] = 0
        else:
            t.array[...] = saved


def state_tensors(state):
    """Every tensor a training step changes, for modules and optimisers in ``state``:
    parameters, buffers, optimiser state."""
    for owner in state:
        if hasattr(owner, "parameters"):
            yield from owner.parameters()
            yield from owner.buffers()
        if hasattr(owner, "state"):
            for entries in owner.state.values():
                yield from (value for value in entries.values() if isinstance(value, Tensor))
