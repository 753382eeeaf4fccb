"""Transposed convolution: conv_transpose2d, DeconvOp/DeconvPlan, nn.ConvTranspose2d and bilinear_upsample,
against a float64 NumPy oracle and torch.nn.functional.conv_transpose2d, on every algorithm, ISA and
thread count; validation in Python and in C; guard bytes around the output."""
import math

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import SizeOverflowError, _ext
from gconv_cpu._deconv import ALGORITHMS, DeconvOp, conv_transpose2d, deconv_geometry, deconv_spec
from gconv_cpu.nn.conv_transpose import ConvTranspose2d, bilinear_kernel, bilinear_upsample

from reference import assert_conv_close, deconv_ref, deconv_ref_abs

ALGOS = [a for a in ALGORITHMS if a != "auto"]  # reference, gemm, direct
NO_CLAMP = (-math.inf, math.inf)


def _torch():
    return pytest.importorskip("torch", reason="torch is the reference oracle for this test")


def _pair(v):
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _pads4(padding):
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(padding)
    ph, pw = _pair(padding)
    return (ph, ph, pw, pw)


# ------------------------------------------------------------------ the float64 oracle (tests/reference.py)

def torch_deconv64(x, w, b, stride, padding, output_padding, dilation, groups):
    torch = _torch()
    F = torch.nn.functional
    t = lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float64))
    return F.conv_transpose2d(t(x), t(w), t(b), stride, padding, output_padding, groups, dilation).numpy()


# ------------------------------------------------------------------ configurations
# (n, c_in, c_out, groups, (h, w), kernel, stride, padding, output_padding, dilation, bias)

HAND = [
    (1, 4, 6, 1, (5, 7), 3, 1, 0, 0, 1, True),
    (2, 8, 8, 2, (6, 5), 4, 2, 1, 0, 1, True),                 # the common k4 s2 p1 decoder
    (1, 6, 9, 3, (7, 7), 3, 2, 1, 1, 1, True),                 # output_padding 1
    (3, 5, 5, 5, (9, 11), 4, 2, 1, 0, 1, False),               # depthwise, bilinear x2 shape
    (1, 4, 8, 4, (5, 6), (2, 5), (2, 3), (0, 2), (1, 2), 1, True),  # depthwise x2 multiplier, rectangular
    (1, 3, 3, 3, (4, 4), 16, 8, 4, 0, 1, True),                # bilinear x8 shape
    (1, 2, 4, 1, (1, 1), 3, 2, 0, 1, 1, True),                 # 1x1 input
    (1, 4, 4, 2, (1, 9), (1, 3), 3, 0, (0, 2), 1, True),       # height 1
    (1, 4, 4, 4, (8, 1), (3, 1), (1, 4), (1, 0), (0, 3), (2, 1), True),  # width 1
    (2, 16, 8, 1, (6, 7), 1, 1, 0, 0, 1, True),                # pointwise
    (1, 8, 8, 1, (5, 5), 1, 3, 0, 2, 1, True),                 # 1x1 kernel, stride 3: holes of bias
    (1, 4, 4, 2, (6, 6), 3, 2, 2, 0, 1, True),                 # padding = dilation*(k-1)
    (1, 4, 4, 2, (6, 6), 3, 1, 3, 0, 1, True),                 # padding > dilation*(k-1)
    (1, 6, 6, 3, (7, 8), 3, 2, 1, (1, 2), 3, True),            # output_padding < dilation (not < stride)
    (1, 4, 4, 4, (6, 7), 5, 3, (0, 4, 2, 1), 2, 1, True),      # asymmetric 4-tuple padding
    (1, 2, 2, 2, (3, 5), 3, 70, 1, 5, 1, True),                # stride above the phase tables: per-pixel loop
    (1, 3, 6, 3, (4, 3), (2, 3), (67, 2), 0, 0, (1, 2), True),  # one axis above
    (1, 12, 12, 2, (7, 9), 5, 2, 2, 1, 2, True),               # 6 channels per group (GEMM under auto)
    (1, 32, 16, 2, (6, 6), 4, 2, 1, 0, 1, True),               # 16 channels per group, GEMM blocks
    (1, 3, 40, 1, (5, 37), 3, 2, 1, 1, 1, True),               # c_out 40: several GEMM channel blocks
    (1, 2, 2, 2, (3, 600), 4, 2, 1, 0, 1, True),               # rows longer than a chunk (512 columns)
    (1, 2, 2, 1, (2, 300), 3, 3, 0, 2, 1, True),               # chunks at stride 3
]

KINDS = ["g1", "g2", "g4", "dw", "dwm2", "dwm3", "gsmall"]
SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 13, 17]


