"""``minigrad.optim``: SGD and Adam with PyTorch's update rules and state layout."""
from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD
