"""Every microkernel of kernel_table(), called directly, against NumPy and its scalar twin.

Buffers are slices of larger arrays whose guard regions (and the gaps between the used columns
of strided rows) hold sentinels: NaN where the kernel reads (so a stray read poisons the result)
and 12345.0 where it writes (so a stray write is seen exactly).
"""
import math

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import _ext

from reference import RTOL, assert_conv_close, conv2d_ref, conv2d_ref_abs, out_extent

TABLE = gconv_cpu.kernel_table()
GUARD = 64
OUT_SENTINEL = np.float32(12345.0)
CLAMPS = {"none": (-math.inf, math.inf), "relu": (0.0, math.inf), "relu6": (0.0, 6.0)}


def _need(entry):
    if entry["isa"] not in gconv_cpu.available_isas():
        pytest.skip(f"CPU lacks {entry['isa']}")


def _twin(entry):
    twins = [k for k in TABLE if k["kind"] == entry["kind"] and k["isa"] == "scalar" and k["kernel_h"] == 0
             and k["kernel_w"] == 0 and k["stride"] == 0 and k.get("activation") == entry.get("activation")]
    assert twins, f"{entry['name']} has no generic scalar twin in the table"
    return twins[0]


class Guarded:
    """A float32 view of n elements inside a larger buffer filled with a sentinel."""

    def __init__(self, n, sentinel):
        self.n, self.sentinel = n, np.float32(sentinel)
        self.big = np.full(n + 2 * GUARD, self.sentinel, dtype=np.float32)
        self.view = self.big[GUARD:GUARD + n]
        assert self.view.flags.c_contiguous and (n == 0 or np.shares_memory(self.view, self.big))

    def guards_intact(self):
        g = np.concatenate([self.big[:GUARD], self.big[GUARD + self.n:]])
        return np.array_equal(g, np.full_like(g, self.sentinel), equal_nan=True)


def test_table_is_consistent():
    names = [k["name"] for k in TABLE]
    assert len(set(names)) == len(names)
    assert [k["index"] for k in TABLE] == list(range(len(TABLE)))
    for k in TABLE:
        assert k["isa"] in ("scalar", "avx2", "avx512") and k["isa"] in k["name"]
        if k["kind"] != "vact":  # activation kernels are named for the activation (f32-vprelu-avx2)
            assert k["kind"] in k["name"]
        assert k["mr"] >= 1 and k["nr"] >= 1
    for kind in {k["kind"] for k in TABLE}:
        assert any(k["kind"] == kind and k["isa"] == "scalar" for k in TABLE), f"no scalar {kind} kernel"
    for kind in ("gemm", "dwconv"):
        for isa in gconv_cpu.available_isas():
            assert any(k["kind"] == kind and k["isa"] == isa for k in TABLE), f"no {kind} kernel for {isa}"


def test_prfm_tiles_twin_a_plain_tile():
    """A -prfm entry is the same tile as the plain entry of its name (the planner swaps one for the
    other per panel, so they must take the same calls); no other entry claims to prefetch."""
    by_name = {k["name"]: k for k in TABLE}
    for k in TABLE:
        assert k["prefetches_next"] == k["name"].endswith("-prfm"), k["name"]
        if k["prefetches_next"]:
            plain = by_name.get(k["name"][:-len("-prfm")])
            assert plain is not None and not plain["prefetches_next"], k["name"]
            assert (k["kind"], k["isa"], k["mr"], k["nr"], k["nr_edge"]) == \
                (plain["kind"], plain["isa"], plain["mr"], plain["nr"], plain["nr_edge"])
            assert TABLE.index(plain) < TABLE.index(k)


def test_plans_never_name_a_prfm_tile():
    for k in (1, 3):
        layer = gconv_cpu.nn.Conv2d(144, 24, k, algorithm="gemm")
        layer(np.zeros((1, 144, 60, 60), np.float32))
        assert not layer._op.kernel_name.endswith("-prfm"), layer._op.kernel_name
        assert layer._op.kernel_name.startswith("f32-gemm-")


def test_unavailable_kernel_refuses_to_run():
    missing = [k for k in TABLE if k["isa"] not in gconv_cpu.available_isas()]
    if not missing:
        pytest.skip("CPU has every ISA in the table: nothing to refuse")
    with pytest.raises(RuntimeError, match="cannot run"):
        _ext.gemm_ukernel(missing[0]["index"], 1, 1, 1, np.zeros(64, np.float32), np.zeros(1, np.float32), 1,
                          np.zeros(1, np.float32), 1, -math.inf, math.inf)


def test_kernel_index_out_of_range():
    with pytest.raises(IndexError):
        _ext.gemm_ukernel(len(TABLE), 1, 1, 1, np.zeros(64, np.float32), np.zeros(1, np.float32), 1,
                          np.zeros(1, np.float32), 1, -math.inf, math.inf)


# ------------------------------------------------------------------------ GEMM

def pack_panel(wmat, bias, MR):
    """wmat (m, kc) and bias (m,) -> one packed panel of MR bias values then kc groups of MR weights.
    Rows m..MR-1 are NaN: the contract says they are padding, and no valid output may depend on them."""
    m, kc = wmat.shape
    panel = np.full((kc + 1, MR), np.nan, dtype=np.float32)
    panel[0, :m] = bias
    panel[1:, :m] = wmat.T
    return panel.ravel()


def run_gemm(entry, wmat, bias, bmat, clamp, *, b_stride=None, c_stride=None, check_canaries=True):
    """Computes clamp(bias + wmat @ bmat) with one call of the kernel (m <= MR, nc <= NR).
    Returns the (m, nc) result; asserts canaries."""
    m, kc = wmat.shape
    nc = bmat.shape[1]
    MR = entry["mr"]
    b_stride = nc if b_stride is None else b_stride
    c_stride = nc if c_stride is None else c_stride
    w = Guarded(MR * (kc + 1), np.nan)
    w.view[:] = pack_panel(wmat, bias, MR)
    w_before = w.big.copy()
    b = Guarded((kc - 1) * b_stride + nc, np.nan)  # gap columns stay NaN
    for k in range(kc):
        b.view[k * b_stride:k * b_stride + nc] = bmat[k]
    b_before = b.big.copy()
    c = Guarded((m - 1) * c_stride + nc, OUT_SENTINEL)
    _ext.gemm_ukernel(entry["index"], m, nc, kc, w.view, b.view, b_stride, c.view, c_stride, *clamp)
    out = np.stack([c.view[i * c_stride:i * c_stride + nc] for i in range(m)])
    if check_canaries:
        assert np.array_equal(w.big, w_before, equal_nan=True), "kernel wrote into w"
        assert np.array_equal(b.big, b_before, equal_nan=True), "kernel wrote into b"
        assert c.guards_intact(), f"write outside c (m={m} nc={nc} kc={kc} c_stride={c_stride})"
        for i in range(m - 1):
            gap = c.view[i * c_stride + nc:(i + 1) * c_stride]
            assert np.all(gap == OUT_SENTINEL), f"row {i}: wrote columns >= nc={nc} (c_stride={c_stride})"
    return out


def gemm_tiled(entry, wmat, bias, bmat, clamp):
    """Any (M, N) product through one kernel's tiles (used for the scalar twin, whose tile differs)."""
    M, N = wmat.shape[0], bmat.shape[1]
    out = np.empty((M, N), np.float32)
    for i in range(0, M, entry["mr"]):
        for j in range(0, N, entry["nr"]):
            out[i:i + entry["mr"], j:j + entry["nr"]] = run_gemm(
                entry, wmat[i:i + entry["mr"]], bias[i:i + entry["mr"]], bmat[:, j:j + entry["nr"]], clamp,
                check_canaries=False)
    return out


def _gemm_ref(wmat, bias, bmat, clamp):
    ref = bias.astype(np.float64)[:, None] + wmat.astype(np.float64) @ bmat.astype(np.float64)
    absref = np.abs(bias.astype(np.float64))[:, None] + np.abs(wmat).astype(np.float64) @ np.abs(bmat).astype(
        np.float64)
    return np.clip(ref, *clamp), absref


GEMM = [k for k in TABLE if k["kind"] == "gemm"]