def _random_configs(count, seed=20250601):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        kind = KINDS[len(out) % len(KINDS)]
        if kind.startswith("dw"):
            cin = int(rng.choice([1, 2, 3, 5, 8]))
            cout = cin * (int(kind[3:]) if kind.startswith("dwm") else 1)
            groups = cin
        elif kind == "gsmall":  # 2-4 channels per group: the direct path's other territory
            groups = int(rng.choice([2, 3, 4]))
            cin, cout = groups * int(rng.integers(2, 5)), groups * int(rng.integers(1, 4))
        else:
            groups = int(kind[1:])
            cin, cout = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 5))
        kh = int(rng.integers(1, 6))
        kw = kh if rng.random() < 0.5 else int(rng.integers(1, 6))
        sh = int(rng.integers(1, 5))
        sw = sh if rng.random() < 0.5 else int(rng.integers(1, 5))
        dh = 1 if rng.random() < 0.5 else int(rng.integers(1, 4))
        dw = dh if rng.random() < 0.6 else int(rng.integers(1, 4))
        # torch allows any padding that leaves an output; mostly 0 .. dilation*(k-1)
        ph, pw = int(rng.integers(0, dh * (kh - 1) + 1)), int(rng.integers(0, dw * (kw - 1) + 1))
        padding = (ph, pw) if rng.random() < 0.8 else (ph, int(rng.integers(0, 3)), pw, int(rng.integers(0, 3)))
        oph = int(rng.integers(0, max(sh, dh)))
        opw = int(rng.integers(0, max(sw, dw)))
        h, w = int(rng.choice(SIZES)), int(rng.choice(SIZES))
        n = int(rng.choice([1, 1, 3]))
        t, b, l, r = _pads4(padding)
        oh = (h - 1) * sh - t - b + dh * (kh - 1) + oph + 1
        ow = (w - 1) * sw - l - r + dw * (kw - 1) + opw + 1
        if oh < 1 or ow < 1:
            continue
        if n * cout * oh * ow * (cin // groups) * kh * kw > 400_000:
            continue
        stride = sh if sh == sw else (sh, sw)
        dilation = dh if dh == dw else (dh, dw)
        out.append((n, cin, cout, groups, (h, w), (kh, kw), stride, padding, (oph, opw), dilation,
                    bool(rng.random() < 0.8)))
    return out


CONFIGS = HAND + _random_configs(130)


def _cfg_id(c):
    n, cin, cout, g, (h, w), k, s, p, op, d, b = c
    fmt = lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return (f"n{n}-{cin}to{cout}-g{g}-{h}x{w}-k{fmt(k)}-s{fmt(s)}-p{fmt(p)}-op{fmt(op)}-d{fmt(d)}"
            + ("" if b else "-nobias"))


_CASES = {}


def _case(index):
    if index not in _CASES:
        n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = CONFIGS[index]
        kh, kw = _pair(k)
        rng = np.random.default_rng(5000 + index)
        x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
        wt = rng.standard_normal((cin, cout // groups, kh, kw)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32) if has_bias else None
        pads = _pads4(padding)
        ref = deconv_ref(x, wt, b, stride, pads, opad, dilation, groups)
        absref = deconv_ref_abs(x, wt, b, stride, pads, opad, dilation, groups)
        _CASES[index] = (x, wt, b, ref, absref, (cin // groups) * kh * kw)
    return _CASES[index]


def test_oracle_matches_torch():
    """The NumPy oracle agrees with torch in float64 (symmetric paddings; torch has no 4-tuple)."""
    _torch()
    checked = 0
    for index, c in enumerate(CONFIGS):
        n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = c
        if isinstance(padding, tuple) and len(padding) == 4:
            continue
        x, wt, b, ref, absref, K = _case(index)
        t = torch_deconv64(x, wt, b, stride, padding, opad, dilation, groups)
        assert t.shape == ref.shape, _cfg_id(c)
        assert np.all(np.abs(t - ref) <= 1e-12 * (absref + 1e-300)), _cfg_id(c)
        checked += 1
    assert checked > 100


def test_sweep_coverage():
    """The sweep covers what it claims: every kind, strides 1-4, dilations 1-3, kernels 1-5, output_padding."""
    kinds = set()
    for n, cin, cout, g, hw, k, s, p, op, d, b in CONFIGS:
        kinds.add("dw" if g == cin else f"g{g}")
    assert {"dw", "g1", "g2", "g4"} <= kinds
    strides = {v for c in CONFIGS for v in _pair(c[6])}
    dils = {v for c in CONFIGS for v in _pair(c[9])}
    kernels = {v for c in CONFIGS for v in _pair(c[5])}
    assert {1, 2, 3, 4} <= strides and {1, 2, 3} <= dils and {1, 2, 3, 4, 5} <= kernels
    assert any(max(_pair(c[8])) > 0 for c in CONFIGS) and any(c[0] == 3 for c in CONFIGS)
    assert any(c[2] == 2 * c[1] and c[3] == c[1] for c in CONFIGS)  # depthwise with a multiplier


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[_cfg_id(c) for c in CONFIGS])
def test_sweep(index, isa, restore_threads):
    n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = CONFIGS[index]
    x, wt, b, ref, absref, K = _case(index)
    for threads in (1, 2):
        gconv_cpu.set_num_threads(threads)
        results = {}
        for algorithm in ["auto"] + ALGOS:
            y = conv_transpose2d(x, wt, b, stride, padding, opad, groups, dilation, algorithm=algorithm)
            assert y.dtype == np.float32 and y.flags.c_contiguous
            what = f"{isa}/{algorithm}/{threads}T/{_cfg_id(CONFIGS[index])}"
            assert_conv_close(y, ref, absref, K, key=f"deconv:{isa}", what=what)
            results[algorithm] = y
        if threads == 2:
            for algorithm, y in results.items():  # the split over threads does not change the sums
                gconv_cpu.set_num_threads(1)
                y1 = conv_transpose2d(x, wt, b, stride, padding, opad, groups, dilation, algorithm=algorithm)
                np.testing.assert_array_equal(y, y1, err_msg=f"{algorithm}: 1 vs 2 threads")


def test_against_torch_float32(isa):
    """A few configs straight against torch's float32 conv_transpose2d (the documented semantics)."""
    torch = _torch()
    F = torch.nn.functional
    for index in range(0, len(CONFIGS), 7):
        n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = CONFIGS[index]
        if isinstance(padding, tuple) and len(padding) == 4:
            continue
        x, wt, b, ref, absref, K = _case(index)
        t = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), None if b is None else torch.from_numpy(b),
                               stride, padding, opad, groups, dilation).numpy()
        y = conv_transpose2d(x, wt, b, stride, padding, opad, groups, dilation)
        assert y.shape == t.shape
        np.testing.assert_allclose(y, t, rtol=1e-4, atol=1e-4 * (np.abs(t).max() + 1))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_auto_choice(algorithm):
    """auto: direct for depthwise and few channels per group with >= 2 taps per output, else GEMM."""
    w = np.ones((8, 1, 4, 4), np.float32)
    op = DeconvOp(deconv_spec(8, 8, 4, 2, 1, 0, 1, 8), w, None, algorithm)
    assert op.algorithm == (algorithm if algorithm != "auto" else "direct")
    assert op.kernel_name == {"reference": "reference", "gemm": op.kernel_name, "direct": op.kernel_name,
                              "auto": op.kernel_name}[algorithm]
    if op.algorithm == "direct":
        assert op.kernel_name.startswith("deconv-direct-")
    if op.algorithm == "gemm":
        assert op.kernel_name.startswith("f32-gemm-")
    dense = DeconvOp(deconv_spec(16, 8, 4, 2, 1, 0, 1, 1), np.ones((16, 8, 4, 4), np.float32), None)
    assert dense.algorithm == "gemm"
    k2 = DeconvOp(deconv_spec(8, 8, 2, 2, 0, 0, 1, 4), np.ones((8, 2, 2, 2), np.float32), None)
    assert k2.algorithm == "gemm"  # one tap per output: the GEMM's col2im is cheap
    small = DeconvOp(deconv_spec(8, 8, 4, 2, 1, 0, 1, 2), np.ones((8, 4, 4, 4), np.float32), None)
    assert small.algorithm == "direct"


# ------------------------------------------------------------------ API behaviour

def _small(seed=0, n=2, cin=4, cout=6, groups=2, k=3, h=5, w=6):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, cin, h, w)).astype(np.float32),
            rng.standard_normal((cin, cout // groups, k, k)).astype(np.float32),
            rng.standard_normal(cout).astype(np.float32))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_and_out(algorithm):
    x, w, b = _small()
    y = conv_transpose2d(x, w, b, 2, 1, 1, 2, algorithm=algorithm)
    y0 = conv_transpose2d(x[0], w, b, 2, 1, 1, 2, algorithm=algorithm)
    assert y0.shape == y.shape[1:]
    np.testing.assert_array_equal(y0, y[0])
    out = np.empty_like(y)
    assert conv_transpose2d(x, w, b, 2, 1, 1, 2, algorithm=algorithm, out=out) is out
    np.testing.assert_array_equal(out, y)
    out0 = np.empty_like(y0)
    conv_transpose2d(x[0], w, b, 2, 1, 1, 2, algorithm=algorithm, out=out0)
    np.testing.assert_array_equal(out0, y0)


def test_converts_inputs():
    x, w, b = _small()
    y = conv_transpose2d(x, w, b, 2, groups=2)
    np.testing.assert_array_equal(conv_transpose2d(x.astype(np.float64), w.tolist(), b, 2, groups=2), y)
    np.testing.assert_array_equal(conv_transpose2d(np.asfortranarray(x), w, b, 2, groups=2), y)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), b, 2, groups=2), y)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("threads", [1, 2])
