"""gconv_cpu.conv2d against a float64 NumPy reference and torch, on every algorithm and ISA."""
import functools
import sys

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu.nn import Conv2d
from reference import (assert_conv_close, conv2d_ref, conv2d_ref_abs, out_extent, pads4,
                       torch_conv2d64)


def _torch():
    """torch, the reference oracle; tests that need it are SKIPPED (with this reason) without it."""
    return pytest.importorskip("torch", reason="torch is the reference oracle for this test")


# --------------------------------------------------------------- configurations
# (n, c_in, h, w, c_out, groups, kernel, stride, padding, dilation, bias)

HAND = [
    # realistic sizes
    (1, 128, 56, 56, 128, 32, 3, 1, 1, 1, True),
    (1, 96, 27, 27, 256, 2, 5, 1, 2, 1, True),
    # pointwise: the direct 1x1 GEMM path (input read in place), odd pixel counts / many channels
    (2, 16, 15, 17, 40, 1, 1, 1, 0, 1, True),
    (1, 24, 33, 7, 13, 1, 1, 1, 0, 1, False),
    (1, 64, 7, 7, 96, 1, 1, 1, 0, 1, True),
    (3, 12, 1, 1, 18, 3, 1, 1, 0, 1, True),
    (1, 8, 5, 9, 8, 2, 1, 1, 0, 1, True),
    # 1x1 kernels that do not take the direct path (stride / padding)
    (1, 8, 9, 9, 8, 1, 1, 2, 0, 1, True),
    (1, 4, 5, 6, 6, 2, 1, 1, 1, 1, True),
    # stride-2 dense convs through im2col (its stride-2 row copy): the stem's 3 channels, odd and
    # even widths, a left pad that skips the first column and a right edge that drops the last
    (1, 3, 19, 24, 8, 1, 3, 2, 1, 1, True),
    (1, 3, 21, 37, 16, 1, 3, 2, (0, 1, 2, 0), 1, True),
    (1, 5, 9, 8, 8, 1, 5, 2, 2, 1, False),
    # stride larger than the kernel
    (2, 6, 13, 11, 6, 3, 1, 3, 0, 1, True),
    (1, 4, 17, 17, 8, 4, 2, 4, 0, 1, True),
    (1, 3, 16, 15, 3, 3, (2, 1), (4, 3), 0, 1, True),
    # 1x1 inputs with padding
    (1, 4, 1, 1, 8, 1, 3, 1, 1, 1, True),
    (2, 3, 1, 1, 6, 3, 7, 1, 3, 1, True),
    (1, 2, 1, 1, 2, 2, 3, 2, (1, 1, 1, 1), 1, False),
    (1, 8, 1, 1, 8, 8, (3, 5), 1, (1, 2), 1, True),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, True),
    # width 1 / height 1
    (1, 4, 9, 1, 4, 4, 3, 1, (1, 1, 1, 1), 1, True),
    (1, 4, 1, 9, 8, 4, 3, 1, (1, 1, 1, 1), 1, True),
    (2, 6, 17, 1, 6, 2, (3, 1), 2, (2, 0), 1, True),
    # widths 7, 15, 17, 33 (SIMD tails), H != W
    (1, 8, 5, 7, 8, 8, 3, 1, 1, 1, True),
    (1, 8, 3, 15, 16, 8, 3, 1, 1, 1, True),
    (1, 8, 4, 17, 24, 8, 3, 1, 1, 1, True),
    (1, 4, 6, 33, 4, 4, 3, 1, 1, 1, True),
    (1, 4, 6, 33, 4, 4, 3, 2, 1, 1, True),
    (1, 4, 6, 33, 4, 4, 3, 3, 1, 1, True),
    (1, 4, 6, 33, 4, 4, 5, 2, 2, 2, True),
    # 'same' and 'valid', including even kernels and dilation (odd extra pixel bottom/right)
    (1, 4, 9, 10, 4, 4, 4, 1, "same", 1, True),
    (1, 6, 9, 10, 12, 2, (2, 5), 1, "same", (3, 2), True),
    (2, 3, 8, 8, 9, 3, 3, 1, "same", 2, True),
    (1, 4, 10, 12, 8, 1, (4, 2), (2, 1), "valid", 1, True),
    (1, 8, 7, 9, 8, 8, 6, 1, "valid", 1, False),
    # asymmetric 4-tuple padding
    (1, 4, 7, 8, 4, 4, 3, 1, (0, 3, 2, 0), 1, True),
    (1, 6, 7, 8, 12, 3, (3, 4), (1, 2), (3, 0, 0, 1), (2, 1), True),
    (3, 2, 5, 5, 4, 1, 2, 1, (1, 0, 0, 1), 1, True),
    # depthwise with channel multipliers 1, 2, 3
    (1, 5, 11, 12, 5, 5, 3, 1, 1, 1, True),
    (1, 5, 11, 12, 10, 5, 3, 2, 1, 1, True),
    (2, 3, 11, 12, 9, 3, (5, 3), 1, (2, 1), (1, 2), True),
    (1, 32, 12, 12, 96, 32, 3, 1, 1, 1, True),
    # 7x7 kernels, dilation 3
    (1, 4, 20, 19, 4, 4, 7, 1, 3, 1, True),
    (1, 4, 20, 19, 8, 2, 7, 2, 9, 3, True),
    # groups 32 with 2 channels per group, groups 8, 4
    (1, 64, 9, 9, 64, 32, 3, 1, 1, 1, True),
    (2, 16, 10, 9, 32, 8, 3, 2, 1, 1, True),
    (1, 16, 8, 11, 32, 4, (1, 3), 1, (0, 1), 1, True),
    # few channels per group, stride_w 1 (a direct grouped path's territory): wide rows, wide kernels
    (1, 16, 9, 40, 16, 4, (3, 17), 1, (1, 8), 1, True),
    (1, 32, 6, 70, 32, 8, 5, 1, 2, 2, True),
    (2, 12, 13, 37, 24, 3, 3, (2, 1), 1, 1, True),
    (1, 64, 5, 35, 64, 8, (1, 3), 1, (0, 0, 2, 0), 1, False),
]

