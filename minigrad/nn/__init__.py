"""``minigrad.nn``: modules, layers, losses, ``functional`` and ``init``, as in ``torch.nn``."""
from . import functional, init
from .layers import (GELU, Flatten, Identity, LayerNorm, LeakyReLU, Linear, ReLU, Sequential, Sigmoid,
                     Softmax, Tanh)
from .loss import BCELoss, BCEWithLogitsLoss, MSELoss
from .module import Module, Parameter
