"""Property-based tests (hypothesis) of conv2d and nn.Conv2d.

* any shape/parameter combination (zero batch, 1x1 inputs and kernels, rectangular kernels, every
  padding form, dilation, stride > kernel, depth multipliers, global depthwise) matches the float64
  NumPy reference (tests/reference.py) on every ISA, algorithm and thread count;
* a grouped conv is the concatenation of its groups' dense convs (bit-identical for a forced algorithm;
  within the accuracy bound for 'auto', which may pick different algorithms for the two sides);
* a depthwise conv with multiplier m is m interleaved depthwise convs: output channel o reads input
  channel o // m (torch's convention, checked against torch too), so y[:, j::m] == conv(x, w[j::m]);
* the ISAs agree with each other within the accuracy bound;
* results are bit-identical across thread counts (1, 2, 3): measured true for every algorithm of the
  current kernels (work is split over output elements, never over a reduction), so asserted exactly;
* nn.Conv2d gives bit-identical results to conv2d with the same weights;
* conv_transpose2d matches the float64 reference (any groups, stride, dilation, 4-sided padding,
  output_padding; every algorithm, ISA, thread count) and is the adjoint of conv2d:
  <conv2d(x, w), r> == <x, conv_transpose2d(r, w)>;
* max/avg pooling match a float64 reference written from torch's rules (ceil_mode, dilation,
  count_include_pad; the reference itself is checked against torch); channel_shuffle is the
  permutation torch defines, and shuffling by C/g undoes it.

Profiles: GCONV_HYPOTHESIS_PROFILE=ci (default; derandomized, 300 examples per test, the whole file in
well under a minute), =long (20k per conv test, fewer for the others: >= 100k examples in total, random
seeds), or =smoke (40 per
test: the instrumented build of tools/sanitize.sh --quick). Statistics: pytest --hypothesis-show-statistics.
"""
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import gconv_cpu
from gconv_cpu import _threads
from gconv_cpu._deconv import ALGORITHMS as DECONV_ALGOS
from gconv_cpu._deconv import conv_transpose2d
from gconv_cpu.nn import Conv2d

from reference import (RTOL, assert_conv_close, conv2d_ref, conv2d_ref_abs, deconv_ref, deconv_ref_abs, out_extent,
                       pads4, pair, pool2d_ref, pool_extent)

