"""Numerics: NaN/Inf propagation against torch, on every algorithm, ISA and thread count; subnormals.

NaN/Inf in the INPUT (and bias) must give exactly torch's NaN/+Inf/-Inf masks and its finite values.

NaN/Inf in the WEIGHTS: exactly torch's float64 masks everywhere. A zero-padded conv is a sum over every
tap, padded zeros included, so where a NaN/Inf tap lands on padding the output is NaN (0 * Inf = NaN).
That is torch's float64 answer on every path and its float32 answer on its im2col paths; its float32
oneDNN/depthwise kernels skip padded taps instead (measured, torch 2.13 CPU, 3x3 pad 1, one Inf tap:
groups=1 NaN at the border, groups=C finite, 5x5 stride 2 dense finite), so torch float32 is not one
semantics and float64 is the oracle. Our plans list such taps at creation (src_c/conv/pad_taps.c) and
every algorithm gives the same NaN positions. Transposed convs have no padded input (padding crops the
output): a tap reaches only the outputs a real pixel sends it to, in torch and here.

Subnormals (src_c/common/fpenv.h, gconv_cpu.set_flush_denormal): with the switch on (the default) every
thread of every kernel call runs with FTZ|DAZ, so an all-subnormal input gives exactly the bias on every
path, ISA and thread count; off, subnormals are kept and results match the float64 reference; either way
the caller's MXCSR comes back unchanged, also when the call fails. The speed side (subnormal vs normal
data, every kernel) is `python -m bench denormals`: timings are not unit tests.
"""
import contextlib
import glob
import os
import re
import warnings

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import _ext, nn
from gconv_cpu._deconv import conv_transpose2d as deconv

from reference import conv2d_ref, conv2d_ref_abs, pads4

ISAS = ("scalar", "avx2", "avx512")

# name, n, c_in, h, w, c_out, groups, kernel, stride, padding, dilation, algorithm
CONFIGS = [
    ("dw3x3s1", 1, 8, 9, 11, 8, 8, 3, 1, 1, 1, "dwconv"),
    ("dw5x5s2", 1, 8, 12, 13, 8, 8, 5, 2, 2, 1, "dwconv"),
    ("dw3x3d2-m2", 1, 4, 9, 10, 8, 4, 3, 1, 2, 2, "dwconv"),
    ("gdc7x7", 1, 8, 7, 7, 8, 8, 7, 1, 0, 1, "dwconv"),
    ("grouped_direct", 1, 8, 9, 11, 8, 2, 3, 1, 1, 1, "grouped_direct"),
    ("gemm-im2col", 2, 6, 9, 11, 10, 1, 3, 2, 1, 1, "gemm"),
    ("gemm-1x1", 1, 12, 5, 9, 20, 1, 1, 1, 0, 1, "gemm"),
    ("reference", 1, 6, 7, 8, 6, 3, 3, 1, 1, 1, "reference"),
    # a first layer: the direct 3x3 stride-2 kernel on AVX-512, else the GEMM
    ("first-layer-auto", 2, 3, 11, 13, 16, 1, 3, 2, 1, 1, "auto"),
]
IDS = [c[0] for c in CONFIGS]


def _torch():
    return pytest.importorskip("torch", reason="torch is the oracle for NaN/Inf propagation")


def _data(cfg, seed):
    _, n, cin, h, w, cout, g, k, *_ = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    return x, wt, b


def _ours(cfg, x, w, b, isa, activation=None):
    name, *_, s, p, d, algo = cfg
    if isa not in gconv_cpu.available_isas():
        pytest.skip(f"CPU lacks {isa}")
    saved = gconv_cpu.get_isa()
    gconv_cpu.set_isa(isa)
    try:
        return gconv_cpu.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=cfg[6], algorithm=algo,
                                activation=activation)
    finally:
        gconv_cpu.set_isa(saved)


def _theirs(torch, cfg, x, w, b, activation=None, dtype=None):
    *_, s, p, d, _algo = cfg
    F = torch.nn.functional
    dtype = dtype or torch.float32
    t = lambda a: torch.from_numpy(np.asarray(a)).to(dtype)  # noqa: E731
    with torch.no_grad():
        y = F.conv2d(t(x), t(w), t(b), stride=s, padding=p, dilation=d, groups=cfg[6])
        if activation == "relu":
            y = F.relu(y)
        elif activation == "hardswish":
            y = F.hardswish(y)
    return y.numpy()