def test_batch_zero(algorithm, threads, isa, restore_threads):
    gconv_cpu.set_num_threads(threads)
    x = np.zeros((0, 4, 5, 6), np.float32)
    y = conv_transpose2d(x, np.ones((4, 3, 3, 3), np.float32), None, 2, 1, 1, 2, algorithm=algorithm)
    torch = _torch()
    t = torch.nn.functional.conv_transpose2d(torch.zeros(0, 4, 5, 6), torch.ones(4, 3, 3, 3), None, 2, 1, 1, 2)
    assert y.shape == tuple(t.shape) == (0, 6, 10, 12) and y.dtype == np.float32


@pytest.mark.parametrize("activation, lo, hi", [("relu", 0.0, math.inf), ("relu6", 0.0, 6.0)])
def test_fused_activation(activation, lo, hi, isa):
    x, w, b = _small(3)
    x *= 4
    for algorithm in ALGORITHMS:
        y = conv_transpose2d(x, w, b, 2, 1, groups=2, algorithm=algorithm)
        ya = conv_transpose2d(x, w, b, 2, 1, groups=2, activation=activation, algorithm=algorithm)
        np.testing.assert_array_equal(ya, np.clip(y, lo, hi))
        assert (y > 6).any() and (y < 0).any()


def test_nan_inf_inputs_propagate_like_torch(isa):
    torch = _torch()
    rng = np.random.default_rng(12)
    for cin, cout, groups, k, s, p in [(4, 4, 4, 4, 2, 1), (4, 8, 2, 3, 2, 1), (8, 8, 1, 3, 1, 1), (3, 3, 3, 16, 8, 4)]:
        x = rng.standard_normal((2, cin, 7, 9)).astype(np.float32)
        flat = x.reshape(-1)
        idx = rng.choice(flat.size, size=9, replace=False)
        flat[idx[:3]], flat[idx[3:6]], flat[idx[6:]] = np.nan, np.inf, -np.inf
        w = rng.standard_normal((cin, cout // groups, k, k)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        t = torch.nn.functional.conv_transpose2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                                 torch.from_numpy(b).double(), s, p, 0, groups).numpy()
        for algorithm in ALGORITHMS:
            y = conv_transpose2d(x, w, b, s, p, 0, groups, algorithm=algorithm)
            for test in (np.isnan, np.isposinf, np.isneginf):
                np.testing.assert_array_equal(test(y), test(t), err_msg=f"{algorithm} {test.__name__}")
            fin = np.isfinite(t)
            np.testing.assert_allclose(y[fin], t[fin], rtol=1e-4, atol=1e-4 * np.abs(t[fin]).max())


def test_nonfinite_weight_only_hits_its_taps(isa):
    """An inf/NaN weight reaches only the outputs its tap lands on (no 0 * inf from padding)."""
    torch = _torch()
    x, w, b = _small(5, cin=4, cout=4, groups=4, k=4, h=6, w=7)
    w[1, 0, 0, 3] = np.inf
    w[2, 0, 3, 0] = np.nan
    t = torch.nn.functional.conv_transpose2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                             torch.from_numpy(b).double(), 2, 1, 0, 4).numpy()
    assert np.isfinite(t[:, 1]).any() and np.isfinite(t[:, 2]).any()
    for algorithm in ALGORITHMS:
        y = conv_transpose2d(x, w, b, 2, 1, 0, 4, algorithm=algorithm)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(t), err_msg=algorithm)
        np.testing.assert_array_equal(np.isinf(y), np.isinf(t), err_msg=algorithm)
        fin = np.isfinite(t)
        np.testing.assert_allclose(y[fin], t[fin], rtol=1e-5, atol=1e-5 * np.abs(t[fin]).max())


