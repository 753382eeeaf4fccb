"""Transposed convolution (torch.nn.functional.conv_transpose2d semantics) and its planned op.

A DeconvOp is built once per layer (or per functional call): the C core chooses the algorithm
and packs the weights; calls reuse the plan and a pool of scratch buffers (as ConvOp does).
"""
import numpy as np

from . import _ext, _isa
from ._plan import NO_CLAMP, PlannedOp, activation_index, algorithm_index, channels_and_window
from .functional import as_batched, batched_out
from ._validate import check_alloc, float_array, int_param, is_int, pair

ALGORITHMS = _ext.DECONV_ALGO_NAMES  # ("auto", "reference", "gemm", "direct")
ACTIVATIONS = (None, "relu", "relu6")  # the ones the C core fuses (as its clamp)


def deconv_padding4(padding):
    """padding as int | (ph, pw) | (top, bottom, left, right) -> (t, b, l, r), each >= 0."""
    if isinstance(padding, str):
        raise ValueError(f"padding must be an int or a tuple of ints for a transposed convolution, "
                         f"got {padding!r}")
    if isinstance(padding, (tuple, list, np.ndarray)) and len(padding) == 4:
        return tuple(int_param(p, "padding", 0) for p in padding)
    if isinstance(padding, (tuple, list, np.ndarray)) and len(padding) not in (1, 2):
        raise ValueError(f"padding must have 1, 2 or 4 values (top, bottom, left, right), got {len(padding)}")
    ph, pw = pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


def check_output_padding(output_padding, stride, dilation):
    """torch's rule, per axis: output_padding < stride or output_padding < dilation."""
    for axis, op, s, d in zip(("height", "width"), output_padding, stride, dilation):
        if not (op < s or op < d):
            raise ValueError(f"output_padding must be smaller than either stride or dilation, but got "
                             f"output_padding={tuple(output_padding)} ({axis} {op}) with stride={tuple(stride)} "
                             f"and dilation={tuple(dilation)}")


def deconv_spec(in_channels, out_channels, kernel_size, stride, padding, output_padding, dilation, groups,
                in_name="in_channels", out_name="out_channels"):
    """Checks the layer-fixed parameters and returns the tuple the C core takes:
    (c_in, c_out, groups, kh, kw, sh, sw, dh, dw, pad_top, pad_bottom, pad_left, pad_right, oph, opw)."""
    in_channels, out_channels, groups, kernel, stride, dilation = channels_and_window(
        in_channels, out_channels, kernel_size, stride, dilation, groups, in_name, out_name)
    pads = deconv_padding4(padding)
    opad = pair(output_padding, "output_padding", 0)
    check_output_padding(opad, stride, dilation)
    return (in_channels, out_channels, groups, *kernel, *stride, *dilation, *pads, *opad)


def deconv_extent(size, pad_a, pad_b, kernel, dilation, stride, output_padding, axis):
    out = (size - 1) * stride - pad_a - pad_b + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding: output size is too small: padding ({pad_a}, {pad_b}) leaves an output {axis} of "
                         f"{out} for an input {axis} of {size} (it must be at least 1)")
    return out


def deconv_geometry(x_shape, spec):
    """Output (N, C_out, H_out, W_out) for input shape x_shape, with every check, before any allocation."""
    c_in, c_out, groups, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oph, opw = spec[:15]
    n, c, h, w = x_shape
    if c != c_in:
        raise ValueError(f"x: expected {c_in} input channels (x.shape[1]), got {c}")
    if h < 1 or w < 1:
        raise ValueError(f"x: height and width must be positive, got {h}x{w}")
    out_h = deconv_extent(h, pt, pb, kh, dh, sh, oph, "height")
    out_w = deconv_extent(w, pl, pr, kw, dw, sw, opw, "width")
    shape = (n, c_out, out_h, out_w)
    check_alloc(shape, "output")
    return shape


deconv_output_shape = deconv_geometry  # the graph's shape inference for "deconv" nodes


def deconv_program_plan(node, isa):
    """The DeconvPlan for a graph "deconv" node (attrs: spec, optional activation/clamp; params: weight,
    bias), for the planned-model executor, which binds it to its step with plan.bind_step."""
    a = node.attrs
    return _ext.DeconvPlan(tuple(a["spec"]) + tuple(a.get("clamp", NO_CLAMP)), node.params["weight"],
                           node.params.get("bias"), _isa.isa_index(isa), deconv_algorithm_index("auto"),
                           deconv_activation_index(a.get("activation")))


def deconv_algorithm_index(algorithm):
    return algorithm_index(algorithm, ALGORITHMS)


def deconv_activation_index(activation):
    return activation_index(activation, ACTIVATIONS, " for a transposed convolution")


class DeconvOp(PlannedOp):
    """One transposed convolution, planned for one ISA: algorithm chosen, weights packed.

    spec: deconv_spec's tuple. weight: (C_in, C_out/groups, kH, kW) C-contiguous float32;
    bias: (C_out,) or None."""

    def __init__(self, spec, weight, bias, algorithm="auto", activation=None, clamp=NO_CLAMP, isa=None):
        spec, isa = tuple(spec), isa or _isa.get_isa()
        super().__init__(spec, _ext.DeconvPlan(spec + tuple(clamp), weight, bias, _isa.isa_index(isa),
                                               deconv_algorithm_index(algorithm), deconv_activation_index(activation)),
                         isa)

    def output_shape(self, x_shape):
        return deconv_geometry(x_shape, self.spec)

    def _pixels_meeting_every_weight(self, x_shape, y_shape):
        return x_shape


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     activation=None, algorithm="auto", out=None):
    """2-D grouped transposed convolution with the semantics of torch.nn.functional.conv_transpose2d.

    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_in, C_out/groups, kH, kW); bias: (C_out,) or None.
    stride, dilation, output_padding: int or pair (output_padding < stride or < dilation, per axis).
    padding: int, pair, or (top, bottom, left, right). The output is
        H_out = (H - 1)*stride - pad_top - pad_bottom + dilation*(kH - 1) + output_padding + 1 (likewise W).
    activation: None, 'relu' or 'relu6', fused. algorithm: 'auto', 'reference', 'gemm' or 'direct'.
    out: optional float32 array of the output's shape to write into.
    Returns a float32 array (N, C_out, H_out, W_out) (or (C_out, H_out, W_out) for unbatched x).
    """
    x, unbatched = as_batched(x)
    weight = float_array(weight, "weight", ndim=4)
    if not is_int(groups):
        raise TypeError(f"groups must be an int, got {type(groups).__name__} {groups!r}")
    groups = int_param(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups}")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight: expected shape (C_in, C_out/groups, kH, kW) with C_in = x.shape[1] = "
                         f"{x.shape[1]}, got {weight.shape}")
    spec = deconv_spec(x.shape[1], weight.shape[1] * groups, weight.shape[2:], stride, padding, output_padding,
                       dilation, groups, in_name="in_channels (x.shape[1])",
                       out_name="out_channels (weight.shape[1] * groups)")
    if bias is not None:
        bias = float_array(bias, "bias", ndim=1)
        if bias.shape[0] != spec[1]:
            raise ValueError(f"bias: expected {spec[1]} values (one per output channel), got {bias.shape[0]}")
    op = DeconvOp(spec, weight, bias, algorithm, activation)
    y = op(x, batched_out(out) if unbatched else out)
    return y[0] if unbatched else y
