"""Numerics: NaN/Inf propagation against torch, on every algorithm and ISA; subnormal (denormal) speed.

NaN/Inf in the INPUT (and bias) must give exactly torch's NaN/+Inf/-Inf masks and its finite values.

NaN/Inf in the WEIGHTS: where a non-finite tap lands on an input pixel, exactly torch. Where it lands on
zero padding the result is implementation-defined, in torch too: IEEE says 0 * Inf = NaN if the padded
zero is multiplied (torch's im2col/GEMM paths: dense convs, depthwise with a multiplier), but kernels that
skip padded taps give the finite sum of the other taps (torch's depthwise/grouped kernels). Measured with
torch 2.13 CPU, float32, 3x3 pad 1, one Inf tap: groups=1 -> NaN at the border, groups=C (m=1) -> finite.
So there, either answer is accepted (the finite one must be the skip value). Our kernels are not
consistent with each other either: see test_nonfinite_weight_border_semantics_agree (strict xfail).

Subnormals: every kernel (each algorithm x ISA, 1 thread) is timed on normal vs subnormal inputs and
weights (medians of interleaved runs). FTZ/DAZ is not set by conv_plan.c today, and this machine slows
down by far more than 2x (measured 15-144x), so test_subnormal_slowdown xfails with the measured table
until it is; src_c/common/fpenv.h has the helpers, and test_subnormals_fast_with_ftz_daz shows (through
that header, compiled into a ctypes shim that sets MXCSR in the calling thread) that with FTZ|DAZ every
kernel is within 2x of normal speed.
"""
import ctypes
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings

import numpy as np
import pytest

import gconv_cpu

from reference import conv2d_ref, conv2d_ref_abs, pads4

ISAS = ("scalar", "avx2", "avx512")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_nonfinite_weight_like_torch(cfg, isa, value):
    torch = _torch()
    x, w, b, marked, amb, pads = _nonfinite_weight_case(cfg, value)
    y = _ours(cfg, x, w, b, isa)
    ref32 = _theirs(torch, cfg, x, w, b)
    what = f"{cfg[0]}/{isa}/w={value}"
    # where the tap meets a real pixel: exactly torch (x is never 0, so Inf * x is +-Inf, never NaN)
    sure = ~amb
    _assert_same_specials(y[sure], ref32[sure], what)
    # where it meets padding: NaN (0 * Inf) or the sum of the other taps (the tap skipped)
    w_skip = w.copy()
    w_skip[marked, 0, 0, 0] = 0
    skip = conv2d_ref(x, w_skip, b, cfg[8], pads, cfg[10], cfg[6])
    absref = conv2d_ref_abs(x, w_skip, b, cfg[8], pads, cfg[10], cfg[6])
    ya = y[amb].astype(np.float64)
    ok = np.isnan(ya) | (np.abs(ya - skip[amb]) <= 1e-5 * absref[amb])
    assert ok.all(), f"{what}: {int((~ok).sum())} border outputs are neither NaN nor the skipped-tap value"
    finite = sure & np.isfinite(ref32)
    ref = conv2d_ref(x, np.where(np.isfinite(w), w, 0), b, cfg[8], pads, cfg[10], cfg[6])
    err = np.abs(y[finite] - ref[finite])
    assert np.all(err <= 1e-5 * (absref[finite] + 1e-30)), what


@pytest.mark.xfail(strict=True, reason="known (C kernels): where a NaN/Inf weight tap lands on zero padding, the "
                   "scalar GEMM (im2col) multiplies the padded zero (NaN), the reference and the scalar "
                   "dwconv/grouped-direct kernels skip it (finite), and the AVX2/AVX-512 dwconv/grouped-direct "
                   "kernels skip padded rows but multiply padded columns (masked loads); results differ by "
                   "ISA and algorithm. Remove this marker when one semantics is chosen.")
def test_nonfinite_weight_border_semantics_agree():
    """Same conv, every ISA x algorithm that can run it: the NaN masks should be identical."""
    cfg = ("dw3x3s1", 1, 8, 9, 9, 8, 8, 3, 1, 1, 1, "auto")
    x, w, b, *_ = _nonfinite_weight_case(cfg, np.inf)
    masks = {}
    for isa in gconv_cpu.available_isas():
        for algo in ("dwconv", "grouped_direct", "gemm", "reference"):
            c = cfg[:-1] + (algo,)
            masks[(isa, algo)] = np.isnan(_ours(c, x, w, b, isa))
    first = next(iter(masks.values()))
    differ = {k: int(m.sum()) for k, m in masks.items() if not np.array_equal(m, first)}
    assert not differ, f"NaN counts differ from {next(iter(masks))} ({int(first.sum())}): {differ}"


