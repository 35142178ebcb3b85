"""An engine handle: minigrad or PyTorch behind one small interface.

The book's models are written once against ``engine.nn`` and ``engine.optim``; the two
libraries share PyTorch's API, so the same code builds either version.  What differs
(how a NumPy array becomes a tensor on a device, how seeds are set, how state is read
back) lives here.
"""
import functools
import random
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

import minigrad
from minigrad.cuda import EagerStep

ENGINES = ("minigrad", "torch")
DTYPES = ("float32", "float64")


@dataclass
class Engine:
    """One library on one device with one floating-point dtype."""
    name: str
    device: str = "cpu"
    dtype: str = "float32"
    capturable: bool = False  # optimisers keep their state on the device (for CUDA graphs)
    lib: object = field(init=False, repr=False)

    def __post_init__(self):
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine {self.name!r}; choose one of {', '.join(ENGINES)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {self.device!r}; choose cpu or cuda")
        if self.name == "torch":
            import torch
            self.lib = torch
            if self.device == "cuda" and not torch.cuda.is_available():
                raise RuntimeError("--device cuda was requested but PyTorch sees no CUDA GPU")
        else:
            self.lib = minigrad
            if self.device == "cuda" and not minigrad.cuda.is_available():
                raise RuntimeError("--device cuda was requested but minigrad sees no CUDA GPU "
                                   "(it needs CuPy and a GPU)")

    @property
    def nn(self):
        return self.lib.nn

    @property
    def optim(self):
        optim = self.lib.optim
        if not self.capturable or (self.name == "torch" and self.device != "cuda"):
            return optim  # PyTorch's capturable Adam works on CUDA only (and is not needed elsewhere)
        return SimpleNamespace(SGD=optim.SGD, Adam=functools.partial(optim.Adam, capturable=True))

    @property
    def torch_dtype(self):
        return getattr(self.lib, self.dtype)

    def tensor(self, array):
        """A NumPy array as this engine's tensor, on its device and in its dtype."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype, copy=False)
        if self.name == "torch":
            return self.lib.from_numpy(np.ascontiguousarray(array)).to(self.device)
        return minigrad.tensor(array, device=self.device)

    def state_tensor(self, array):
        """A saved array as this engine's tensor on its device, keeping the array's dtype."""
        if self.name == "torch":
            return self.lib.from_numpy(np.array(array)).to(self.device)
        return minigrad.tensor(array, device=self.device)

    def step_value(self, step):
        """An optimiser's step count the way this engine stores it."""
        return self.lib.tensor(float(step)) if self.name == "torch" else float(step)

    def numpy(self, tensor):
        """A tensor (or a number) as a NumPy array on the host."""
        if hasattr(tensor, "detach"):
            return np.asarray(tensor.detach().cpu().numpy())
        return np.asarray(tensor)

    def place(self, module):
        """Move a freshly built module to this engine's device and dtype."""
        return module.to(self.device).to(self.torch_dtype)

    def no_grad(self):
        return self.lib.no_grad()

    def synchronize(self):
        """Wait for the GPU (timings must not stop the clock before the work is done)."""
        if self.device == "cuda":
            self.lib.cuda.synchronize()

    def graphed(self, step, example_inputs, state):
        """``step(*inputs)`` captured once as a CUDA graph and replayed on new inputs, eager
        on the CPU: ``minigrad.cuda.graphed`` or PyTorch's ``torch.cuda.graph``.  ``state``
        (modules and optimisers) is put back after the warm-up runs that precede capture."""
        if self.name == "minigrad":
            return minigrad.cuda.graphed(step, *example_inputs, state=state)
        return _torch_graphed(self.lib, step, example_inputs, state)

    def View(self, *shape):
        """The book's ``View`` module: reshape inside an ``nn.Sequential``."""
        return module_classes(self.lib).View(shape)

    def Conditional(self, model):
        """``model`` taking (x, one-hot label) and seeing ``cat((x, label))`` (ch. 10)."""
        return module_classes(self.lib).Conditional(model)


_MODULE_CLASSES = {}


def module_classes(lib):
    """The two small modules the book writes itself, subclassing ``lib.nn.Module`` (one set
    per library, made once, so that each engine's model is made of its own modules)."""
    if lib not in _MODULE_CLASSES:
        class View(lib.nn.Module):
            def __init__(self, shape):
                super().__init__()
                self.shape = shape

            def forward(self, x):
                return x.view(*self.shape)

            def extra_repr(self):
                return f"shape={self.shape}"

        class Conditional(lib.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x, label):
                # the book's torch.cat((x, label)) joins one example's vectors; joining the last
                # dimension is the same there and also takes a batch of examples
                return self.model(lib.cat((x, label), -1))

        _MODULE_CLASSES[lib] = type("ModuleClasses", (), {"View": View, "Conditional": Conditional})
    return _MODULE_CLASSES[lib]


def _torch_state_tensors(torch, state):
    """Every tensor a PyTorch training step changes: the parameters and buffers of the modules
    in ``state``, and the optimisers' state (as ``minigrad.accel.graphs.state_tensors`` for minigrad)."""
    for owner in state:
        if isinstance(owner, torch.nn.Module):
            yield from owner.parameters()
            yield from owner.buffers()
        else:
            for entries in owner.state.values():
                yield from (value for value in entries.values() if isinstance(value, torch.Tensor))


def _torch_graphed(torch, step, example_inputs, state, warmup=3):
    """PyTorch's recipe for capturing a whole training step (warm up on a side stream,
    capture with ``torch.cuda.graph``), with the same warm-up undo as minigrad's."""
    if not all(t.is_cuda for t in example_inputs):
        return EagerStep(step, "the inputs are not on CUDA")
    static_inputs = [t.detach().clone() for t in example_inputs]
    saved = {id(t): t.detach().clone() for t in _torch_state_tensors(torch, state)}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            step(*static_inputs)
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for t in _torch_state_tensors(torch, state):
            t.copy_(saved[id(t)]) if id(t) in saved else t.zero_()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_outputs = step(*static_inputs)

    def replay(*inputs):
        for static, new in zip(static_inputs, inputs):
            static.copy_(new)
        graph.replay()
        return static_outputs
    return replay


def seed_everything(seed):
    """Seed Python, NumPy, minigrad, PyTorch (when installed) and CuPy (when present)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    minigrad.manual_seed(seed)
    torch = sys.modules.get("torch")  # seeded when in use; importing it just to seed costs seconds
    if torch is not None:
        torch.manual_seed(seed)
    if minigrad.cuda.is_available():
        minigrad.backend.module_for("cuda").random.seed(seed % 2 ** 32)
