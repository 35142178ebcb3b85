"""``minigrad.autograd``: the graph and how gradients flow through it, laid out as PyTorch's
``torch.autograd`` is.  Read in this order:

- ``grad_mode.py``  — when operations record the graph (``no_grad`` and friends)
- ``function.py``   — ``Function``, one graph node: forward and backward, saved tensors and
  their versions, and PyTorch's custom-Function API (``apply``, ``ctx``)
- ``engine.py``     — ``backward()`` and ``grad()``: the walk from outputs to leaves, hooks
- ``gradcheck.py``  — backward checked against finite differences
- ``anomaly_mode.py`` — ``detect_anomaly``: which forward operation made a NaN gradient
"""
from . import engine, function
from .anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad, sum_to_shape, topological_order
from .function import AccumulateGrad, Function, RemovableHandle, VersionCounter, is_tensor, run, shape_text
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


def bind_tensor(tensor_class):
    """The engine needs the Tensor class and the Tensor module needs the engine: the
    tensor module hands its class over once it exists."""
    function.Tensor = engine.Tensor = tensor_class