KINDS = ["g1", "g2", "g3", "g4", "g8", "g32", "dw1", "dw2", "dw3"]
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 16, 17, 33]


def _channels(kind, rng):
    if kind.startswith("dw"):
        cin = int(rng.choice([1, 2, 3, 5, 8, 16]))
        return cin, cin * int(kind[2:]), cin
    g = int(kind[1:])
    if g == 1:
        return int(rng.choice([1, 2, 3, 5, 8])), int(rng.choice([1, 3, 4, 8, 9, 17])), 1
    per_in = {2: [1, 2, 3], 3: [1, 2], 4: [1, 2], 8: [1, 2], 32: [2]}[g]
    per_out = {2: [1, 2, 5], 3: [1, 3], 4: [1, 2, 3], 8: [1, 2], 32: [1, 2]}[g]
    return g * int(rng.choice(per_in)), g * int(rng.choice(per_out)), g


def _random_configs(count, seed=20240611):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        kind = KINDS[len(out) % len(KINDS)]
        cin, cout, groups = _channels(kind, rng)
        kh = int(rng.integers(1, 8))
        kw = kh if rng.random() < 0.5 else int(rng.integers(1, 8))
        sh, sw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        stride = sh if rng.random() < 0.5 else (sh, sw)
        if isinstance(stride, int):
            sw = sh
        dh = 1 if rng.random() < 0.5 else int(rng.integers(1, 4))
        dw = dh if rng.random() < 0.6 else int(rng.integers(1, 4))
        dilation = dh if dh == dw else (dh, dw)
        mode = rng.choice(["int", "pair", "tuple4", "same", "valid"])
        if mode == "same" and (sh, sw) != (1, 1):
            mode = "tuple4"
        if mode == "int":
            padding = int(rng.integers(0, 4))
        elif mode == "pair":
            padding = (int(rng.integers(0, 4)), int(rng.integers(0, 4)))
        elif mode == "tuple4":
            padding = tuple(int(v) for v in rng.integers(0, 4, size=4))
        else:
            padding = str(mode)
        h, w = int(rng.choice(SIZES)), int(rng.choice(SIZES))
        n = int(rng.integers(1, 4))
        t, b, l, r = pads4(padding, (kh, kw), (dh, dw))
        oh, ow = out_extent(h, t, b, kh, dh, sh), out_extent(w, l, r, kw, dw, sw)
        if oh < 1 or ow < 1:
            continue  # kernel larger than the padded input: resample
        if n * cout * oh * ow * (cin // groups) * kh * kw > 1_000_000:
            continue  # keep the sweep fast
        out.append((n, cin, h, w, cout, groups, (kh, kw), stride, padding, dilation, bool(rng.random() < 0.8)))
    return out


CONFIGS = HAND + _random_configs(240 - len(HAND))


def _cfg_id(c):
    n, cin, h, w, cout, g, k, s, p, d, b = c
    fmt = lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return f"n{n}-{cin}to{cout}-g{g}-{h}x{w}-k{fmt(k)}-s{fmt(s)}-p{fmt(p)}-d{fmt(d)}" + ("" if b else "-nobias")


# Every algorithm the build offers ('auto', 'reference', 'dwconv', 'gemm', and any added later).
ALGORITHMS = list(gconv_cpu._plan.ALGORITHMS)
CORE = ("auto", "reference", "gemm", "dwconv")


def _algorithms(groups, cin):
    """The algorithms valid for a conv: all of them, but 'dwconv' only when groups == C_in."""
    return [a for a in ALGORITHMS if a != "dwconv" or groups == cin]


def _run(algorithm, *args, **kwargs):
    """conv2d with a forced algorithm. An algorithm added after the core four may decline a conv
    it does not handle (ValueError naming 'algorithm'): returns None then."""
    try:
        return gconv_cpu.conv2d(*args, algorithm=algorithm, **kwargs)
    except ValueError as e:
        if algorithm in CORE or not str(e).startswith("algorithm"):
            raise
        return None


@functools.lru_cache(maxsize=None)
def _case(index):
    """Inputs, float64 reference, its condition scale, and torch's float64 output for CONFIGS[index]."""
    n, cin, h, w, cout, groups, k, stride, padding, dilation, has_bias = CONFIGS[index]
    rng = np.random.default_rng(1000 + index)
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if has_bias else None
    pads = pads4(padding, (kh, kw), dilation)
    ref = conv2d_ref(x, wt, b, stride, pads, dilation, groups)
    absref = conv2d_ref_abs(x, wt, b, stride, pads, dilation, groups)
    tref = torch_conv2d64(x, wt, b, stride, padding, dilation, groups)
    K = (cin // groups) * kh * kw
    return x, wt, b, ref, absref, tref, K


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[_cfg_id(c) for c in CONFIGS])
def test_sweep(index, isa):
    _torch()
    n, cin, h, w, cout, groups, k, stride, padding, dilation, has_bias = CONFIGS[index]
    x, wt, b, ref, absref, tref, K = _case(index)
    # The NumPy oracle itself agrees with torch (float64 vs float64).
    assert tref.shape == ref.shape
    assert np.all(np.abs(tref - ref) <= 1e-12 * (absref + 1e-300)), "reference.py disagrees with torch"
    for algorithm in _algorithms(groups, cin):
        y = _run(algorithm, x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        if y is None:
            continue
        assert y.dtype == np.float32 and y.flags.c_contiguous
        what = f"{isa}/{algorithm}/{_cfg_id(CONFIGS[index])}"
        assert_conv_close(y, ref, absref, K, key=isa, what=what + " vs numpy")
        assert_conv_close(y, tref, absref, K, what=what + " vs torch")


def test_sweep_coverage():
    """The sweep really covers what it claims (guards against a generator that drifts)."""
    groups = {c[5] for c in CONFIGS}
    assert {1, 2, 3, 4, 8, 32} <= groups
    multipliers = {c[4] // c[1] for c in CONFIGS if c[5] == c[1]}
    assert {1, 2, 3} <= multipliers
    kernels = {(c[6], c[6]) if isinstance(c[6], int) else c[6] for c in CONFIGS}
    assert {1, 2, 3, 4, 5, 6, 7} <= {kh for kh, kw in kernels} and any(kh != kw for kh, kw in kernels)
    strides = {s for c in CONFIGS for s in ((c[7],) if isinstance(c[7], int) else c[7])}
    assert {1, 2, 3, 4} <= strides
    dilations = {d for c in CONFIGS for d in ((c[9],) if isinstance(c[9], int) else c[9])}
    assert {1, 2, 3} <= dilations
    pads = [c[8] for c in CONFIGS]
    assert "same" in pads and "valid" in pads
    assert any(isinstance(p, tuple) and len(p) == 4 and (p[0] != p[1] or p[2] != p[3]) for p in pads)
    assert {1, 2, 3} <= {c[0] for c in CONFIGS}
    assert {1, 7, 15, 17, 33} <= {c[3] for c in CONFIGS}
    assert any(c[2] != c[3] for c in CONFIGS) and any(c[2] == c[3] == 1 for c in CONFIGS)
    assert len(CONFIGS) >= 150


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_runs_on_a_resnext_block(algorithm, isa):
    """Each algorithm (including any added later) handles at least the grouped 3x3 stride-1 conv it
    is most likely made for (dwconv: the depthwise one; winograd: 16 channels per group, its
    minimum), and gets it right."""
    rng = np.random.default_rng(99)
    groups, cin, cout = {"dwconv": (32, 32, 32), "winograd": (8, 128, 128)}.get(algorithm, (32, 128, 128))
    x = rng.standard_normal((2, cin, 14, 13)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = gconv_cpu.conv2d(x, wt, b, padding=1, groups=groups, algorithm=algorithm)
    ref = conv2d_ref(x, wt, b, 1, (1, 1, 1, 1), 1, groups)
    assert_conv_close(y, ref, conv2d_ref_abs(x, wt, b, 1, (1, 1, 1, 1), 1, groups), cin // groups * 9,
                      key=isa, what=f"{isa}/{algorithm}/resnext-block")


@pytest.mark.parametrize("cin, cout, hw, padding", [
    (3, 32, (225, 223), 1), (3, 24, (56, 57), (0, 1, 0, 1)), (4, 16, (33, 65), 0), (3, 64, (112, 112), 1),
    (2, 8, (9, 10), 2)], ids=["3to32-odd", "3to24-tf-same", "4to16-valid", "3to64-112", "2to8-pad2"])
def test_first_layers_take_the_direct_kernel(cin, cout, hw, padding, isa, restore_threads):
    """A first layer (at most 4 input channels, 3x3 stride 2) runs on the direct stride-2 kernel where
    the ISA has one (AVX2, AVX-512), else as a GEMM; either way it matches the reference, with its
    fused clamp, at batch 2 and 1-3 threads, with the same bits at every thread count."""
    rng = np.random.default_rng(cin * 100 + cout)
    x = rng.standard_normal((2, cin, *hw)).astype(np.float32)
    layer = Conv2d(cin, cout, 3, stride=2, padding=padding, activation="relu6")
    layer.weight[...] = rng.standard_normal(layer.weight.shape).astype(np.float32)
    layer.bias[...] = rng.standard_normal(cout).astype(np.float32)
    pads = padding if isinstance(padding, tuple) else (padding,) * 4
    ref = np.clip(conv2d_ref(x, layer.weight, layer.bias, 2, pads, 1, 1), 0, 6)
    absref = conv2d_ref_abs(x, layer.weight, layer.bias, 2, pads, 1, 1)
    first = None
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = layer(x)
        assert_conv_close(y, ref, absref, cin * 9, key=isa, what=f"{isa}/first-layer/{t}t")
        first = y if first is None else first
        assert np.array_equal(y, first), f"{t} threads differ from 1"
    direct = isa in ("avx2", "avx512")
    assert layer._op.algorithm == ("grouped_direct" if direct else "gemm"), layer._op.algorithm
    assert (layer._op.kernel_name == f"f32-gconv-3x3s2-8oc-{isa}") == direct


@pytest.mark.parametrize("channels, hw, padding, dilation", [(24, (56, 56), 3, 1), (40, (14, 14), 3, 1), (16, (7, 7), 3, 1),
                                                           (16, (23, 19), (1, 4), 1), (12, (30, 30), 6, 2)])
def test_depthwise_7x7_takes_its_kernel(channels, hw, padding, dilation, isa, restore_threads):
    """A 7x7 stride-1 depthwise conv (ConvNeXt's, RepLKNet's) runs on f32-dwconv-7x7s1 where the ISA has
    it (AVX2, AVX-512; the generic kernel took 7x its time at 96x56x56), and matches the reference with
    its fused clamp at batch 2 and 1-3 threads, with the same bits at every thread count."""
    rng = np.random.default_rng(channels * 100 + hw[0])
    x = rng.standard_normal((2, channels, *hw)).astype(np.float32)
    layer = Conv2d(channels, channels, 7, padding=padding, dilation=dilation, groups=channels, activation="relu")
    layer.weight[...] = rng.standard_normal(layer.weight.shape).astype(np.float32)
    layer.bias[...] = rng.standard_normal(channels).astype(np.float32)
    pads = pads4(padding, 7, dilation)
    ref = np.maximum(conv2d_ref(x, layer.weight, layer.bias, 1, pads, dilation, channels), 0)
    absref = conv2d_ref_abs(x, layer.weight, layer.bias, 1, pads, dilation, channels)
    first = None
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = layer(x)
        assert_conv_close(y, ref, absref, 49, key=isa, what=f"{isa}/dw7x7/{t}t")
        first = y if first is None else first
        assert np.array_equal(y, first), f"{t} threads differ from 1"
    expected = f"f32-dwconv-7x7s1-{isa}" if isa in ("avx2", "avx512") else "f32-dwconv-generic-scalar"
    assert layer._op.kernel_name == expected, layer._op.kernel_name


@pytest.mark.parametrize("channels, hw, k, stride", [(144, 56, 3, 2), (480, 28, 5, 1), (150, 56, 5, 2)])
def test_depthwise_narrow_output_past_l2(channels, hw, k, stride, isa, restore_threads):
    """Depthwise layers whose output rows fit two vectors but whose channels' input and output pass
    2 MB (the AVX-512 kernels then go channel by channel instead of strip by strip over all
    channels): the reference and the same bits at 1-3 threads, where each thread's share may fall
    on either side of that size."""
    rng = np.random.default_rng(channels + hw)
    x = rng.standard_normal((1, channels, hw, hw)).astype(np.float32)
    wt = rng.standard_normal((channels, 1, k, k)).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    first = None
    for t in (1, 2, 3):
        gconv_cpu.set_num_threads(t)
        y = gconv_cpu.conv2d(x, wt, b, stride=stride, padding=k // 2, groups=channels)
        if first is None:
            _check(y, x, wt, b, stride=stride, padding=k // 2, groups=channels, what=f"{isa} {channels}x{hw} k{k}s{stride}")
            first = y
        assert np.array_equal(y, first), f"{isa} {channels}x{hw} k{k}s{stride}: {t} threads differ from 1"


# ---------------------------------------------------------- input conversions

def _small(seed=0, n=2, cin=6, h=9, w=11, cout=9, groups=3, k=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    return x, wt, b


def _check(y, x, wt, b, stride=1, padding=0, dilation=1, groups=1, what=""):
    pads = pads4(padding, wt.shape[2:], dilation)
    ref = conv2d_ref(x, wt, b, stride, pads, dilation, groups)
    absref = conv2d_ref_abs(x, wt, b, stride, pads, dilation, groups)
    assert_conv_close(y, ref, absref, wt.shape[1] * wt.shape[2] * wt.shape[3], what=what)


@pytest.mark.parametrize("algorithm", ["auto", "reference", "gemm"])
def test_float64_input_is_converted(algorithm):
    x, wt, b = _small(1)
    x64, w64, b64 = (np.random.default_rng(2).standard_normal(a.shape) for a in (x, wt, b))
    y = gconv_cpu.conv2d(x64, w64, b64, padding=1, groups=3, algorithm=algorithm)
    assert y.dtype == np.float32
    # Exactly what the float32-rounded inputs give.
    y32 = gconv_cpu.conv2d(x64.astype(np.float32), w64.astype(np.float32), b64.astype(np.float32), padding=1,
                           groups=3, algorithm=algorithm)
    np.testing.assert_array_equal(y, y32)
    _check(y, x64.astype(np.float32), w64.astype(np.float32), b64.astype(np.float32), padding=1, groups=3)


@pytest.mark.parametrize("algorithm", ["auto", "gemm", "dwconv"])
def test_noncontiguous_inputs(algorithm):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((2, 8, 13, 10)).astype(np.float32)
    x = base.transpose(0, 1, 3, 2)[:, :, ::2, 1:]  # transposed, then sliced: (2, 8, 5, 12)
    assert not x.flags.c_contiguous
    w_base = rng.standard_normal((8, 3, 3, 2)).astype(np.float32)
    wt = w_base.transpose(0, 3, 1, 2)[:, :1]  # (8, 1, 3, 3), non-contiguous
    assert not wt.flags.c_contiguous and wt.shape == (8, 1, 3, 3)
    b = rng.standard_normal(16).astype(np.float32)[::2]
    y = gconv_cpu.conv2d(x, wt, b, padding=1, groups=8, algorithm=algorithm)
    _check(y, np.ascontiguousarray(x), np.ascontiguousarray(wt), np.ascontiguousarray(b), padding=1, groups=8)
    y2 = gconv_cpu.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(wt), np.ascontiguousarray(b), padding=1,
                          groups=8, algorithm=algorithm)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.int16, np.float16])
def test_integer_and_half_input(dtype):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 100, size=(1, 4, 7, 8)).astype(dtype)
    wt = rng.integers(-5, 6, size=(6, 2, 3, 3)).astype(dtype if dtype != np.uint8 else np.int8)
    y = gconv_cpu.conv2d(x, wt, None, padding=1, groups=2)
    assert y.dtype == np.float32
    ref = conv2d_ref(x.astype(np.float64), wt.astype(np.float64), None, 1, (1, 1, 1, 1), 1, 2)
    # Small integers: every product and partial sum is exact in float32.
    np.testing.assert_array_equal(y, ref.astype(np.float32))


def test_python_lists_and_torch_tensors():
    torch = _torch()
    x, wt, b = _small(5, n=1, cin=2, h=4, w=5, cout=2, groups=1, k=2)
    y = gconv_cpu.conv2d(x, wt, b)
    np.testing.assert_array_equal(gconv_cpu.conv2d(x.tolist(), wt.tolist(), b.tolist()), y)
    np.testing.assert_array_equal(
        gconv_cpu.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)), y)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_input(algorithm):
    torch = _torch()
    F = torch.nn.functional
    x, wt, b = _small(6, n=1, cin=4, cout=8, groups=4)
    y3 = _run(algorithm, x[0], wt, b, stride=2, padding=1, groups=4)
    if y3 is None:  # an algorithm for other convs: declined with a ValueError naming 'algorithm'
        return
    y4 = gconv_cpu.conv2d(x, wt, b, stride=2, padding=1, groups=4, algorithm=algorithm)
    assert y3.shape == y4.shape[1:] == (8, 5, 6)
    np.testing.assert_array_equal(y3, y4[0])
    t = F.conv2d(torch.from_numpy(x[0]).double(), torch.from_numpy(wt).double(), torch.from_numpy(b).double(),
                 stride=2, padding=1, groups=4).numpy()
    assert t.shape == y3.shape
    np.testing.assert_allclose(y3, t, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------ out=

@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_out_is_written_and_returned(algorithm):
    x, wt, b = _small(7, cin=4, cout=4, groups=4)
    if algorithm == "winograd":  # needs 16 channels per group
        x, wt, b = _small(7, cin=32, cout=16, groups=2)
    groups = x.shape[1] // wt.shape[1]
    expected = gconv_cpu.conv2d(x, wt, b, padding=1, groups=groups, algorithm=algorithm)
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    y = gconv_cpu.conv2d(x, wt, b, padding=1, groups=groups, algorithm=algorithm, out=out)
    assert y is out
    np.testing.assert_array_equal(out, expected)


def test_out_unbatched():
    x, wt, b = _small(8, n=1, cin=4, cout=4, groups=2)
    expected = gconv_cpu.conv2d(x[0], wt, b, padding=1, groups=2)
    out = np.zeros(expected.shape, dtype=np.float32)
    y = gconv_cpu.conv2d(x[0], wt, b, padding=1, groups=2, out=out)
    np.testing.assert_array_equal(out, expected)
    assert np.shares_memory(y, out) and y.shape == out.shape


@pytest.mark.parametrize("bad, exc, match", [
    (lambda s: np.zeros((s[0], s[1], s[2], s[3] + 1), np.float32), ValueError, "out"),
    (lambda s: np.zeros((s[0] + 1,) + s[1:], np.float32), ValueError, "out"),
    (lambda s: np.zeros(s, np.float64), TypeError, "out"),
    (lambda s: np.zeros(s[:3] + (2 * s[3],), np.float32)[..., ::2], TypeError, "out"),
    (lambda s: np.zeros(s, np.float32).tolist(), TypeError, "out"),
    (lambda s: np.zeros(s, ">f4" if sys.byteorder == "little" else "<f4"), TypeError, "out"),
    (lambda s: np.zeros(s[1:], np.float32), ValueError, "out"),
], ids=["wrong-width", "wrong-batch", "float64", "non-contiguous", "list", "byte-swapped", "3-D"])
def test_out_rejected(bad, exc, match):
    x, wt, b = _small(9, cin=4, cout=4, groups=2)
    shape = gconv_cpu.conv2d(x, wt, b, padding=1, groups=2).shape
    with pytest.raises(exc, match=match):
        gconv_cpu.conv2d(x, wt, b, padding=1, groups=2, out=bad(shape))


def test_out_readonly_rejected():
    x, wt, b = _small(10, cin=4, cout=4, groups=2)
    out = np.zeros(gconv_cpu.conv2d(x, wt, b, padding=1, groups=2).shape, np.float32)
    out.flags.writeable = False
    with pytest.raises(TypeError, match="out"):
        gconv_cpu.conv2d(x, wt, b, padding=1, groups=2, out=out)
    assert not out.any()


def test_out_overlapping_input_rejected():
    x, wt, b = _small(11, cin=4, cout=4, groups=4, k=1)  # 1x1, same shape in and out
    keep = x.copy()
    with pytest.raises(ValueError, match="out"):
        gconv_cpu.conv2d(x, wt, b, groups=4, out=x)
    np.testing.assert_array_equal(x, keep)


def test_out_sharing_one_float_with_the_input_rejected_and_adjacent_accepted():
    x0, wt, b = _small(12, cin=4, cout=4, groups=4, k=1)
    n = x0.size
    buf = np.zeros(2 * n, np.float32)
    x = buf[:n].reshape(x0.shape)
    x[...] = x0
    with pytest.raises(ValueError, match="out must not overlap"):
        gconv_cpu.conv2d(x, wt, b, groups=4, out=buf[n - 1:2 * n - 1].reshape(x0.shape))
    np.testing.assert_array_equal(x, x0)
    layer = Conv2d(4, 4, 1, groups=4)
    with pytest.raises(ValueError, match="out must not overlap"):
        layer(x, out=buf[n - 1:2 * n - 1].reshape(x0.shape))
    y = gconv_cpu.conv2d(x, wt, b, groups=4, out=buf[n:].reshape(x0.shape))
    np.testing.assert_array_equal(y, gconv_cpu.conv2d(x0, wt, b, groups=4))


# ---------------------------------------------------------------- empty batch

BATCH_ZERO_CODE = """
import numpy as np, gconv_cpu
gconv_cpu.set_isa({isa!r})
gconv_cpu.set_num_threads({threads})
x = np.zeros((0, 4, 9, 7), np.float32)
for groups in (4, 2):
    w = np.ones((8, 4 // groups, 3, 2), np.float32)
    if {algorithm!r} == "dwconv" and groups != 4:
        continue
    try:
        y = gconv_cpu.conv2d(x, w, np.ones(8, np.float32), stride=2, padding=(1, 0), groups=groups,
                             algorithm={algorithm!r})
    except ValueError as e:  # an algorithm for other convs declines, naming 'algorithm'
        if {algorithm!r} in ("auto", "reference", "gemm", "dwconv") or not str(e).startswith("algorithm"):
            raise
        y = gconv_cpu.conv2d(x, w, np.ones(8, np.float32), stride=2, padding=(1, 0), groups=groups)
    print(groups, y.shape, y.dtype)
"""


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batch_zero(algorithm, threads, isa):
    """Batch 0 gives an empty (0, C_out, H_out, W_out) float32 array like torch.

    Run in a subprocess: on the GEMM path with num_threads > 1 it has crashed the interpreter
    (SIGFPE, division by zero in gemm_plan_schedule)."""
    from reference import describe_exit, run_python

    torch = _torch()
    F = torch.nn.functional
    t = F.conv2d(torch.zeros(0, 4, 9, 7), torch.ones(8, 1, 3, 2), stride=2, padding=(1, 0), groups=4)
    assert tuple(t.shape) == (0, 8, 5, 3)
    proc = run_python(BATCH_ZERO_CODE.format(isa=isa, threads=threads, algorithm=algorithm))
    assert proc.returncode == 0, (f"conv2d on a batch of 0 ({algorithm}, {threads} threads, {isa}) "
                                  f"{describe_exit(proc)}: {proc.stderr[-800:]}")
    lines = proc.stdout.split("\n")
    assert "4 (0, 8, 5, 3) float32" in lines
    if algorithm != "dwconv":
        assert "2 (0, 8, 5, 3) float32" in lines


# ------------------------------------------------------------------ NaN / Inf

@pytest.mark.parametrize("cfg", [
    dict(cin=4, cout=4, groups=4, k=3, padding=1, stride=1),
    dict(cin=4, cout=8, groups=4, k=3, padding=1, stride=2),
    dict(cin=6, cout=9, groups=3, k=3, padding=1, stride=1),
    dict(cin=8, cout=16, groups=1, k=1, padding=0, stride=1),
    dict(cin=4, cout=4, groups=2, k=5, padding=2, stride=1),
], ids=["dw", "dw-m2-s2", "g3", "pointwise", "g2-5x5"])
def test_nan_inf_propagate_like_torch(cfg, isa):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(12)
    cin, cout, groups, k = cfg["cin"], cfg["cout"], cfg["groups"], cfg["k"]
    x = rng.standard_normal((2, cin, 9, 37)).astype(np.float32)
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, size=12, replace=False)
    flat[idx[:4]] = np.nan
    flat[idx[4:8]] = np.inf
    flat[idx[8:]] = -np.inf
    wt = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    t = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(), torch.from_numpy(b).double(),
                 stride=cfg["stride"], padding=cfg["padding"], groups=groups).numpy()
    assert np.isnan(t).any() and np.isinf(t).any()
    algos = _algorithms(groups, cin)
    for algorithm in algos:
        y = _run(algorithm, x, wt, b, stride=cfg["stride"], padding=cfg["padding"], groups=groups)
        if y is None:
            continue
        np.testing.assert_array_equal(np.isnan(y), np.isnan(t), err_msg=f"{algorithm}: NaN positions")
        np.testing.assert_array_equal(np.isposinf(y), np.isposinf(t), err_msg=f"{algorithm}: +inf positions")
        np.testing.assert_array_equal(np.isneginf(y), np.isneginf(t), err_msg=f"{algorithm}: -inf positions")
        fin = np.isfinite(t)
        np.testing.assert_allclose(y[fin], t[fin], rtol=1e-4, atol=1e-4 * np.abs(t[fin]).max())


