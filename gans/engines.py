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
        if not self.capturable:
            return self.lib.optim
        if self.name != "minigrad":
            raise ValueError("--cuda-graph captures minigrad's training step; use --engine minigrad")
        optim = self.lib.optim
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

    def cat(self, tensors):
        return self.lib.cat(tensors)

    def synchronize(self):
        """Wait for the GPU (timings must not stop the clock before the work is done)."""
        if self.device == "cuda":
            self.lib.cuda.synchronize()

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
                return self.model(lib.cat((x, label)))

        _MODULE_CLASSES[lib] = type("ModuleClasses", (), {"View": View, "Conditional": Conditional})
    return _MODULE_CLASSES[lib]


def seed_everything(seed):
    """Seed Python, NumPy, minigrad, PyTorch (when installed) and CuPy (when present)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    minigrad.manual_seed(seed)
    torch = sys.modules.get("torch")  # seeded when in use; importing it just to seed costs seconds
    if torch is not None:
        torch.manual_seed(seed)
    if minigrad.cuda.is_available():
        minigrad.backend.cp.random.seed(seed % 2 ** 32)
