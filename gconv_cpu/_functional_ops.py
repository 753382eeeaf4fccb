"""Eager NumPy implementations of the non-convolution operators, with torch.nn.functional's names,
argument order, defaults and parameter rules, on the C kernels of src_c/ops.

Every parameter is checked here, with torch's rules, before anything is allocated; a bad one raises
TypeError or ValueError whose message names it (sizes that overflow raise SizeOverflowError). The C
core repeats the checks it depends on. Results are new float32 arrays; inputs are never written
(inplace= is accepted for torch compatibility only, as in gconv_cpu.nn).

The *_output_shape / *_spec helpers work on shapes alone, for the graph planner.
"""
import math
import numbers
import warnings

import numpy as np

from . import _ext, _threads
from ._validate import check_alloc, float_array, int_param, is_int, pair

# Names in the order of the C enums (gconv_ops.h); the planner maps names to indices with these.
POOL_KINDS = _ext.POOL_KINDS
UNARY_KINDS = _ext.UNARY_KINDS
BINARY_KINDS = _ext.BINARY_KINDS
RESIZE_MODES = _ext.RESIZE_MODES
COORD_MODES = _ext.COORD_MODES
NEAREST_MODES = _ext.NEAREST_MODES

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "channel_shuffle", "relu", "relu6", "hardtanh",
           "hardswish", "hardsigmoid", "sigmoid", "tanh", "silu", "leaky_relu", "elu", "prelu", "batch_norm",
           "softmax", "interpolate", "resize", "binary", "cat_channels", "pool2d_output_shape",
           "adaptive_avg_pool2d_output_shape", "interpolate_output_shape", "interpolate_spec",
           "resize_output_shape"]


def _batched(x, name="x"):
    """x as float32 (N, C, H, W), and whether it came unbatched (C, H, W), as torch's 2-D ops allow."""
    from .functional import as_batched  # functional imports this module lazily; no cycle at import
    return as_batched(x, name)


def _float(x, name):
    """float_array, keeping 0-d inputs 0-d (np.ascontiguousarray makes them 1-D)."""
    shape = np.shape(x)
    return float_array(x, name).reshape(shape)


def _empty(shape, name="output"):
    check_alloc(shape, name)
    return np.empty(shape, np.float32)


def _bool(v, name):
    if isinstance(v, (bool, np.bool_)) or (is_int(v) and v in (0, 1)):
        return bool(v)
    raise TypeError(f"{name} must be a bool, got {type(v).__name__} {v!r}")


