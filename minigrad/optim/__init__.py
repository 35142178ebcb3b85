"""``minigrad.optim``: optimisers with PyTorch's update rules and state layout, and
``lr_scheduler``."""
from . import lr_scheduler
from .adam import Adam
from .more import Adadelta, AdamW, RMSprop
from .optimizer import Optimizer
from .sgd import SGD
