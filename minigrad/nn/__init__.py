"""``minigrad.nn``: modules, layers, losses, ``functional``, ``init`` and ``utils``, as in ``torch.nn``."""
from . import functional, init, utils
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d, ConvTranspose2d, conv2d_output_size, conv_transpose2d_output_size
from .layers import (ELU, GELU, AdaptiveAvgPool2d, AvgPool2d, Dropout, Embedding, Flatten, Identity, LayerNorm,
                     LeakyReLU, Linear, LogSigmoid, LogSoftmax, MaxPool2d, ModuleDict, ModuleList, ReLU, Sequential,
                     Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten, Upsample)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .module import Module, Parameter
