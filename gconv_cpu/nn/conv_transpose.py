"""ConvTranspose2d layer (torch.nn.ConvTranspose2d's parameters, defaults and initialization) and the
Caffe/FCN bilinear upsampling layer built on it."""
import math

import numpy as np

from .. import _isa
from .._deconv import DeconvOp, deconv_activation_index, deconv_algorithm_index, deconv_spec
from ..functional import as_batched, batched_out
from .._validate import check_alloc, int_param, is_int, shaped_float_array
from ..graph import Value
from .module import Module, touch


class ConvTranspose2d(Module):
    """Grouped 2-D transposed convolution, like torch.nn.ConvTranspose2d (inference only).

    weight: (in_channels, out_channels/groups, kH, kW), as torch. The first call (or prepare()) chooses
    the algorithm and packs the weights; later calls reuse that plan. Assigning `layer.weight = w` or
    `layer.bias = b` (or load_state_dict) makes the next call repack; in-place edits of the arrays are
    seen after `layer.prepare()`.

    padding: int or pair as torch (symmetric), or (top, bottom, left, right).
    Call as `layer(x, output_size=None)`: output_size (torch's argument: (H, W), or the full shape)
    picks the output_padding that gives that size. activation: None, 'relu' or 'relu6', fused.
    algorithm: 'auto', 'reference', 'gemm' or 'direct' (mainly for tests).
    """

    _state = ("weight", "bias")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", *, activation=None, algorithm="auto"):
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode: only 'zeros' is supported for ConvTranspose2d, got {padding_mode!r}")
        spec = deconv_spec(in_channels, out_channels, kernel_size, stride, padding, output_padding, dilation, groups)
        deconv_algorithm_index(algorithm)
        deconv_activation_index(activation)
        self._spec = spec
        self.activation = None if activation == "none" else activation
        self.algorithm = algorithm
        (self.in_channels, self.out_channels, self.groups, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oph, opw) = spec
        self.kernel_size, self.stride, self.dilation = (kh, kw), (sh, sw), (dh, dw)
        self.padding = (pt, pl) if (pt, pl) == (pb, pr) else (pt, pb, pl, pr)
        self.output_padding = (oph, opw)
        self.padding_mode = padding_mode
        self._op = None
        self._size_ops = {}  # output_padding -> DeconvOp, for calls with output_size=
        # torch's _ConvNd.reset_parameters: kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        # the bias with the same bound, where fan_in comes from weight.shape[1] * kH * kW; for a
        # transposed conv weight.shape[1] is out_channels / groups.
        fan_in = (self.out_channels // self.groups) * kh * kw
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.in_channels, self.out_channels // self.groups, kh, kw)
        check_alloc(shape, "weight")  # before NumPy tries to allocate an absurd size
        self._weight = np.random.uniform(-bound, bound, size=shape).astype(np.float32)
        self._bias = np.random.uniform(-bound, bound, size=self.out_channels).astype(np.float32) if bias else None

    # ---- parameters ------------------------------------------------------------------------------------
    @property
    def weight(self):
        return self._weight

    @weight.setter
    def weight(self, value):
        expected = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self._weight = shaped_float_array(value, "weight", expected, "(in_channels, out_channels/groups, kH, kW)")
        self._invalidate()

    @property
    def bias(self):
        return self._bias

    @bias.setter
    def bias(self, value):
        if value is not None:
            value = shaped_float_array(value, "bias", (self.out_channels,))
        self._bias = value
        self._invalidate()

    def _invalidate(self):
        self._op = None
        self._size_ops = {}
        touch()

    # ---- planning --------------------------------------------------------------------------------------
    def prepare(self, *input_shapes):
        """Plans now: chooses the algorithm and packs the current weights. Returns self."""
        self._op = DeconvOp(self._spec, self._weight, self._bias, self.algorithm, self.activation)
        self._size_ops = {}
        return self

    @property
    def plan_info(self):
        """What the current plan runs: algorithm, kernel name and ISA."""
        op = self._op if self._op is not None else self.prepare()._op
        return {"algorithm": op.algorithm, "kernel": op.kernel_name, "isa": op.isa}

    def _output_padding(self, x_shape, output_size):
        """torch's ConvTranspose2d._output_padding: the output_padding that gives output_size."""
        if output_size is None:
            return self.output_padding
        if not isinstance(output_size, (tuple, list, np.ndarray)):
            raise TypeError(f"output_size must be a sequence of ints, got {type(output_size).__name__}")
        size = list(output_size)
        non_spatial = 2 if len(x_shape) == 4 else 1
        if len(size) == non_spatial + 2:
            size = size[non_spatial:]
        if len(size) != 2:
            raise ValueError(f"output_size: for {len(x_shape)}D input, output_size must have 2 or "
                             f"{non_spatial + 2} elements (got {len(size)})")
        for v in size:
            if not is_int(v):
                raise TypeError(f"output_size must contain ints, got {type(v).__name__} {v!r}")
        _, _, _, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = self._spec[:13]
        h, w = x_shape[-2:]
        min_sizes = [(h - 1) * sh - pt - pb + dh * (kh - 1) + 1, (w - 1) * sw - pl - pr + dw * (kw - 1) + 1]
        max_sizes = [min_sizes[0] + sh - 1, min_sizes[1] + sw - 1]
        size = [int(v) for v in size]
        for v, lo, hi in zip(size, min_sizes, max_sizes):
            if v < lo or v > hi:
                raise ValueError(f"output_size: requested an output size of {size}, but valid sizes range from "
                                 f"{min_sizes} to {max_sizes} (for an input of {tuple(x_shape[-2:])})")
        return (size[0] - min_sizes[0], size[1] - min_sizes[1])

    def _op_for(self, x_shape, output_size):
        op = self._op
        if op is None or op.isa != _isa.get_isa():
            op = self.prepare()._op
        if output_size is None:
            return op
        opad = self._output_padding(x_shape, output_size)
        if opad == self.output_padding:
            return op
        sized = self._size_ops.get(opad)
        if sized is None:
            spec = self._spec[:13] + opad
            sized = self._size_ops[opad] = DeconvOp(spec, self._weight, self._bias, self.algorithm,
                                                    self.activation)
        return sized

    # ---- execution -------------------------------------------------------------------------------------
    def _trace(self, x, output_size=None):
        spec = self._spec[:13] + tuple(self._output_padding(x.shape, output_size))
        return x.graph.add("deconv", [x], spec=spec, activation=self.activation, weight=self._weight,
                           bias=self._bias)

    def __call__(self, x, output_size=None, *, out=None):
        if isinstance(x, Value):
            return super().__call__(x, output_size=output_size)
        if type(x) is np.ndarray and x.ndim == 4 and x.dtype == np.float32 and x.flags.c_contiguous:
            return self._op_for(x.shape, output_size)(x, out)  # the hot path: no conversion
        x, unbatched = as_batched(x)
        if unbatched:
            return self._op_for(x.shape[1:], output_size)(x, batched_out(out))[0]
        return self._op_for(x.shape, output_size)(x, out)

    forward = __call__

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if any(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._bias is None:
            s += ", bias=False"
        if self.activation is not None:
            s += f", activation={self.activation!r}"
        return s

    def __repr__(self):
        return f"ConvTranspose2d({self.extra_repr()})"


def bilinear_kernel(factor):
    """The Caffe/FCN bilinear upsampling filter (the classic upsample_filt) for an integer factor:
    a (2f - f%2) x (2f - f%2) float32 array."""
    factor = int_param(factor, "factor", 1)
    size = 2 * factor - factor % 2
    f = (size + 1) // 2
    center = f - 1 if size % 2 == 1 else f - 0.5
    og = np.ogrid[:size, :size]
    filt = (1 - abs(og[0] - center) / f) * (1 - abs(og[1] - center) / f)
    return filt.astype(np.float32)


def bilinear_upsample(channels, factor):
    """A ConvTranspose2d that upsamples each of `channels` channels by an integer `factor` with the
    Caffe/FCN bilinear kernel: kernel 2f - f%2, stride f, padding ceil((f - 1)/2), groups=channels,
    no bias. The output is factor * H x factor * W."""
    channels = int_param(channels, "channels", 1)
    factor = int_param(factor, "factor", 1)
    k = 2 * factor - factor % 2
    layer = ConvTranspose2d(channels, channels, k, stride=factor, padding=math.ceil((factor - 1) / 2),
                            groups=channels, bias=False)
    layer.weight = np.ascontiguousarray(np.broadcast_to(bilinear_kernel(factor), (channels, 1, k, k)))
    return layer
