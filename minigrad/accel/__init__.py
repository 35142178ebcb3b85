"""``minigrad.accel``: the speed machinery, beside the engine.

The engine (``minigrad/ops``, ``minigrad/optim``) says what is computed, each formula once,
in NumPy written against the array module ``xp``, so that the same lines run on the CPU and,
with CuPy, on the GPU.  That is all minigrad needs to compute the right numbers.  This
package makes the same numbers come faster where plain array expressions are slow:

- ``kernels``: fused CUDA kernels for the book's layers, losses and optimisers.  On a GPU
  each array expression is a kernel launch, and at the book's batch sizes the launches,
  not the arithmetic, are the cost: one kernel per formula instead of one per expression.
- ``convolution``: faster lowerings of a convolution than the op's im2col (im2col from the
  image split into phases, whose windows lie contiguous; products per phase, which copy the
  other side instead of the image, where that copies fewer numbers; on a GPU, index plans
  that make im2col one gather and col2im one fixed-order sum).
- ``flat``: an optimiser's parameters and state as views into one buffer, so that an
  update is one expression for all parameters (PyTorch's ``foreach``/``fused``).
- ``selects``: LeakyReLU's choice between x and slope·x without a branch per element.
- ``graphs``: a training step captured once as a CUDA graph and replayed
  (``minigrad.cuda.graphed``), with the cuBLAS calls a capture needs.
- ``memory``: glibc's malloc told to keep freed memory for the next step rather than hand
  it back to the operating system and get it again as fresh, zero-filled pages.

Each piece but ``memory`` (a setting of the process) attaches in one way only:
``@replaces(owner, name, when)`` puts a faster version in place of a method or function of
the engine, for the inputs ``when`` accepts; for any other input the engine's own version
runs.  The engine never calls into this package; ``replacements()`` lists what is attached.

``MINIGRAD_ACCEL=0`` in the environment (before minigrad is imported) attaches nothing:
minigrad then runs its plain formulas alone, and every CPU test passes with the same
numbers, which CI checks.
"""
import contextlib
import functools
import inspect
import os

ENABLED = os.environ.get("MINIGRAD_ACCEL", "1") != "0"

_attached = []  # (owner, name, the engine's own version, and that version as the owner holds it)


def replaces(owner, name, when=None):
    """Decorator: the function computes ``owner.name`` (a method, taking ``self`` first, a
    static method, or a module's function) faster.  With ``when``, a predicate on the same
    arguments, it runs only where ``when`` holds, and the engine's version everywhere else.
    What is attached keeps the engine's name, docstring and source, with the faster version
    as its ``.fast``.  (Switched off, it attaches nothing: importing a module of this package
    changes nothing.)"""
    def attach(fast):
        if not ENABLED:
            return fast
        plain, held = getattr(owner, name), inspect.getattr_static(owner, name)

        @functools.wraps(plain)  # (its name, docstring and source stay the engine's formula)
        def method(*args, **kwargs):
            return (fast if when is None or when(*args, **kwargs) else plain)(*args, **kwargs)
        method.fast = fast
        if isinstance(held, staticmethod):
            method = staticmethod(method)
        setattr(owner, name, method)
        _attached.append((owner, name, plain, held))
        return fast
    return attach


def replacements():
    """What is attached: 'owner.name' for each replaced method or function."""
    return [f"{_qualified(owner)}.{name}" for owner, name, _, _ in _attached]


def _qualified(owner):
    """'minigrad.ops.elementwise.Sigmoid' for a class, 'minigrad.backend' for a module."""
    return owner.__name__ if inspect.ismodule(owner) else f"{owner.__module__}.{owner.__qualname__}"


def plain(owner, name):
    """The engine's own version of ``owner.name``, attached or not (tests compare the two)."""
    for attached_owner, attached_name, version, _ in _attached:
        if attached_owner is owner and attached_name == name:
            return version
    return getattr(owner, name)


@contextlib.contextmanager
def detached():
    """The engine alone for the duration: everything attached is put back as the engine
    had it, and attached again after (``gans bench --engine minigrad-plain`` times the two
    side by side in one process)."""
    current = [(owner, name, inspect.getattr_static(owner, name)) for owner, name, _, _ in _attached]
    for owner, name, _, held in reversed(_attached):
        setattr(owner, name, held)
    try:
        yield
    finally:
        for owner, name, held in current:
            setattr(owner, name, held)


def _attach_all():
    from .. import backend
    from . import convolution, flat, selects  # noqa: F401  (they attach on import)
    if backend.gpu_module_installed():
        from . import graphs, kernels  # noqa: F401


if ENABLED:
    _attach_all()
from . import memory  # noqa: E402  (memory.APPLIED: whether malloc keeps freed memory)