ISAS = gconv_cpu.available_isas()
ALGOS = ("auto", "reference", "gemm", "grouped_direct", "dwconv")
_BASE = dict(deadline=None, print_blob=True,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
settings.register_profile("gconv-ci", max_examples=300, derandomize=True, **_BASE)
settings.register_profile("gconv-long", max_examples=20_000, **_BASE)
settings.register_profile("gconv-smoke", max_examples=40, derandomize=True, **_BASE)  # tools/sanitize.sh --quick
PROFILE_NAME = os.environ.get("GCONV_HYPOTHESIS_PROFILE", "ci")
if PROFILE_NAME not in ("ci", "long", "smoke"):
    raise ValueError(f"GCONV_HYPOTHESIS_PROFILE must be 'ci', 'long' or 'smoke', got {PROFILE_NAME!r}")
PROFILE = settings.get_profile("gconv-" + PROFILE_NAME)


def profile(weight=1.0):
    """This file's settings, with max_examples scaled per test (the long profile: 6 tests x 20k >= 100k)."""
    return settings(PROFILE, max_examples=max(1, int(PROFILE.max_examples * weight)))


MAX_MACS = 60_000  # keeps one example at a few ms, the float64 reference included


class Case:
    """One convolution: arrays and torch-style parameters, and what the reference needs."""

    def __init__(self, x, w, b, stride, padding, dilation, groups, pads):
        self.x, self.w, self.b = x, w, b
        self.stride, self.padding, self.dilation, self.groups, self.pads = stride, padding, dilation, groups, pads

    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    @property
    def k(self):
        return self.w.shape[1] * self.w.shape[2] * self.w.shape[3]

    def reference(self):
        x = self.x if self.x.ndim == 4 else self.x[None]
        args = (x, self.w, self.b, self.stride, self.pads, self.dilation, self.groups)
        ref, absref = conv2d_ref(*args), conv2d_ref_abs(*args)
        return (ref, absref) if self.x.ndim == 4 else (ref[0], absref[0])

    def __repr__(self):
        b = None if self.b is None else "bias"
        return (f"Case(x{self.x.shape}, w{self.w.shape}, {b}, stride={self.stride}, padding={self.padding!r}, "
                f"dilation={self.dilation}, groups={self.groups})")


def _pair(draw, lo, hi, as_int_sometimes=True):
    a = draw(st.integers(lo, hi))
    if as_int_sometimes and draw(st.booleans()):
        return a, a
    return a, draw(st.integers(lo, hi))


@st.composite
def cases(draw, *, groups_min=1, depthwise=None, batch_max=3):
    """A valid convolution. depthwise: None (any), True (groups == C_in), False (C_in/groups > 1)."""
    groups = draw(st.integers(groups_min, 6))
    if depthwise is True:
        cin_g = 1
    elif depthwise is False:
        cin_g = draw(st.integers(2, 10))
    else:
        cin_g = draw(st.one_of(st.just(1), st.integers(1, 10)))
    cout_g = draw(st.one_of(st.integers(1, 4), st.integers(1, 17)))  # 17: past every GEMM MR and 4oc block
    kernel = draw(st.sampled_from([(1, 1), (3, 3), (5, 5), (2, 2), (7, 7)]) | st.tuples(st.integers(1, 5),
                                                                                         st.integers(1, 5)))
    stride = _pair(draw, 1, 4)
    dilation = (1, 1) if draw(st.integers(0, 2)) else _pair(draw, 1, 3)
    glob = kernel[0] == kernel[1] and draw(st.integers(0, 9)) == 0  # global depthwise (GDC): kernel == input
    if glob:
        h, w, stride, dilation = kernel[0], kernel[1], (1, 1), (1, 1)
        padding = draw(st.sampled_from([0, "valid", (0, 0), (0, 0, 0, 0)]))
    else:
        h = draw(st.one_of(st.just(1), st.integers(1, 12), st.integers(1, 24)))
        w = draw(st.one_of(st.just(1), st.integers(1, 16), st.integers(1, 40)))  # 33..40: past 32-wide tiles
        form = draw(st.sampled_from(["int", "pair", "four", "same", "valid"]))
        if form == "int":
            padding = draw(st.integers(0, 4))
        elif form == "pair":
            padding = _pair(draw, 0, 4, as_int_sometimes=False)
        elif form == "four":
            padding = tuple(draw(st.integers(0, 4)) for _ in range(4))
        elif form == "same":
            stride, padding = (1, 1), "same"
        else:
            padding = "valid"
    pads = pads4(padding, kernel, dilation)
    oh = out_extent(h, pads[0], pads[1], kernel[0], dilation[0], stride[0])
    ow = out_extent(w, pads[2], pads[3], kernel[1], dilation[1], stride[1])
    assume(oh >= 1 and ow >= 1)
    n = draw(st.one_of(st.just(0), st.integers(1, batch_max), st.just(1)))
    cin, cout = groups * cin_g, groups * cout_g
    assume(max(n, 1) * cout * oh * ow * cin_g * kernel[0] * kernel[1] <= MAX_MACS)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    if n == 1 and draw(st.integers(0, 5)) == 0:
        x = x[0]  # unbatched (C, H, W), as torch allows
    wt = rng.standard_normal((cout, cin_g) + kernel).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if draw(st.booleans()) else None
    # torch-style spellings of the same parameters
    sp = stride[0] if stride[0] == stride[1] and draw(st.booleans()) else stride
    dl = dilation[0] if dilation[0] == dilation[1] and draw(st.booleans()) else dilation
    return Case(x, wt, b, sp, padding, dl, groups, pads)


def _algorithms(case):
    return [a for a in ALGOS if a != "dwconv" or case.w.shape[1] == 1]


class _Settings:
    """Sets ISA and thread count for a block and restores them (hypothesis examples share the process)."""

    def __init__(self, isa=None, threads=None):
        self.isa, self.threads = isa, threads

    def __enter__(self):
        self.saved = gconv_cpu.get_isa(), _threads._num_threads
        if self.isa:
            gconv_cpu.set_isa(self.isa)
        if self.threads:
            gconv_cpu.set_num_threads(self.threads)

    def __exit__(self, *exc):
        gconv_cpu.set_isa(self.saved[0])
        _threads._num_threads = self.saved[1]


def _zero_batch_case():
    x = np.ones((0, 4, 5, 5), np.float32)
    return Case(x, np.ones((8, 2, 3, 3), np.float32), None, 1, 1, 1, 2, (1, 1, 1, 1))


def _one_by_one_case():
    x = np.full((2, 3, 1, 1), 2.0, np.float32)
    return Case(x, np.full((6, 1, 1, 1), 0.5, np.float32), np.arange(6, dtype=np.float32), 1, 0, 1, 3,
                (0, 0, 0, 0))


# ------------------------------------------------------------------ vs the float64 reference

@profile(1.0)
@given(case=cases(), isa=st.sampled_from(ISAS), algo=st.sampled_from(ALGOS), threads=st.integers(1, 3))
@example(case=_zero_batch_case(), isa=ISAS[-1], algo="auto", threads=2)
@example(case=_one_by_one_case(), isa=ISAS[0], algo="dwconv", threads=1)
def test_matches_float64_reference(case, isa, algo, threads):
    assume(algo in _algorithms(case))
    with _Settings(isa, threads):
        y = gconv_cpu.conv2d(case.x, case.w, case.b, **case.kwargs(), algorithm=algo)
    ref, absref = case.reference()
    assert y.dtype == np.float32 and y.shape == ref.shape, (y.shape, ref.shape)
    if y.size:
        assert_conv_close(y, ref, absref, case.k, key=isa, what=f"{isa}/{algo}/{threads}T {case}")


# ------------------------------------------------------------ structure: groups and multipliers

@profile(1.0)
@given(case=cases(groups_min=2), isa=st.sampled_from(ISAS),
       algo=st.sampled_from(("auto", "reference", "gemm", "grouped_direct")))
def test_grouped_is_concat_of_dense(case, isa, algo):
    x = case.x if case.x.ndim == 4 else case.x[None]
    g = case.groups
    cin_g, cout_g = case.w.shape[1], case.w.shape[0] // g
    kw = dict(stride=case.stride, padding=case.padding, dilation=case.dilation, algorithm=algo)
    with _Settings(isa, 2):
        y = gconv_cpu.conv2d(x, case.w, case.b, groups=g, **kw)
        parts = [gconv_cpu.conv2d(np.ascontiguousarray(x[:, i * cin_g:(i + 1) * cin_g]),
                                  case.w[i * cout_g:(i + 1) * cout_g],
                                  None if case.b is None else case.b[i * cout_g:(i + 1) * cout_g], groups=1, **kw)
                 for i in range(g)]
    cat = np.concatenate(parts, axis=1)
    assert cat.shape == y.shape
    if algo == "auto":  # may be grouped_direct vs gemm: different summation orders are allowed
        if y.size:
            _, absref = case.reference()
            absref = absref if case.x.ndim == 4 else absref[None]
            assert_conv_close(y, cat.astype(np.float64), absref, case.k, what=f"grouped vs concat {case}",
                              rtol=2 * RTOL)
    else:  # the same kernels on the same data in the same order: bit-identical
        np.testing.assert_array_equal(y, cat, err_msg=f"{isa}/{algo}: grouped != concat of dense, {case}")


@profile(1.0)
@given(case=cases(depthwise=True), m=st.integers(2, 5), isa=st.sampled_from(ISAS),
       algo=st.sampled_from(("auto", "dwconv", "reference", "gemm", "grouped_direct")))
def test_depthwise_multiplier_is_interleaved(case, m, isa, algo):
    x = case.x if case.x.ndim == 4 else case.x[None]
    c = x.shape[1]
    rng = np.random.default_rng(c * 7 + m)
    w = rng.standard_normal((c * m, 1) + case.w.shape[2:]).astype(np.float32)
    b = rng.standard_normal(c * m).astype(np.float32)
    kw = dict(stride=case.stride, padding=case.padding, dilation=case.dilation, groups=c, algorithm=algo)
    with _Settings(isa, 2):
        y = gconv_cpu.conv2d(x, w, b, **kw)
        for j in range(m):
            # output channel o = ci*m + j reads input channel o // m = ci
            yj = gconv_cpu.conv2d(x, np.ascontiguousarray(w[j::m]), np.ascontiguousarray(b[j::m]), **kw)
            np.testing.assert_array_equal(y[:, j::m], yj, err_msg=f"{isa}/{algo} multiplier {m}, phase {j}: {case}")


def test_depthwise_multiplier_channel_convention():
    """Output channel o of a depthwise conv with multiplier m reads input channel o // m (not o % C)."""
    c, m = 3, 4
    x = np.arange(1, c + 1, dtype=np.float32).reshape(1, c, 1, 1) * np.ones((1, c, 2, 2), np.float32)
    w = np.ones((c * m, 1, 1, 1), np.float32)
    expected = (np.arange(c * m) // m + 1).astype(np.float32)
    for isa in ISAS:
        with _Settings(isa):
            for algo in ("auto", "dwconv", "reference", "gemm"):
                y = gconv_cpu.conv2d(x, w, None, groups=c, algorithm=algo)
                np.testing.assert_array_equal(y[0, :, 0, 0], expected, err_msg=f"{isa}/{algo}")
    torch = pytest.importorskip("torch", reason="torch confirms the convention (the gconv_cpu half ran above)")
    yt = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=c).numpy()
    np.testing.assert_array_equal(yt[0, :, 0, 0], expected)


# ------------------------------------------------------------------ ISAs, threads, layer

@profile(1.0)
@given(case=cases(), algo=st.sampled_from(ALGOS))
def test_isas_agree(case, algo):
    assume(algo in _algorithms(case))
    if len(ISAS) < 2:
        pytest.skip(f"only one ISA on this CPU ({ISAS}): nothing to compare")
    ys = {}
    for isa in ISAS:
        with _Settings(isa, 1):
            ys[isa] = gconv_cpu.conv2d(case.x, case.w, case.b, **case.kwargs(), algorithm=algo)
    if ys[ISAS[0]].size == 0:
        assert len({y.shape for y in ys.values()}) == 1
        return
    _, absref = case.reference()
    for isa in ISAS[1:]:
        assert_conv_close(ys[isa], ys[ISAS[0]].astype(np.float64), absref, case.k, rtol=2 * RTOL,
                          what=f"{isa} vs {ISAS[0]} ({algo}) {case}")


@profile(1.0)
@given(case=cases(batch_max=4), isa=st.sampled_from(ISAS), algo=st.sampled_from(ALGOS))
def test_bit_identical_across_thread_counts(case, isa, algo):
    assume(algo in _algorithms(case))
    if not gconv_cpu.cpu_info()["openmp"]:
        pytest.skip("serial build (no OpenMP): one thread only")
    ys = []
    for t in (1, 2, 3):
        with _Settings(isa, t):
            ys.append(gconv_cpu.conv2d(case.x, case.w, case.b, **case.kwargs(), algorithm=algo))
    for t, y in zip((2, 3), ys[1:]):
        np.testing.assert_array_equal(y, ys[0], err_msg=f"{isa}/{algo}: {t} threads != 1 thread, {case}")


@profile(1.0)
@given(case=cases(), isa=st.sampled_from(ISAS))
def test_layer_equals_functional(case, isa):
    c_out, cin_g, kh, kw = case.w.shape
    c_in = cin_g * case.groups
    with _Settings(isa, 2):
        layer = Conv2d(c_in, c_out, (kh, kw), case.stride, case.padding, case.dilation, case.groups,
                       bias=case.b is not None)
        layer.weight = case.w
        if case.b is not None:
            layer.bias = case.b
        y1 = layer(case.x)
        y2 = layer(case.x)  # the cached plan and geometry
        yf = gconv_cpu.conv2d(case.x, case.w, case.b, **case.kwargs())
    np.testing.assert_array_equal(y1, yf, err_msg=str(case))
    np.testing.assert_array_equal(y2, yf, err_msg=str(case))


# ------------------------------------------------------------------ transposed conv, pooling, shuffle

@st.composite
def deconv_cases(draw):
    """(x, w, b, stride, pads, output_padding, dilation, groups): any valid transposed conv, torch's rule
    output_padding < max(stride, dilation) included; pads (t, b, l, r) as the C core takes them."""
    groups = draw(st.integers(1, 4))
    cin_g, cout_g = draw(st.integers(1, 6)), draw(st.integers(1, 9))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride, dilation = _pair(draw, 1, 4), (1, 1) if draw(st.integers(0, 2)) else _pair(draw, 1, 3)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 17))
    pads = tuple(draw(st.integers(0, 4)) for _ in range(4))
    opad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    oh = (h - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - pads[0] - pads[1] + opad[0]
    ow = (w - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - pads[2] - pads[3] + opad[1]
    assume(oh >= 1 and ow >= 1)
    n = draw(st.one_of(st.just(0), st.integers(1, 3)))
    assume(max(n, 1) * groups * cin_g * cout_g * h * w * kernel[0] * kernel[1] <= MAX_MACS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, groups * cin_g, h, w)).astype(np.float32)
    wt = rng.standard_normal((groups * cin_g, cout_g) + kernel).astype(np.float32)
    b = rng.standard_normal(groups * cout_g).astype(np.float32) if draw(st.booleans()) else None
    return x, wt, b, stride, pads, opad, dilation, groups


@profile(0.5)
@given(case=deconv_cases(), isa=st.sampled_from(ISAS), algo=st.sampled_from(DECONV_ALGOS),
       threads=st.integers(1, 3))
def test_deconv_matches_float64_reference(case, isa, algo, threads):
    x, w, b, stride, pads, opad, dilation, groups = case
    with _Settings(isa, threads):
        y = conv_transpose2d(x, w, b, stride, pads, opad, groups, dilation, algorithm=algo)
    if x.shape[0] == 0:
        assert y.shape[:2] == (0, w.shape[1] * groups)
        return
    ref = deconv_ref(x, w, b, stride, pads, opad, dilation, groups)
    absref = deconv_ref_abs(x, w, b, stride, pads, opad, dilation, groups)
    assert y.shape == ref.shape
    assert_conv_close(y, ref, absref, w.shape[0] // groups * w.shape[2] * w.shape[3], key=f"deconv:{isa}",
                      what=f"{isa}/{algo}/{threads}T x{x.shape} w{w.shape} s{stride} p{pads} op{opad} d{dilation}")


@profile(0.3)
@given(case=cases(), seed=st.integers(0, 2**32 - 1), isa=st.sampled_from(ISAS))
def test_deconv_is_the_adjoint_of_conv(case, seed, isa):
    """<conv2d(x, w), r> == <x, conv_transpose2d(r, w)> in exact arithmetic (the transposed conv is the
    adjoint, padding and output_padding chosen to give x's shape back): true within the float32 errors
    of both sides."""
    x = case.x if case.x.ndim == 4 else case.x[None]
    assume(x.shape[0] > 0)
    kh, kw = case.w.shape[2:]
    (sh, sw), (dh, dw) = pair(case.stride), pair(case.dilation)
    with _Settings(isa, 2):
        y = gconv_cpu.conv2d(x, case.w, None, **case.kwargs())
        r = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
        t, bo, l, rp = case.pads
        opad = (x.shape[2] - ((y.shape[2] - 1) * sh + dh * (kh - 1) + 1 - t - bo),
                x.shape[3] - ((y.shape[3] - 1) * sw + dw * (kw - 1) + 1 - l - rp))
        z = conv_transpose2d(r, case.w, None, (sh, sw), case.pads, opad, case.groups, (dh, dw))
    assert z.shape == x.shape
    lhs = float(np.sum(y.astype(np.float64) * r))
    rhs = float(np.sum(x.astype(np.float64) * z))
    k = case.k
    y_err = RTOL * math.sqrt(k) * conv2d_ref_abs(x, case.w, None, (sh, sw), case.pads, (dh, dw), case.groups)
    k_t = case.w.shape[0] // case.groups * kh * kw
    z_err = RTOL * math.sqrt(k_t) * deconv_ref_abs(r, case.w, None, (sh, sw), case.pads, opad, (dh, dw), case.groups)
    bound = float(np.sum(y_err * np.abs(r)) + np.sum(np.abs(x) * z_err)) + 1e-30
    assert abs(lhs - rhs) <= bound, f"<Ax, r> = {lhs!r} vs <x, A^T r> = {rhs!r} (bound {bound:.3g}), {case}"


@st.composite
def pool_cases(draw):
    kind = draw(st.sampled_from(["max", "avg"]))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = kernel if draw(st.integers(0, 3)) == 0 else _pair(draw, 1, 4)
    dilation = _pair(draw, 1, 3) if kind == "max" and draw(st.booleans()) else (1, 1)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode, include_pad = draw(st.booleans()), draw(st.booleans())
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 40))
    assume(all(pool_extent(size, k, s, p, d, ceil_mode) >= 1
               for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation)))
    n, c = draw(st.one_of(st.just(0), st.integers(1, 3))), draw(st.integers(1, 6))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((n, c, h, w)).astype(np.float32)
    return kind, x, kernel, stride, padding, dilation, ceil_mode, include_pad


