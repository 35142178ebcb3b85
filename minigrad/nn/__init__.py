"""``minigrad.nn``: modules, layers, losses, ``functional`` and ``init``, as in ``torch.nn``."""
from . import functional, init
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d, ConvTranspose2d, conv2d_output_size, conv_transpose2d_output_size
from .layers import (GELU, AdaptiveAvgPool2d, AvgPool2d, Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU,
                     Linear, MaxPool2d, ModuleDict, ModuleList, ReLU, Sequential, Sigmoid, Softmax, Tanh, Upsample)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
