"""Watching ``backward()`` step by step.

    with minigrad.trace(params=model) as t:
        loss.backward()
    t.table()

``backward()`` visits the graph's operations in reverse topological order: an op's turn
comes once every op that used its output has sent its gradient back.  Inside ``trace()``
each visit is recorded: the op, its input and output shapes, the norm of the gradient it
received and of the gradient it passed on to each input.  Watching those norms shrink
or grow from the loss back to the first layer is how vanishing and exploding gradients
show up.
"""
from dataclasses import dataclass, field

import numpy as np

from . import autograd, backend
from .autograd import shape_text
from .tensor import Tensor


@dataclass
class Step:
    """One op's backward: the gradient ``grad`` of its output came in, ``input_grads`` went out."""
    index: int
    op: str                  # the node's name, e.g. 'LinearBackward'
    inputs: tuple            # what each input is: a name, the op that made it, or a constant
    input_shapes: tuple      # () for a Python number
    output_shape: tuple
    grad_norm: float         # ‖gradient received‖
    input_grad_norms: tuple  # ‖gradient passed to each input‖, None where none is needed
    fn: object = field(repr=False)
    grad: object = field(repr=False)         # the arrays themselves, for minigrad.viz
    input_grads: tuple = field(repr=False)   # summed back to each input's shape


class trace:
    """Context manager that records every step of the ``backward()`` calls inside it.

    ``params`` names leaf tensors in the records: a module (``model.0.weight``) or a dict
    ``{name: tensor}``.  The recorded steps are in ``.steps``; :meth:`table` prints them.
    Traces nest: an inner one records, and the outer one resumes when it ends.
    """

    def __init__(self, params=None):
        from .viz import _names  # the same naming rules as the graph pictures
        self.names = _names(params)
        self.steps = []
        self._previous = None

    def __enter__(self):
        self._previous = autograd.engine._tracer
        autograd.engine._tracer = self
        return self

    def __exit__(self, *exc):
        autograd.engine._tracer = self._previous

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def record(self, fn, grad, input_grads):
        """Called by ``autograd.backward`` with ``fn.backward(grad)``'s ``input_grads``, each
        already summed back to its input's shape."""
        # optional inputs left out (None, e.g. a layer without bias) are not listed
        slots = [(t, g if needed else None) for t, needed, g in
                 zip(fn.inputs, fn.needs_grad, input_grads + (None,) * len(fn.inputs)) if t is not None]
        self.steps.append(Step(
            index=len(self.steps) + 1, op=fn.name(),
            inputs=tuple(self._describe(t) for t, _ in slots),
            input_shapes=tuple(tuple(t.shape) if isinstance(t, Tensor) else () for t, _ in slots),
            output_shape=tuple(grad.shape), grad_norm=_norm(grad),
            input_grad_norms=tuple(None if g is None else _norm(g) for _, g in slots),
            fn=fn, grad=grad, input_grads=tuple(g for _, g in slots)))

    def _describe(self, t):
        if not isinstance(t, Tensor):
            return repr(t)
        if id(t) in self.names:
            return self.names[id(t)]
        if t.grad_fn is not None:
            return t.grad_fn.name()
        return "leaf" if t.requires_grad else "input"

    def table(self, file=None):
        """Print the steps as a text table (to ``file``, default standard output).

        One row per op, in the order backward ran them: the op, the shape of its output,
        the norm of the gradient it received, then each input with the norm of the
        gradient it was sent (– where the input needs none).
        """
        rows = [("#", "op", "output", "‖grad in‖", "→ inputs: ‖grad out‖")]
        for s in self.steps:
            outs = ", ".join(f"{name}{shape_text(shape) if shape else ''}: {_number(norm)}"
                             for name, shape, norm in zip(s.inputs, s.input_shapes, s.input_grad_norms))
            rows.append((str(s.index), s.op, shape_text(s.output_shape), _number(s.grad_norm), outs))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                            r[3].rjust(widths[3]), r[4]]).rstrip() for r in rows]
        print("\n".join(lines), file=file)

    def to_dataframe(self):
        """The steps as a pandas DataFrame (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("trace.to_dataframe() needs pandas (pip install pandas); "
                              "trace.table() and trace.steps work without it") from None
        return pandas.DataFrame([{"step": s.index, "op": s.op, "inputs": s.inputs, "input_shapes": s.input_shapes,
                                  "output_shape": s.output_shape, "grad_norm": s.grad_norm,
                                  "input_grad_norms": s.input_grad_norms} for s in self.steps])

    def __repr__(self):
        return f"<trace: {len(self.steps)} backward steps>"


def _norm(array):
    """The L2 norm of a gradient, as a Python float, computed in float64 on its device."""
    xp = backend.array_module(array)
    return float(xp.sqrt((xp.asarray(array, dtype=np.float64) ** 2).sum()))


def _number(value):
    return "–" if value is None else f"{value:.4g}"