@profile(0.5)
@given(case=pool_cases(), threads=st.integers(1, 3))
@example(case=("max", np.ones((2, 1, 1, 3), np.float32), (2, 1), (1, 1), (1, 0), (2, 1), False, False), threads=1)
def test_pooling_matches_float64_reference(case, threads):
    """max_pool2d exactly (a max rounds nothing), avg_pool2d within float32 summation error, on any
    kernel/stride/padding/dilation/ceil_mode/count_include_pad, zero batch and 1x1 included. (The example:
    dilation puts both taps of a 1-row window on padding, -inf as in torch; the long profile found the
    reference's empty max.)"""
    kind, x, kernel, stride, padding, dilation, ceil_mode, include_pad = case
    F = gconv_cpu.functional
    with _Settings(threads=threads):
        if kind == "max":
            y = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
        else:
            y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, include_pad)
    ref = pool2d_ref(x, kind, kernel, stride, padding, dilation, ceil_mode, include_pad)
    assert y.shape == ref.shape, (y.shape, ref.shape, case[2:])
    if kind == "max":
        np.testing.assert_array_equal(y, ref.astype(np.float32), err_msg=str(case[2:]))
    else:
        scale = pool2d_ref(np.abs(x), kind, kernel, stride, padding, dilation, ceil_mode, include_pad)
        np.testing.assert_array_less(np.abs(y - ref), 4 * RTOL * scale + 1e-37, err_msg=str(case[2:]))


