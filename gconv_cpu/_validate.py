"""Argument checking and normalization shared by the functional and layer APIs.

Every failure raises TypeError or ValueError whose message starts with the
parameter's name. Sizes are computed with Python ints (no wrap-around) and
checked before anything is allocated."""
import numbers
import os

import numpy as np

from ._errors import SizeOverflowError

_MAX_BYTES = 2**62


def _physical_memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _MAX_BYTES


_PHYS_BYTES = _physical_memory_bytes()


def check_alloc(shape, name, itemsize=4):
    """Refuse buffers whose size overflows or could never fit in this machine's memory."""
    nbytes, extent = itemsize, itemsize
    for d in shape:
        nbytes *= int(d)
        extent *= max(int(d), 1)
    if extent > _MAX_BYTES:  # NumPy refuses such shapes even when empty (a zero batch)
        raise SizeOverflowError(f"{name}: shape {tuple(shape)} overflows 64-bit sizes")
    if nbytes > _MAX_BYTES:
        raise SizeOverflowError(f"{name}: shape {tuple(shape)} needs {nbytes} bytes, which overflows 64-bit sizes")
    if nbytes > _PHYS_BYTES:
        raise MemoryError(f"{name}: shape {tuple(shape)} needs {nbytes} bytes, more than this machine's memory")
    return nbytes


def is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def int_param(v, name, minimum=None):
    if not is_int(v):
        raise TypeError(f"{name} must be an int, got {type(v).__name__} {v!r}")
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if v >= 2**62:
        raise SizeOverflowError(f"{name}={v} is too large")
    return v


def pair(v, name, minimum, allow_single=True):
    """An int, or a sequence of 2 ints (or 1, where torch accepts it) -> (a, b), each >= minimum."""
    if is_int(v):
        v = (v, v)
    elif isinstance(v, (tuple, list, np.ndarray)):
        v = tuple(v)
        if len(v) == 1 and allow_single:
            v = v * 2
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {len(v)} values: {v!r}")
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {type(v).__name__} {v!r}")
    return tuple(int_param(e, name, minimum) for e in v)


def padding4(padding, kernel, dilation, stride):
    """padding as int | (ph, pw) | (top, bottom, left, right) | 'same' | 'valid' -> (t, b, l, r)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions (stride must be 1)")
            # PyTorch puts the odd extra pixel at the bottom/right.
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(f"padding must be 'same', 'valid', an int or a tuple, got {padding!r}")
    if isinstance(padding, (tuple, list, np.ndarray)) and len(padding) == 4:
        return tuple(int_param(p, "padding", 0) for p in padding)
    if isinstance(padding, (tuple, list, np.ndarray)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"padding must have 1, 2 or 4 values (top, bottom, left, right), got {len(padding)}")
    ph, pw = pair(padding, "padding", 0)
    return (ph, ph, pw, pw)


def numeric_array(a, name, ndim=None):
    """Array-likes as a real numeric ndarray, without copying an ndarray: shapes can be checked
    before any float32 copy is made (a stride-0 view may declare terabytes)."""
    if type(a) is np.ndarray and a.dtype == np.float32:
        arr = a
    else:
        if hasattr(a, "detach") and hasattr(a, "numpy"):  # a torch tensor, without importing torch
            a = a.detach().cpu().numpy()
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as e:
            raise TypeError(f"{name} cannot be converted to a numeric array: {e}") from None
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} must be real; complex dtype {arr.dtype} is not supported")
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        want = ndim if isinstance(ndim, int) else " or ".join(map(str, ndim))
        raise ValueError(f"{name} must be {want}-D, got {arr.ndim}-D with shape {arr.shape}")
    return arr


def shaped_float_array(a, name, shape, described=None):
    """A layer parameter: checked to have exactly `shape` (on the caller's array, before any float32
    copy), then as a float32 array of the layer's own. The error shows the expected shape, prefixed by
    `described` if given."""
    arr = numeric_array(a, name, ndim=len(shape))
    if arr.shape != tuple(shape):
        expected = f"{described} = {tuple(shape)}" if described else f"{tuple(shape)}"
        raise ValueError(f"{name}: expected shape {expected}, got {arr.shape}")
    out = float_array(arr, name)
    # Like torch's copy on load_state_dict: the caller's array (or a torch tensor's memory) must not
    # stay aliased, or editing it later would change the layer behind its packed plan.
    if out is arr or not out.flags.owndata:
        out = out.copy()
    return out


def float_array(a, name, ndim=None):
    """Converts array-likes to a C-contiguous float32 array (one copy at most, size-checked first)."""
    arr = numeric_array(a, name, ndim)
    if not (arr.dtype == np.float32 and arr.flags.c_contiguous):
        check_alloc(arr.shape, name)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    return arr


def conv_output_extent(size, pad_a, pad_b, kernel, dilation, stride, axis):
    eff = dilation * (kernel - 1) + 1
    padded = size + pad_a + pad_b
    if eff > padded:
        raise ValueError(f"kernel_size: the dilated kernel {axis} {eff} is larger than the padded input {axis} {padded}")
    return (padded - eff) // stride + 1


def conv_geometry(x_shape, spec):
    """Output (N, C_out, H_out, W_out) for input shape x_shape under a conv spec, with every check."""
    c_in, c_out, groups, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = spec[:13]
    n, c, h, w = x_shape
    if c != c_in:
        raise ValueError(f"x: expected {c_in} input channels (x.shape[1]), got {c}")
    if h < 1 or w < 1:
        raise ValueError(f"x: height and width must be positive, got {h}x{w}")
    out_h = conv_output_extent(h, pt, pb, kh, dh, sh, "height")
    out_w = conv_output_extent(w, pl, pr, kw, dw, sw, "width")
    shape = (n, c_out, out_h, out_w)
    check_alloc(shape, "output")
    return shape