# ------------------------------------------------------------------------------ subnormals

def _under_asan():
    with open("/proc/self/maps") as f:
        return "libasan" in f.read()


# name, c_in, c_out, kernel, stride, padding, dilation, groups, size, algorithm; ~0.05-2 ms per call
SPEED = [
    ("dwconv-3x3s1", 32, 32, 3, 1, 1, 1, 32, 48, "dwconv"),
    ("dwconv-generic", 32, 32, 3, 1, 2, 2, 32, 48, "dwconv"),
    ("gdc-7x7", 512, 512, 7, 1, 0, 1, 512, 7, "dwconv"),
    ("grouped_direct", 64, 64, 3, 1, 1, 1, 16, 24, "grouped_direct"),
    ("gemm-im2col", 32, 64, 3, 1, 1, 1, 1, 20, "gemm"),
    ("gemm-1x1", 64, 64, 1, 1, 0, 1, 1, 24, "gemm"),
    ("reference", 8, 8, 3, 1, 1, 1, 2, 14, "reference"),
]
SLOWDOWN_BOUND = 2.0


def _slowdowns(isas, rounds=7):
    """{(isa, name): (normal ms, x-subnormal ratio, w-subnormal ratio)}: medians of interleaved runs, 1 thread."""
    from gconv_cpu import _threads

    saved = gconv_cpu.get_isa(), _threads._num_threads
    gconv_cpu.set_num_threads(1)
    out = {}
    try:
        for isa in isas:
            gconv_cpu.set_isa(isa)
            for name, cin, cout, k, s, p, d, g, hw, algo in SPEED:
                rng = np.random.default_rng(5)
                x = rng.standard_normal((1, cin, hw, hw)).astype(np.float32)
                w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
                xs, ws = (x * np.float32(1e-39)), (w * np.float32(1e-39))  # |.| < FLT_MIN: subnormal
                assert np.all(np.abs(xs[xs != 0]) < np.finfo(np.float32).tiny)
                variants = {"normal": (x, w), "x": (xs, w), "w": (x, ws)}
                kw = dict(stride=s, padding=p, dilation=d, groups=g, algorithm=algo)
                times = {v: [] for v in variants}
                for v, (a, bb) in variants.items():
                    gconv_cpu.conv2d(a, bb, None, **kw)  # plan and warm
                for _ in range(rounds):
                    for v, (a, bb) in variants.items():
                        t0 = time.perf_counter()
                        gconv_cpu.conv2d(a, bb, None, **kw)
                        times[v].append(time.perf_counter() - t0)
                med = {v: float(np.median(t)) for v, t in times.items()}
                out[(isa, name)] = (med["normal"] * 1e3, med["x"] / med["normal"], med["w"] / med["normal"])
    finally:
        gconv_cpu.set_isa(saved[0])
        _threads._num_threads = saved[1]
    return out


def _table(res):
    return "\n".join(f"  {isa:7s} {name:15s} normal {ms:7.3f} ms   subnormal x: x{rx:6.2f}   subnormal w: x{rw:6.2f}"
                     for (isa, name), (ms, rx, rw) in res.items())


def _library_flushes():
    """Whether conv2d flushes subnormals (FTZ/DAZ in effect): 1e-39 * 1 through a 1x1 conv."""
    y = gconv_cpu.conv2d(np.full((1, 1, 1, 1), 1e-39, np.float32), np.ones((1, 1, 1, 1), np.float32),
                         algorithm="gemm")
    return float(y.ravel()[0]) == 0.0