@profile(0.2)
@given(n=st.integers(0, 3), groups=st.integers(1, 8), per_group=st.integers(1, 8), h=st.integers(1, 9),
       w=st.integers(1, 9), threads=st.integers(1, 3))
def test_channel_shuffle_is_the_permutation(n, groups, per_group, h, w, threads):
    """channel_shuffle(x, g): output channel j*g + i is input channel i*(C/g) + j, bit for bit, and
    channel_shuffle(., C/g) undoes it."""
    c = groups * per_group
    x = np.random.default_rng(c * 131 + h * 7 + w).standard_normal((n, c, h, w)).astype(np.float32)
    F = gconv_cpu.functional
    with _Settings(threads=threads):
        y = F.channel_shuffle(x, groups)
        back = F.channel_shuffle(y, per_group)
    expected = x.reshape(n, groups, per_group, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(back, x)


def test_pooling_reference_matches_torch():
    """pool2d_ref (tests/reference.py) against torch in float64, over a grid with every rule in play."""
    torch = pytest.importorskip("torch", reason="torch checks the pooling oracle")
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    checked = 0
    for kind in ("max", "avg"):
        for k, s, p, d in ((3, 2, 1, 1), (2, 3, 1, 1), (3, 1, 0, 2), (4, 3, 2, 1), ((3, 2), (2, 1), (1, 0), (2, 1))):
            if kind == "avg" and d != 1:
                continue
            for h, w in ((7, 8), (5, 13), (1, 4)):
                for ceil_mode in (False, True):
                    for include_pad in (False, True):
                        kk, ss, pp, dd = pair(k), pair(s), pair(p), pair(d)
                        if any(pool_extent(size, *a, ceil_mode) < 1 for size, a in zip((h, w), zip(kk, ss, pp, dd))):
                            continue
                        x = rng.standard_normal((2, 3, h, w))
                        tx = torch.from_numpy(x)
                        t = (F.max_pool2d(tx, kk, ss, pp, dd, ceil_mode) if kind == "max" else
                             F.avg_pool2d(tx, kk, ss, pp, ceil_mode, include_pad)).numpy()
                        ref = pool2d_ref(x, kind, kk, ss, pp, dd, ceil_mode, include_pad)
                        np.testing.assert_allclose(ref, t, rtol=1e-12, atol=1e-12,
                                                   err_msg=f"{kind} k{k} s{s} p{p} d{d} {h}x{w} ceil={ceil_mode}")
                        checked += 1
    assert checked > 60
