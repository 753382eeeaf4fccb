"""Test oracles and helpers for the gconv_cpu suite. Nothing here calls gconv_cpu.

* conv2d_ref: a plain float64 NumPy grouped convolution (explicit zero padding,
  one strided slice per kernel tap, one matmul per tap and group).
* deconv_ref: the float64 transposed convolution (scatter every tap, then crop the padding).
* pool2d_ref: float64 max/average pooling written from torch's rules (output size with ceil_mode,
  dilated max windows, count_include_pad divisors).
* pads4: torch's padding argument -> (top, bottom, left, right), written from
  torch's documented rules, independently of the library.
* assert_conv_close: the accuracy check used by every numeric test (see its docstring).
* WORST: worst errors seen, per ISA; conftest prints it at the end of the session.
"""
import math
import warnings

import numpy as np

# Unit roundoff of float32 (round to nearest): 2**-24.
U32 = 2.0 ** -24
# Per-element tolerance factor, in units of the condition scale (see assert_conv_close).
RTOL = 16 * U32  # ~9.5e-7
# The coarse "Done-when" metric: max|y - ref| / max|ref| must stay below this.
DONE_WHEN = 1e-4

WORST = {}  # key (ISA or "kernel:<name>") -> {"scaled": float, "rel_max": float, "where": str}


def under_asan():
    """Whether AddressSanitizer's runtime is loaded in this process (tools/sanitize.sh preloads it)."""
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def pair(v):
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return int(v[0]), int(v[1])
    return int(v), int(v)


def pads4(padding, kernel, dilation):
    """torch padding spec -> (top, bottom, left, right). 'same' puts the odd pixel at the bottom/right."""
    kh, kw = pair(kernel)
    dh, dw = pair(dilation)
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def out_extent(size, pa, pb, k, d, s):
    return (size + pa + pb - d * (k - 1) - 1) // s + 1


def conv2d_ref(x, w, b=None, stride=1, pads=(0, 0, 0, 0), dilation=1, groups=1):
    """float64 reference of torch.nn.functional.conv2d on (N, C, H, W) input; pads = (t, b, l, r)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    t, bo, l, r = pads
    assert c == cg * groups and co % groups == 0
    oh, ow = out_extent(h, t, bo, kh, dh, sh), out_extent(wd, l, r, kw, dw, sw)
    assert oh >= 1 and ow >= 1
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    hp, wp = xp.shape[2:]
    og = co // groups
    xg = xp.reshape(n, groups, cg, hp, wp)
    wg = w.reshape(groups, og, cg, kh, kw)
    y = np.zeros((n, groups, og, oh * ow))
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            patch = xg[:, :, :, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw]
            assert patch.shape[3:] == (oh, ow)
            y += np.matmul(wg[None, :, :, :, ky, kx], patch.reshape(n, groups, cg, oh * ow))
    y = y.reshape(n, co, oh, ow)
    if b is not None:
        y += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def conv2d_ref_abs(x, w, b=None, stride=1, pads=(0, 0, 0, 0), dilation=1, groups=1):
    """The condition scale: sum over the window of |w||x| (+ |b|), i.e. conv2d_ref on absolute values."""
    return conv2d_ref(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)),
                      None if b is None else np.abs(np.asarray(b, np.float64)), stride, pads, dilation, groups)


def deconv_ref(x, w, b, stride, pads, output_padding, dilation, groups):
    """float64 transposed conv: scatter every tap into an uncropped output, then crop the padding.
    x (N, C_in, H, W); w (C_in, C_out/groups, kH, kW); pads (top, bottom, left, right)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    oph, opw = pair(output_padding)
    t, bo, l, r = pads
    full_h, full_w = (h - 1) * sh + dh * (kh - 1) + 1, (wd - 1) * sw + dw * (kw - 1) + 1
    out_h, out_w = full_h - t - bo + oph, full_w - l - r + opw
    assert out_h >= 1 and out_w >= 1
    cig = cin // groups
    big_h, big_w = max(full_h, t + out_h), max(full_w, l + out_w)
    y = np.zeros((n, groups, cog, big_h, big_w))
    xg = x.reshape(n, groups, cig, h * wd)
    wg = w.reshape(groups, cig, cog, kh, kw)
    for ky in range(kh):
        for kx in range(kw):
            contrib = np.einsum("gio,ngip->ngop", wg[:, :, :, ky, kx], xg).reshape(n, groups, cog, h, wd)
            y[:, :, :, ky * dh:ky * dh + (h - 1) * sh + 1:sh, kx * dw:kx * dw + (wd - 1) * sw + 1:sw] += contrib
    y = y.reshape(n, groups * cog, big_h, big_w)[:, :, t:t + out_h, l:l + out_w]
    if b is not None:
        y = y + np.asarray(b, np.float64)[None, :, None, None]
    return np.ascontiguousarray(y)


def deconv_ref_abs(x, w, b, stride, pads, output_padding, dilation, groups):
    """deconv_ref on absolute values: the condition scale of each output."""
    return deconv_ref(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)),
                      None if b is None else np.abs(np.asarray(b, np.float64)), stride, pads, output_padding,
                      dilation, groups)


