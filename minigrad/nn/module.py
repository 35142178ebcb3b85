"""``Module`` and ``Parameter``: containers of weights, with PyTorch's interface."""
import functools
import inspect
import warnings
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..autograd import Function, RemovableHandle
from ..devices import device_type
from ..dtypes import float32, float64
from ..tensor import Tensor, as_array


class Parameter(Tensor):
    """A tensor that is a module's weight: it requires grad and is found by ``parameters()``."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        self._wrap(as_array(data.array if isinstance(data, Tensor) else data))
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _train_method(module):
    """``module.train`` if it is PyTorch's train(mode) or an override of it; Module's where a
    class uses the name for something else (the book's models: train(inputs, targets))."""
    method = module.train
    if type(module).train is Module.train:
        return method
    required = [p for p in inspect.signature(method).parameters.values() if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return method if len(required) <= 1 else functools.partial(Module.train, module)


class Module:
    """Base class of layers and models.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it, so
    ``parameters()``, ``state_dict()``, ``to()`` and ``zero_grad()`` find it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])
        object.__setattr__(self, "_hooked", False)  # any hook registered: __call__ takes the long way

    # --- registration ----------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign to a Module before Module.__init__() call "
                                 "(call super().__init__() first)")
        # PyTorch's rules: a Parameter or Module registers under the name (in place, keeping the
        # order); a name that is already a parameter, buffer or submodule keeps its kind and
        # takes only that kind or None, so ``m.weight = m.weight * 2`` cannot silently leave the
        # weight out of parameters() and the optimiser
        if isinstance(value, (Parameter, Module)):
            table = self._parameters if isinstance(value, Parameter) else self._modules
            for other in (self._parameters, self._buffers, self._modules, self.__dict__):
                if other is not table:
                    other.pop(name, None)
            table[name] = value
            return
        for table, kind, expected in ((self._parameters, "parameter", Parameter), (self._buffers, "buffer", Tensor),
                                      (self._modules, "child module", Module)):
            if name in table:
                if value is not None and not isinstance(value, expected):
                    raise TypeError(f"cannot assign '{_type_name(value)}' as {kind} '{name}' "
                                    f"({expected.__module__.split('.')[0]}.{'nn.' * (expected is not Tensor)}"
                                    f"{expected.__name__} or None expected)")
                table[name] = value
                return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        self._check_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                            "(minigrad.nn.Parameter or None required)")
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor):
        """A tensor that belongs to the state but is not trained (BatchNorm's running stats)."""
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                            "(minigrad Tensor or None required)")
        self._buffers[name] = tensor

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        self._check_name("module", name, self._modules)
        self._modules[name] = module

    def _check_name(self, kind, name, table):
        """PyTorch's rules for the name a parameter, buffer or submodule is registered under: a
        string, not empty, without "." (which separates the levels of state_dict keys), and not
        already something else here (a buffer named like a parameter would shadow it)."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_type_name(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if name not in table and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")

    # --- traversal -------------------------------------------------------------------
    def named_modules(self, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every submodule, depth first; a module
        registered under two names comes once, unless ``remove_duplicate`` is False."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop(0)
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            stack[0:0] = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix=""):
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # --- state -----------------------------------------------------------------------
    def state_dict(self):
        """Every parameter and buffer by dotted name (``0.weight``), detached, in order."""
        return OrderedDict((key, t.detach()) for key, t in self._state_tensors())

    def _state_tensors(self):
        """(dotted name, tensor) of every parameter and buffer, a shared one (or one of a module
        registered twice) under each of its names, as PyTorch's state_dict lists them."""
        for module_name, module in self.named_modules(remove_duplicate=False):
            for table in (module._parameters, module._buffers):
                for name, t in table.items():
                    if t is not None:
                        yield (f"{module_name}.{name}" if module_name else name), t

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into this module's parameters and buffers.

        Values may be minigrad tensors, NumPy arrays or anything ``numpy.asarray``
        understands (e.g. CPU PyTorch tensors).  With ``strict`` the keys must match
        exactly; shape mismatches are always an error.  Returns (missing, unexpected).
        """
        own = dict(self._state_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            source = state_dict[key]
            source = source.array if isinstance(source, Tensor) else np.asarray(backend.to_host(source))
            if target.ndim == 0 and source.shape == (1,):  # a number saved as [n] (PyTorch reads it the same)
                source = source.reshape(())
            if tuple(source.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {list(source.shape)} from "
                              f"checkpoint, the shape in current model is {list(target.shape)}.")
            values[key] = source
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, source in values.items():
            target = own[key]
            target.array[...] = backend.move(source, backend.device_type_of(target.array)).astype(
                target.array.dtype, copy=False)
            target._bump_version()
        return IncompatibleKeys(missing, unexpected)

    # --- modes and devices -----------------------------------------------------------
    def apply(self, fn):
        """``fn(module)`` for every submodule, children first, then this one (the DCGAN
        example's ``model.apply(weights_init)``); returns self."""
        for child in self._modules.values():
            if child is not None:
                child.apply(fn)
        fn(self)
        return self

    def train(self, mode=True):
        """Training mode (BatchNorm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for child in self.children():  # each child's own train(mode), as PyTorch calls it (a frozen BatchNorm's)
            _train_method(child)(mode)
        return self

    def eval(self):
        # Module.train, not self.train: the book's models define their own train(inputs, targets)
        return Module.train(self, False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    def to(self, *args, dtype=None, device=None):
        """Move every parameter and buffer to a device and/or floating dtype (in place)."""
        for arg in args:
            if isinstance(arg, (np.dtype, type)):
                dtype = np.dtype(arg)
            else:
                device = arg
        target_type = None if device is None else device_type(device)
        if target_type == "cuda":
            backend.require_cuda()

        def convert(array):
            if target_type is not None:
                array = backend.move(array, target_type)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        for t in list(self.parameters()) + list(self.buffers()):
            t.array = convert(t.array)
            if t.grad is not None:
                t.grad.array = convert(t.grad.array)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def double(self):
        return self.to(float64)

    def float(self):
        return self.to(float32)

    # --- calling ---------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if not self._hooked:
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        hooks = _BackwardHooks(self) if self._backward_hooks else None
        if hooks is not None:
            args = hooks.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out if hooks is None else hooks.wrap_outputs(out)

    # --- hooks (PyTorch's: each returns a handle whose .remove() takes the hook away) ----
    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before forward; may return new args."""
        return self._register(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after forward; may return a new output."""
        return self._register(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to the
        module's inputs are computed; may return a new grad_input."""
        return self._register(self._backward_hooks, hook)

    def _register(self, hooks, hook):
        hooks.append(hook)
        object.__setattr__(self, "_hooked", True)
        return RemovableHandle(hooks, hook)

    # --- printing --------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"\n  {extra}" if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class _IdentityWithHook(Function):
    """Passes tensors through unchanged; its backward hands their gradients to ``ctx.on_grads``
    and passes on what that returns.  Placed around a module, it catches the gradients with
    respect to the module's outputs and inputs (PyTorch does the same)."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_grads(grads))


class _BackwardHooks:
    """One forward call's full backward hooks: grad_output is caught first, and the hooks run
    when grad_input is known (at once if no input requires grad, as in PyTorch)."""

    def __init__(self, module):
        self.module, self.grad_output, self.n_inputs = module, None, 0

    def wrap_inputs(self, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(positions)
        self.inputs_need_grad = any(args[i].requires_grad for i in positions)
        if not self.inputs_need_grad:
            return args
        wrapped = _IdentityWithHook.apply(self.run_hooks, *(args[i] for i in positions))
        args = list(args)
        for i, t in zip(positions, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, out):
        single = isinstance(out, Tensor)
        outputs = (out,) if single else tuple(out)
        if not any(isinstance(o, Tensor) and o.requires_grad for o in outputs):
            return out
        wrapped = _IdentityWithHook.apply(self.catch_grad_output, *outputs)
        return wrapped[0] if single else wrapped

    def catch_grad_output(self, grads):
        self.grad_output = grads
        if not self.inputs_need_grad:
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                          "outputs since no inputs require gradients.")
            self.run_hooks((None,) * self.n_inputs)
        return grads

    def run_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks):
            result = hook(self.module, tuple(grad_input), self.grad_output)
            if result is not None:
                grad_input = tuple(result)
        return grad_input


def _type_name(value):
    """How PyTorch names a value in its errors: 'torch.FloatTensor' for a tensor."""
    return value.type() if isinstance(value, Tensor) else type(value).__name__