# ------------------------------------------------------------------ guard bytes

GUARD = 64


def _guarded(shape, fill=np.nan):
    """A C-contiguous view of `shape` in the middle of a larger buffer whose ends hold canaries."""
    size = int(np.prod(shape))
    buf = np.full(size + 2 * GUARD, fill, np.float32)
    buf[:GUARD] = 7.25
    buf[GUARD + size:] = -3.5
    view = buf[GUARD:GUARD + size].reshape(shape)
    assert view.flags.c_contiguous and view.base is not None
    return buf, view


def _canaries_intact(buf, size):
    return bool(np.all(buf[:GUARD] == 7.25) and np.all(buf[GUARD + size:] == -3.5))


@pytest.mark.parametrize("index", [0, 1, 3, 4, 5, 7, 8, 10, 15, 17, 19, 20, 21])
def test_guard_bytes_through_binding(index, isa, restore_threads):
    """DeconvPlan.run writes exactly the output (every element, nothing around it) and reads only
    the input, on every algorithm and 1 or 2 threads; input and output are views into bigger buffers."""
    n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = CONFIGS[index]
    x, wt, b, ref, absref, K = _case(index)
    spec = deconv_spec(cin, cout, k, stride, padding, opad, dilation, groups)
    xbuf, xv = _guarded(x.shape)
    xv[...] = x
    xbuf[:GUARD] = np.nan  # reading before or after the input would poison the result
    xbuf[GUARD + x.size:] = np.nan
    for algorithm in ALGOS:
        plan = _ext.DeconvPlan(spec + NO_CLAMP, wt, b, gconv_cpu._isa.isa_index(isa), ALGORITHMS.index(algorithm))
        for threads in (1, 2):
            oh, ow, ws_bytes = plan.geometry(n, h, w, threads)
            assert (n, cout, oh, ow) == ref.shape
            ybuf, yv = _guarded(ref.shape)
            wsbuf = np.full(ws_bytes + 128, 0xAB, np.uint8)
            off = -wsbuf.ctypes.data % 64
            ws = wsbuf[off:off + ws_bytes] if ws_bytes else None
            plan.run(xv, yv, ws, threads)
            assert _canaries_intact(ybuf, yv.size), f"{algorithm}/{threads}T wrote outside the output"
            assert np.all(wsbuf[:off] == 0xAB) and np.all(wsbuf[off + ws_bytes:] == 0xAB), \
                f"{algorithm}/{threads}T wrote outside the workspace"
            assert_conv_close(yv, ref, absref, K, what=f"{isa}/{algorithm}/{threads}T guarded {_cfg_id(CONFIGS[index])}")


def test_guard_bytes_functional_out():
    x, w, b = _small(9, cin=6, cout=6, groups=6, k=4)
    for algorithm in ALGORITHMS:
        y = conv_transpose2d(x, w, b, 2, 1, groups=6, algorithm=algorithm)
        buf, view = _guarded(y.shape)
        assert conv_transpose2d(x, w, b, 2, 1, groups=6, out=view, algorithm=algorithm) is view
        assert _canaries_intact(buf, y.size)
        np.testing.assert_array_equal(view, y)


# ------------------------------------------------------------------ bilinear upsampling

