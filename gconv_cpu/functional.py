"""Functional API with torch.nn.functional's names, argument order and defaults."""
import numpy as np

from ._plan import ConvOp, activation_index, algorithm_index, conv_spec, prelu_slopes
from ._validate import check_out, conv_geometry, float_array, numeric_array


def batched_view(x, name="x"):
    """x as a numeric (N, C, H, W) array (not yet copied to float32), and whether it came unbatched."""
    x = numeric_array(x, name, ndim=(3, 4))
    return (x[None], True) if x.ndim == 3 else (x, False)


def as_batched(x, name="x"):
    """x as a float32 (N, C, H, W) array, and whether it came unbatched (C, H, W) as torch allows."""
    x, unbatched = batched_view(x, name)
    return float_array(x, name), unbatched


def batched_out(out):
    """The caller's out= for an unbatched call, viewed as batched (it is validated later)."""
    if out is None:
        return None
    if type(out) is not np.ndarray:
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    return out[None] if out.ndim == 3 else out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, activation=None,
           prelu_weight=None, algorithm="auto", out=None):
    """2-D grouped convolution with the semantics of torch.nn.functional.conv2d.

    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_out, C_in/groups, kH, kW); bias: (C_out,) or None.
    stride, dilation: int or pair. padding: int, pair, (top, bottom, left, right), 'same' or 'valid'.
    activation: None, 'relu', 'relu6', 'hardswish' or 'prelu', fused after the bias (as torch's
        F.relu(conv2d(...)) etc.); 'prelu' takes prelu_weight: a float or one slope per output channel.
    algorithm: 'auto' (default), or 'reference', 'dwconv', 'gemm', 'grouped_direct' to force a path.
    out: optional float32 array of the output's shape to write into.
    Returns a float32 array (N, C_out, H_out, W_out).
    """
    # Every check before any float32 copy: a stride-0 view may declare terabytes.
    algorithm_index(algorithm)
    activation_index(activation)
    x, unbatched = batched_view(x)
    weight = numeric_array(weight, "weight", ndim=4)
    spec = conv_spec(x.shape[1], weight.shape[0], weight.shape[2:], stride, padding, dilation, groups,
                     in_name="in_channels (x.shape[1])", out_name="out_channels (weight.shape[0])")
    expected = (spec[1], spec[0] // spec[2], spec[3], spec[4])
    if weight.shape != expected:
        raise ValueError(f"weight: expected shape (C_out, C_in/groups, kH, kW) = {expected} for "
                         f"in_channels={spec[0]} and groups={spec[2]}, got {weight.shape}")
    if bias is not None:
        bias = numeric_array(bias, "bias", ndim=1)
        if bias.shape[0] != spec[1]:
            raise ValueError(f"bias: expected {spec[1]} values (one per output channel), got {bias.shape[0]}")
        bias = float_array(bias, "bias")
    shape = conv_geometry(x.shape, spec)  # the output's size
    out = batched_out(out) if unbatched else out
    if out is not None:
        check_out(out, shape, x)
    prelu_weight = prelu_slopes(activation, prelu_weight, spec[1])
    x, weight = float_array(x, "x"), float_array(weight, "weight")
    op = ConvOp(spec, weight, bias, algorithm, activation, prelu_weight)
    y = op(x, out)
    return y[0] if unbatched else y
