"""Capture a whole training step once as a CUDA graph and replay it (``minigrad.cuda.graphed``).

At the book's batch size of one a GPU mostly waits for kernel launches: a training
step is a few hundred tiny kernels, each costing ~10 µs to launch from Python.  CUDA
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

Without CUDA (NumPy on the CPU) ``graphed`` returns a wrapper that runs the step
eagerly, after saying so once: code that uses it stays portable.
"""
import warnings

from . import backend

_capturing = [False]


def capturing():
    """True while a CUDA graph is being recorded (ops skip checks that would synchronise)."""
    return _capturing[0]


def graphed(step, *example_inputs, warmup=3, state=()):
    """``step(*inputs)`` captured as a CUDA graph when the inputs are on CUDA, eager otherwise."""
    if not example_inputs or not all(getattr(t, "is_cuda", False) for t in example_inputs):
        return EagerStep(step)
    return GraphedStep(step, example_inputs, warmup, state)


class EagerStep:
    """The CPU stand-in: calls the step as it is."""
    _warned = False

    def __init__(self, step):
        self.step = step
        if not EagerStep._warned:
            warnings.warn("minigrad.cuda.graphed: the inputs are not on CUDA, so the step runs eagerly "
                          "(no CUDA graph)", stacklevel=3)
            EagerStep._warned = True

    def __call__(self, *inputs):
        return self.step(*inputs)

    replay = __call__


class GraphedStep:
    """A step recorded on a CUDA stream and replayed with ``graph.launch``."""

    def __init__(self, step, example_inputs, warmup, state):
        cp = backend.cp
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.static_inputs = [t.detach().clone() if not t.requires_grad else t for t in example_inputs]
        saved = _snapshot(state)
        with self.stream:
            for _ in range(warmup):  # create lazy state (Adam's moments, .grad arrays) outside the graph
                step(*self.static_inputs)
        self.stream.synchronize()
        _restore(state, saved)
        self.pool = cp.cuda.MemoryPool()  # private: replays reuse exactly these blocks
        with cp.cuda.using_allocator(self.pool.malloc), self.stream:
            _capturing[0] = True
            try:
                self.stream.begin_capture()
                try:
                    self.static_outputs = step(*self.static_inputs)
                finally:
                    self.graph = self.stream.end_capture()
            finally:
                _capturing[0] = False
        self.stream.synchronize()

    def __call__(self, *inputs):
        """Copy ``inputs`` into the static buffers and replay; returns the static outputs."""
        if len(inputs) != len(self.static_inputs):
            raise TypeError(f"the step was captured with {len(self.static_inputs)} inputs, got {len(inputs)}")
        with self.stream:
            for static, new in zip(self.static_inputs, inputs):
                if new.shape != static.shape or new.dtype != static.dtype:
                    raise ValueError(f"a captured step needs inputs of shape {list(static.shape)} and dtype "
                                     f"{static.dtype}, got {list(new.shape)} {new.dtype}")
                static.array[...] = backend.move(new.array, "cuda")
            self.graph.launch(self.stream)
        return self.static_outputs

    def replay(self):
        """Replay on the inputs already in the static buffers."""
        self.graph.launch(self.stream)
        return self.static_outputs


def _snapshot(state):
    """Copies of the arrays of ``state`` (modules and optimisers), keyed by tensor."""
    return {id(t): t.array.copy() for owner in state for t in _arrays_of(owner)}


def _restore(state, copies):
    """Undo the warm-up in place (the graph will write to these very arrays): arrays that
    existed go back to their values; optimiser state the warm-up created (Adam's moments
    and step count, SGD's momentum) goes back to zero, its value before a first step."""
    for owner in state:
        for t in _arrays_of(owner):
            saved = copies.get(id(t))
            if saved is None:
                t.array[...] = 0
            else:
                t.array[...] = saved


def _arrays_of(owner):
    from .tensor import Tensor
    if hasattr(owner, "parameters"):
        yield from owner.parameters()
        yield from owner.buffers()
    if hasattr(owner, "state"):
        for entries in owner.state.values():
            for value in entries.values():
                if isinstance(value, Tensor):
                    yield value