def _real(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")
    return float(v)


def _finite(v, name):
    v = _real(v, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


# ---- pooling -------------------------------------------------------------------------------------

def _pool_pair(v, name, minimum):
    """An int or a tuple of 1 or 2 ints, as torch's pooling takes them."""
    return pair(v, name, minimum, allow_single=True)


def _pool_args(kernel_size, stride, padding, dilation):
    """(kernel, stride, (t, b, l, r), dilation) with torch's checks, stride defaulting to the kernel."""
    kernel = _pool_pair(kernel_size, "kernel_size", 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    else:
        stride = _pool_pair(stride, "stride", 1)
    pad = _pool_pair(padding, "padding", 0)
    dilation = _pool_pair(dilation, "dilation", 1)
    for p, k, d, axis in ((pad[0], kernel[0], dilation[0], "height"), (pad[1], kernel[1], dilation[1], "width")):
        # torch checks both: half the dilated kernel (pooling_output_shape) and half the kernel (shape check)
        if p > (d * (k - 1) + 1) // 2 or p > k // 2:
            raise ValueError(f"padding should be at most half of kernel size, got padding={p} for "
                             f"kernel_size={k} (dilation={d}) along {axis}")
    return kernel, stride, (pad[0], pad[0], pad[1], pad[1]), dilation


def _pool_spec(kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad):
    return (kind, kernel[0], kernel[1], stride[0], stride[1], *pads, dilation[0], dilation[1],
            bool(ceil_mode), bool(count_include_pad))


def pool2d_output_shape(x_shape, kind, kernel, stride, pads, dilation=(1, 1), ceil_mode=False,
                        count_include_pad=True):
    """Output shape of a pooling of an (N, C, H, W) or (C, H, W) input, with every check and torch's
    ceil_mode rule. kind 'max' | 'avg'; kernel, stride, dilation: pairs; pads: (top, bottom, left,
    right), any non-negative values (ONNX allows pads larger than half the kernel)."""
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) not in (3, 4):
        raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x_shape}")
    if kind not in POOL_KINDS:
        raise ValueError(f"kind must be one of {', '.join(POOL_KINDS)}, got {kind!r}")
    kernel = pair(kernel, "kernel_size", 1)
    stride = pair(stride, "stride", 1)
    dilation = pair(dilation, "dilation", 1)
    if kind == "avg" and dilation != (1, 1):
        raise ValueError(f"dilation: average pooling takes dilation 1, got {dilation}")
    if not isinstance(pads, (tuple, list)) or len(pads) != 4:
        raise ValueError(f"pads must be (top, bottom, left, right), got {pads!r}")
    pads = tuple(int_param(p, "padding", 0) for p in pads)
    h, w = x_shape[-2:]
    if h < 1 or w < 1:
        raise ValueError(f"x: height and width must be positive, got {h}x{w}")
    spec = _pool_spec(kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad)
    oh, ow = _ext.pool2d_output_size(spec, h, w)
    shape = x_shape[:-2] + (oh, ow)
    check_alloc(shape, "output")
    return shape


def _pool(x, kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad):
    x, unbatched = _batched(x)
    spec = _pool_spec(kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad)
    shape = pool2d_output_shape(x.shape, kind, kernel, stride, pads, dilation, ceil_mode, count_include_pad)
    y = _ext.pool2d(spec, x, _empty(shape), _threads.get_num_threads())
    return y[0] if unbatched else y


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool2d on (N, C, H, W) or (C, H, W). NaN propagates as in torch."""
    if return_indices:
        raise ValueError("return_indices: max-pool indices are not supported (inference only)")
    kernel, stride, pads, dilation = _pool_args(kernel_size, stride, padding, dilation)
    return _pool(x, "max", kernel, stride, pads, dilation, _bool(ceil_mode, "ceil_mode"), False)


def _avg_divisors(in_size, out_size, kernel, stride, pad, include_pad):
    """torch's per-output count_include_pad divisor along one axis."""
    start = np.arange(out_size, dtype=np.int64) * stride - pad
    end = np.minimum(start + kernel, in_size + pad)
    if include_pad:
        return end - start
    return np.minimum(end, in_size) - np.maximum(start, 0)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d on (N, C, H, W) or (C, H, W), torch's divisor rules included
    (count_include_pad counts padding but not the cells ceil_mode adds past it)."""
    kernel, stride, pads, _ = _pool_args(kernel_size, stride, padding, 1)
    ceil_mode = _bool(ceil_mode, "ceil_mode")
    count_include_pad = _bool(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        divisor_override = int_param(divisor_override, "divisor_override")
        if divisor_override == 0:
            raise ValueError("divisor_override must not be zero")
    y = _pool(x, "avg", kernel, stride, pads, (1, 1), ceil_mode, count_include_pad)
    if divisor_override is not None:
        # y holds sum / cells; rescale by cells / divisor (torch divides the sum once: ~2 ulp apart).
        h, w = np.shape(x)[-2:]
        rows = _avg_divisors(h, y.shape[-2], kernel[0], stride[0], pads[0], count_include_pad)
        cols = _avg_divisors(w, y.shape[-1], kernel[1], stride[1], pads[2], count_include_pad)
        factor = (rows[:, None] * cols[None, :]).astype(np.float64) / divisor_override
        y = (y * factor.astype(np.float32)).astype(np.float32, copy=False)
    return y


def adaptive_avg_pool2d_output_shape(x_shape, output_size):
    """Output shape of adaptive_avg_pool2d; None in output_size keeps that input size, as in torch."""
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) not in (3, 4):
        raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x_shape}")
    h, w = x_shape[-2:]
    if h < 1 or w < 1:
        raise ValueError(f"x: height and width must be positive, got {h}x{w}")
    if output_size is None or is_int(output_size):
        sizes = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) in (1, 2):
        sizes = tuple(output_size) * (2 if len(output_size) == 1 else 1)
    else:
        raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if sizes[0] is None else int_param(sizes[0], "output_size", 1),
              w if sizes[1] is None else int_param(sizes[1], "output_size", 1))
    shape = x_shape[:-2] + (oh, ow)
    check_alloc(shape, "output")
    return shape


def adaptive_avg_pool2d(x, output_size):
    """torch.nn.functional.adaptive_avg_pool2d: any output size (torch's windows
    [floor(i*H/oh), ceil((i+1)*H/oh))); output 1x1 is global average pooling."""
    x, unbatched = _batched(x)
    shape = adaptive_avg_pool2d_output_shape(x.shape, output_size)
    y = _empty(shape)
    if shape[-2:] == (1, 1):
        _ext.global_avgpool(x, y, _threads.get_num_threads())
    else:
        _ext.adaptive_avgpool2d(x, y, _threads.get_num_threads())
    return y[0] if unbatched else y


# ---- channel shuffle and concatenation ------------------------------------------------------------

def channel_shuffle(x, groups):
    """torch.nn.functional.channel_shuffle: (N, g, C/g, H, W) -> transpose -> (N, C, H, W)."""
    x, unbatched = _batched(x)
    groups = int_param(groups, "groups", 1)
    if x.shape[1] % groups:
        raise ValueError(f"groups={groups} does not divide the {x.shape[1]} channels of x")
    y = _ext.channel_shuffle(x, groups, _empty(x.shape), _threads.get_num_threads())
    return y[0] if unbatched else y


def cat_channels(tensors):
    """Concatenation along the channel axis (1) of 4-D arrays, by channel copies (Concat's kernel)."""
    arrays = [float_array(t, "tensors", ndim=4) for t in tensors]
    if not arrays:
        raise ValueError("tensors must hold at least one array")
    n, _, h, w = arrays[0].shape
    for a in arrays[1:]:
        if (a.shape[0], a.shape[2], a.shape[3]) != (n, h, w):
            raise ValueError(f"tensors: shapes {[a.shape for a in arrays]} differ outside the channel axis")
    y = _empty((n, sum(a.shape[1] for a in arrays), h, w))
    c0 = 0
    for a in arrays:
        _ext.copy_channels(a, 0, a.shape[1], y, c0, _threads.get_num_threads())
        c0 += a.shape[1]
    return y


# ---- element-wise --------------------------------------------------------------------------------

def _unary(kind, x, alpha=0.0, beta=0.0, per_channel=None):
    """Any-shape element-wise op through the 4-D C kernel. Per-channel kinds take channel axis 1
    (one channel below 2-D, as torch's prelu)."""
    x = _float(x, "x")
    shape = x.shape
    if per_channel is None:
        view = x.reshape(1, 1, 1, x.size)
    else:
        n = shape[0] if x.ndim >= 2 else 1
        c = shape[1] if x.ndim >= 2 else 1
        view = x.reshape(n, c, 1, x.size // max(n * c, 1) if n * c else 0)
    y = _ext.unary(kind, view, _empty(view.shape), alpha, beta, per_channel, _threads.get_num_threads())
    return y.reshape(shape)


def relu(x, inplace=False):
    return _unary("relu", x)


def relu6(x, inplace=False):
    return _unary("relu6", x)


def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    lo, hi = _real(min_val, "min_val"), _real(max_val, "max_val")
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"min_val and max_val must not be NaN, got {lo}, {hi}")
    if lo > hi:
        raise ValueError(f"min_val cannot be greater than max_val, got min_val={lo}, max_val={hi}")
    return _unary("clip", x, lo, hi)


def hardswish(x, inplace=False):
    return _unary("hardswish", x)


def hardsigmoid(x, inplace=False):
    return _unary("hardsigmoid", x, 1.0 / 6.0, 0.5)


def sigmoid(x, inplace=False):
    return _unary("sigmoid", x)


def tanh(x, inplace=False):
    return _unary("tanh", x)


def silu(x, inplace=False):
    return _unary("silu", x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return _unary("leaky_relu", x, _real(negative_slope, "negative_slope"))


def elu(x, alpha=1.0, inplace=False):
    return _unary("elu", x, _real(alpha, "alpha"))


def prelu(x, weight):
    """torch.nn.functional.prelu: weight holds 1 slope or one per channel (axis 1)."""
    x = _float(x, "x")
    c = x.shape[1] if x.ndim >= 2 else 1
    slope = float_array(weight, "weight").reshape(-1)
    if slope.size not in (1, c):
        raise ValueError(f"weight must have 1 or {c} values (the channels of x), got {slope.size}")
    return _unary("prelu", x, per_channel=np.ascontiguousarray(np.broadcast_to(slope, (c,)), np.float32))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Inference torch.nn.functional.batch_norm over channel axis 1 of an (N, C, ...) array:
    y = x * a + b with a = weight / sqrt(var + eps), b = bias - mean * a, computed in float32 as
    torch does. training=True is not supported."""
    if training:
        raise ValueError("training: batch_norm is inference-only here (training=False, running statistics)")
    x = float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    eps = _finite(eps, "eps")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")

    def per_channel(a, name, default):
        if a is None:
            if default is None:
                raise ValueError(f"{name} is required")
            return np.full(c, default, np.float32)
        a = float_array(a, name).reshape(-1)
        if a.size != c:
            raise ValueError(f"{name} must have {c} values (the channels of x), got {a.size}")
        return a

    mean = per_channel(running_mean, "running_mean", None)
    var = per_channel(running_var, "running_var", None)
    w = per_channel(weight, "weight", 1.0)
    b = per_channel(bias, "bias", 0.0)
    with np.errstate(all="ignore"):  # a negative variance gives NaN, as in torch
        alpha = (np.float32(1.0) / np.sqrt(var + np.float32(eps))) * w
        beta = b - mean * alpha
    return _unary("affine", x, per_channel=np.concatenate([alpha, beta]).astype(np.float32))


def _softmax_dim(ndim):
    # torch's legacy implicit dim, with its warning
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.softmax over any axis of any array (max-subtracted, numerically stable)."""
    if dtype is not None and np.dtype(dtype) != np.float32:
        raise ValueError(f"dtype: only float32 is supported, got {dtype}")
    x = _float(x, "x")
    if dim is None:
        dim = _softmax_dim(x.ndim)
    dim = int_param(dim, "dim")
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError(f"dim must be in [{-nd}, {nd - 1}], got {dim}")
    if x.ndim == 0:
        return _ext.softmax_rows(x.reshape(1), np.empty(1, np.float32)).reshape(())
    dim %= x.ndim
    if dim == x.ndim - 1:
        return _ext.softmax_rows(x, _empty(x.shape))
    moved = np.ascontiguousarray(np.moveaxis(x, dim, -1))
    y = _ext.softmax_rows(moved, moved)  # in place on the private copy
    return np.ascontiguousarray(np.moveaxis(y, -1, dim))


def binary(kind, a, b, activation=None):
    """a (op) b with NumPy broadcasting (up to 4-D), then activation None | 'relu' | 'relu6'.
    kind: 'add', 'sub', 'mul', 'div', 'max', 'min' (max/min propagate NaN, as torch.maximum)."""
    if kind not in BINARY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(BINARY_KINDS)}, got {kind!r}")
    if activation not in (None, "none", "identity", "relu", "relu6"):
        raise ValueError(f"activation must be None, 'relu' or 'relu6', got {activation!r}")
    a, b = _float(a, "a"), _float(b, "b")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"b: shape {b.shape} does not broadcast with a's {a.shape}") from None
    if len(shape) > 4:
        raise ValueError(f"a, b: at most 4 dimensions are supported, got broadcast shape {shape}")
    y = _empty(shape)

    def as4(t):
        return t.reshape((1,) * (4 - t.ndim) + t.shape)

    act = None if activation in (None, "none", "identity") else activation
    _ext.binary(kind, as4(a), as4(b), as4(y), act, _threads.get_num_threads())
    return y


# ---- resize --------------------------------------------------------------------------------------

def _spatial(v, name, count, convert, check):
    """An int/float or a sequence of `count` of them, checked one by one."""
    if isinstance(v, (tuple, list, np.ndarray)):
        v = tuple(v)
        if len(v) != count:
            raise ValueError(f"{name} must have {count} values (one per spatial dim), got {len(v)}")
    else:
        v = (v,) * count
    return tuple(check(convert(e, name), name) for e in v)


def _positive_int(v, name):
    if v < 1:
        raise ValueError(f"{name} must be positive (input and output sizes should be greater than 0), got {v}")
    return v


def _positive_float(v, name):
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite positive number, got {v}")
    return v


_TORCH_MODES = {"nearest": 1, "linear": 1, "bilinear": 2}  # mode -> spatial dims


def _interp_args(x_shape, size, scale_factor, mode, align_corners, recompute_scale_factor=None, antialias=False):
    """torch's F.interpolate rules -> (mode, coord, (out_h, out_w), scales or None) for 2 spatial dims
    (a 3-D input (N, C, L) is resized as (N, C, 1, L))."""
    x_shape = tuple(int(d) for d in x_shape)
    if mode not in ("nearest", "linear", "bilinear"):
        raise ValueError(f"mode must be 'nearest', 'linear' (3-D input) or 'bilinear' (4-D input), got {mode!r}")
    if len(x_shape) not in (3, 4):
        raise ValueError(f"x must be 3-D (N, C, L) or 4-D (N, C, H, W), got shape {x_shape}")
    dims = len(x_shape) - 2
    if mode != "nearest" and _TORCH_MODES[mode] != dims:
        raise ValueError(f"mode={mode!r} needs a {_TORCH_MODES[mode] + 2}-D input, got shape {x_shape}")
    if antialias:
        raise ValueError("antialias: only antialias=False is supported")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear")
        align_corners = False
    else:
        align_corners = False if align_corners is None else _bool(align_corners, "align_corners")
    if (size is None) == (scale_factor is None):
        raise ValueError("size, scale_factor: exactly one of size or scale_factor must be given")
    spatial = x_shape[2:]
    if any(s < 1 for s in spatial):
        raise ValueError(f"x: spatial sizes must be positive, got {spatial}")
    if size is not None:
        out = _spatial(size, "size", dims, lambda e, n: int_param(e, n), _positive_int)
        scales = None
    else:
        scales = _spatial(scale_factor, "scale_factor", dims, _real, _positive_float)
        # torch: floor(in * scale) in double
        out = tuple(_positive_int(int(math.floor(float(i) * s)), "scale_factor (output size)")
                    for i, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = None
    if dims == 1:
        out, scales = (1,) + out, None if scales is None else (1.0,) + scales
    if mode == "nearest":
        coord = "torch_nearest"
    else:
        coord = "torch_align_corners" if align_corners else "torch_half_pixel"
    return ("nearest" if mode == "nearest" else "bilinear"), coord, out, scales


def interpolate_output_shape(x_shape, size=None, scale_factor=None, mode="nearest", align_corners=None,
                             recompute_scale_factor=None, antialias=False):
    """Output shape of interpolate(x, ...) for an input of shape x_shape, with torch's rules."""
    _, _, out, _ = _interp_args(x_shape, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                antialias)
    shape = tuple(int(d) for d in x_shape)[:2] + (out if len(x_shape) == 4 else out[1:])
    check_alloc(shape, "output")
    return shape


def interpolate_spec(x_shape, size=None, scale_factor=None, mode="nearest", align_corners=None,
                     recompute_scale_factor=None, antialias=False):
    """The graph's resize attributes for torch's interpolate: mode, coord, nearest (names from
    RESIZE_MODES, COORD_MODES, NEAREST_MODES), size (out_h, out_w) when the output size is fixed,
    scales (scale_h, scale_w) when it follows the input (size None then). 4-D inputs."""
    if len(x_shape) != 4:
        raise ValueError(f"x: a planned interpolate takes a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    m, coord, out, scales = _interp_args(x_shape, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                         antialias)
    check_alloc(tuple(x_shape[:2]) + out, "output")
    return {"mode": m, "coord": coord, "nearest": "floor", "size": None if scales is not None else out,
            "scales": scales}


def resize_output_shape(x_shape, size=None, scales=None, onnx=False):
    """Output shape of a resize node of a 4-D input: size (out_h, out_w) if given, else from scales
    (scale_h, scale_w): floor(in * scale) in double as torch computes it, or with onnx=True in float32
    as ONNX Runtime does (int(float32(scale) * in))."""
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x_shape}")
    if x_shape[2] < 1 or x_shape[3] < 1:
        raise ValueError(f"x: height and width must be positive, got {x_shape[2]}x{x_shape[3]}")
    if size is not None:
        out = _spatial(size, "size", 2, lambda e, n: int_param(e, n), _positive_int)
    elif scales is not None:
        sc = _spatial(scales, "scales", 2, _real, _positive_float)
        if onnx:
            out = tuple(int(np.float32(s) * np.float32(i)) for i, s in zip(x_shape[2:], sc))
        else:
            out = tuple(int(math.floor(float(i) * s)) for i, s in zip(x_shape[2:], sc))
        out = tuple(_positive_int(o, "scales (output size)") for o in out)
    else:
        raise ValueError("size, scales: one of size or scales must be given")
    shape = x_shape[:2] + out
    check_alloc(shape, "output")
    return shape


def _run_resize(x, mode, coord, nearest, out, scales):
    y = _empty(x.shape[:2] + tuple(out))
    sh, sw = (0.0, 0.0) if scales is None else (float(scales[0]), float(scales[1]))
    return _ext.resize(mode, coord, nearest, sh, sw, x, y, _threads.get_num_threads())


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """torch.nn.functional.interpolate for mode 'nearest' (3-D or 4-D input), 'linear' (3-D) and
    'bilinear' (4-D), with torch's output-size rule and index arithmetic."""
    x = float_array(x, "x", ndim=(3, 4))
    m, coord, out, scales = _interp_args(x.shape, size, scale_factor, mode, align_corners, recompute_scale_factor,
                                         antialias)
    if x.ndim == 3:
        y = _run_resize(x[:, :, None, :], m, coord, "floor", out, scales)
        return y[:, :, 0, :]
    return _run_resize(x, m, coord, "floor", out, scales)


def resize(x, size=None, scales=None, mode="nearest", coordinate_transformation_mode="half_pixel",
           nearest_mode="round_prefer_floor"):
    """ONNX Resize (opset 11+) over H and W of a 4-D input, computed as ONNX Runtime does.
    size: (out_h, out_w) or the full (N, C, out_h, out_w); scales: (scale_h, scale_w) or the full
    4 values (N and C scales must be 1); exactly one of them. mode 'nearest' or 'linear' ('bilinear'
    is accepted too); coordinate_transformation_mode: half_pixel, align_corners, asymmetric,
    pytorch_half_pixel, tf_half_pixel_for_nn; nearest_mode: round_prefer_floor, round_prefer_ceil,
    floor, ceil."""
    x = float_array(x, "x", ndim=4)
    if mode not in ("nearest", "linear", "bilinear"):
        raise ValueError(f"mode must be 'nearest' or 'linear', got {mode!r}")
    onnx_coords = COORD_MODES[:5]
    if coordinate_transformation_mode not in onnx_coords:
        raise ValueError(f"coordinate_transformation_mode must be one of {', '.join(onnx_coords)}, "
                         f"got {coordinate_transformation_mode!r}")
    if mode != "nearest" and coordinate_transformation_mode == "tf_half_pixel_for_nn":
        raise ValueError("coordinate_transformation_mode: tf_half_pixel_for_nn applies to mode 'nearest' only")
    if nearest_mode not in NEAREST_MODES:
        raise ValueError(f"nearest_mode must be one of {', '.join(NEAREST_MODES)}, got {nearest_mode!r}")
    if (size is None) == (scales is None):
        raise ValueError("size, scales: exactly one of size or scales must be given")
    if size is not None:
        size = tuple(size) if isinstance(size, (tuple, list, np.ndarray)) else size
        if isinstance(size, tuple) and len(size) == 4:
            if tuple(int(s) for s in size[:2]) != x.shape[:2]:
                raise ValueError(f"size: N and C must stay {x.shape[:2]}, got {size[:2]}")
            size = size[2:]
        shape = resize_output_shape(x.shape, size=size)
        sc = None
    else:
        scales = tuple(scales) if isinstance(scales, (tuple, list, np.ndarray)) else scales
        if isinstance(scales, tuple) and len(scales) == 4:
            if tuple(float(s) for s in scales[:2]) != (1.0, 1.0):
                raise ValueError(f"scales: N and C scales must be 1, got {scales[:2]}")
            scales = scales[2:]
        sc = tuple(float(np.float32(s)) for s in _spatial(scales, "scales", 2, _real, _positive_float))
        shape = resize_output_shape(x.shape, scales=sc, onnx=True)
    m = "nearest" if mode == "nearest" else "bilinear"
    return _run_resize(x, m, coordinate_transformation_mode, nearest_mode, shape[2:], sc)
