"""Convolution layers with PyTorch's constructor arguments, weight layout and initialisation,
and the output-size formulas to plan a stack of them (the book's CNNs)."""
import math

from .. import creation
from ..ops.convolution import conv2d_output_size, conv_transpose2d_output_size, pair
from . import functional as F, init
from .module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d", "conv2d_output_size", "conv_transpose2d_output_size"]


class _ConvBase(Module):
    """What both convolution layers share: arguments as pairs, parameters, PyTorch's init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                 groups, bias, padding_mode, weight_shape, device, dtype):
        super().__init__()
        if groups != 1:
            raise NotImplementedError(f"minigrad's convolutions support groups=1 only, got groups={groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"minigrad's convolutions support padding_mode='zeros' only, "
                                      f"got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = pair(kernel_size), pair(stride, "stride")
        self.padding, self.dilation = self._padding(padding), pair(dilation, "dilation")
        self.output_padding, self.groups, self.padding_mode = pair(output_padding, "output_padding"), groups, padding_mode
        self.weight = Parameter(creation.empty(*weight_shape, *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _padding(self, padding):
        """Numbers as a pair; a string ('valid', or 'same' for stride 1) is kept as it is and
        given to ``F.conv2d``, as in PyTorch."""
        if not isinstance(padding, str):
            return pair(padding, "padding")
        if padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        return padding

    def reset_parameters(self):
        """PyTorch's default: W ~ kaiming_uniform(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in).

        fan_in is computed from the weight's shape as for any weight: dimension 1 × kernel
        area.  For ConvTranspose2d, whose weight is (in, out, kH, kW), that makes it
        out_channels·kH·kW, exactly as PyTorch does (``_calculate_fan_in_and_fan_out``).
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvBase):
    """2-D convolution over an (N, C_in, H, W) or (C_in, H, W) input, as ``torch.nn.Conv2d``.

    Weight (out_channels, in_channels, kH, kW), bias (out_channels,).  Output size:
    ``conv2d_output_size(H, kernel_size, stride, padding, dilation)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, (out_channels, in_channels), device, dtype)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution (a "deconvolution" that upsamples), as ``torch.nn.ConvTranspose2d``.

    Weight (in_channels, out_channels, kH, kW), bias (out_channels,).  Output size:
    ``conv_transpose2d_output_size(H, kernel_size, stride, padding, output_padding, dilation)``;
    ``forward(input, output_size)`` may ask for a size and gets the output_padding that
    reaches it.  The arguments are in PyTorch's order (groups and bias before dilation).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                         groups, bias, padding_mode, (in_channels, out_channels), device, dtype)

    def _padding(self, padding):
        if isinstance(padding, str):  # (PyTorch fails later, in forward)
            raise NotImplementedError(f"ConvTranspose2d takes padding as numbers, got padding='{padding}'")
        return pair(padding, "padding")

    def forward(self, input, output_size=None):
        output_padding = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  1, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (its last two numbers)."""
        wanted = tuple(output_size)[-2:]
        smallest = conv_transpose2d_output_size(tuple(input.shape[-2:]), self.kernel_size, self.stride,
                                                self.padding, 0, self.dilation)
        for want, low, step in zip(wanted, smallest, self.stride):
            if not low <= want < low + step:
                raise ValueError(f"requested an output size of {list(wanted)}, but valid sizes range from "
                                 f"{list(smallest)} to {[s + st - 1 for s, st in zip(smallest, self.stride)]} "
                                 f"(for an input of {list(input.shape[-2:])})")
        return tuple(want - low for want, low in zip(wanted, smallest))