def pool_extent(size, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape: with ceil_mode the last window must start inside the input or the
    left padding."""
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool2d_ref(x, kind, kernel, stride, padding, dilation=(1, 1), ceil_mode=False, count_include_pad=True):
    """float64 max_pool2d / avg_pool2d of (N, C, H, W) with torch's semantics; padding (ph, pw) symmetric.
    Max: over the dilated window's input pixels (padding never wins). Average (dilation 1): the window's
    input pixels summed, divided by the window clipped to the padded input (count_include_pad) or to the
    input (not)."""
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = pool_extent(h, kh, sh, ph, dh, ceil_mode), pool_extent(w, kw, sw, pw, dw, ceil_mode)
    y = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * sh - ph, ox * sw - pw
            if kind == "max":
                rows = [r for r in range(y0, y0 + dh * (kh - 1) + 1, dh) if 0 <= r < h]
                cols = [q for q in range(x0, x0 + dw * (kw - 1) + 1, dw) if 0 <= q < w]
                # dilation can put every tap of a window on padding: torch's max over nothing, -inf
                y[:, :, oy, ox] = x[:, :, rows][:, :, :, cols].max(axis=(2, 3)) if rows and cols else -np.inf
            else:
                y1, x1 = min(y0 + kh, h + ph), min(x0 + kw, w + pw)
                padded = (y1 - y0) * (x1 - x0)
                y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
                inside = (y1 - y0) * (x1 - x0)
                total = x[:, :, y0:y1, x0:x1].sum(axis=(2, 3))
                y[:, :, oy, ox] = total / (padded if count_include_pad else inside)
    return y


def conv_errors(y, ref, absref, k, ref_max=None):
    """(scaled, rel_max): see assert_conv_close."""
    y = np.asarray(y, dtype=np.float64)
    err = np.abs(y - ref)
    if err.size == 0:
        return 0.0, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / (math.sqrt(k) * absref))
    scaled = float(np.max(ratio))  # inf when y != ref where every term is exactly zero
    rel_max = float(err.max() / ((np.abs(ref).max() if ref_max is None else ref_max) + 1e-30))
    return scaled, rel_max


def assert_conv_close(y, ref, absref, k, *, key=None, what="", rtol=RTOL, ref_max=None):
    """Checks a float32 convolution result y against the float64 reference ref.

    The metric, per output element i, with K = C_in/groups * kH * kW the reduction length:

        |y_i - ref_i| <= rtol * sqrt(K) * S_i,   S_i = |b_i| + sum over the window of |w| * |x|

    S_i is the condition scale of the dot product (what its rounding error is proportional to),
    so the bound is tight for outputs that cancel to ~0 as well as for large ones, and an
    element whose every term is exactly zero (pure padding, no bias) must come out exactly 0.
    Summation in float32 gives errors that grow like sqrt(K) * u * S_i for random data (u =
    2**-24 the float32 unit roundoff), so rtol = 16u (~9.5e-7) leaves a safety factor of about
    16 over the typical error, yet any indexing, packing, padding or tail bug (an O(1)
    relative error in some element) fails it by orders of magnitude.

    The coarser "Done-when" metric max|y - ref| / max|ref| <= 1e-4 is checked too. Where y is a
    slice of an output (a kernel's row range), ref_max is the whole output's max|ref|: a slice of a
    clamped plane can hold a single value that cancelled to near 0, whose rounding error (within
    the first bound) is then most of its max|ref|. Both values are returned and, with key, folded
    into WORST for the end-of-session summary.
    """
    y = np.asarray(y)
    assert y.shape == ref.shape, f"{what}: shape {y.shape} != reference {ref.shape}"
    assert np.all(np.isfinite(y)), f"{what}: non-finite values in the result"
    scaled, rel_max = conv_errors(y, ref, absref, k, ref_max)
    if key is not None:
        cur = WORST.setdefault(key, {"scaled": 0.0, "rel_max": 0.0, "where": ""})
        if scaled > cur["scaled"]:
            cur["scaled"], cur["where"] = scaled, what
        cur["rel_max"] = max(cur["rel_max"], rel_max)
    if scaled > rtol or rel_max > DONE_WHEN:
        err = np.abs(np.asarray(y, np.float64) - ref)
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        raise AssertionError(
            f"{what}: error too large: max |y-ref|/(sqrt(K)*S) = {scaled:.3g} (limit {rtol:.3g}), "
            f"max|y-ref|/max|ref| = {rel_max:.3g} (limit {DONE_WHEN:g}); worst at {idx}: "
            f"y={float(y[idx])!r} ref={float(ref[idx])!r} S={float(absref[idx])!r}, K={k}")
    return scaled, rel_max


def torch_conv2d64(x, w, b, stride, padding, dilation, groups):
    """torch.nn.functional.conv2d in float64, padding as given (4-tuples padded with F.pad first)."""
    import torch
    import torch.nn.functional as F

    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))
    wt = torch.from_numpy(np.asarray(w, dtype=np.float64))
    bt = None if b is None else torch.from_numpy(np.asarray(b, dtype=np.float64))
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        t, bo, l, r = padding
        xt = F.pad(xt, (l, r, t, bo))
        padding = 0
    elif isinstance(padding, list):
        padding = tuple(padding)
    with warnings.catch_warnings():  # 'same' with even kernels: torch warns that it copies the input
        warnings.simplefilter("ignore", UserWarning)
        return F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups).numpy()


def run_python(code, env=None, timeout=120):
    """Runs `python -c code` in a fresh interpreter (for calls that might crash the process, and for
    import-time settings). env: variables to set (None values unset).

    It runs from the directory that holds the gconv_cpu package this session imported (the
    repository root for an in-place build, site-packages for an installed wheel), so the child
    imports the same build."""
    import os
    import subprocess
    import sys

    import gconv_cpu  # only to locate the build under test

    root = os.path.dirname(os.path.dirname(os.path.abspath(gconv_cpu.__file__)))
    full = dict(os.environ)
    for k in ("GCONV_ISA", "OMP_NUM_THREADS"):
        full.pop(k, None)
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = str(v)
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=full, capture_output=True, text=True,
                          timeout=timeout)


def describe_exit(proc):
    import signal

    rc = proc.returncode
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"