@pytest.mark.parametrize("clamp", list(CLAMPS), ids=list(CLAMPS))
@pytest.mark.parametrize("entry", GEMM, ids=[k["name"] for k in GEMM])
def test_gemm_kernel(entry, clamp):
    _need(entry)
    twin = _twin(entry)
    lo_hi = CLAMPS[clamp]
    MR, NR, most = entry["mr"], entry["nr"], entry["nr"] + entry["nr_edge"]
    rng = np.random.default_rng(entry["index"] * 10 + len(clamp))
    # and one column past each whole 16-float vector, up to the edge columns past NR (nr_edge)
    ncs = sorted(n for n in {1, 2, NR // 2, NR // 2 + 1, NR - 1, NR, *range(17, most + 1, 16), most} if 1 <= n <= most)
    checked = 0
    for kc in (1, 2, 7, 64):
        for nc in ncs:
            for m in range(1, MR + 1):
                wmat = (rng.standard_normal((m, kc)) * 2).astype(np.float32)
                bias = rng.standard_normal(m).astype(np.float32)
                bmat = (rng.standard_normal((kc, nc)) * 2).astype(np.float32)
                # strides: packed, and with gaps (b_stride, c_stride > nc)
                strides = [(nc, nc), (nc + 3, nc + 5)] if m in (1, MR) or nc in (1, NR, most) else [(nc + 1, nc + 2)]
                ref, absref = _gemm_ref(wmat, bias, bmat, lo_hi)
                for bs, cs in strides:
                    what = f"{entry['name']} m={m} nc={nc} kc={kc} b_stride={bs} c_stride={cs} clamp={clamp}"
                    got = run_gemm(entry, wmat, bias, bmat, lo_hi, b_stride=bs, c_stride=cs)
                    assert_conv_close(got, ref, absref, kc, key=f"kernel:{entry['name']}", what=what)
                    checked += 1
                if clamp != "none":
                    assert np.all(got >= lo_hi[0]) and np.all(got <= lo_hi[1])
                tw = gemm_tiled(twin, wmat, bias, bmat, lo_hi)
                # the SIMD kernel and its scalar twin agree within the same bound
                assert_conv_close(got, tw.astype(np.float64), absref, kc, what=f"{what} vs {twin['name']}",
                                  rtol=2 * RTOL)
    assert checked > 20


@pytest.mark.parametrize("entry", GEMM, ids=[k["name"] for k in GEMM])
def test_gemm_kernel_nan_inf(entry):
    """NaN/Inf in b reach exactly the columns they touch (the edge columns past nr included); clamp
    does not swallow NaN."""
    _need(entry)
    MR, NR = entry["mr"], entry["nr"] + entry["nr_edge"]
    rng = np.random.default_rng(5)
    wmat = rng.standard_normal((MR, 3)).astype(np.float32)
    bias = rng.standard_normal(MR).astype(np.float32)
    bmat = rng.standard_normal((3, NR)).astype(np.float32)
    bmat[1, 0] = np.nan
    bmat[2, NR - 1] = np.inf
    for clamp in CLAMPS.values():
        got = run_gemm(entry, wmat, bias, bmat, clamp)
        with np.errstate(invalid="ignore"):
            ref = np.clip(bias[:, None].astype(np.float64) + wmat.astype(np.float64) @ bmat.astype(np.float64),
                          *clamp)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        assert np.isnan(got[:, 0]).all() and not np.isnan(got[:, 1:]).any()


def test_gemm_binding_checks_lengths():
    k = GEMM[0]
    mr, nr = k["mr"], k["nr"]
    ok = dict(w=np.zeros(mr * 3, np.float32), b=np.zeros(2 * nr, np.float32), c=np.zeros(mr * nr, np.float32))
    _ext.gemm_ukernel(k["index"], mr, nr, 2, ok["w"], ok["b"], nr, ok["c"], nr, -math.inf, math.inf)
    with pytest.raises(ValueError, match="w"):
        _ext.gemm_ukernel(k["index"], mr, nr, 2, ok["w"][:-1], ok["b"], nr, ok["c"], nr, -math.inf, math.inf)
    with pytest.raises(ValueError, match="b"):
        _ext.gemm_ukernel(k["index"], mr, nr, 2, ok["w"], ok["b"][:-1], nr, ok["c"], nr, -math.inf, math.inf)
    with pytest.raises(ValueError, match="c"):
        _ext.gemm_ukernel(k["index"], mr, nr, 2, ok["w"], ok["b"], nr, ok["c"][:-1], nr, -math.inf, math.inf)
    with pytest.raises(ValueError, match="tile"):
        _ext.gemm_ukernel(k["index"], mr + 1, nr, 2, ok["w"], ok["b"], nr, ok["c"], nr, -math.inf, math.inf)
    with pytest.raises(ValueError, match="tile"):
        _ext.gemm_ukernel(k["index"], mr, nr, 0, ok["w"], ok["b"], nr, ok["c"], nr, -math.inf, math.inf)
    for wide in GEMM:  # nc past nr + nr_edge, with buffers long enough for it
        most = wide["nr"] + wide["nr_edge"] + 1
        w, b, c = np.zeros(wide["mr"] * 3, np.float32), np.zeros(2 * most, np.float32), np.zeros(most, np.float32)
        with pytest.raises(ValueError, match="tile"):
            _ext.gemm_ukernel(wide["index"], 1, most, 2, w, b, most, c, most, -math.inf, math.inf)
    with pytest.raises(TypeError, match="w"):
        _ext.gemm_ukernel(k["index"], mr, nr, 2, ok["w"].astype(np.float64), ok["b"], nr, ok["c"], nr,
                          -math.inf, math.inf)


# ---------------------------------------------------------------------- dwconv

# 56 and 113: AVX-512 3x3/5x5 strips at both edges of a wide row, the last strip overlapping its
# neighbour, with (113) and without right padding at stride 2
WIDTHS = [1, 7, 8, 9, 15, 16, 17, 33, 56, 113]


def _random_geoms(rng, in_w, count):
    """(geom tuple, out_h, out_w) with kernel 1..5 (rectangular), stride 1..3, dilation 1..2,
    asymmetric pads 0..3, heights 1..9; resampled until the output is non-empty."""
    out = []
    while len(out) < count:
        in_h = int(rng.integers(1, 10))
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
        pt, pb, pl, pr = (int(v) for v in rng.integers(0, 4, size=4))
        oh, ow = out_extent(in_h, pt, pb, kh, dh, sh), out_extent(in_w, pl, pr, kw, dw, sw)
        if oh < 1 or ow < 1:
            continue
        out.append(((in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr), oh, ow))
    return out


def _specialized_geoms(entry, rng, in_w, count):
    """Geometries a specialized dwconv kernel accepts: its kernel and stride (both axes) and its
    dilation (any of 1..2 when the table says 0 = any); random asymmetric pads 0..3, heights 1..9."""
    kh, kw, s = entry["kernel_h"], entry["kernel_w"], entry["stride"] or None
    fixed_dil = entry.get("dilation", 1)  # tables without the field specialize on dilation 1
    out, tries = [], 0
    while len(out) < count and tries < 100 * count:
        tries += 1
        in_h = int(rng.integers(1, 10))
        sh = sw = s if s else int(rng.integers(1, 4))
        dh = dw = fixed_dil if fixed_dil else int(rng.integers(1, 3))
        pt, pb, pl, pr = (int(v) for v in rng.integers(0, 4, size=4))
        oh, ow = out_extent(in_h, pt, pb, kh, dh, sh), out_extent(in_w, pl, pr, kw, dw, sw)
        if oh >= 1 and ow >= 1:
            out.append(((in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr), oh, ow))
    # and the common 'same' padding on a taller input
    dil = fixed_dil or 1
    ph, pw = dil * (kh - 1) // 2, dil * (kw - 1) // 2
    for in_h in (kh, 2 * kh + 3, 17):
        sh = s or 1
        oh, ow = out_extent(in_h, ph, ph, kh, dil, sh), out_extent(in_w, pw, pw, kw, dil, sh)
        if oh >= 1 and ow >= 1:
            out.append(((in_h, in_w, kh, kw, sh, sh, dil, dil, ph, ph, pw, pw), oh, ow))
    return out


def _must_cover(entry, in_w):
    """Deterministic geometries that hit each SIMD mode (stride 1, 2, gather) with wide interiors."""
    g = []
    for sw in (1, 2, 3):
        for kw, dw, pl, pr in ((3, 1, 1, 1), (1, 1, 0, 0), (5, 2, 0, 3), (2, 1, 1, 0)):
            for in_h, kh, sh, pt, pb in ((5, 3, 1, 1, 1), (9, 2, 2, 0, 1)):
                oh, ow = out_extent(in_h, pt, pb, kh, 1, sh), out_extent(in_w, pl, pr, kw, dw, sw)
                if oh >= 1 and ow >= 1:
                    g.append(((in_h, in_w, kh, kw, sh, sw, 1, dw, pt, pb, pl, pr), oh, ow))
    return g


def run_dw(entry, geom, oh, ow, x, taps, bias, clamp, rows):
    in_h, in_w = geom[:2]
    xin = Guarded(in_h * in_w, np.nan)
    xin.view[:] = x.ravel()
    x_before = xin.big.copy()
    w = Guarded(1 + taps.size, np.nan)
    w.view[0] = bias
    w.view[1:] = taps.ravel()
    out = Guarded(oh * ow, OUT_SENTINEL)
    r = _ext.dw_ukernel(entry["index"], geom, xin.view, w.view, out.view, rows[0], rows[1], *clamp)
    assert tuple(r) == (oh, ow)
    assert np.array_equal(xin.big, x_before, equal_nan=True), "kernel wrote into the input plane"
    assert out.guards_intact(), f"{entry['name']}: write outside the output plane, geom={geom} rows={rows}"
    y = out.view.reshape(oh, ow)
    outside = np.concatenate([y[:rows[0]].ravel(), y[rows[1]:].ravel()])
    assert np.all(outside == OUT_SENTINEL), f"{entry['name']}: wrote rows outside {rows}, geom={geom}"
    return y


DW = [k for k in TABLE if k["kind"] == "dwconv"]


@pytest.mark.parametrize("in_w", WIDTHS)
@pytest.mark.parametrize("entry", DW, ids=[k["name"] for k in DW])
def test_dwconv_kernel(entry, in_w):
    _need(entry)
    twin = _twin(entry)
    rng = np.random.default_rng(100 * entry["index"] + in_w)
    if entry["kernel_h"] or entry["stride"] or entry.get("dilation"):
        geoms = _specialized_geoms(entry, rng, in_w, 40)  # it only runs its own shape
        assert len(geoms) > 3
    else:
        geoms = _must_cover(entry, in_w) + _random_geoms(rng, in_w, 60)
    for n, (geom, oh, ow) in enumerate(geoms):
        in_h, _, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        clamp_name = list(CLAMPS)[n % 3]
        clamp = CLAMPS[clamp_name]
        x = rng.standard_normal((in_h, in_w)).astype(np.float32) * 3
        taps = rng.standard_normal((kh, kw)).astype(np.float32)
        bias = np.float32(rng.standard_normal())
        # full range, then a partial one
        ranges = [(0, oh)]
        if oh > 1:
            a = int(rng.integers(0, oh))
            ranges.append((a, int(rng.integers(a, oh + 1))))
        ref = conv2d_ref(x[None, None], taps[None, None], np.array([bias]), (sh, sw), (pt, pb, pl, pr), (dh, dw))[0, 0]
        absref = conv2d_ref_abs(x[None, None], taps[None, None], np.array([bias]), (sh, sw), (pt, pb, pl, pr),
                                (dh, dw))[0, 0]
        ref = np.clip(ref, *clamp)
        ref_max = np.abs(ref).max()  # the whole plane's: see assert_conv_close
        for rows in ranges:
            what = f"{entry['name']} geom={geom} rows={rows} clamp={clamp_name}"
            y = run_dw(entry, geom, oh, ow, x, taps, bias, clamp, rows)
            sl = slice(*rows)
            assert_conv_close(y[sl], ref[sl], absref[sl], kh * kw, key=f"kernel:{entry['name']}", what=what,
                              ref_max=ref_max)
            yt = run_dw(twin, geom, oh, ow, x, taps, bias, clamp, rows)
            assert_conv_close(y[sl], yt[sl].astype(np.float64), absref[sl], kh * kw, what=what + " vs twin",
                              rtol=2 * RTOL, ref_max=ref_max)


def _accepts(entry, geom):
    """Whether a (possibly specialized) dwconv kernel may be given this geometry."""
    _, _, kh, kw, sh, sw, dh, dw = geom[:8]
    if entry["kernel_h"] and (entry["kernel_h"], entry["kernel_w"]) != (kh, kw):
        return False
    if entry["stride"] and (sh, sw) != (entry["stride"],) * 2:
        return False
    dil = entry.get("dilation", 1 if entry["kernel_h"] else 0)
    return not dil or (dh, dw) == (dil, dil)


@pytest.mark.parametrize("entry", DW, ids=[k["name"] for k in DW])
def test_dwconv_kernel_nan_inf(entry):
    """NaN/Inf in the input reach exactly the outputs whose window covers them (as in torch)."""
    _need(entry)
    rng = np.random.default_rng(9)
    k = entry["kernel_h"] or 3, entry["kernel_w"] or 3
    s = entry["stride"] or 1
    d = entry.get("dilation") or 1
    pads = (d * (k[0] - 1) // 2,) * 2 + (d * (k[1] - 1) // 2,) * 2
    in_h, in_w = 11, 40
    geom = (in_h, in_w, k[0], k[1], s, s, d, d) + pads
    assert _accepts(entry, geom)
    oh, ow = out_extent(in_h, pads[0], pads[1], k[0], d, s), out_extent(in_w, pads[2], pads[3], k[1], d, s)
    x = rng.standard_normal((in_h, in_w)).astype(np.float32)
    x[2, 5] = np.nan
    x[7, 30] = np.inf
    taps = (np.abs(rng.standard_normal(k)) + 0.5).astype(np.float32)  # positive: +inf stays +inf
    # outputs whose window covers each special input: a convolution of the indicator with ones
    cover = lambda r, c: conv2d_ref(((np.arange(in_h)[:, None] == r) & (np.arange(in_w) == c))[None, None],
                                    np.ones((1, 1) + k), None, s, pads, d)[0, 0] > 0
    nan_win, inf_win = cover(2, 5), cover(7, 30)
    assert nan_win.any() and inf_win.any() and not (nan_win & inf_win).any()
    for name, clamp in CLAMPS.items():
        y = run_dw(entry, geom, oh, ow, x, taps, np.float32(0.5), clamp, (0, oh))
        np.testing.assert_array_equal(np.isnan(y), nan_win, err_msg=f"NaN positions, clamp={name}")
        expect_inf = inf_win if name != "relu6" else np.zeros_like(inf_win)  # relu6 caps +inf at 6
        np.testing.assert_array_equal(np.isposinf(y), expect_inf, err_msg=f"+inf positions, clamp={name}")
        if name == "relu6":
            assert np.all(y[inf_win] == 6)
        assert not np.isneginf(y).any()


@pytest.mark.parametrize("hook", ["dw_ukernel", "gconv_ukernel"])
def test_plane_hooks_accept_a_valid_geometry(hook):
    """The dw/gconv test hooks validate the plane geometry through the C core; a valid 4x4 input
    with a 3x3 kernel must be accepted every time (no dependence on uninitialized fields)."""
    kind = "dwconv" if hook == "dw_ukernel" else "gconv"
    entries = [k for k in TABLE if k["kind"] == kind and k["isa"] == "scalar"]
    if not entries or not hasattr(_ext, hook):
        pytest.skip(f"no {kind} kernel / {hook} in this build")
    k = entries[0]
    geom = (4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0)
    x = np.arange(16, dtype=np.float32)
    failures = []
    for _ in range(20):
        out = np.zeros(4, np.float32)
        try:
            if hook == "dw_ukernel":
                w = np.ones(10, np.float32)
                r = _ext.dw_ukernel(k["index"], geom, x, w, out, 0, 2, -math.inf, math.inf)
            else:
                w = np.zeros(k["mr"] * 10, np.float32).reshape(10, k["mr"])
                w[:, 0] = 1.0
                r = _ext.gconv_ukernel(k["index"], geom, 1, 1, x, w.ravel(), out, 0, 2, -math.inf, math.inf)
        except ValueError as e:
            failures.append(str(e))
            continue
        assert tuple(r) == (2, 2)
        # bias 1 + sum of each 3x3 window of 0..15
        np.testing.assert_array_equal(out, [1 + 45, 1 + 54, 1 + 81, 1 + 90])
    assert not failures, f"{hook} rejected a valid geometry {len(failures)}/20 times: {failures[:3]}"


def test_dw_binding_checks():
    k = DW[0]
    geom = (4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0)
    x, w, out = np.zeros(16, np.float32), np.zeros(10, np.float32), np.zeros(4, np.float32)
    assert _ext.dw_ukernel(k["index"], geom, x, w, out, 0, 2, -math.inf, math.inf) == (2, 2)
    with pytest.raises(ValueError, match="x"):
        _ext.dw_ukernel(k["index"], geom, x[:-1], w, out, 0, 2, -math.inf, math.inf)
    with pytest.raises(ValueError, match="w"):
        _ext.dw_ukernel(k["index"], geom, x, w[:-1], out, 0, 2, -math.inf, math.inf)
    with pytest.raises(ValueError, match="out"):
        _ext.dw_ukernel(k["index"], geom, x, w, out[:-1], 0, 2, -math.inf, math.inf)
    with pytest.raises(ValueError, match="row"):
        _ext.dw_ukernel(k["index"], geom, x, w, out, 1, 3, -math.inf, math.inf)
    with pytest.raises(ValueError, match="row"):
        _ext.dw_ukernel(k["index"], geom, x, w, out, 2, 1, -math.inf, math.inf)
    with pytest.raises(ValueError, match="stride"):
        _ext.dw_ukernel(k["index"], (4, 4, 3, 3, 0, 1, 1, 1, 0, 0, 0, 0), x, w, out, 0, 1, -math.inf, math.inf)
    with pytest.raises(ValueError, match="kernel_size"):
        _ext.dw_ukernel(k["index"], (2, 2, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0), x, w, out, 0, 1, -math.inf, math.inf)
    with pytest.raises(ValueError, match="depthwise"):
        _ext.dw_ukernel(GEMM[0]["index"], geom, x, w, out, 0, 2, -math.inf, math.inf)


# ------------------------------------------------------- direct grouped (gconv)

GCONV = [k for k in TABLE if k["kind"] == "gconv"]


def run_gconv(entry, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows):
    """x (cin, in_h, in_w), wts (cout, cin, kh, kw), bias (cout,) through one call."""
    in_h, in_w, kh, kw = geom[:4]
    OC = entry["mr"]
    xin = Guarded(cin * in_h * in_w, np.nan)
    xin.view[:] = x.ravel()
    x_before = xin.big.copy()
    block = np.full((1 + cin * kh * kw, OC), np.nan, np.float32)  # channels >= cout: NaN padding
    block[0, :cout] = bias
    block[1:, :cout] = wts.reshape(cout, -1).T
    w = Guarded(block.size, np.nan)
    w.view[:] = block.ravel()
    out = Guarded(cout * oh * ow, OUT_SENTINEL)
    r = _ext.gconv_ukernel(entry["index"], geom, cin, cout, xin.view, w.view, out.view, rows[0], rows[1], *clamp)
    assert tuple(r) == (oh, ow)
    assert np.array_equal(xin.big, x_before, equal_nan=True), "kernel wrote into the input"
    assert out.guards_intact(), f"{entry['name']}: write outside the output, geom={geom} cout={cout} rows={rows}"
    y = out.view.reshape(cout, oh, ow)
    outside = np.concatenate([y[:, :rows[0]].ravel(), y[:, rows[1]:].ravel()])
    assert np.all(outside == OUT_SENTINEL), f"{entry['name']}: wrote rows outside {rows}, geom={geom}"
    return y


def run_gconv_blocks(entry, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows):
    """run_gconv over any cout, in calls of up to the entry's mr channels (a twin's block may be
    narrower than the kernel's under test)."""
    mr = entry["mr"]
    return np.concatenate([run_gconv(entry, geom, oh, ow, cin, min(mr, cout - c), x, wts[c:c + mr], bias[c:c + mr],
                                     clamp, rows) for c in range(0, cout, mr)])


@pytest.mark.parametrize("in_w", WIDTHS)
@pytest.mark.parametrize("entry", GCONV, ids=[k["name"] for k in GCONV])
def test_gconv_kernel(entry, in_w):
    _need(entry)
    if not hasattr(_ext, "gconv_ukernel"):
        pytest.fail("kernel_table() lists gconv kernels but _ext has no gconv_ukernel test hook")
    twin = _twin(entry)
    rng = np.random.default_rng(200 * entry["index"] + in_w)
    geoms = _must_cover(entry, in_w) + _random_geoms(rng, in_w, 30)
    for n, (geom, oh, ow) in enumerate(geoms):
        in_h, _, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        cin = int(rng.integers(1, 9))
        cout = 1 + n % entry["mr"]
        clamp_name = list(CLAMPS)[n % 3]
        clamp = CLAMPS[clamp_name]
        x = rng.standard_normal((cin, in_h, in_w)).astype(np.float32) * 3
        wts = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
        bias = rng.standard_normal(cout).astype(np.float32)
        args = (x[None], wts, bias, (sh, sw), (pt, pb, pl, pr), (dh, dw))
        ref = np.clip(conv2d_ref(*args)[0], *clamp)
        absref = conv2d_ref_abs(*args)[0]
        ranges = [(0, oh)]
        if oh > 1:
            a = int(rng.integers(0, oh))
            ranges.append((a, int(rng.integers(a, oh + 1))))
        K = cin * kh * kw
        for rows in ranges:
            what = f"{entry['name']} geom={geom} cin={cin} cout={cout} rows={rows} clamp={clamp_name}"
            y = run_gconv(entry, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows)
            sl = (slice(None), slice(*rows))
            assert_conv_close(y[sl], ref[sl], absref[sl], K, key=f"kernel:{entry['name']}", what=what)
            yt = run_gconv_blocks(twin, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows)
            assert_conv_close(y[sl], yt[sl].astype(np.float64), absref[sl], K, what=what + " vs twin",
                              rtol=2 * RTOL)


# ------------------------------------------------------ in-place activations

VACT = [k for k in TABLE if k["kind"] == "vact"]
SPECIAL = np.array([0.0, -0.0, -3.0, 3.0, -2.9999998, 3.0000002, -6.0, 6.0, 1e-30, -1e-30, 1e30, -1e30, np.inf,
                    -np.inf, np.nan, 0.5, -0.5], np.float32)


def _vact_numpy(activation, x, param):
    """The documented formulas, in float32 with torch's operation order."""
    with np.errstate(invalid="ignore", over="ignore"):
        if activation == "hardswish":
            t = x + np.float32(3)
            t = np.where(t < 0, np.float32(0), t)  # NaN passes through, as in torch
            t = np.where(t > 6, np.float32(6), t)
            return (x * t / np.float32(6)).astype(np.float32)
        if activation == "prelu":
            return np.where(x > 0, x, np.float32(param) * x).astype(np.float32)
    raise AssertionError(f"no NumPy formula for activation {activation!r}")


@pytest.mark.parametrize("entry", VACT, ids=[k["name"] for k in VACT])
def test_vact_kernel(entry):
    _need(entry)
    twin = _twin(entry)
    act = entry["activation"]
    rng = np.random.default_rng(300 + entry["index"])
    for n in list(range(0, 70)) + [127, 128, 129, 1000]:
        x = (rng.standard_normal(n) * 5).astype(np.float32)
        if n >= len(SPECIAL):
            x[rng.choice(n, len(SPECIAL), replace=False)] = SPECIAL
        param = np.float32(rng.choice([0.25, -1.5, 0.0, 3.0]))
        expected = _vact_numpy(act, x, param)
        buf = Guarded(n, OUT_SENTINEL)
        buf.view[:] = x
        _ext.vact_ukernel(entry["index"], buf.view, param)
        assert buf.guards_intact(), f"{entry['name']}: write outside the {n} elements"
        np.testing.assert_array_equal(buf.view, expected, err_msg=f"{entry['name']} n={n} param={param}")
        tbuf = x.copy()
        _ext.vact_ukernel(twin["index"], tbuf, param)
        np.testing.assert_array_equal(buf.view, tbuf, err_msg=f"{entry['name']} vs {twin['name']} n={n}")


@pytest.mark.parametrize("entry", [k for k in VACT if k["isa"] == "scalar"], ids=lambda k: k["name"])
def test_vact_kernel_like_torch(entry):
    torch = pytest.importorskip("torch", reason="torch is the oracle")
    x = np.concatenate([SPECIAL, np.linspace(-7, 7, 301, dtype=np.float32)])
    buf = x.copy()
    _ext.vact_ukernel(entry["index"], buf, 0.25)
    t = torch.from_numpy(x)
    if entry["activation"] == "hardswish":
        ref = torch.nn.functional.hardswish(t).numpy()
    else:
        ref = torch.nn.functional.prelu(t, torch.tensor([0.25])).numpy()
    np.testing.assert_allclose(buf, ref, rtol=2e-7, atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(buf), np.isnan(ref))


# ------------------------------------------------ global depthwise (GDC) kernels

GDC = [k for k in TABLE if k["kind"] == "gdc"]


@pytest.mark.parametrize("clamp", list(CLAMPS), ids=list(CLAMPS))
@pytest.mark.parametrize("entry", GDC, ids=[k["name"] for k in GDC])
def test_gdc_kernel(entry, clamp):
    """out[c] = clamp(w[c*(taps+1)] + sum_t w[c*(taps+1)+1+t] * in[c*in_stride+t]), c < channels
    (src_c/include/gconv.h), through the hook gdc_ukernel(index, channels, taps, x, in_stride, w,
    out, cmin, cmax) that mirrors the C signature like gemm_ukernel does."""
    _need(entry)
    if not hasattr(_ext, "gdc_ukernel"):
        pytest.fail("kernel_table() lists gdc kernels but _ext has no gdc_ukernel test hook")
    twin = _twin(entry)
    lo_hi = CLAMPS[clamp]
    rng = np.random.default_rng(400 + entry["index"])
    for channels in (1, 2, 3, 7, 8, 15, 16, 17, 33):
        for taps in (1, 7, 8, 9, 16, 49, 64, 100):
            for gap in (0, 5):
                in_stride = taps + gap
                x = (rng.standard_normal((channels, taps)) * 2).astype(np.float32)
                wb = rng.standard_normal((channels, taps + 1)).astype(np.float32)
                xin = Guarded((channels - 1) * in_stride + taps, np.nan)  # gaps stay NaN
                for c in range(channels):
                    xin.view[c * in_stride:c * in_stride + taps] = x[c]
                x_before = xin.big.copy()
                w = Guarded(wb.size, np.nan)
                w.view[:] = wb.ravel()
                results = []
                for e in (entry, twin):
                    out = Guarded(channels, OUT_SENTINEL)
                    _ext.gdc_ukernel(e["index"], channels, taps, xin.view, in_stride, w.view, out.view, *lo_hi)
                    assert out.guards_intact(), f"{e['name']}: write outside out (channels={channels})"
                    assert np.array_equal(xin.big, x_before, equal_nan=True)
                    results.append(out.view.copy())
                ref = wb[:, 0].astype(np.float64) + np.einsum("ct,ct->c", wb[:, 1:].astype(np.float64), x)
                absref = np.abs(wb[:, 0]) + np.einsum("ct,ct->c", np.abs(wb[:, 1:]).astype(np.float64), np.abs(x))
                what = f"{entry['name']} channels={channels} taps={taps} in_stride={in_stride} clamp={clamp}"
                assert_conv_close(results[0], np.clip(ref, *lo_hi), absref, taps, key=f"kernel:{entry['name']}",
                                  what=what)
                assert_conv_close(results[0], results[1].astype(np.float64), absref, taps, what=what + " vs twin",
                                  rtol=2 * RTOL)


# ------------------------------- Winograd F(4x4, 3x3) and F(2x2, 5x5) transforms

WINO = [k for k in TABLE if k["kind"] == "winograd"]
# points 0, 1, -1, 2, -2, inf: one B^T for both; A^T's rows are the first m powers
WINO_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
WINO_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)
U32 = 2.0 ** -24


def _wino_mr(entry):
    """(m, r) of an F(m x m, r x r) entry: m is its mr, r its kernel size."""
    return entry["mr"], entry["kernel_h"]


def _wino_at(m):
    at = WINO_AT[:m].copy()
    at[m - 1, 5] = 1  # the point at infinity enters the highest power only
    return at


def _wino_twin(entry):
    twins = [k for k in WINO if k["isa"] == "scalar" and _wino_mr(k) == _wino_mr(entry)]
    assert twins, f"{entry['name']} has no scalar twin"
    return twins[0]


def _wino_slots(t_begin, t_end, tiles_w, lanes, m=4, r=3):
    """The slot layout of gconv.h, written from its text: {tile: slot} and the slot count."""
    slot_of, t, group = {}, t_begin, 0
    while t < t_end:
        if lanes == 1:
            slot_of[t] = group
            t, group = t + 1, group + 1
            continue
        chunks, per = 0, lanes // m  # m chunks of lanes/m tiles
        while chunks < m and t < t_end:
            tx = t % tiles_w
            n = min(tiles_w - tx, t_end - t)
            if chunks == 0 and n >= lanes:
                n = lanes  # a full group: its last r - 1 columns spill into one more vector
            else:
                n = min(n, (lanes * (m - chunks) - (r - 1)) // m)  # m*n + r - 1 columns must fit
            for i in range(n):
                slot_of[t + i] = group * lanes + chunks * per + i
            chunks += m if n == lanes else -(-(m * n + r - 1) // lanes)
            t += n
        group += 1
    return slot_of, group * lanes


def _wino_geoms(rng, m, r):
    """(geom, out_h, out_w): 1 to 33 tiles per tile row, outputs that are and are not multiples
    of m, padding 0 to r // 2 on each side (asymmetric too)."""
    out = []
    for tiles_w in (1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17, 33):
        for cut in sorted({0, m - 1, int(rng.integers(0, m))}):
            out_w = max(1, m * tiles_w - cut)
            pt, pb, pl, pr = (int(v) for v in rng.integers(0, r // 2 + 1, size=4))
            in_w = out_w + r - 1 - pl - pr
            out_h = int(rng.integers(1, 13))
            in_h = out_h + r - 1 - pt - pb
            if in_w < 1 or in_h < 1:
                continue
            out.append(((in_h, in_w, r, r, 1, 1, 1, 1, pt, pb, pl, pr), out_h, out_w))
    return out


def _wino_ranges(rng, tiles):
    ranges = [(0, tiles), (tiles - 1, tiles)]
    if tiles > 2:
        a = int(rng.integers(0, tiles - 1))
        ranges.append((a, int(rng.integers(a + 1, tiles + 1))))
    return ranges


def _windows(x, geom, tiles_w, t, m):
    """The 6x6 zero-padded input windows of tile t, (channels, 6, 6) float64."""
    in_h, in_w, pt, pl = geom[0], geom[1], geom[8], geom[10]
    ty, tx = divmod(t, tiles_w)
    d = np.zeros((x.shape[0], 6, 6))
    for k in range(6):
        for q in range(6):
            iy, ix = m * ty - pt + k, m * tx - pl + q
            if 0 <= iy < in_h and 0 <= ix < in_w:
                d[:, k, q] = x[:, iy, ix]
    return d


def run_wino_in(entry, geom, x, t_begin, t_end, *, in_gap=5):
    """One input-transform call on guarded buffers; returns (flag, v as (36, channels, slots))."""
    channels, in_h, in_w = x.shape
    in_stride = in_h * in_w + in_gap
    xin = Guarded((channels - 1) * in_stride + in_h * in_w, np.nan)  # gaps between planes: NaN
    for c in range(channels):
        xin.view[c * in_stride:c * in_stride + in_h * in_w] = x[c].ravel()
    x_before = xin.big.copy()
    m, r = _wino_mr(entry)
    tiles_w = -(-(in_w + geom[10] + geom[11] - (r - 1)) // m)
    _, slots = _wino_slots(t_begin, t_end, tiles_w, entry["nr"], m, r)
    c_stride, xi_stride = slots + 3, channels * (slots + 3) + 16
    v = Guarded(35 * xi_stride + (channels - 1) * c_stride + slots, OUT_SENTINEL)
    flag = _ext.winograd_in_ukernel(entry["index"], geom, channels, xin.view, in_stride, t_begin, t_end, v.view,
                                    xi_stride, c_stride)
    assert np.array_equal(xin.big, x_before, equal_nan=True), "kernel wrote into the input"
    assert v.guards_intact(), f"{entry['name']}: write outside v, geom={geom} tiles=[{t_begin}, {t_end})"
    full = np.full(36 * xi_stride, OUT_SENTINEL, np.float32)
    full[:v.n] = v.view
    rows = full.reshape(36, xi_stride)[:, :channels * c_stride].reshape(36, channels, c_stride)
    assert np.all(rows[:, :, slots:] == OUT_SENTINEL), f"{entry['name']}: wrote past the {slots} slots"
    assert np.all(full.reshape(36, xi_stride)[:, channels * c_stride:] == OUT_SENTINEL)
    return flag, rows[:, :, :slots]


@pytest.mark.parametrize("entry", WINO, ids=[k["name"] for k in WINO])
def test_winograd_input_transform(entry):
    """v[xi][c][slot(t)] = (B^T d B)[xi] for each tile's 6x6 window d (gconv.h), against float64 and
    the scalar twin, on tile-row widths around the vector's 16/8 lanes and partial ranges."""
    _need(entry)
    twin = _wino_twin(entry)
    m, r = _wino_mr(entry)
    rng = np.random.default_rng(500 + entry["index"])
    absbt = np.abs(WINO_BT)
    checked = 0
    for geom, out_h, out_w in _wino_geoms(rng, m, r):
        tiles_w, tiles = -(-out_w // m), -(-out_h // m) * -(-out_w // m)
        channels = int(rng.integers(1, 4))
        x = (rng.standard_normal((channels, geom[0], geom[1])) * 3).astype(np.float32)
        for t_begin, t_end in _wino_ranges(rng, tiles):
            slot_of, slots = _wino_slots(t_begin, t_end, tiles_w, entry["nr"], m, r)
            assert slots == _ext.winograd_slots(t_begin, t_end, tiles_w, entry["nr"], m, r)
            flag, v = run_wino_in(entry, geom, x, t_begin, t_end)
            tflag, tv = run_wino_in(twin, geom, x, t_begin, t_end)
            assert flag == 0 and tflag == 0, "finite input reported as non-finite (a stray read?)"
            assert np.all(np.isfinite(v)), "gap slots must hold finite values for finite input"
            for t in range(t_begin, t_end):
                d = _windows(x, geom, tiles_w, t, m)
                exact = np.einsum("ij,cjk,lk->cil", WINO_BT, d, WINO_BT).reshape(channels, 36).T
                bound = 16 * U32 * np.einsum("ij,cjk,lk->cil", absbt, np.abs(d), absbt).reshape(channels, 36).T
                what = f"{entry['name']} geom={geom} tiles=[{t_begin}, {t_end}) tile {t}"
                got, twin_got = v[:, :, slot_of[t]], tv[:, :, t - t_begin]
                assert np.all(np.abs(got - exact) <= bound), what
                assert np.all(np.abs(got - twin_got) <= 2 * bound), what + " vs twin"
                checked += 1
    assert checked > 200


@pytest.mark.parametrize("entry", WINO, ids=[k["name"] for k in WINO])
def test_winograd_input_transform_flags_nonfinite(entry):
    """The flag is set iff a NaN/Inf lies inside a window of the range (the caller's cue to compute
    those tiles directly); values outside the windows do not count."""
    _need(entry)
    m, r = _wino_mr(entry)
    p = r // 2
    geom = (18, 70, r, r, 1, 1, 1, 1, p, p, p, p)  # 'same' padding: an 18x70 output
    tiles_w, tiles = -(-70 // m), -(-18 // m) * -(-70 // m)
    rng = np.random.default_rng(77)
    seen = set()
    for bad in (np.nan, np.inf, -np.inf):
        for _ in range(12):
            iy, ix = int(rng.integers(0, 18)), int(rng.integers(0, 70))
            t_begin = int(rng.integers(0, tiles))
            t_end = int(rng.integers(t_begin + 1, min(tiles, t_begin + 3 * tiles_w) + 1))
            expect = any(0 <= iy - (m * (t // tiles_w) - p) < 6 and 0 <= ix - (m * (t % tiles_w) - p) < 6
                         for t in range(t_begin, t_end))
            if _ == 0:  # one tile whose window holds it
                ty, tx = min(iy // m, -(-18 // m) - 1), min(ix // m, tiles_w - 1)
                t_begin, t_end, expect = ty * tiles_w + tx, ty * tiles_w + tx + 1, True
            seen.add(expect)
            x = rng.standard_normal((2, 18, 70)).astype(np.float32)
            x[1, iy, ix] = bad
            flag, _v = run_wino_in(entry, geom, x, t_begin, t_end)
            assert bool(flag) == expect, f"{entry['name']}: {bad} at {(iy, ix)}, tiles [{t_begin}, {t_end})"
    assert seen == {True, False}


@pytest.mark.parametrize("clamp", list(CLAMPS), ids=list(CLAMPS))
@pytest.mark.parametrize("entry", WINO, ids=[k["name"] for k in WINO])
def test_winograd_output_transform(entry, clamp):
    """out[c][m*ty+y][m*tx+x] = clamp(bias[c] + (A^T M A)[y][x]) inside the output, nothing else
    written; gap slots (NaN here) never reach an output."""
    _need(entry)
    twin = _wino_twin(entry)
    m, r = _wino_mr(entry)
    at = _wino_at(m)
    lo_hi = CLAMPS[clamp]
    rng = np.random.default_rng(600 + entry["index"] + len(clamp))
    absat = np.abs(at)
    checked = 0
    for geom, out_h, out_w in _wino_geoms(rng, m, r):
        tiles_w, tiles = -(-out_w // m), -(-out_h // m) * -(-out_w // m)
        channels = int(rng.integers(1, 4))
        bias = rng.standard_normal(channels).astype(np.float32)
        out_stride = out_h * out_w + 4
        for t_begin, t_end in _wino_ranges(rng, tiles):
            results = []
            mt = (rng.standard_normal((36, channels, t_end - t_begin)) * 4).astype(np.float32)  # by tile
            for e in (entry, twin):
                slot_of, slots = _wino_slots(t_begin, t_end, tiles_w, e["nr"], m, r)
                c_stride, xi_stride = slots + 2, channels * (slots + 2) + 16
                mbuf = Guarded(35 * xi_stride + (channels - 1) * c_stride + slots, np.nan)  # gaps stay NaN
                for t in range(t_begin, t_end):
                    for xi in range(36):
                        mbuf.view[xi * xi_stride + np.arange(channels) * c_stride + slot_of[t]] = mt[xi, :, t - t_begin]
                out = Guarded((channels - 1) * out_stride + out_h * out_w, OUT_SENTINEL)
                shape = _ext.winograd_out_ukernel(e["index"], geom, channels, mbuf.view, xi_stride, c_stride, bias,
                                                  out.view, out_stride, t_begin, t_end, *lo_hi)
                assert tuple(shape) == (out_h, out_w)
                assert out.guards_intact(), f"{e['name']}: write outside out, geom={geom}"
                full = np.full(channels * out_stride, OUT_SENTINEL, np.float32)
                full[:out.n] = out.view
                planes = full.reshape(channels, out_stride)
                assert np.all(planes[:, out_h * out_w:] == OUT_SENTINEL), f"{e['name']}: wrote between planes"
                results.append(planes[:, :out_h * out_w].reshape(channels, out_h, out_w))
            y, ty_ = results
            written = np.zeros((out_h, out_w), bool)
            for t in range(t_begin, t_end):
                r0, c0 = m * (t // tiles_w), m * (t % tiles_w)
                mm = mt[:, :, t - t_begin].T.reshape(channels, 6, 6).astype(np.float64)
                exact = np.einsum("ij,cjk,lk->cil", at, mm, at) + bias[:, None, None]
                bound = 16 * U32 * (np.einsum("ij,cjk,lk->cil", absat, np.abs(mm), absat) + np.abs(bias)[:, None, None])
                h, w = min(m, out_h - r0), min(m, out_w - c0)
                got, tw = y[:, r0:r0 + h, c0:c0 + w], ty_[:, r0:r0 + h, c0:c0 + w]
                exact, bound = np.clip(exact[:, :h, :w], *lo_hi), bound[:, :h, :w]
                what = f"{entry['name']} geom={geom} tiles=[{t_begin}, {t_end}) tile {t} clamp={clamp}"
                assert np.all(np.abs(got - exact) <= bound), what
                assert np.all(np.abs(got - tw) <= 2 * bound), what + " vs twin"
                written[r0:r0 + h, c0:c0 + w] = True
                checked += 1
            assert np.all(y[:, ~written] == OUT_SENTINEL), f"{entry['name']}: wrote outside the tiles, geom={geom}"
    assert checked > 200


def test_winograd_hooks_check_arguments():
    k = next(e for e in WINO if e["isa"] == "scalar" and _wino_mr(e) == (4, 3))
    geom = (8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)  # 8x8 output: 2x2 tiles
    x, v = np.zeros(64, np.float32), np.zeros(36 * 4, np.float32)
    assert _ext.winograd_in_ukernel(k["index"], geom, 1, x, 64, 0, 4, v, 4, 4) == 0
    with pytest.raises(ValueError, match="v"):
        _ext.winograd_in_ukernel(k["index"], geom, 1, x, 64, 0, 4, v[:-1], 4, 4)
    with pytest.raises(ValueError, match="x"):
        _ext.winograd_in_ukernel(k["index"], geom, 1, x[:-1], 64, 0, 4, v, 4, 4)
    with pytest.raises(ValueError, match="tile range"):
        _ext.winograd_in_ukernel(k["index"], geom, 1, x, 64, 0, 5, v, 4, 4)
    with pytest.raises(ValueError, match="tile range"):
        _ext.winograd_in_ukernel(k["index"], geom, 1, x, 64, 2, 2, v, 4, 4)
    with pytest.raises(ValueError, match="3x3"):
        _ext.winograd_in_ukernel(k["index"], (8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 1, x, 64, 0, 1, v, 4, 4)
    with pytest.raises(ValueError, match="Winograd"):
        _ext.winograd_in_ukernel(GEMM[0]["index"], geom, 1, x, 64, 0, 4, v, 4, 4)
    out = np.zeros(64, np.float32)
    with pytest.raises(ValueError, match="out"):
        _ext.winograd_out_ukernel(k["index"], geom, 1, v, 4, 4, np.zeros(1, np.float32), out[:-1], 64, 0, 4,
                                  -math.inf, math.inf)
    with pytest.raises(ValueError, match="bias"):
        _ext.winograd_out_ukernel(k["index"], geom, 2, v, 2, 1, np.zeros(1, np.float32), np.zeros(128, np.float32), 64,
                                  0, 4, -math.inf, math.inf)


def test_every_kernel_kind_is_tested():
    tested = {"gemm", "dwconv", "gconv", "vact", "gdc", "winograd"}
    assert {k["kind"] for k in TABLE} <= tested, "a kernel kind without a test in test_kernels.py"



# ------------------------------------- tile edges (reliability extension, issue 7)
# The sweeps above draw most geometries at random. These pin every kernel's tiles: output widths at,
# below and above one and two column strips (AVX2 8 floats, AVX-512 16; the grouped-direct and generic
# depthwise kernels take 2 vectors per step), output heights at/below/above the specialized depthwise
# kernels' row passes (DW_R = 4, 8 or 16 rows), channel counts of the multi-channel depthwise entry
# points (not called by the tests above at all), and GDC tap counts around its 2-vector step. Every
# call goes through guarded buffers: NaN where the kernel may read, OUT_SENTINEL where it may write.

LANES = {"scalar": 8, "avx2": 8, "avx512": 16}
EDGE_ROWS = (1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33)


def _edge_widths(lanes):
    return sorted({1, lanes - 1, lanes, lanes + 1, 2 * lanes - 1, 2 * lanes, 2 * lanes + 1, 4 * lanes + 3})


def _edge_geoms(entry, out_hs, out_ws, pads_options, dilation=None):
    """Geometries for a (possibly specialized) kernel giving exactly the wanted output sizes
    (dilation: the table's, or 1 where it takes any, unless given)."""
    kh, kw = entry["kernel_h"] or 3, entry["kernel_w"] or 3
    s = entry["stride"] or 1
    d = dilation or entry.get("dilation") or 1
    out = []
    for oh in out_hs:
        for ow in out_ws:
            for pt, pb, pl, pr in pads_options(kh, kw, d):
                in_h = (oh - 1) * s + d * (kh - 1) + 1 - pt - pb
                in_w = (ow - 1) * s + d * (kw - 1) + 1 - pl - pr
                if in_h < 1 or in_w < 1:
                    continue
                geom = (in_h, in_w, kh, kw, s, s, d, d, pt, pb, pl, pr)
                assert (out_extent(in_h, pt, pb, kh, d, s), out_extent(in_w, pl, pr, kw, d, s)) == (oh, ow)
                out.append((geom, oh, ow))
    return out


def _pads(kh, kw, d):
    ph, pw = d * (kh - 1) // 2, d * (kw - 1) // 2
    return [(0, 0, 0, 0), (ph, ph, pw, pw), (ph + 1, 0, 0, pw + 2)]


def _check_dw_geoms(entry, geoms, seed):
    """Each geometry (clamps in turn, whole and partial row ranges) against the reference and the
    scalar twin, through guarded buffers."""
    twin = _twin(entry)
    rng = np.random.default_rng(seed)
    for n, (geom, oh, ow) in enumerate(geoms):
        in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        clamp_name = list(CLAMPS)[n % 3]
        clamp = CLAMPS[clamp_name]
        x = rng.standard_normal((in_h, in_w)).astype(np.float32)
        taps = rng.standard_normal((kh, kw)).astype(np.float32)
        bias = np.float32(rng.standard_normal())
        args = (x[None, None], taps[None, None], np.array([bias]), (sh, sw), (pt, pb, pl, pr), (dh, dw))
        ref, absref = np.clip(conv2d_ref(*args)[0, 0], *clamp), conv2d_ref_abs(*args)[0, 0]
        ref_max = np.abs(ref).max()  # the whole plane's: see assert_conv_close
        for rows in {(0, oh), (oh // 3, oh - oh // 4)}:
            if rows[0] >= rows[1]:
                continue
            what = f"{entry['name']} geom={geom} out={oh}x{ow} rows={rows} clamp={clamp_name}"
            y = run_dw(entry, geom, oh, ow, x, taps, bias, clamp, rows)
            sl = slice(*rows)
            assert_conv_close(y[sl], ref[sl], absref[sl], kh * kw, key=f"kernel:{entry['name']}", what=what,
                              ref_max=ref_max)
            yt = run_dw(twin, geom, oh, ow, x, taps, bias, clamp, rows)
            assert_conv_close(y[sl], yt[sl].astype(np.float64), absref[sl], kh * kw, what=what + " vs twin",
                              rtol=2 * RTOL, ref_max=ref_max)


@pytest.mark.parametrize("entry", DW, ids=[k["name"] for k in DW])
def test_dwconv_kernel_tile_edges(entry):
    _need(entry)
    lanes = LANES[entry["isa"]]
    geoms = _edge_geoms(entry, EDGE_ROWS, _edge_widths(lanes)[:5], _pads) + \
        _edge_geoms(entry, (2, 17), _edge_widths(lanes)[5:], _pads)
    assert len(geoms) > 50
    _check_dw_geoms(entry, geoms, 500 + entry["index"])


# strips that one pass of rows runs across (DW_ROW_STRIPS_MAX in src_c/dwconv/dwconv_kxk_strips.h)
ROW_STRIPS_MAX = 32


@pytest.mark.parametrize("entry", DW, ids=[k["name"] for k in DW])
def test_dwconv_kernel_wide_rows(entry):
    """Rows of more strips than one pass runs across (then taken in groups): two and three groups,
    the last one a single strip or a part of one, also through the multi-channel entry."""
    _need(entry)
    lanes = LANES[entry["isa"]]
    widths = (ROW_STRIPS_MAX * lanes + 3, 2 * ROW_STRIPS_MAX * lanes + lanes // 2)
    geoms = _edge_geoms(entry, (3, 9), widths, _pads)
    assert len(geoms) >= 8
    _check_dw_geoms(entry, geoms, 700 + entry["index"])
    if _has_multi(entry):
        assert _check_dw_multi(entry, geoms[:4], np.random.default_rng(750 + entry["index"])) > 0


# specialized kernels that take any dilation (the table's dilation 0)
DW_ANY_DILATION = [k for k in DW if k["kernel_h"] and k.get("dilation", 1) == 0]


@pytest.mark.parametrize("entry", DW_ANY_DILATION, ids=[k["name"] for k in DW_ANY_DILATION])
def test_dwconv_kernel_dilation2_edges(entry):
    """Dilation 2: every output height 1..29 (each row phase then has 1..15 rows, which the AVX-512
    3x3 kernel splits into passes of 4..7 rows on planes up to 32 columns wide) at widths around
    one and two vectors, and wider planes."""
    _need(entry)
    lanes = LANES[entry["isa"]]
    geoms = _edge_geoms(entry, range(1, 30), (lanes - 1, lanes, 2 * lanes - 1, 2 * lanes), _pads, dilation=2)
    geoms += _edge_geoms(entry, (13, 14), (2 * lanes + 1, 4 * lanes + 3), _pads, dilation=2)
    assert len(geoms) > 100
    _check_dw_geoms(entry, geoms, 700 + entry["index"])


DW_3X3_ANY_DILATION = [k for k in DW_ANY_DILATION if k["kernel_h"] == 3 and k["stride"] == 1]


def _narrow_plane_geoms(stride, dilation):
    """3x3 geometries on input heights and widths 1..33 with every left and top pad 0..dilation
    (right and bottom pads differ)."""
    geoms = []
    pads = range(dilation + 1)
    sizes = [(h, w) for h in range(1, 34) for w in (3, 14, 17, 28, 33)] + \
        [(h, w) for w in range(1, 34) for h in (5, 14, 28)]
    for n, (in_h, in_w) in enumerate(sizes):
        for pt in pads:
            for pl in pads:
                pb, pr = (pt + 1 + n) % (dilation + 1), (pl + 2 + n) % (dilation + 1)
                oh = out_extent(in_h, pt, pb, 3, dilation, stride)
                ow = out_extent(in_w, pl, pr, 3, dilation, stride)
                if oh >= 1 and ow >= 1:
                    geoms.append(((in_h, in_w, 3, 3, stride, stride, dilation, dilation, pt, pb, pl, pr), oh, ow))
    return geoms


@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("entry", DW_3X3_ANY_DILATION, ids=[k["name"] for k in DW_3X3_ANY_DILATION])
def test_dwconv_3x3_narrow_planes_every_pad(entry, dilation):
    """3x3 stride 1 at dilations 1..3 on planes up to 33 columns, every pad: the AVX-512 kernel
    holds rows of up to 32 columns in one or two vectors and moves them by whole lanes, with
    immediates for pad 1 (and 0 in one vector) at dilation 1 and pad 2 at dilation 2 (two
    vectors), by index vectors otherwise; so every shift form, both row widths and every pass
    height run, and wider rows take strips."""
    _need(entry)
    geoms = _narrow_plane_geoms(1, dilation)
    assert len(geoms) > 500 * dilation
    _check_dw_geoms(entry, geoms, 800 + 10 * dilation + entry["index"])


DW_3X3S2 = [k for k in DW if k["kernel_h"] == 3 and k["stride"] == 2]


@pytest.mark.parametrize("entry", DW_3X3S2, ids=[k["name"] for k in DW_3X3S2])
def test_dwconv_3x3s2_narrow_planes_every_pad(entry):
    """3x3 stride 2 on planes up to 33 columns, every pad 0..1 on the left and top: the AVX-512
    kernel takes rows of up to 32 columns (16 outputs) whole and picks every tap's columns by an
    index vector, in passes of 4..8 output rows; 33 columns take strips."""
    _need(entry)
    geoms = _narrow_plane_geoms(2, 1)
    assert len(geoms) > 500
    _check_dw_geoms(entry, geoms, 830 + entry["index"])


# the specialized depthwise kernels (kernels/table.c's DWSM entries) carry a multi-channel entry point
DW_MULTI = [k for k in TABLE if k["kind"] == "dwconv" and k["kernel_h"]]


def _has_multi(entry):
    """Whether the table gives this dwconv kernel a multi-channel entry point (the hook says so)."""
    try:
        _ext.dw_multi_ukernel(entry["index"], (4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0), 1, np.zeros(16, np.float32),
                              16, np.zeros(10, np.float32), np.zeros(4, np.float32), 0, 2, -math.inf, math.inf)
        return True
    except ValueError as e:
        if "not a multi-channel" in str(e):
            return False
        raise


@pytest.mark.parametrize("entry", DW_MULTI, ids=[k["name"] for k in DW_MULTI])
def test_dwconv_multi_channel_kernel(entry):
    """The multi-channel entry point (what the driver calls for whole planes): channel counts 1..17,
    channels sharing one plane (in_stride 0, a depth multiplier) or strided with NaN-filled gaps."""
    _need(entry)
    if not hasattr(_ext, "dw_multi_ukernel"):
        pytest.fail("_ext has no dw_multi_ukernel test hook")
    assert _has_multi(entry), f"{entry['name']}: a specialized depthwise kernel without its multi-channel entry"
    lanes = LANES[entry["isa"]]
    geoms = _edge_geoms(entry, (1, 8, 17), (lanes - 1, lanes + 1, 2 * lanes + 3), _pads)
    assert _check_dw_multi(entry, geoms, np.random.default_rng(600 + entry["index"])) > 10


@pytest.mark.parametrize("entry", DW_3X3_ANY_DILATION + DW_3X3S2,
                         ids=[k["name"] for k in DW_3X3_ANY_DILATION + DW_3X3S2])
def test_dwconv_3x3_paired_channels(entry):
    """Output rows of up to 8 columns from input rows of up to 16: the AVX-512 kernel computes two
    channels per vector (lanes 8..15 the next channel's row, taps and output). Odd and even channel
    counts (the last odd one alone), shared or strided planes, every pad, dilations 1 and 2 at
    stride 1, row ranges: each channel as the reference and bit for bit as the one-plane entry."""
    _need(entry)
    dilations = (1, 2) if entry["stride"] == 1 else (1,)
    geoms = [(g, oh, ow) for d in dilations for g, oh, ow in _narrow_plane_geoms(entry["stride"], d)
             if ow <= 8 and g[1] <= 16]
    geoms = geoms[::max(1, len(geoms) // 160)]
    assert len(geoms) > 100
    assert _check_dw_multi(entry, geoms, np.random.default_rng(860 + entry["index"])) == len(geoms)


def _check_dw_multi(entry, geoms, rng):
    """Each geometry through the multi-channel entry (channel counts 1..17 in turn, planes shared,
    contiguous or with NaN-filled gaps, clamps, whole and partial row ranges) against the
    reference and the one-plane entry; returns how many geometries ran."""
    checked = 0
    for n, (geom, oh, ow) in enumerate(geoms):
        in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        plane = in_h * in_w
        channels = (1, 2, 3, 7, 8, 9, 16, 17)[n % 8]
        in_stride = (0, plane, plane + 5)[n % 3]
        clamp = CLAMPS[list(CLAMPS)[n % 3]]
        xs = rng.standard_normal((channels, in_h, in_w)).astype(np.float32)
        if in_stride == 0:
            xs[:] = xs[0]
        xin = Guarded((channels - 1) * in_stride + plane, np.nan)  # gaps between planes stay NaN
        for c in range(channels):
            xin.view[c * in_stride:c * in_stride + plane] = xs[c].ravel()
        x_before = xin.big.copy()
        wb = rng.standard_normal((channels, 1 + kh * kw)).astype(np.float32)
        w = Guarded(wb.size, np.nan)
        w.view[:] = wb.ravel()
        out = Guarded(channels * oh * ow, OUT_SENTINEL)
        rows = (0, oh) if n % 2 == 0 or oh < 3 else (1, oh - 1)
        r = _ext.dw_multi_ukernel(entry["index"], geom, channels, xin.view, in_stride, w.view, out.view,
                                  rows[0], rows[1], *clamp)
        assert tuple(r) == (oh, ow)
        what = f"{entry['name']} multi geom={geom} channels={channels} in_stride={in_stride} rows={rows}"
        assert np.array_equal(xin.big, x_before, equal_nan=True), f"{what}: wrote into the input"
        assert out.guards_intact(), f"{what}: write outside the output"
        y = out.view.reshape(channels, oh, ow)
        outside = np.concatenate([y[:, :rows[0]].ravel(), y[:, rows[1]:].ravel()])
        assert np.all(outside == OUT_SENTINEL), f"{what}: wrote rows outside {rows}"
        for c in range(channels):
            args = (xs[c][None, None], wb[c, 1:].reshape(1, 1, kh, kw), wb[c, :1], (sh, sw), (pt, pb, pl, pr),
                    (dh, dw))
            ref, absref = np.clip(conv2d_ref(*args)[0, 0], *clamp), conv2d_ref_abs(*args)[0, 0]
            sl = slice(*rows)
            assert_conv_close(y[c, sl], ref[sl], absref[sl], kh * kw, key=f"kernel:{entry['name']}",
                              what=f"{what} channel {c}")
            single = run_dw(entry, geom, oh, ow, xs[c], wb[c, 1:].reshape(kh, kw), wb[c, 0], clamp, rows)
            np.testing.assert_array_equal(y[c, sl], single[sl], err_msg=f"{what} channel {c} vs one-plane entry")
        checked += 1
    return checked


def _check_gconv_geoms(entry, geoms, rng, cins):
    """Each geometry through the kernel (one call per row range, every cout of its block in turn)
    against the float64 reference and the scalar twin."""
    twin = _twin(entry)
    for n, (geom, oh, ow) in enumerate(geoms):
        in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        cin, cout = cins[n % len(cins)], 1 + n % entry["mr"]
        clamp = CLAMPS[list(CLAMPS)[n % 3]]
        x = rng.standard_normal((cin, in_h, in_w)).astype(np.float32)
        wts = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
        bias = rng.standard_normal(cout).astype(np.float32)
        args = (x[None], wts, bias, (sh, sw), (pt, pb, pl, pr), (dh, dw))
        ref, absref = np.clip(conv2d_ref(*args)[0], *clamp), conv2d_ref_abs(*args)[0]
        rows = (0, oh) if n % 2 == 0 or oh < 3 else (1, oh - 1)
        what = f"{entry['name']} geom={geom} out={oh}x{ow} cin={cin} cout={cout} rows={rows}"
        y = run_gconv(entry, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows)
        sl = (slice(None), slice(*rows))
        K = cin * kh * kw
        assert_conv_close(y[sl], ref[sl], absref[sl], K, key=f"kernel:{entry['name']}", what=what)
        yt = run_gconv_blocks(twin, geom, oh, ow, cin, cout, x, wts, bias, clamp, rows)
        assert_conv_close(y[sl], yt[sl].astype(np.float64), absref[sl], K, what=what + " vs twin", rtol=2 * RTOL)


@pytest.mark.parametrize("entry", GCONV, ids=[k["name"] for k in GCONV])
def test_gconv_kernel_tile_edges(entry):
    """Output widths at/below/above one and two column steps (entry['nr']: 16 AVX2, 32 AVX-512), every
    cout of the block, cin 1/3/8, with and without padding, full and partial rows (3x3 stride 1: a
    specialized kernel's other-geometry path)."""
    _need(entry)
    step = max(entry["nr"], 4)
    widths = sorted({1, step - 1, step, step + 1, 2 * step - 1, 2 * step, 2 * step + 1})
    rng = np.random.default_rng(700 + entry["index"])
    generic = dict(entry, kernel_h=0, kernel_w=0, stride=0)
    geoms = _edge_geoms(generic, (1, 5), widths, lambda kh, kw, d: [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 2, 0)])
    _check_gconv_geoms(entry, geoms, rng, (1, 3, 8))


GCONV_SPECIALIZED = [k for k in GCONV if k["kernel_h"]]


@pytest.mark.parametrize("entry", GCONV_SPECIALIZED, ids=[k["name"] for k in GCONV_SPECIALIZED])
def test_gconv_specialized_kernel(entry):
    """The geometry a specialized kernel is built for (f32-gconv-3x3s2-8oc: 3x3 stride 2): output
    widths at/below/above its 16-column head and 32-column blocks and a 224-pixel stem's 112, each
    side's padding 0..3 (blocks with and without masks, the last one reading the row's last column),
    cin 1..4 and 8, every cout of the block, full and partial rows."""
    _need(entry)
    widths = (1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 49, 65, 112)
    pads = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 2, 0), (3, 1, 1, 3), (1, 0, 0, 1), (2, 3, 3, 2)]
    geoms = _edge_geoms(entry, (1, 2, 5), widths, lambda kh, kw, d: pads)
    assert all(g[0][2:8] == (3, 3, 2, 2, 1, 1) for g in geoms) and len(geoms) > 150
    _check_gconv_geoms(entry, geoms, np.random.default_rng(750 + entry["index"]), (1, 2, 3, 4, 8))


@pytest.mark.parametrize("entry", GDC, ids=[k["name"] for k in GDC])
def test_gdc_kernel_tile_edges(entry):
    """Tap counts at/below/above one and two vectors and the 32-float step (15..65), channels 1/5/17."""
    _need(entry)
    rng = np.random.default_rng(800 + entry["index"])
    for taps in (15, 17, 24, 31, 32, 33, 47, 48, 63, 65):
        for channels in (1, 5, 17):
            in_stride = taps + (3 if channels % 2 else 0)
            x = rng.standard_normal((channels, taps)).astype(np.float32)
            wb = rng.standard_normal((channels, taps + 1)).astype(np.float32)
            xin = Guarded((channels - 1) * in_stride + taps, np.nan)
            for c in range(channels):
                xin.view[c * in_stride:c * in_stride + taps] = x[c]
            w = Guarded(wb.size, np.nan)
            w.view[:] = wb.ravel()
            out = Guarded(channels, OUT_SENTINEL)
            _ext.gdc_ukernel(entry["index"], channels, taps, xin.view, in_stride, w.view, out.view, -math.inf,
                             math.inf)
            what = f"{entry['name']} channels={channels} taps={taps} in_stride={in_stride}"
            assert out.guards_intact(), f"{what}: write outside out"
            ref = wb[:, 0].astype(np.float64) + np.einsum("ct,ct->c", wb[:, 1:].astype(np.float64), x)
            absref = np.abs(wb[:, 0]) + np.einsum("ct,ct->c", np.abs(wb[:, 1:]).astype(np.float64), np.abs(x))
            assert_conv_close(out.view, ref, absref, taps, key=f"kernel:{entry['name']}", what=what)


DW_3X3S1 = [k for k in DW_MULTI if (k["kernel_h"], k["kernel_w"], k["stride"]) == (3, 3, 1)]


@pytest.mark.parametrize("entry", DW_3X3S1, ids=[k["name"] for k in DW_3X3S1])
def test_dwconv_output_alignment(entry):
    """Large planes whose rows are whole vectors (3x3s1 then starts with a narrower strip so that the
    later ones store on cache-line (AVX-512) or 32-byte (AVX2) boundaries): the output at every float offset within a
    64-byte line gives the same values, matches the reference and writes nothing outside."""
    _need(entry)
    rng = np.random.default_rng(800 + entry["index"])
    channels = 2
    for geom in ((80, 112, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (66, 130, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),
                 (96, 95, 3, 3, 1, 1, 1, 1, 2, 0, 3, 0)):
        in_h, in_w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = geom
        oh, ow = out_extent(in_h, pt, pb, kh, dh, sh), out_extent(in_w, pl, pr, kw, dw, sw)
        assert ow % 16 == 0 and oh * ow >= 8192
        plane = in_h * in_w
        xs = rng.standard_normal((channels, in_h, in_w)).astype(np.float32)
        wb = rng.standard_normal((channels, 1 + kh * kw)).astype(np.float32)
        n = channels * oh * ow
        big = np.empty(n + 2 * GUARD + 16, np.float32)
        base = GUARD + (-(big.ctypes.data // 4)) % 16  # 64-byte aligned, GUARD floats in
        first = None
        for lead in range(16):
            big[:] = OUT_SENTINEL
            out = big[base + lead:base + lead + n]
            _ext.dw_multi_ukernel(entry["index"], geom, channels, xs.ravel(), plane, wb.ravel(), out, 0, oh,
                                  -math.inf, math.inf)
            what = f"{entry['name']} geom={geom} output {lead} floats past a line"
            outside = np.concatenate([big[:base + lead], big[base + lead + n:]])
            assert np.all(outside == OUT_SENTINEL), f"{what}: write outside the output"
            y = out.reshape(channels, oh, ow).copy()
            if first is None:
                first = y
                for c in range(channels):
                    args = (xs[c][None, None], wb[c, 1:].reshape(1, 1, kh, kw), wb[c, :1], (sh, sw),
                            (pt, pb, pl, pr), (dh, dw))
                    assert_conv_close(y[c], conv2d_ref(*args)[0, 0], conv2d_ref_abs(*args)[0, 0], kh * kw,
                                      key=f"kernel:{entry['name']}", what=f"{what} channel {c}")
            else:
                np.testing.assert_array_equal(y, first, err_msg=what)