def test_nan_in_weight_and_bias(isa):
    torch = _torch()
    F = torch.nn.functional
    x, wt, b = _small(13, cin=4, cout=4, groups=4)
    wt[1, 0, 1, 1] = np.nan
    b[2] = np.nan
    for algorithm in _algorithms(4, 4):
        y = _run(algorithm, x, wt, b, padding=1, groups=4)
        if y is None:
            continue
        t = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), padding=1, groups=4).numpy()
        np.testing.assert_array_equal(np.isnan(y), np.isnan(t), err_msg=algorithm)
        assert np.isnan(y[:, 1]).all() and np.isnan(y[:, 2]).all() and not np.isnan(y[:, [0, 3]]).any()


# ------------------------------------------------------------- torch semantics

def test_padding_one_tuple_like_torch():
    """torch accepts padding=(1,) (and the library's own message says 1 value is allowed)."""
    torch = _torch()
    F = torch.nn.functional
    x, wt, b = _small(14, n=1, cin=2, cout=2, groups=1)
    t = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), padding=(1,)).numpy()
    y = gconv_cpu.conv2d(x, wt, b, padding=(1,))
    assert y.shape == t.shape
    np.testing.assert_allclose(y, t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", [[1, 2], np.array([2, 1]), [0, 1, 2, 3]], ids=["list2", "ndarray2", "list4"])
def test_padding_sequences(padding):
    x, wt, b = _small(15, n=1, cin=2, cout=2, groups=1)
    y = gconv_cpu.conv2d(x, wt, b, padding=padding)
    p = list(np.asarray(padding).tolist())
    _check(y, x, wt, b, padding=tuple(p))


def test_numpy_integer_params():
    x, wt, b = _small(16, n=1, cin=4, cout=4, groups=2)
    y = gconv_cpu.conv2d(x, wt, b, stride=np.int64(2), padding=np.int32(1), dilation=np.uint8(1),
                         groups=np.int16(2))
    _check(y, x, wt, b, stride=2, padding=1, groups=2)


# ------------------------------------------------------------------ Winograd

WINO_CASES = [
    # k, n, cin, cout, groups, h, w, padding
    (3, 1, 16, 16, 1, 7, 7, 1),
    (3, 2, 16, 24, 1, 13, 9, 1),
    (3, 1, 17, 5, 1, 1, 1, 1),            # one output pixel; cin not a multiple of anything
    (3, 1, 32, 48, 2, 28, 28, 1),         # rows of 7 tiles: two tile rows per vector
    (3, 2, 48, 33, 3, 11, 25, 1),
    (3, 1, 64, 64, 1, 56, 30, 1),         # rows of 14 tiles
    (3, 1, 16, 8, 1, 9, 70, (1, 0, 0, 1)),  # rows of 18 tiles, asymmetric padding
    (3, 1, 24, 16, 1, 6, 34, 0),          # 'valid': rows of 8 tiles
    (3, 1, 16, 9, 1, 20, 3, (0, 1, 1, 0)),
    (3, 0, 16, 16, 1, 8, 8, 1),           # empty batch
    (5, 1, 96, 64, 2, 27, 27, 2),         # AlexNet conv2's shape (narrower): rows of 14 tiles
    (5, 2, 16, 20, 1, 13, 9, 2),
    (5, 1, 17, 5, 1, 1, 1, 2),
    (5, 1, 32, 16, 1, 9, 70, (2, 0, 1, 2)),  # rows of 34 tiles
    (5, 1, 16, 8, 1, 8, 17, 0),
    (5, 0, 16, 16, 1, 8, 8, 2),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", WINO_CASES, ids=lambda c: "k{}-n{}-{}to{}-g{}-{}x{}-p{}".format(*c))
def test_winograd_matches_reference(case, threads, isa, restore_threads):
    """algorithm='winograd' (F(4x4, 3x3), F(2x2, 5x5)) within the suite's per-element bound, on
    every ISA."""
    k, n, cin, cout, groups, h, w, padding = case
    gconv_cpu.set_num_threads(threads)
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = (rng.standard_normal((n, cin, h, w)) * 3).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    layer = gconv_cpu.nn.Conv2d(cin, cout, k, padding=padding, groups=groups, algorithm="winograd")
    layer.weight, layer.bias = wt, b
    assert layer.plan_info["algorithm"] == "winograd" and f"{k}x{k}" in layer.plan_info["kernel"]
    y = layer(x)
    pads = pads4(padding, (k, k), 1)
    ref = conv2d_ref(x, wt, b, 1, pads, 1, groups)
    assert y.shape == ref.shape
    assert_conv_close(y, ref, conv2d_ref_abs(x, wt, b, 1, pads, 1, groups), cin // groups * k * k, key=isa,
                      what=f"{isa}/winograd/{case}/{threads}t")
    for act in ("relu", "relu6"):  # the clamp runs in the output transform
        ya = gconv_cpu.conv2d(x, wt, b, padding=padding, groups=groups, activation=act, algorithm="winograd")
        np.testing.assert_array_equal(ya, np.clip(y, 0, 6 if act == "relu6" else np.inf))


def test_winograd_is_bit_identical_across_thread_counts(isa, restore_threads):
    """Tiles are computed the same way whatever the blocks the thread count makes."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 32, 30, 45)).astype(np.float32)
    wt = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    out = {}
    for t in (1, 2, 3, 5):
        gconv_cpu.set_num_threads(t)
        out[t] = gconv_cpu.conv2d(x, wt, None, padding=1, algorithm="winograd")
    for t in (2, 3, 5):
        assert np.array_equal(out[t], out[1]), f"{t} threads differ from 1"


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("threads", [1, 2])
def test_winograd_nan_inf_propagate_like_torch(k, threads, isa, restore_threads):
    """A NaN/Inf would spread over whole 4x4 tiles through the transforms; the blocks that hold
    one are computed directly, so the non-finite outputs are exactly torch's, and an auto plan
    with a non-finite weight avoids Winograd."""
    torch = _torch()
    gconv_cpu.set_num_threads(threads)
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 16, 23, 37)).astype(np.float32)
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, size=9, replace=False)
    flat[idx[:3]], flat[idx[3:6]], flat[idx[6:]] = np.nan, np.inf, -np.inf
    wt = rng.standard_normal((24, 16, k, k)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    t = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(),
                                   torch.from_numpy(b).double(), padding=k // 2).numpy()
    for algorithm in ("winograd", "auto"):
        y = gconv_cpu.conv2d(x, wt, b, padding=k // 2, algorithm=algorithm)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(t), err_msg=f"{algorithm}: NaN positions")
        np.testing.assert_array_equal(np.isposinf(y), np.isposinf(t))
        np.testing.assert_array_equal(np.isneginf(y), np.isneginf(t))
        fin = np.isfinite(t)
        np.testing.assert_allclose(y[fin], t[fin], rtol=1e-4, atol=1e-4 * np.abs(t[fin]).max())
    x = rng.standard_normal((1, 16, 9, 10)).astype(np.float32)
    wt[3, 2, 0, 0] = np.inf
    t = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(), None,
                                   padding=k // 2).numpy()
    for algorithm in ("winograd", "auto"):
        y = gconv_cpu.conv2d(x, wt, None, padding=k // 2, algorithm=algorithm)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(t), err_msg=f"{algorithm}: Inf weight")
        np.testing.assert_array_equal(np.isinf(y), np.isinf(t))


@pytest.mark.parametrize("kwargs", [
    dict(cin=16, k=7, padding=3), dict(cin=16, stride=2), dict(cin=16, dilation=2, padding=2),
    dict(cin=16, padding=2), dict(cin=16, k=5, padding=3), dict(cin=8), dict(cin=32, groups=4),
    dict(cin=16, k=1, padding=0), dict(cin=16, k=5, stride=2, padding=2),
], ids=["7x7", "stride2", "dilation2", "3x3-pad2", "5x5-pad3", "8ch", "8ch-per-group", "1x1", "5x5-stride2"])
def test_winograd_declines_what_it_cannot_run(kwargs):
    cin, groups, k = kwargs.pop("cin"), kwargs.pop("groups", 1), kwargs.pop("k", 3)
    kwargs.setdefault("padding", 1)
    x = np.zeros((1, cin, 10, 10), np.float32)
    wt = np.zeros((8, cin // groups, k, k), np.float32)
    with pytest.raises(ValueError, match="^algorithm: winograd needs"):
        gconv_cpu.conv2d(x, wt, None, groups=groups, algorithm="winograd", **kwargs)
    gconv_cpu.conv2d(x, wt, None, groups=groups, **kwargs)  # auto picks something else


def test_auto_picks_winograd_for_dense_and_grouped_3x3_and_5x5():
    for cin, groups, k in ((64, 1, 3), (256, 8, 3), (16, 1, 3), (96, 2, 5), (32, 1, 5)):
        layer = gconv_cpu.nn.Conv2d(cin, cin, k, padding=k // 2, groups=groups)
        assert layer.plan_info["algorithm"] == "winograd", (cin, groups, k)
        assert f"{k}x{k}" in layer.plan_info["kernel"]
    for kwargs in (dict(stride=2, padding=1), dict(padding=1, groups=16), dict(padding=2, dilation=2)):
        layer = gconv_cpu.nn.Conv2d(64, 64, 3, **kwargs)
        assert layer.plan_info["algorithm"] != "winograd", kwargs


def test_auto_winograd_runs_the_gemm_where_tiles_would_waste(isa):
    """An auto Winograd plan computes small outputs (7x7: 2x2 tiles of 4x4 for 49 pixels, in
    16-lane groups) with the plain GEMM it carries, exactly as a GEMM plan does, and larger ones
    with Winograd. (The cut depends on the lanes: with the scalar path's one-tile groups, 7x7
    still pays.)"""
    rng = np.random.default_rng(8)
    wt = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    small = "gemm" if isa == "avx512" else None
    for hw, same_as in ((7, small), (5, small), (28, "winograd"), (30, "winograd")):
        x = rng.standard_normal((2, 32, hw, hw)).astype(np.float32)
        y = gconv_cpu.conv2d(x, wt, b, padding=1)
        if same_as:
            np.testing.assert_array_equal(y, gconv_cpu.conv2d(x, wt, b, padding=1, algorithm=same_as), err_msg=str(hw))
        _check(y, x, wt, b, padding=1, what=f"auto {hw}x{hw}")


@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_3x3_dilation2_through_the_plan(isa, threads, restore_threads):
    """Depthwise 3x3 dilation 2 through conv2d (the driver's multi-channel calls and, with few
    channels and 2 threads, row chunks) on odd and even sizes around the AVX-512 kernel's narrow
    planes (<= 32 columns), every padding 0..2, channel counts below, at and above a vector."""
    gconv_cpu.set_num_threads(threads)
    rng = np.random.default_rng(31 + threads)
    checked = 0
    for c in (1, 5, 16, 33):
        for h, w in ((7, 9), (14, 14), (27, 28), (28, 28), (33, 31), (9, 40)):
            for pad in (0, 1, 2):
                x = rng.standard_normal((1, c, h, w)).astype(np.float32)
                wt = rng.standard_normal((c, 1, 3, 3)).astype(np.float32)
                b = rng.standard_normal(c).astype(np.float32)
                y = gconv_cpu.conv2d(x, wt, b, padding=pad, dilation=2, groups=c)
                _check(y, x, wt, b, padding=pad, dilation=2, groups=c, what=f"{isa} t={threads} c={c} {h}x{w} pad={pad}")
                checked += 1
    assert checked == 72
