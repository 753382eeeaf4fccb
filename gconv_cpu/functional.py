"""Functional API with torch.nn.functional's names, argument order and defaults."""
import numpy as np

from ._plan import ConvOp, activation_index, algorithm_index, conv_spec, prelu_slopes
from ._ext import check_out
from ._validate import conv_geometry, float_array, int_param, numeric_array
from .graph import Value


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


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     out=None):
    """2-D grouped transposed convolution with the semantics of torch.nn.functional.conv_transpose2d."""
    from ._deconv import conv_transpose2d as run
    return run(x, weight, bias, stride, padding, output_padding, groups, dilation, out=out)


# ---- the other operators: eager on arrays, recorded into the graph on traced tensors ------------------
# Eager implementations live in _functional_ops (C kernels); these wrappers add tracing, so a model's
# forward can call them on either.

def _ops():
    from . import _functional_ops
    return _functional_ops


def _unary(kind, x, alpha=0.0, beta=0.0, slope=None):
    params = {} if slope is None else {"slope": float_array(slope, "weight", ndim=1)}
    return x.graph.add("unary", [x], kind=kind, alpha=float(alpha), beta=float(beta), **params)


def relu(x, inplace=False):
    return _unary("relu", x) if isinstance(x, Value) else _ops().relu(x)


def relu6(x, inplace=False):
    return _unary("relu6", x) if isinstance(x, Value) else _ops().relu6(x)


def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    return _unary("clip", x, min_val, max_val) if isinstance(x, Value) else _ops().hardtanh(x, min_val, max_val)


def hardswish(x, inplace=False):
    return _unary("hardswish", x) if isinstance(x, Value) else _ops().hardswish(x)


def hardsigmoid(x, inplace=False):
    return _unary("hardsigmoid", x, 1.0 / 6.0, 0.5) if isinstance(x, Value) else _ops().hardsigmoid(x)


def sigmoid(x):
    return _unary("sigmoid", x) if isinstance(x, Value) else _ops().sigmoid(x)


def tanh(x):
    return _unary("tanh", x) if isinstance(x, Value) else _ops().tanh(x)


def silu(x, inplace=False):
    return _unary("silu", x) if isinstance(x, Value) else _ops().silu(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    if isinstance(x, Value):
        return _unary("leaky_relu", x, negative_slope)
    return _ops().leaky_relu(x, negative_slope)


def prelu(x, weight):
    return _unary("prelu", x, slope=weight) if isinstance(x, Value) else _ops().prelu(x, weight)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    return _ops().batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if isinstance(x, Value):
        from .nn.pooling import MaxPool2d
        return MaxPool2d(kernel_size, stride, padding, dilation, return_indices, ceil_mode)._trace(x)
    if return_indices:
        raise ValueError("return_indices: max-pool indices are not supported (inference only)")
    return _ops().max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if isinstance(x, Value):
        from .nn.pooling import AvgPool2d
        return AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)._trace(x)
    return _ops().avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def adaptive_avg_pool2d(x, output_size):
    if isinstance(x, Value):
        from .nn.pooling import AdaptiveAvgPool2d
        return AdaptiveAvgPool2d(output_size)._trace(x)
    return _ops().adaptive_avg_pool2d(x, output_size)


def channel_shuffle(x, groups):
    if isinstance(x, Value):
        return x.graph.add("shuffle", [x], groups=int_param(groups, "groups", 1))
    return _ops().channel_shuffle(x, groups)


def softmax(x, dim=None):
    if isinstance(x, Value):
        from .nn.activation import Softmax
        return Softmax(dim)._trace(x)
    return _ops().softmax(x, dim)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    if isinstance(x, Value):
        spec = _ops().interpolate_spec(x.shape, size, scale_factor, mode, align_corners)
        return x.graph.add("resize", [x], **spec)
    return _ops().interpolate(x, size, scale_factor, mode, align_corners)


def linear(x, weight, bias=None):
    if isinstance(x, Value):
        return x.graph.add("linear", [x], weight=float_array(weight, "weight", ndim=2),
                           bias=None if bias is None else float_array(bias, "bias", ndim=1))
    x = float_array(x, "x")
    weight = float_array(weight, "weight", ndim=2)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"x: expected last dimension {weight.shape[1]} (in_features), got shape {x.shape}")
    y = x @ weight.T
    return y + bias if bias is not None else y


def _norm_dim(dim, ndim, name="dim"):
    dim = int_param(dim, name)
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim - 1}], got {dim}")
    return dim % ndim


def flatten(x, start_dim=1, end_dim=-1):
    shape = x.shape
    start, end = _norm_dim(start_dim, len(shape), "start_dim"), _norm_dim(end_dim, len(shape), "end_dim")
    if start > end:
        raise ValueError(f"start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    new = tuple(shape[:start]) + (int(np.prod(shape[start:end + 1])),) + tuple(shape[end + 1:])
    return reshape(x, new)


def reshape(x, shape):
    if isinstance(x, Value):
        return x.graph.add("reshape", [x], shape=tuple(int(d) for d in shape))
    return np.reshape(x, shape)


def cat(tensors, dim=1):
    tensors = list(tensors)
    if any(isinstance(t, Value) for t in tensors):
        if _norm_dim(dim, len(tensors[0].shape)) != 1:
            raise ValueError(f"dim: a planned concatenation joins channels (dim=1), got dim={dim}")
        return tensors[0].graph.add("concat", tensors)
    return np.concatenate([float_array(t, "tensors") for t in tensors], axis=dim)


def split(x, split_size_or_sections, dim=1):
    """torch.split: chunks of split_size (the last may be smaller) or the given section sizes."""
    c = x.shape[_norm_dim(dim, len(x.shape))]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int_param(s, "split_size_or_sections", 0) for s in split_size_or_sections]
        if sum(sizes) != c:
            raise ValueError(f"split_size_or_sections: sizes {sizes} must sum to {c}, the size of dim {dim}")
    else:
        step = int_param(split_size_or_sections, "split_size_or_sections", 1)
        sizes = [min(step, c - i) for i in range(0, c, step)]
    bounds = np.cumsum([0] + sizes)
    if isinstance(x, Value):
        if _norm_dim(dim, len(x.shape)) != 1:
            raise ValueError(f"dim: a planned split divides channels (dim=1), got dim={dim}")
        return tuple(x.graph.add("slice_channels", [x], start=int(a), stop=int(b))
                     for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
    index = [slice(None)] * x.ndim
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        index[_norm_dim(dim, x.ndim)] = slice(int(a), int(b))
        parts.append(x[tuple(index)])
    return tuple(parts)


def chunk(x, chunks, dim=1):
    """torch.chunk: `chunks` pieces of ceil(size/chunks) (fewer if the size runs out)."""
    chunks = int_param(chunks, "chunks", 1)
    c = x.shape[_norm_dim(dim, len(x.shape))]
    return split(x, max(1, -(-c // chunks)), dim)