def _bilinear_1d(n_in, factor):
    """(n_out, n_in) matrix of half-pixel bilinear interpolation (align_corners=False), no edge clamp."""
    n_out = n_in * factor
    c = (np.arange(n_out) + 0.5) / factor - 0.5
    m = np.maximum(0.0, 1.0 - np.abs(c[:, None] - np.arange(n_in)[None, :]))
    interior = (c >= 0) & (c <= n_in - 1)
    return m, interior


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bilinear_upsample_matches_torch_and_interpolation(factor, isa):
    torch = _torch()
    c, h, w = 5, 9, 11
    layer = bilinear_upsample(c, factor)
    k = 2 * factor - factor % 2
    assert layer.kernel_size == (k, k) and layer.stride == (factor, factor)
    assert layer.padding == (math.ceil((factor - 1) / 2),) * 2 and layer.groups == c and layer.bias is None
    # torch with the same (independently built) weights
    og = np.ogrid[:k, :k]
    f = (k + 1) // 2
    center = f - 1 if k % 2 == 1 else f - 0.5
    filt = (1 - abs(og[0] - center) / f) * (1 - abs(og[1] - center) / f)
    np.testing.assert_allclose(bilinear_kernel(factor), filt, rtol=0, atol=1e-7)
    t = torch.nn.ConvTranspose2d(c, c, k, stride=factor, padding=math.ceil((factor - 1) / 2), groups=c, bias=False)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(np.broadcast_to(filt, (c, 1, k, k)).copy()))
    x = np.random.default_rng(factor).standard_normal((2, c, h, w)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, c, h * factor, w * factor)
    with torch.no_grad():
        ty = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5)
    # exact bilinear interpolation (half-pixel centres) away from the borders
    mh, ih = _bilinear_1d(h, factor)
    mw, iw = _bilinear_1d(w, factor)
    expect = np.einsum("oh,nchw,pw->ncop", mh, x.astype(np.float64), mw)
    inside = ih[:, None] & iw[None, :]
    assert inside.sum() > 0.5 * inside.size
    np.testing.assert_allclose(y[:, :, inside], expect[:, :, inside], rtol=1e-5, atol=1e-5)
    # and torch's bilinear interpolate agrees there too
    ti = torch.nn.functional.interpolate(torch.from_numpy(x).double(), scale_factor=factor, mode="bilinear",
                                         align_corners=False).numpy()
    np.testing.assert_allclose(y[:, :, inside], ti[:, :, inside], rtol=1e-5, atol=1e-5)


def test_bilinear_upsample_factor_one_is_identity():
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(bilinear_upsample(3, 1)(x), x)


@pytest.mark.parametrize("args, exc, match", [
    ((0, 2), ValueError, "channels"), ((3, 0), ValueError, "factor"), ((3, 2.0), TypeError, "factor"),
    (("3", 2), TypeError, "channels"),
])
def test_bilinear_upsample_rejects(args, exc, match):
    with pytest.raises(exc, match=match):
        bilinear_upsample(*args)


# ------------------------------------------------------------------ the layer

LAYER_CONFIGS = [
    # in, out, kernel, stride, padding, output_padding, groups, bias, dilation, input (N, H, W)
    (8, 8, 4, 2, 1, 0, 8, False, 1, (2, 7, 9)),
    (4, 6, 3, 2, 1, 1, 2, True, 1, (1, 5, 6)),
    (6, 12, (2, 5), (1, 3), (0, 2), (0, 2), 3, True, (2, 1), (3, 4, 7)),
    (16, 8, 4, 2, 1, 0, 1, True, 1, (1, 6, 6)),
    (3, 9, 5, 3, 2, 2, 3, True, 2, (1, 4, 5)),
]


@pytest.mark.parametrize("cfg", LAYER_CONFIGS)
def test_layer_matches_torch(cfg, isa):
    torch = _torch()
    cin, cout, k, s, p, op, g, bias, d, (n, h, w) = cfg
    np.random.seed(3)
    layer = ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias, dilation=d)
    t = torch.nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias,
                                 dilation=d).double()
    assert tuple(t.weight.shape) == layer.weight.shape
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight.astype(np.float64)))
        if bias:
            t.bias.copy_(torch.from_numpy(layer.bias.astype(np.float64)))
    x = np.random.default_rng(4).standard_normal((n, cin, h, w)).astype(np.float32)
    y = layer(x)
    with torch.no_grad():
        ty = t(torch.from_numpy(x).double()).numpy()
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.forward(x), y)
    out = np.empty_like(y)
    assert layer(x, out=out) is out
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(layer(x[0]), y[0])  # unbatched
    assert layer.plan_info["isa"] == isa
    # torch's state_dict loads (same keys, torch tensors)
    other = ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias, dilation=d)
    other.load_state_dict(t.float().state_dict())
    np.testing.assert_allclose(other(x), y, rtol=1e-5, atol=1e-5)
    assert list(other.state_dict()) == list(t.state_dict())


@pytest.mark.parametrize("cfg", LAYER_CONFIGS)
def test_layer_output_size_like_torch(cfg):
    torch = _torch()
    cin, cout, k, s, p, op, g, bias, d, (n, h, w) = cfg
    layer = ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias, dilation=d)
    t = torch.nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=g, bias=bias,
                                 dilation=d)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight))
        if bias:
            t.bias.copy_(torch.from_numpy(layer.bias))
    x = np.random.default_rng(6).standard_normal((n, cin, h, w)).astype(np.float32)
    sh, sw = layer.stride
    base = layer(x).shape[2:]
    base = (base[0] - layer.output_padding[0], base[1] - layer.output_padding[1])
    for dh in range(sh):
        for dw in range(sw):
            size = (base[0] + dh, base[1] + dw)
            try:
                with torch.no_grad():
                    ty = t(torch.from_numpy(x), output_size=list(size)).numpy()
            except RuntimeError:  # torch's output_padding rule (< stride or < dilation) after picking it
                continue
            y = layer(x, output_size=size)
            np.testing.assert_allclose(y, ty, rtol=1e-4, atol=1e-4)
            np.testing.assert_array_equal(layer(x, output_size=(n, cout) + size), y)  # full-shape form
            np.testing.assert_array_equal(layer(x[0], output_size=(cout,) + size), y[0])
    with pytest.raises(ValueError, match="output_size"):
        layer(x, output_size=(base[0] + sh, base[1]))
    with pytest.raises(ValueError, match="output_size"):
        layer(x, output_size=(base[0] - 1, base[1]))
    with pytest.raises(ValueError, match="output_size"):
        layer(x, output_size=(1, 2, 3))
    with pytest.raises(TypeError, match="output_size"):
        layer(x, output_size=(float(base[0]), base[1]))


