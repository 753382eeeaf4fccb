"""Conv2d layer: PyTorch's parameters and initialization, planned execution."""
import math

import numpy as np

from .. import _isa
from .._plan import ConvOp, activation_index, algorithm_index, conv_spec, prelu_slopes
from ..functional import batched_out, batched_view
from .._validate import check_alloc, float_array, shaped_float_array
from ..graph import Value
from .module import Module, touch


class Conv2d(Module):
    """Grouped 2-D convolution, like torch.nn.Conv2d (inference only).

    The first call (or prepare()) chooses the algorithm and packs the weights;
    later calls reuse that plan. Assigning `layer.weight = w` or `layer.bias = b`
    (or load_state_dict) makes the next call repack. Editing the arrays in place
    (`layer.weight[...] = v`) is not seen until you call `layer.prepare()`.

    activation: None, 'relu', 'relu6', 'hardswish' or 'prelu', fused into the conv. With 'prelu'
    the layer has a `prelu_weight` array of out_channels slopes, initialized to 0.25 like torch's PReLU.
    """

    _state = ("weight", "bias", "prelu_weight")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", *, activation=None, algorithm="auto"):
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode: only 'zeros' is supported, got {padding_mode!r}")
        self._spec = conv_spec(in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        algorithm_index(algorithm)
        activation_index(activation)
        self.activation = None if activation == "none" else activation
        (self.in_channels, self.out_channels, self.groups, kh, kw, sh, sw, dh, dw) = self._spec[:9]
        self.kernel_size, self.stride, self.dilation = (kh, kw), (sh, sw), (dh, dw)
        self.padding = padding if isinstance(padding, str) else self._spec[9:13]
        self.algorithm = algorithm
        self._op = None
        # PyTorch's default: kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), same for bias.
        fan_in = (self.in_channels // self.groups) * kh * kw
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        check_alloc(shape, "weight", itemsize=12)  # before NumPy tries (float64 draw + float32 copy)
        self._weight = np.random.uniform(-bound, bound, size=shape).astype(np.float32)
        self._bias = np.random.uniform(-bound, bound, size=self.out_channels).astype(np.float32) if bias else None
        self._prelu_weight = np.full(self.out_channels, 0.25, np.float32) if self.activation == "prelu" else None

    @property
    def weight(self):
        return self._weight

    @weight.setter
    def weight(self, value):
        expected = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self._weight = shaped_float_array(value, "weight", expected)
        self._op = None
        touch()

    @property
    def bias(self):
        return self._bias

    @bias.setter
    def bias(self, value):
        if value is not None:
            value = shaped_float_array(value, "bias", (self.out_channels,))
        self._bias = value
        self._op = None
        touch()

    @property
    def prelu_weight(self):
        return self._prelu_weight

    @prelu_weight.setter
    def prelu_weight(self, value):
        self._prelu_weight = prelu_slopes(self.activation, value, self.out_channels)
        self._op = None
        touch()

    def prepare(self, *input_shapes):
        """Plans now: chooses the algorithm and packs the current weights. Returns self."""
        self._op = ConvOp(self._spec, self._weight, self._bias, self.algorithm, self.activation,
                          self._prelu_weight)
        return self

    @property
    def plan_info(self):
        """What the current plan runs: algorithm, kernel name and ISA; for a depthwise plan with a global
        (GDC) kernel, also 'global_kernel', which runs instead on an input of exactly the kernel's
        size with no padding (MobileFaceNet's 7x7 head)."""
        op = self._op if self._op is not None else self.prepare()._op
        info = {"algorithm": op.algorithm, "kernel": op.kernel_name, "isa": op.isa}
        if op.global_kernel_name is not None:
            info["global_kernel"] = op.global_kernel_name
        return info

    def kernel_for(self, input_shape):
        """The kernel a call on an input of this shape ((N, C, H, W) or (C, H, W)) runs: plan_info's
        'kernel', or its 'global_kernel' where that takes over."""
        op = self._op if self._op is not None else self.prepare()._op
        shape = tuple(input_shape)
        return op.kernel_name_for(shape if len(shape) == 4 else (1,) + shape)

    def _trace(self, x):
        return x.graph.add("conv", [x], spec=self._spec, activation=self.activation, weight=self._weight,
                           bias=self._bias, prelu_weight=self._prelu_weight)

    def __call__(self, x, out=None):
        if isinstance(x, Value):
            return super().__call__(x)
        op = self._op
        if op is None or op.isa != _isa.get_isa():
            op = self.prepare()._op
        if type(x) is np.ndarray and x.ndim == 4 and x.dtype == np.float32 and x.flags.c_contiguous:
            return op(x, out)  # the hot path: no conversion
        x, unbatched = batched_view(x)
        op.output_shape(x.shape)  # channels and output size, before the float32 copy
        x = float_array(x, "x")
        if unbatched:
            return op(x, batched_out(out))[0]
        return op(x, out)

    forward = __call__

    def __repr__(self):
        s = (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._bias is None:
            s += ", bias=False"
        if self.activation is not None:
            s += f", activation={self.activation!r}"
        return s + ")"