def _assert_same_specials(y, ref, what):
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref), err_msg=f"{what}: NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(ref), err_msg=f"{what}: +Inf positions differ")
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(ref), err_msg=f"{what}: -Inf positions differ")


def _assert_finite_close(y, ref64, what, scale):
    fin = np.isfinite(ref64)
    err = np.abs(y[fin].astype(np.float64) - ref64[fin])
    assert np.all(err <= 1e-5 * (scale[fin] + 1e-30)), f"{what}: finite values off by up to {err.max():.3g}"


@pytest.mark.parametrize("activation", [None, "relu", "hardswish"])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_nonfinite_input_like_torch(cfg, isa, activation):
    torch = _torch()
    x, w, b = _data(cfg, 1)
    n, c, h, wd = x.shape
    x[0, 0, h // 2, wd // 2] = np.nan                 # interior
    x[0, 1 % c, 0, 0] = np.inf                        # corner: reached by border windows only
    x[-1, 2 % c, h - 1, wd - 1] = -np.inf             # the opposite corner
    x[0, 3 % c, h // 2, 0] = np.inf                   # +Inf and -Inf in one window: NaN
    x[0, 3 % c, h // 2, 1] = -np.inf
    b[-1] = np.inf if activation is None else b[-1]   # Inf bias: the whole channel
    y = _ours(cfg, x, w, b, isa, activation)
    ref32 = _theirs(torch, cfg, x, w, b, activation)
    ref64 = _theirs(torch, cfg, x, w, b, activation, torch.float64)
    what = f"{cfg[0]}/{isa}/{activation}"
    assert np.isnan(ref32).any(), "the case must produce NaN"
    assert activation is not None or np.isinf(ref32).any(), "the case must produce Inf"
    _assert_same_specials(y, ref32, what + " vs torch float32")
    _assert_same_specials(y, ref64, what + " vs torch float64")
    scale = np.abs(_theirs(torch, cfg, np.nan_to_num(np.abs(x), posinf=0), np.abs(w), np.abs(np.nan_to_num(b, posinf=0)),
                           None, torch.float64)) * 3 + 1
    _assert_finite_close(y, ref64, what, scale)


def _nonfinite_weight_case(cfg, value):
    """One non-finite top-left tap per 'marked' output channel; returns x, w, b, the marked channels and
    the (n, c_out, oh, ow) mask of outputs where that tap lands on padding (implementation-defined)."""
    name, n, cin, h, wd, cout, g, k, s, p, d, algo = cfg
    x, w, b = _data(cfg, 2)
    marked = [0, cout - 1]
    for co in marked:
        w[co, 0, 0, 0] = value
    pads = pads4(p, k, d)
    y0 = conv2d_ref(x, np.zeros_like(w), None, s, pads, d, g)
    oh, ow = y0.shape[2:]
    iy = np.arange(oh) * s - pads[0]  # the top-left tap's input row/column
    ix = np.arange(ow) * s - pads[2]
    on_pad = ~((iy >= 0) & (iy < h))[:, None] | ~((ix >= 0) & (ix < wd))[None, :]
    amb = np.zeros(y0.shape, bool)
    for co in marked:
        amb[:, co] = on_pad
    return x, w, b, marked, amb, pads


VALUES = pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])


@VALUES
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_nonfinite_weight_like_torch(cfg, isa, value):
    torch = _torch()
    x, w, b, marked, amb, pads = _nonfinite_weight_case(cfg, value)
    y = _ours(cfg, x, w, b, isa)
    ref64 = _theirs(torch, cfg, x, w, b, dtype=torch.float64)
    what = f"{cfg[0]}/{isa}/w={value}"
    _assert_same_specials(y, ref64, what + " vs torch float64")
    if amb.any():
        assert np.isnan(y[amb]).all(), f"{what}: a non-finite tap on padding must give NaN (0 * Inf)"
    # where the tap meets a real pixel, torch float32 agrees too (x is never 0: Inf * x is +-Inf)
    _assert_same_specials(y[~amb], _theirs(torch, cfg, x, w, b)[~amb], what + " vs torch float32")
    w_skip = w.copy()
    w_skip[marked, 0, 0, 0] = 0
    absref = conv2d_ref_abs(x, w_skip, b, cfg[8], pads, cfg[10], cfg[6])
    finite = np.isfinite(ref64)
    ref = conv2d_ref(x, np.where(np.isfinite(w), w, 0), b, cfg[8], pads, cfg[10], cfg[6])
    err = np.abs(y[finite] - ref[finite])
    assert np.all(err <= 1e-5 * (absref[finite] + 1e-30)), what


# Convs with padding for every algorithm (the auto choice included) and padding form:
# name, n, c_in, h, w, c_out, groups, kernel, stride, padding, dilation
BORDER_CONVS = [
    ("dw3x3s1", 1, 8, 9, 9, 8, 8, 3, 1, 1, 1),
    ("dw5x5s2-m2", 1, 4, 11, 10, 8, 4, 5, 2, 2, 1),
    ("dw3x3d2", 1, 8, 9, 10, 8, 8, 3, 1, 2, 2),
    ("grouped3x3", 1, 8, 9, 11, 8, 2, 3, 1, 1, 1),
    ("dense3x3-16", 1, 16, 10, 9, 8, 1, 3, 1, 1, 1),
    ("dense5x5-16", 1, 16, 10, 9, 8, 1, 5, 1, 2, 1),
    ("dense3x3s2-asym", 2, 6, 9, 8, 10, 1, (3, 2), 2, (1, 0), 1),
    ("first3x3s2", 2, 3, 11, 13, 16, 1, 3, 2, 1, 1),  # auto: the direct stride-2 kernel on AVX-512
    ("same4x4", 1, 6, 7, 9, 6, 3, 4, 1, "same", 1),
]
ALGORITHMS = ("auto", "reference", "dwconv", "gemm", "grouped_direct", "winograd")


def _runnable(cfg, algo):
    _, n, cin, h, w, cout, g, k, s, p, d = cfg
    kh, kw = (k, k) if isinstance(k, int) else k
    if algo == "dwconv":
        return g == cin
    if algo == "grouped_direct":
        return g > 1 and cin // g > 1 and s == 1 and kh * kw > 1
    if algo == "winograd":
        return kh == kw and kh in (3, 5) and s == 1 and d == 1 and p == kh // 2 and cin // g >= 16
    return True


@VALUES
def test_nonfinite_weight_on_padding_same_on_every_path(value, restore_threads):
    """NaN/Inf taps in several output channels and tap positions (corners, edges, centre): every ISA x
    algorithm x thread count gives exactly torch float64's NaN/+Inf/-Inf masks, NaN wherever one lands on
    padding (0 * Inf), and the same finite values as the finite-weight paths."""
    torch = _torch()
    checked = set()
    for cfg in BORDER_CONVS:
        name, n, cin, h, wd, cout, g, k, s, p, d = cfg
        kh, kw = (k, k) if isinstance(k, int) else k
        rng = np.random.default_rng(11)
        x = rng.standard_normal((n, cin, h, wd)).astype(np.float32)
        w = rng.standard_normal((cout, cin // g, kh, kw)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        w[0, 0, 0, 0] = value                      # top-left: lands on the top and left padding
        w[cout - 1, -1, kh - 1, kw // 2] = value   # bottom-centre, last input channel
        w[cout // 2, 0, kh // 2, kw - 1] = value   # right edge
        with warnings.catch_warnings():  # torch: 'same' with an even kernel pads a copy (fine here)
            warnings.simplefilter("ignore", UserWarning)
            ref = torch.nn.functional.conv2d(*(torch.from_numpy(a).double() for a in (x, w, b)), stride=s,
                                             padding=p, dilation=d, groups=g).numpy()
        assert np.isnan(ref).any() and np.isfinite(ref).any()
        finite = np.isfinite(ref)
        for algo in ALGORITHMS:
            if not _runnable(cfg, algo):
                continue
            for isa in gconv_cpu.available_isas():
                for threads in (1, 2):
                    gconv_cpu.set_num_threads(threads)
                    c = ("", n, cin, h, wd, cout, g, k, s, p, d, algo)
                    y = _ours(c, x, w, b, isa)
                    what = f"{name}/{algo}/{isa}/{threads}T/w={value}"
                    _assert_same_specials(y, ref, what)
                    np.testing.assert_allclose(y[finite], ref[finite], rtol=1e-4, atol=1e-4, err_msg=what)
                    checked.add(algo)
    assert checked == set(ALGORITHMS)


@VALUES
@pytest.mark.parametrize("algo", ["gemm", "dwconv", "winograd"])
def test_nonfinite_weight_on_padding_fused(value, algo):
    """With a fused activation and with a residual (a planned model's conv + add + ReLU) the outputs
    where the tap meets padding stay NaN, as torch's relu(NaN) and NaN + r are."""
    torch = _torch()
    c, g = (16, 1) if algo != "dwconv" else (16, 16)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, c, 8, 8)).astype(np.float32)
    w = rng.standard_normal((c, c // g, 3, 3)).astype(np.float32)
    w[3, 0, 0, 0] = value
    F = torch.nn.functional
    x64 = torch.from_numpy(x).double()
    conv = F.conv2d(x64, torch.from_numpy(w).double(), padding=1, groups=g)
    y = gconv_cpu.conv2d(x, w, padding=1, groups=g, algorithm=algo, activation="relu")
    _assert_same_specials(y, F.relu(conv).numpy(), f"{algo} relu")
    assert np.isnan(y).any()
    _assert_same_specials(_ResidualBlock(c, g, w, algo)(x), F.relu(conv + x64).numpy(), f"{algo} residual")


class _ResidualBlock(nn.Module):
    def __init__(self, c, g, w, algo):
        self.conv = nn.Conv2d(c, c, 3, padding=1, groups=g, bias=False, algorithm=algo)
        self.conv.weight = w
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x) + x)


# name, n, c_in, h, w, c_out, groups, kernel, stride, padding, output_padding, dilation
DECONVS = [
    ("dw-k4s2p1", 1, 8, 6, 7, 8, 8, 4, 2, 1, 0, 1),
    ("g2-k3s2p1-op1", 1, 8, 5, 6, 6, 2, 3, 2, 1, 1, 1),
    ("dense-k3s1p1", 1, 6, 6, 5, 4, 1, 3, 1, 1, 0, 1),
    ("dense-k3s3p0-d2", 2, 4, 4, 5, 6, 1, 3, 3, 0, 0, 2),
]


@VALUES
def test_nonfinite_weight_deconv_like_torch(value, restore_threads):
    """Transposed convs: exactly torch's masks (float32 and float64 agree there) on every ISA x algorithm
    x thread count: a tap reaches only the outputs that real input pixels send it to, never padding."""
    torch = _torch()
    for name, n, cin, h, wd, cout, g, k, s, p, op, d in DECONVS:
        rng = np.random.default_rng(13)
        x = rng.standard_normal((n, cin, h, wd)).astype(np.float32)
        w = rng.standard_normal((cin, cout // g, k, k)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        w[0, 0, 0, 0] = value
        w[cin - 1, -1, k - 1, k // 2] = value
        refs = [torch.nn.functional.conv_transpose2d(*(torch.from_numpy(a).to(dt) for a in (x, w, b)), stride=s,
                                                     padding=p, output_padding=op, groups=g, dilation=d).numpy()
                for dt in (torch.float64, torch.float32)]
        assert np.isfinite(refs[0]).any() and not np.isfinite(refs[0]).all()
        for algo in ("reference", "gemm", "direct"):
            for isa in gconv_cpu.available_isas():
                for threads in (1, 2):
                    gconv_cpu.set_num_threads(threads)
                    saved = gconv_cpu.get_isa()
                    gconv_cpu.set_isa(isa)
                    try:
                        y = deconv(x, w, b, s, p, op, g, d, algorithm=algo)
                    finally:
                        gconv_cpu.set_isa(saved)
                    for ref, dt in zip(refs, ("float64", "float32")):
                        _assert_same_specials(y, ref, f"{name}/{algo}/{isa}/{threads}T/w={value} vs torch {dt}")


# ------------------------------------------------------------------------------ subnormals (FTZ/DAZ)

MXCSR = _ext.flush_denormal_supported()
needs_mxcsr = pytest.mark.skipif(not MXCSR, reason="FTZ/DAZ are x86 MXCSR bits; elsewhere the switch is a no-op")
FTZ, DAZ, ROUND_TO_ZERO, FLAGS = 0x8000, 0x0040, 0x6000, 0x003F
TINY = float(np.finfo(np.float32).tiny)  # FLT_MIN, the smallest normal float32
SUB_ULP = 2.0 ** -149  # the spacing of float32 subnormals


@contextlib.contextmanager
def caller_mxcsr(bits):
    """The calling thread's MXCSR with its FTZ, DAZ and rounding bits replaced by `bits` for the block
    (torch.set_flush_denormal(True) sets FTZ|DAZ in the caller like this)."""
    saved = _ext.fpenv_get()
    _ext.fpenv_set((saved & ~(FTZ | DAZ | ROUND_TO_ZERO)) | bits)
    try:
        yield
    finally:
        _ext.fpenv_set(saved)


def _subnormal(rng, shape):
    """float32 values spread over the subnormal range, both signs, never 0."""
    x = (rng.uniform(0.05, 1.0, shape) * TINY * rng.choice([-1.0, 1.0], shape)).astype(np.float32)
    assert np.all((x != 0) & (np.abs(x) < TINY))
    return x


# Every conv path, sized so that 2 threads split the work:
# name, n, c_in, c_out, kernel, stride, padding, dilation, groups, size, algorithm
SUBNORMAL_CONVS = [
    ("dwconv-3x3s1", 1, 32, 32, 3, 1, 1, 1, 32, 40, "dwconv"),
    ("dwconv-5x5s2-m2", 1, 16, 32, 5, 2, 2, 1, 16, 40, "dwconv"),
    ("dwconv-generic-d2", 1, 32, 32, 3, 1, 2, 2, 32, 40, "dwconv"),
    ("gdc-7x7", 2, 512, 512, 7, 1, 0, 1, 512, 7, "dwconv"),
    ("grouped_direct", 1, 64, 64, 3, 1, 1, 1, 16, 24, "grouped_direct"),
    ("gemm-im2col", 1, 32, 48, 3, 2, 1, 1, 1, 24, "gemm"),
    ("gemm-1x1", 1, 64, 64, 1, 1, 0, 1, 1, 24, "gemm"),
    ("winograd-3x3", 1, 32, 32, 3, 1, 1, 1, 1, 24, "winograd"),
    ("winograd-5x5", 1, 16, 16, 5, 1, 2, 1, 1, 20, "winograd"),
    ("reference", 1, 8, 8, 3, 1, 1, 1, 2, 20, "reference"),
]
SUB_IDS = [c[0] for c in SUBNORMAL_CONVS]


def _subnormal_conv(cfg, isa, threads, x, w, b):
    _, n, cin, cout, k, s, p, d, g, hw, algo = cfg
    if isa not in gconv_cpu.available_isas():
        pytest.skip(f"CPU lacks {isa}")
    layer = nn.Conv2d(cin, cout, k, s, p, d, g, bias=b is not None, algorithm=algo)
    layer.weight = w
    if b is not None:
        layer.bias = b
    saved = gconv_cpu.get_isa(), gconv_cpu.get_num_threads()
    gconv_cpu.set_isa(isa)
    gconv_cpu.set_num_threads(threads)
    try:
        y = layer(x)
        assert layer._op.algorithm == algo
        return y
    finally:
        gconv_cpu.set_isa(saved[0])
        gconv_cpu.set_num_threads(saved[1])


@needs_mxcsr
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cfg", SUBNORMAL_CONVS, ids=SUB_IDS)
def test_flush_on_subnormal_input_gives_the_bias(cfg, isa, threads, restore_threads, flush_denormal):
    """Switch on (the default), a caller without FTZ/DAZ: an all-subnormal input reads as zero (DAZ) in
    every thread, so the output is exactly the bias. Half the biases are 0: there a thread that kept the
    subnormals would write their (subnormal) sum instead of 0."""
    _, n, cin, cout, k, s, p, d, g, hw, algo = cfg
    rng = np.random.default_rng(7)
    x = _subnormal(rng, (n, cin, hw, hw))
    w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
    b = np.where(np.arange(cout) % 2 == 0, 0.0, rng.standard_normal(cout)).astype(np.float32)
    flush_denormal(True)
    with caller_mxcsr(0):
        y = _subnormal_conv(cfg, isa, threads, x, w, b)
    np.testing.assert_array_equal(y, np.broadcast_to(b[None, :, None, None], y.shape))
    # the same data with the switch off keeps the subnormal sums (the case can fail)
    flush_denormal(False)
    kept = _subnormal_conv(cfg, isa, threads, x, w, b)
    assert np.count_nonzero(kept[:, ::2]) > 0.9 * kept[:, ::2].size


@needs_mxcsr
@pytest.mark.parametrize("caller_bits", [0, FTZ | DAZ], ids=["caller-ieee", "caller-ftz-daz"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cfg", SUBNORMAL_CONVS, ids=SUB_IDS)
def test_flush_off_keeps_subnormals(cfg, isa, threads, caller_bits, restore_threads, flush_denormal):
    """Switch off: subnormal inputs and products are computed as IEEE does (as torch does by default),
    even when the caller's thread has FTZ|DAZ set: the float64 reference within a few subnormal ulps per
    multiply-add (plus the usual relative bound where sums leave the subnormal range)."""
    _, n, cin, cout, k, s, p, d, g, hw, algo = cfg
    rng = np.random.default_rng(8)
    x = _subnormal(rng, (n, cin, hw, hw))
    w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
    flush_denormal(False)
    with caller_mxcsr(caller_bits):
        y = _subnormal_conv(cfg, isa, threads, x, w, None)
    pads = pads4(p, k, d)
    ref = conv2d_ref(x, w, None, s, pads, d, g)
    scale = conv2d_ref_abs(x, w, None, s, pads, d, g)
    taps = (cin // g) * k * k
    # Winograd's transforms add and scale subnormals before the products: a few more roundings per tap
    bound = 1e-5 * scale + (64 if algo == "winograd" else 2) * taps * SUB_ULP
    err = np.abs(y.astype(np.float64) - ref)
    assert np.all(err <= bound), f"off by up to {err.max():.3g} (bound {bound.min():.3g}..{bound.max():.3g})"
    assert np.count_nonzero(y) > 0.9 * y.size  # flushed to zero would be off by |ref| ~ FLT_MIN


def _public_calls():
    """One call of every public entry point that computes, each with data that has subnormals."""
    F = gconv_cpu.functional
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 12, 12)).astype(np.float32)
    x[0, 0] = _subnormal(rng, (12, 12))
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16),
                          nn.AvgPool2d(2), nn.Hardswish())
    calls = {f"conv2d-{a}": (lambda a=a: gconv_cpu.conv2d(x, w, None, padding=1, groups=8, algorithm=a))
             for a in ("dwconv", "gemm", "reference")}
    calls.update({
        "conv_transpose2d": lambda: gconv_cpu.conv_transpose2d(x, np.ones((8, 2, 3, 3), np.float32), stride=2),
        "avg_pool2d": lambda: F.avg_pool2d(x, 3, 1, 1),
        "max_pool2d": lambda: F.max_pool2d(x, 2),
        "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(x, 1),
        "adaptive_avg_pool2d-3": lambda: F.adaptive_avg_pool2d(x, 3),
        "channel_shuffle": lambda: F.channel_shuffle(x, 2),
        "sigmoid": lambda: F.sigmoid(x),
        "add": lambda: x + F.relu(x),
        "cat": lambda: F.cat([x, x]),
        "softmax": lambda: F.softmax(x.reshape(1, -1), dim=1),
        "interpolate": lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
        "model": lambda: model(x),
    })
    return calls


@needs_mxcsr
@pytest.mark.parametrize("mode", [True, False])
@pytest.mark.parametrize("caller_bits", [0, FTZ | DAZ, DAZ | ROUND_TO_ZERO], ids=["ieee", "ftz-daz", "daz-rz"])
@pytest.mark.parametrize("threads", [1, 2])
def test_calls_leave_the_callers_mxcsr_alone(threads, caller_bits, mode, restore_threads, flush_denormal):
    """Every entry point restores the calling thread's FTZ, DAZ and rounding bits, whatever the switch."""
    gconv_cpu.set_num_threads(threads)
    calls = _public_calls()  # (its data first: NumPy's float32 casts flush too under a caller's FTZ)
    flush_denormal(mode)
    with caller_mxcsr(caller_bits):
        before = _ext.fpenv_get()
        for name, call in calls.items():
            call()
            after = _ext.fpenv_get()
            # (NumPy work around the C call may raise sticky flags: compare the control bits)
            assert after & ~FLAGS == before & ~FLAGS, f"{name}: MXCSR {before:#06x} -> {after:#06x}"


@needs_mxcsr
@pytest.mark.parametrize("mode", [True, False])
def test_mxcsr_restored_exactly_and_after_an_error(mode, flush_denormal):
    """At the C boundary (no NumPy around it) the whole MXCSR comes back, sticky flags included, also
    from a call that the C core refuses after entering its floating-point scope."""
    spec = (8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, -np.inf, np.inf)  # depthwise: runs without a workspace
    plan = _ext.ConvPlan(spec, np.ones((8, 1, 3, 3), np.float32), None, _ext.ISA_NAMES.index(gconv_cpu.get_isa()),
                         _ext.ALGO_NAMES.index("dwconv"))
    x = np.full((1, 8, 6, 6), 1e-39, np.float32)  # subnormal: the kernels would raise the denormal flag
    good, bad = np.empty((1, 8, 6, 6), np.float32), np.empty((1, 8, 5, 6), np.float32)
    flush_denormal(mode)
    with caller_mxcsr(DAZ | ROUND_TO_ZERO):
        for y in (good, bad, good, bad):
            before = _ext.fpenv_get()
            try:
                plan.run(x, y, None, 2)
            except ValueError as e:
                assert y is bad and "spatial size" in str(e)
            else:
                assert y is good
            assert _ext.fpenv_get() == before


@needs_mxcsr
def test_switch_api_like_torch(flush_denormal):
    assert gconv_cpu.get_flush_denormal() is True  # the default
    flush_denormal(False)
    assert gconv_cpu.get_flush_denormal() is False
    assert gconv_cpu.set_flush_denormal(np.bool_(True)) is True and gconv_cpu.get_flush_denormal() is True
    for bad in (1, 0, 1.0, "yes", None):
        with pytest.raises(TypeError, match="mode must be a bool"):
            gconv_cpu.set_flush_denormal(bad)
    assert gconv_cpu.get_flush_denormal() is True
    assert gconv_cpu.cpu_info()["flush_denormal"] is True


@needs_mxcsr
def test_fpenv_set_refuses_other_bits():
    """The test helper may change only FTZ, DAZ, rounding and flags: reserved bits would fault and
    unmasked exceptions would trap."""
    csr = _ext.fpenv_get()
    for bit in (0x0080, 0x1000, 0x10000, 1 << 31):  # an exception mask, another, reserved bits
        with pytest.raises(ValueError, match="csr"):
            _ext.fpenv_set(csr ^ bit)
    assert _ext.fpenv_get() == csr


@needs_mxcsr
@pytest.mark.parametrize("mode", [True, False])
def test_avg_pool_flushes_like_the_convs(mode, flush_denormal):
    """The other operators follow the switch too (pooling sums subnormals)."""
    rng = np.random.default_rng(4)
    x = _subnormal(rng, (1, 4, 16, 16))
    flush_denormal(mode)
    with caller_mxcsr(0 if mode else FTZ | DAZ):
        y = gconv_cpu.functional.avg_pool2d(x, 2)
    if mode:
        assert not y.any()
    else:
        ref = x.astype(np.float64).reshape(1, 4, 8, 2, 8, 2).mean(axis=(3, 5))
        assert np.all(np.abs(y - ref) <= 2 * SUB_ULP) and np.count_nonzero(y) > 0.9 * y.size


FP_REGION = re.compile(r"^\s*#pragma omp parallel\b")


def test_every_parallel_region_adopts_the_callers_mode():
    """Static check: MXCSR is per thread, so the body of every OpenMP parallel region in the C core must
    start with GCONV_FPENV_ADOPT (fpenv.h). src_c/bench is the roofline probe, not a kernel. The kernels'
    loops all go through gconv_parallel_for, whose region and the forward-long team's are one
    (common/team.c: run_region); the two references keep plain regions."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src_c")
    missing, regions = [], {}
    for path in glob.glob(os.path.join(root, "**", "*.[ch]"), recursive=True):
        if os.sep + "bench" + os.sep in path:
            continue
        lines = open(path).read().splitlines()
        for i, line in enumerate(lines):
            if FP_REGION.search(line):
                name = os.path.relpath(path, root).replace(os.sep, "/")
                regions[name] = regions.get(name, 0) + 1
                body = "\n".join(lines[i + 1:i + 5])
                if "GCONV_FPENV_ADOPT(" not in body:
                    missing.append(f"{name}:{i + 1}")
    assert regions == {"common/team.c": 1, "ref/conv2d_reference.c": 1, "deconv/deconv_reference.c": 1}, regions
    assert not missing, f"parallel regions without GCONV_FPENV_ADOPT: {missing}"