def test_layer_defaults_and_repr():
    torch = _torch()
    layer = ConvTranspose2d(4, 8, 3)
    t = torch.nn.ConvTranspose2d(4, 8, 3)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups",
                 "dilation", "padding_mode"):
        assert getattr(layer, name) == getattr(t, name), name
    assert layer.weight.shape == tuple(t.weight.shape) == (4, 8, 3, 3)
    assert layer.bias.shape == (8,) and layer.weight.dtype == np.float32
    for args, kwargs in [((4, 8, 3), {}), ((4, 8, 3), dict(bias=False)),
                         ((4, 8, 3), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2)),
                         ((4, 8, (3, 2)), dict(stride=(2, 1))), ((6, 6, 4), dict(padding=(1, 0), groups=6)),
                         ((2, 4, 1), dict(output_padding=(0, 1), stride=(1, 2)))]:
        assert repr(ConvTranspose2d(*args, **kwargs)) == repr(torch.nn.ConvTranspose2d(*args, **kwargs))
    assert "activation='relu'" in repr(ConvTranspose2d(4, 8, 3, activation="relu"))


@pytest.mark.parametrize("cin, cout, k, groups", [(16, 32, 3, 1), (64, 64, 4, 64), (24, 48, (1, 5), 4),
                                                  (300, 3, 7, 1)])