@pytest.mark.skipif(_under_asan(), reason="timings of an ASan-instrumented build mean nothing")
def test_subnormal_slowdown():
    """Subnormal inputs or weights must not slow any kernel by more than 2x (medians, interleaved)."""
    res = _slowdowns(gconv_cpu.available_isas())
    print("\nsubnormal slowdown (1 thread, medians of 7 interleaved runs):\n" + _table(res))
    bad = {k: v for k, v in res.items() if max(v[1], v[2]) > SLOWDOWN_BOUND}
    if bad and not _library_flushes():
        pytest.xfail(f"conv_plan.c does not set FTZ/DAZ (src_c/common/fpenv.h): {len(bad)} of {len(res)} "
                     f"kernels are > {SLOWDOWN_BOUND}x slower on subnormals:\n{_table(bad)}")
    assert not bad, f"> {SLOWDOWN_BOUND}x slower on subnormals:\n{_table(bad)}"


def _fpenv_shim(tmp_path):
    """src_c/common/fpenv.h compiled into a shared library (exported wrappers around its inlines)."""
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(cc):
        pytest.skip(f"no C compiler ({cc}) to build the fpenv.h shim")
    src = tmp_path / "shim.c"
    src.write_text('#include "fpenv.h"\n'
                   "unsigned shim_enter(void) { return (unsigned)gconv_fpenv_enter_ftz_daz(); }\n"
                   "void shim_restore(unsigned s) { gconv_fpenv_restore((gconv_fpenv)s); }\n"
                   "unsigned shim_get(void) {\n#if defined(__x86_64__) || defined(__i386__)\n"
                   "return _mm_getcsr();\n#else\nreturn 0;\n#endif\n}\n"
                   "float shim_mul(float a, float b) { volatile float x = a, y = b; return x * y; }\n")
    lib = tmp_path / "libshim.so"
    proc = subprocess.run([cc, "-O1", "-shared", "-fPIC", "-I", os.path.join(REPO, "src_c", "common"),
                           str(src), "-o", str(lib)], capture_output=True, text=True)
    assert proc.returncode == 0, f"fpenv.h does not compile: {proc.stderr}"
    shim = ctypes.CDLL(str(lib))
    shim.shim_enter.restype = shim.shim_get.restype = ctypes.c_uint
    shim.shim_restore.argtypes = [ctypes.c_uint]
    shim.shim_mul.restype = ctypes.c_float
    shim.shim_mul.argtypes = [ctypes.c_float, ctypes.c_float]
    return shim


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "i686")),
                    reason="MXCSR FTZ/DAZ exists on x86 only (fpenv.h is a no-op elsewhere)")
def test_fpenv_header(tmp_path):
    """fpenv.h sets FTZ|DAZ, makes subnormal inputs and results zero, and restores MXCSR exactly."""
    shim = _fpenv_shim(tmp_path)
    flags = 0x3F  # MXCSR's sticky exception flags: the multiplications below raise underflow/denormal
    assert shim.shim_mul(1e-30, 1e-10) != 0.0  # a subnormal result, kept
    before = shim.shim_get()
    saved = shim.shim_enter()
    try:
        assert saved == before and shim.shim_get() & ~flags == (before | 0x8040) & ~flags
        assert shim.shim_mul(1e-30, 1e-10) == 0.0  # FTZ: subnormal result flushed
        assert shim.shim_mul(1e-39, 1e10) == 0.0  # DAZ: subnormal input read as 0 (1e-29 otherwise)
    finally:
        shim.shim_restore(saved)
    assert shim.shim_get() == before  # exactly, flags included
    assert shim.shim_mul(1e-39, 1e10) != 0.0


@pytest.mark.skipif(_under_asan(), reason="timings of an ASan-instrumented build mean nothing")
@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "i686")),
                    reason="MXCSR FTZ/DAZ exists on x86 only")
def test_subnormals_fast_with_ftz_daz(tmp_path):
    """With FTZ|DAZ set (fpenv.h) in the calling thread, which runs every kernel at 1 thread, no kernel is
    more than 2x slower on subnormals: the header is the fix for test_subnormal_slowdown."""
    shim = _fpenv_shim(tmp_path)
    saved = shim.shim_enter()
    try:
        res = _slowdowns(gconv_cpu.available_isas(), rounds=5)
    finally:
        shim.shim_restore(saved)
    print("\nsubnormal slowdown with FTZ|DAZ (1 thread):\n" + _table(res))
    bad = {k: v for k, v in res.items() if max(v[1], v[2]) > SLOWDOWN_BOUND}
    assert not bad, f"still > {SLOWDOWN_BOUND}x slower with FTZ|DAZ:\n{_table(bad)}"