def test_layer_init_like_torch(cin, cout, k, groups):
    """torch: kaiming_uniform_(a=sqrt(5)) with fan_in = weight.shape[1]*kH*kW = out/groups*kH*kW."""
    torch = _torch()
    np.random.seed(0)
    layer = ConvTranspose2d(cin, cout, k, groups=groups)
    t = torch.nn.ConvTranspose2d(cin, cout, k, groups=groups)
    assert layer.weight.shape == tuple(t.weight.shape) and layer.bias.shape == tuple(t.bias.shape)
    kh, kw = _pair(k)
    bound = 1 / math.sqrt(cout // groups * kh * kw)
    with torch.no_grad():  # torch's own parameters obey (and nearly reach) the same bound
        assert float(t.weight.abs().max()) <= bound and float(t.bias.abs().max()) <= bound
        assert float(t.weight.abs().max()) > 0.9 * bound
    for arr in (layer.weight, layer.bias):
        assert np.abs(arr).max() <= bound
    wv = layer.weight.ravel()
    assert np.abs(wv).max() > 0.95 * bound
    assert abs(wv.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert abs(wv.mean()) < 0.1 * bound
    assert np.abs(layer.bias).max() > 0.25 * bound
    if cin // groups * kh * kw != cout // groups * kh * kw:  # not the Conv2d bound
        wrong = 1 / math.sqrt(cin // groups * kh * kw)
        assert abs(np.abs(wv).max() - bound) < abs(np.abs(wv).max() - wrong)


def test_layer_setters_validate_and_repack(isa):
    layer = ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    x = np.random.default_rng(0).standard_normal((1, 4, 5, 5)).astype(np.float32)
    y = layer(x)
    with pytest.raises(ValueError, match="weight"):
        layer.weight = np.zeros((6, 2, 3, 3), np.float32)  # Conv2d's layout, not ConvTranspose2d's
    with pytest.raises(ValueError, match="weight"):
        layer.weight = np.zeros((4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="bias"):
        layer.bias = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = np.array([["a"]])
    np.testing.assert_array_equal(layer(x), y)  # failed assignments changed nothing
    layer.weight = layer.weight * 2
    np.testing.assert_allclose(layer(x) - layer.bias[None, :, None, None],
                               2 * (y - layer.bias[None, :, None, None]), rtol=1e-5, atol=1e-5)
    layer.bias = None
    assert layer.bias is None
    y2 = layer(x)
    layer.weight[...] = 0  # in place: not seen until prepare()
    np.testing.assert_array_equal(layer(x), y2)
    layer.prepare()
    np.testing.assert_array_equal(layer(x), np.zeros_like(y2))


def test_layer_in_a_traced_model():
    from gconv_cpu.nn import Sequential
    np.random.seed(1)
    model = Sequential(ConvTranspose2d(4, 8, 4, stride=2, padding=1, groups=2),
                       ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1))
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 6)).astype(np.float32)
    graph = model.trace(x.shape)
    assert [n.op for n in graph.nodes] == ["deconv", "deconv"]
    np.testing.assert_allclose(model(x), model[1](model[0](x)), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ validation: Python

def _x():
    return np.zeros((1, 4, 5, 5), np.float32)


def _w(cin=4, cog=3, k=3):
    return np.zeros((cin, cog, k, k), np.float32)


BAD = [
    (lambda: conv_transpose2d(_x(), _w(), stride=0), ValueError, "stride"),
    (lambda: conv_transpose2d(_x(), _w(), stride=-1), ValueError, "stride"),
    (lambda: conv_transpose2d(_x(), _w(), stride=(1, 0)), ValueError, "stride"),
    (lambda: conv_transpose2d(_x(), _w(), stride=1.5), TypeError, "stride"),
    (lambda: conv_transpose2d(_x(), _w(), dilation=0), ValueError, "dilation"),
    (lambda: conv_transpose2d(_x(), _w(), padding=-1), ValueError, "padding"),
    (lambda: conv_transpose2d(_x(), _w(), padding="same"), ValueError, "padding"),
    (lambda: conv_transpose2d(_x(), _w(), padding=(1, 2, 3)), ValueError, "padding"),
    (lambda: conv_transpose2d(_x(), _w(), output_padding=-1), ValueError, "output_padding"),
    (lambda: conv_transpose2d(_x(), _w(), stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: conv_transpose2d(_x(), _w(), stride=2, dilation=2, output_padding=2), ValueError, "output_padding"),
    (lambda: conv_transpose2d(_x(), _w(), output_padding=1), ValueError, "output_padding"),  # stride 1, dil 1
    (lambda: conv_transpose2d(_x(), _w(), stride=(2, 1), output_padding=(1, 1)), ValueError, "output_padding"),
    (lambda: conv_transpose2d(_x(), _w(), groups=3), ValueError, "groups"),
    (lambda: conv_transpose2d(_x(), _w(), groups=0), ValueError, "groups"),
    (lambda: conv_transpose2d(_x(), _w(), groups=1.0), TypeError, "groups"),
    (lambda: conv_transpose2d(_x(), _w(cin=3)), ValueError, "weight"),
    (lambda: conv_transpose2d(_x(), _w(cog=0)), ValueError, "out_channels"),
    (lambda: conv_transpose2d(_x(), np.zeros((4, 3, 3), np.float32)), ValueError, "weight"),
    (lambda: conv_transpose2d(_x(), _w(), np.zeros(2, np.float32)), ValueError, "bias"),
    (lambda: conv_transpose2d(np.zeros((4, 5), np.float32), _w()), ValueError, "x"),
    (lambda: conv_transpose2d(np.zeros((1, 4, 0, 5), np.float32), _w()), ValueError, "x"),
    (lambda: conv_transpose2d(_x(), _w(), padding=4), ValueError, "padding"),  # output size below 1
    (lambda: conv_transpose2d(_x(), _w(), activation="prelu"), ValueError, "activation"),
    (lambda: conv_transpose2d(_x(), _w(), algorithm="dwconv"), ValueError, "algorithm"),
    (lambda: conv_transpose2d(_x(), _w(), out=np.zeros((1, 3, 7, 7), np.float64)), TypeError, "out"),
    (lambda: conv_transpose2d(_x(), _w(), out=np.zeros((1, 3, 6, 7), np.float32)), ValueError, "out"),
    (lambda: conv_transpose2d(_x(), _w(), stride=2**62), SizeOverflowError, "stride"),
    (lambda: conv_transpose2d(_x(), _w(), stride=2**40), SizeOverflowError, "output"),  # 2**42 x 2**42 output
    (lambda: conv_transpose2d(np.zeros((1, 4, 2, 2), np.float32), _w(), stride=(2**33, 2**33)), SizeOverflowError,
     "output"),
    (lambda: ConvTranspose2d(4, 6, 3, groups=4), ValueError, "groups"),
    (lambda: ConvTranspose2d(4, 6, 3, stride=0), ValueError, "stride"),
    (lambda: ConvTranspose2d(4, 6, 3, stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: ConvTranspose2d(4, 6, 0), ValueError, "kernel_size"),
    (lambda: ConvTranspose2d(4, 6, (3,)), ValueError, "kernel_size"),
    (lambda: ConvTranspose2d(0, 6, 3), ValueError, "in_channels"),
    (lambda: ConvTranspose2d(4, 6, 3, padding_mode="reflect"), ValueError, "padding_mode"),
    (lambda: ConvTranspose2d(4, 6, 3, activation="hardswish"), ValueError, "activation"),
    (lambda: ConvTranspose2d(2**31, 2**31, 2**12), SizeOverflowError, "weight"),
    (lambda: ConvTranspose2d(2**20, 2**20, 64), MemoryError, "weight"),  # 2**48 bytes: refused, not allocated
]


@pytest.mark.parametrize("thunk, exc, match", BAD, ids=[f"{i}-{m}" for i, (_, _, m) in enumerate(BAD)])
def test_rejects(thunk, exc, match):
    with pytest.raises(exc) as info:
        thunk()
    assert match in str(info.value), str(info.value)


def test_torch_rejects_the_same_output_padding():
    torch = _torch()
    F = torch.nn.functional
    with pytest.raises(RuntimeError, match="output padding"):
        F.conv_transpose2d(torch.zeros(1, 4, 5, 5), torch.zeros(4, 3, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="output padding"):
        F.conv_transpose2d(torch.zeros(1, 4, 5, 5), torch.zeros(4, 3, 3, 3), stride=2, dilation=2, output_padding=2)
    # ... and accepts output_padding < dilation with stride 1
    assert F.conv_transpose2d(torch.zeros(1, 4, 5, 5), torch.zeros(4, 3, 3, 3), dilation=2,
                              output_padding=1).shape[-1] == 10
    assert conv_transpose2d(_x(), _w(), dilation=2, output_padding=1).shape[-1] == 10


# ------------------------------------------------------------------ validation: the C core

def _spec(**kw):
    s = dict(c_in=4, c_out=6, groups=2, kh=3, kw=3, sh=2, sw=2, dh=1, dw=1, pt=1, pb=1, pl=1, pr=1, oph=1, opw=1,
             cmin=-math.inf, cmax=math.inf)
    s.update(kw)
    return tuple(s.values())


C_BAD = [
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=3), ValueError, "groups"),
    (dict(c_out=5), ValueError, "groups"),
    (dict(c_in=0), ValueError, "in_channels"),
    (dict(c_out=-2), ValueError, "out_channels"),
    (dict(kh=0), ValueError, "kernel_size"),
    (dict(sw=0), ValueError, "stride"),
    (dict(dh=-1), ValueError, "dilation"),
    (dict(pl=-1), ValueError, "padding"),
    (dict(oph=-1), ValueError, "output_padding"),
    (dict(oph=2), ValueError, "output_padding"),         # >= stride 2 and >= dilation 1
    (dict(sw=1, opw=1), ValueError, "output_padding"),
    (dict(cmin=1.0, cmax=0.0), ValueError, "clamp"),
    (dict(cmin=math.nan), ValueError, "clamp"),
    (dict(kh=2**62, dh=4), SizeOverflowError, "kernel_size"),
    (dict(c_in=2**31, groups=1, c_out=2**31, kh=2**10), SizeOverflowError, "weight"),
]


@pytest.mark.parametrize("kw, exc, match", C_BAD, ids=[f"{i}-{m}" for i, (_, _, m) in enumerate(C_BAD)])
def test_c_rejects_spec(kw, exc, match):
    """The C core repeats every check (the spec goes straight to it here)."""
    with pytest.raises(exc) as info:
        _ext.deconv_output_size(_spec(**kw), 1, 5, 5)
    assert match in str(info.value)
    with pytest.raises(exc) as info:
        _ext.DeconvPlan(_spec(**kw), np.zeros(10**6, np.float32), None, 0, 0)
    assert match in str(info.value)


def test_c_rejects_activation_and_algorithm():
    w = np.zeros(4 * 3 * 9, np.float32)
    for act in (3, 4):  # prelu, hardswish: not fused by the deconv
        with pytest.raises(ValueError, match="activation"):
            _ext.DeconvPlan(_spec(), w, None, 0, 0, act)
    with pytest.raises(ValueError, match="activation"):
        _ext.DeconvPlan(_spec(), w, None, 0, 0, 99)
    with pytest.raises(ValueError, match="algorithm"):
        _ext.DeconvPlan(_spec(), w, None, 0, 9)


@pytest.mark.parametrize("batch, h, w, exc, match", [
    (-1, 5, 5, ValueError, "batch"), (1, 0, 5, ValueError, "x"), (1, 5, -3, ValueError, "x"),
    (1, 2**62, 2, SizeOverflowError, "overflow"), (2**40, 2**12, 2**12, SizeOverflowError, "overflow"),
])
def test_c_rejects_geometry(batch, h, w, exc, match):
    with pytest.raises(exc, match=match):
        _ext.deconv_output_size(_spec(), batch, h, w)


def test_c_output_too_small_names_padding():
    with pytest.raises(ValueError, match="padding"):
        _ext.deconv_output_size(_spec(pt=5, pb=5, oph=0, opw=0), 1, 2, 2)
    with pytest.raises(ValueError, match="padding"):
        _ext.deconv_output_size(_spec(pt=2**62, pb=2**62), 1, 2, 2)


def test_c_output_size_agrees_with_python():
    for index, c in enumerate(CONFIGS):
        n, cin, cout, groups, (h, w), k, stride, padding, opad, dilation, has_bias = c
        spec = deconv_spec(cin, cout, k, stride, padding, opad, dilation, groups)
        assert _ext.deconv_output_size(spec + NO_CLAMP, n, h, w) == deconv_geometry((n, cin, h, w), spec)[2:]


def test_c_plan_rejects_buffers():
    spec = _spec()
    w = np.zeros(4 * 3 * 9, np.float32)
    with pytest.raises(ValueError, match="weight"):
        _ext.DeconvPlan(spec, w[:-1], None, 0, 0)
    with pytest.raises(ValueError, match="bias"):
        _ext.DeconvPlan(spec, w, np.zeros(5, np.float32), 0, 0)
    with pytest.raises(TypeError, match="weight"):
        _ext.DeconvPlan(spec, w.astype(np.float64), None, 0, 0)
    plan = _ext.DeconvPlan(spec, w, None, 0, ALGORITHMS.index("gemm"))
    oh, ow, ws = plan.geometry(1, 5, 5, 2)
    assert (oh, ow) == (10, 10) and ws > 0
    x = np.zeros((1, 4, 5, 5), np.float32)
    y = np.zeros((1, 6, oh, ow), np.float32)
    with pytest.raises(ValueError, match="out"):
        plan.run(x, np.zeros((1, 6, oh, ow + 1), np.float32), None, 1)
    with pytest.raises(ValueError, match="out"):
        plan.run(x, np.zeros((1, 5, oh, ow), np.float32), None, 1)
    with pytest.raises(ValueError, match="x"):
        plan.run(np.zeros((1, 3, 5, 5), np.float32), y, None, 1)
    with pytest.raises(ValueError, match="workspace"):
        plan.run(x, y, None, 2)
    buf = np.zeros(ws + 128, np.uint8)
    off = -buf.ctypes.data % 64
    with pytest.raises(ValueError, match="workspace"):
        plan.run(x, y, buf[off + 4:off + 4 + ws], 2)  # misaligned
    with pytest.raises(ValueError, match="workspace"):
        plan.run(x, y, buf[off:off + ws - 64], 2)  # too small
    with pytest.raises(ValueError, match="num_threads"):
        plan.geometry(1, 5, 5, 0)
    with pytest.raises(TypeError, match="x"):
        plan.run(np.zeros((1, 4, 5, 10), np.float32)[:, :, :, ::2], y, buf[off:off + ws], 2)
    plan.run(x, y, buf[off:off + ws], 2)
    assert plan.algorithm == "gemm" and plan.isa == "scalar" and plan.packed_bytes > 0
