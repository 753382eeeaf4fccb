"""The non-convolution operators (src_c/ops, through gconv_cpu._functional_ops and the binding)
against torch (the oracle for the torch-named ops) and ONNX Runtime (the oracle for ONNX Resize).

Exact (==, NaN == NaN) where the op only selects or copies values (max pooling, shuffle, channel
copies, nearest resize, ReLU-like clamps); elsewhere within 1e-6 of the data's magnitude. Every
numeric test runs at 1 and 2 threads, with some tensors large enough to split over threads.
"""
import itertools
import math
import warnings

import numpy as np
import pytest

import gconv_cpu
from gconv_cpu import SizeOverflowError, _ext
from gconv_cpu import _functional_ops as ops

RTOL = 1e-6
GUARD = 64
OUT_SENTINEL = np.float32(12345.0)


@pytest.fixture
def F():
    """torch.nn.functional, the reference oracle; tests that need it are SKIPPED without torch."""
    torch = pytest.importorskip("torch", reason="torch is the reference oracle for this test")
    return torch.nn.functional


@pytest.fixture(params=[1, 2], ids=["threads1", "threads2"])
def threads(request, restore_threads):
    gconv_cpu.set_num_threads(request.param)
    return request.param


def tt(a):
    import torch
    return torch.from_numpy(np.ascontiguousarray(a).reshape(np.shape(a)))  # 0-d stays 0-d


def rand(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def assert_exact(y, ref):
    ref = np.asarray(ref)
    assert y.dtype == np.float32 and y.shape == ref.shape, (y.shape, ref.shape)
    assert np.array_equal(y, ref, equal_nan=True), f"max |diff| {np.nanmax(np.abs(y - ref)) if y.size else 0}"


def assert_close(y, ref, scale=None):
    """|y - ref| <= RTOL * (|ref| + scale), scale defaulting to max |ref| (the data's magnitude)."""
    ref = np.asarray(ref)
    assert y.dtype == np.float32 and y.shape == ref.shape, (y.shape, ref.shape)
    if scale is None:
        finite = np.abs(ref[np.isfinite(ref)])
        scale = float(finite.max()) if finite.size else 0.0
    np.testing.assert_allclose(y, ref, rtol=RTOL, atol=RTOL * scale + 1e-37, equal_nan=True)


# ---------------------------------------------------------------------------------------- pooling

POOL_SHAPES = [(1, 1, 7, 9), (2, 3, 8, 5), (1, 17, 11, 11), (0, 3, 6, 7), (2, 1, 5, 13), (1, 3, 9, 1)]


def _pool_cases():
    cases = []
    i = 0
    for k, s, ceil in itertools.product(range(1, 6), range(1, 4), (False, True)):
        for p in range(0, k // 2 + 1):
            cases.append((POOL_SHAPES[i % len(POOL_SHAPES)], k, s, p, ceil))
            i += 1
    return cases


def _torch_or_none(fn):
    try:
        return fn()
    except RuntimeError:  # torch rejects the geometry (e.g. an empty output)
        return None


@pytest.mark.parametrize("shape,k,s,p,ceil", _pool_cases())
def test_pool_sweep_matches_torch(F, threads, shape, k, s, p, ceil):
    x = rand(shape, seed=k * 100 + s * 10 + p)
    for d in (1, 2):
        ref = _torch_or_none(lambda: F.max_pool2d(tt(x), k, s, p, d, ceil).numpy())
        if ref is None:
            with pytest.raises(ValueError, match="kernel_size"):
                ops.max_pool2d(x, k, s, p, d, ceil)
            continue
        assert_exact(ops.max_pool2d(x, k, s, p, d, ceil), ref)
    for cip in (False, True):
        ref = _torch_or_none(lambda: F.avg_pool2d(tt(x), k, s, p, ceil, cip).numpy())
        if ref is None:
            continue
        assert_close(ops.avg_pool2d(x, k, s, p, ceil, cip), ref, scale=np.abs(x).max(initial=0))


@pytest.mark.parametrize("kernel,stride,padding,dilation", [
    ((3, 2), (2, 1), (1, 0), (1, 2)),
    ((1, 4), (3, 2), (0, 2), (2, 1)),
    ((5, 3), (1, 3), (2, 1), (1, 1)),
    ((2, 2), None, 0, 1),
    ((3,), (2,), (1,), (1,)),
])
@pytest.mark.parametrize("ceil", [False, True])
def test_pool_rectangular(F, threads, kernel, stride, padding, dilation, ceil):
    x = rand((2, 3, 13, 10), seed=3)
    ref = F.max_pool2d(tt(x), kernel, stride, padding, dilation, ceil).numpy()
    assert_exact(ops.max_pool2d(x, kernel, stride, padding, dilation, ceil), ref)
    for cip in (False, True):
        ref = F.avg_pool2d(tt(x), kernel, stride, padding, ceil, cip).numpy()
        assert_close(ops.avg_pool2d(x, kernel, stride, padding, ceil, cip), ref)


@pytest.mark.parametrize("shape", [(1, 24, 112, 112), (2, 64, 56, 56), (1, 3, 113, 111), (1, 1, 2, 2)])
def test_max_pool_3x3s2_fast_path(F, threads, shape):
    """ShuffleNet's and ResNet's stem pool (3x3, stride 2, pad 1), with the other paddings and ceil_mode."""
    x = rand(shape, seed=7)
    for p, ceil in ((1, False), (0, False), (1, True), (0, True)):
        ref = _torch_or_none(lambda: F.max_pool2d(tt(x), 3, 2, p, 1, ceil).numpy())
        if ref is None:  # 2x2 input without padding: no window fits, both refuse
            with pytest.raises(ValueError, match="kernel_size"):
                ops.max_pool2d(x, 3, 2, p, 1, ceil)
            continue
        assert_exact(ops.max_pool2d(x, 3, 2, p, 1, ceil), ref)


def _avg_pool_3x3s2_in_order(x, oh, ow, p, cip):
    """torch's average pool (3x3, stride 2) in float32, taps summed from 0 in torch's order (ky, then kx)."""
    h, w = x.shape[-2:]
    xp = np.zeros(x.shape[:-2] + (h + 2 * p + 2, w + 2 * p + 2), np.float32)  # room for ceil windows
    xp[..., p:p + h, p:p + w] = x
    total = np.zeros(x.shape[:-2] + (oh, ow), np.float32)
    for ky in range(3):
        for kx in range(3):
            total += xp[..., ky:ky + 2 * oh:2, kx:kx + 2 * ow:2]
    def extent(o, size):  # the window clipped to the padded input (cip) or to the input
        start = o * 2 - p
        end = min(start + 3, size + p) if cip else min(start + 3, size)
        return end - (start if cip else max(start, 0))
    rows = np.array([extent(o, h) for o in range(oh)], np.float32)
    cols = np.array([extent(o, w) for o in range(ow)], np.float32)
    return total / (rows[:, None] * cols[None, :])


@pytest.mark.parametrize("shape", [(1, 24, 56, 56), (1, 240, 28, 28), (1, 3, 113, 111), (2, 5, 9, 40)])
def test_avg_pool_3x3s2_fast_path(F, threads, shape):
    """ShuffleNet's shortcut pool (3x3, stride 2, pad 1): the same bits as summing in torch's order."""
    x = rand(shape, seed=8)
    for p, ceil in ((1, False), (0, False), (1, True)):
        for cip in (True, False):
            got = ops.avg_pool2d(x, 3, 2, p, ceil, cip)
            assert_exact(got, _avg_pool_3x3s2_in_order(x, *got.shape[-2:], p, cip))
            assert_close(got, F.avg_pool2d(tt(x), 3, 2, p, ceil, cip).numpy(), scale=np.abs(x).max())


@pytest.mark.parametrize("width", list(range(1, 40)) + [63, 64, 65, 66, 67])
def test_pool_3x3s2_every_block_edge(F, threads, width):
    """The 3x3 stride-2 kernels work in blocks of 16 outputs from 33 input columns: every width up to two
    blocks and around four, so that the last block, its last column and the border windows take
    every position; max bitwise against torch, avg bitwise against torch's summation order."""
    x = rand((2, 3, 5, width), seed=width)
    for p, ceil in ((1, False), (0, False), (1, True), (0, True)):
        ref = _torch_or_none(lambda: F.max_pool2d(tt(x), 3, 2, p, 1, ceil).numpy())
        if ref is None:
            continue
        assert_exact(ops.max_pool2d(x, 3, 2, p, 1, ceil), ref)
        for cip in (True, False):
            got = ops.avg_pool2d(x, 3, 2, p, ceil, cip)
            assert_exact(got, _avg_pool_3x3s2_in_order(x, *got.shape[-2:], p, cip))


def test_max_pool_3x3s2_keeps_torchs_zero_and_nan(F, threads):
    """torch's max keeps the first of equal values (so -0.0 or +0.0 by scan order) and the last NaN of a
    window, including windows at the borders: the bits must match, not just the values."""
    rng = np.random.default_rng(5)
    x = rng.choice(np.array([0.0, -0.0, -1.0], np.float32), size=(2, 4, 13, 37)).astype(np.float32)
    x[0, 1, rng.integers(0, 13, 20), rng.integers(0, 37, 20)] = np.nan
    x[1, 2, 0, :] = np.inf
    x[1, 3] = -np.inf
    for p, ceil in ((1, False), (0, True), (1, True)):
        got = ops.max_pool2d(x, 3, 2, p, 1, ceil)
        ref = F.max_pool2d(tt(x), 3, 2, p, 1, ceil).numpy()
        assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), p


_POOL_ISA_SCRIPT = r"""
import sys
import numpy as np
from gconv_cpu import _functional_ops as ops
x = np.load(sys.argv[1])
out = {}
for p, ceil in ((1, False), (0, False), (1, True)):
    out[f"max{p}{ceil}"] = ops.max_pool2d(x, 3, 2, p, 1, ceil)
    for cip in (True, False):
        out[f"avg{p}{ceil}{cip}"] = ops.avg_pool2d(x, 3, 2, p, ceil, cip)
np.savez(sys.argv[2], **out)
"""


def test_pool_3x3s2_bitwise_across_isas(tmp_path):
    """GCONV_ISA=scalar (per-pixel and row loops), avx2 (the row loop GCC vectorizes) and avx512 (the
    whole-row kernel of pool_avx512.c) must give the same bits, NaN, Inf and signed zeros included;
    each ISA runs in its own process because the operators read GCONV_ISA once."""
    import os
    import subprocess
    import sys
    isas = [i for i in ("scalar", "avx2", "avx512") if i in gconv_cpu.available_isas()]
    if "avx512" not in isas:
        pytest.skip("CPU lacks avx512: the whole-row pool kernel cannot run here")
    x = rand((2, 5, 30, 47), seed=11)
    x[0, 0, 3, 4] = np.nan
    x[0, 1, :, 7] = -0.0
    x[1, 2, 5, 5] = np.inf
    x[1, 3, 0] = -np.inf
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "run.py"
    script.write_text(_POOL_ISA_SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.abspath(gconv_cpu.__file__)))  # this build
    outs = {}
    for isa in isas:
        env = dict(os.environ, GCONV_ISA=isa, OMP_NUM_THREADS="1", PYTHONPATH=root)
        subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"), str(tmp_path / f"{isa}.npz")],
                       env=env, check=True)
        outs[isa] = np.load(tmp_path / f"{isa}.npz")
    for k in outs["scalar"].files:
        for isa in isas[1:]:
            assert np.array_equal(outs["scalar"][k].view(np.uint32), outs[isa][k].view(np.uint32)), (k, isa)


def test_pool_nan_inf_and_unbatched(F, threads):
    x = rand((3, 9, 10), seed=1)
    x[0, 2, 3] = np.nan
    x[1, 4, 4] = np.inf
    x[1, 5, 5] = -np.inf
    x[2, :3, :3] = -np.inf
    for args in ((3, 2, 1), (2, 1, 0), (3, 3, 1, 2), (1, 1, 0)):
        assert_exact(ops.max_pool2d(x, *args), F.max_pool2d(tt(x), *args).numpy())
    for args in ((3, 2, 1), (2, 1, 0)):
        assert_close(ops.avg_pool2d(x, *args), F.avg_pool2d(tt(x), *args).numpy(), scale=3.0)


def test_avg_pool_divisor_override(F, threads):
    x = rand((2, 3, 9, 8), seed=2)
    for k, s, p, ceil, cip, div in ((3, 2, 1, True, True, 5), (2, 1, 1, False, False, -3), (3, 3, 0, True, True, 1)):
        assert_close(ops.avg_pool2d(x, k, s, p, ceil, cip, div), F.avg_pool2d(tt(x), k, s, p, ceil, cip, div).numpy())


def test_pool_zero_channels_and_batch(threads):
    assert ops.max_pool2d(np.zeros((2, 0, 5, 5), np.float32), 2).shape == (2, 0, 2, 2)
    assert ops.avg_pool2d(np.zeros((0, 3, 5, 5), np.float32), 3, 1, 1).shape == (0, 3, 5, 5)
    assert ops.adaptive_avg_pool2d(np.zeros((0, 3, 5, 5), np.float32), 1).shape == (0, 3, 1, 1)


@pytest.mark.parametrize("shape", [(2, 3, 7, 7), (1, 17, 5, 9), (1, 1280, 7, 7), (1, 8, 56, 56), (2, 2, 1, 1)])
@pytest.mark.parametrize("out", [1, (1, 1), 2, (3, 4), (5, 2), (7, 7), (None, 3)])
def test_adaptive_avg_pool_matches_torch(F, threads, shape, out):
    x = rand(shape, seed=4)
    assert_close(ops.adaptive_avg_pool2d(x, out), F.adaptive_avg_pool2d(tt(x), out).numpy(), scale=np.abs(x).max())
    assert_close(ops.adaptive_avg_pool2d(x[0], out), F.adaptive_avg_pool2d(tt(x[0]), out).numpy(),
                 scale=np.abs(x).max())


def test_global_avg_pool_large_plane_is_accurate(threads):
    """Blocked float sums accumulated in double: a 512x512 plane of 1 + noise keeps ~1e-7 accuracy."""
    x = (1.0 + rand((1, 2, 512, 512), seed=5) * 1e-3).astype(np.float32)
    ref = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    assert np.abs(ops.adaptive_avg_pool2d(x, 1) - ref).max() <= 2e-7


def test_pool2d_output_shape_helper():
    assert ops.pool2d_output_shape((1, 24, 112, 112), "max", (3, 3), (2, 2), (1, 1, 1, 1)) == (1, 24, 56, 56)
    # ONNX-style asymmetric pads larger than half the kernel are fine at this level
    # (and the ceil rule uses the leading pad: rows start at 0,2,4,6,8, and 8 >= 6 + 0 is dropped)
    assert ops.pool2d_output_shape((5, 6, 6), "avg", (2, 2), (2, 2), (0, 3, 3, 0), (1, 1), True) == (5, 4, 5)
    # torch's ceil rule: a last window starting in the right padding is dropped
    assert ops.pool2d_output_shape((1, 1, 5, 5), "max", (2, 2), (2, 2), (1, 1, 1, 1), (1, 1), True) == (1, 1, 3, 3)
    assert ops.pool2d_output_shape((1, 1, 6, 6), "max", (2, 2), (2, 2), (1, 1, 1, 1), (1, 1), True) == (1, 1, 4, 4)
    assert _ext.pool2d_output_size(("avg", 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, True, True), 7, 8) == (4, 5)


# ------------------------------------------------------------------------------------- shuffle/copy

@pytest.mark.parametrize("groups", [1, 2, 3, 8])
@pytest.mark.parametrize("per_group,n,hw", [(1, 1, (3, 5)), (3, 2, (7, 7)), (4, 0, (2, 2)), (29, 1, (28, 28))])
def test_channel_shuffle_matches_torch(F, threads, groups, per_group, n, hw):
    x = rand((n, groups * per_group) + hw, seed=groups)
    assert_exact(ops.channel_shuffle(x, groups), F.channel_shuffle(tt(x), groups).numpy())
    if n:
        assert_exact(ops.channel_shuffle(x[0], groups), F.channel_shuffle(tt(x[:1]), groups).numpy()[0])


@pytest.mark.parametrize("n,hw", [(1, (7, 7)), (2, (3, 5)), (0, (4, 4)), (1, (56, 56))])
def test_copy_channels_concat_and_split(threads, n, hw):
    parts = [rand((n, c) + hw, seed=c) for c in (3, 1, 17, 24)]
    cat = ops.cat_channels(parts)
    assert_exact(cat, np.concatenate(parts, axis=1))
    # split back: each part's channel range of the concatenation copied into its own array
    c0 = 0
    for p in parts:
        out = np.full(p.shape, OUT_SENTINEL, np.float32)
        _ext.copy_channels(cat, c0, p.shape[1], out, 0, gconv_cpu.get_num_threads())
        assert_exact(out, p)
        c0 += p.shape[1]
    # a middle slice into a middle slice, the rest untouched
    dst = np.full((n, 30) + hw, OUT_SENTINEL, np.float32)
    _ext.copy_channels(cat, 4, 9, dst, 11, gconv_cpu.get_num_threads())
    expect = np.full_like(dst, OUT_SENTINEL)
    expect[:, 11:20] = cat[:, 4:13]
    assert_exact(dst, expect)
    _ext.copy_channels(cat, 45, 0, dst, 30, 1)  # empty ranges at the ends are fine


# ---------------------------------------------------------------------------------------- unary

SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 2.9999998, -2.9999998,
                    6.0000005, 0.5, -0.5, 1e-3, -1e-3, 1e-40, -1e-40, 1e-30, -1e-30, 15.0, -15.0, 87.0, -87.0,
                    88.5, -88.5, 89.0, -89.0, 1e4, -1e4, 1e30, -1e30, 3.4e38, -3.4e38], np.float32)


def _unary_inputs(size):
    rng = np.random.default_rng(size)
    wide = (rng.standard_normal(size) * np.exp(rng.uniform(-8, 8, size))).astype(np.float32)
    return np.concatenate([SPECIAL, rng.uniform(-8, 8, size).astype(np.float32), wide])


UNARY_CASES = [
    ("relu", {}, "relu", True), ("relu6", {}, "relu6", True), ("hardswish", {}, "hardswish", False),
    ("hardsigmoid", {}, "hardsigmoid", False), ("sigmoid", {}, "sigmoid", False), ("tanh", {}, "tanh", False),
    ("silu", {}, "silu", False), ("hardtanh", {}, "hardtanh", True),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.5}, "hardtanh", True),
    ("hardtanh", {"min_val": 2.0, "max_val": 2.0}, "hardtanh", True),
    ("leaky_relu", {}, "leaky_relu", True), ("leaky_relu", {"negative_slope": 0.2}, "leaky_relu", True),
    ("leaky_relu", {"negative_slope": -1.5}, "leaky_relu", True),
    ("elu", {}, "elu", False), ("elu", {"alpha": 0.5}, "elu", False),
]


@pytest.mark.parametrize("name,kwargs,torch_name,exact", UNARY_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(UNARY_CASES)])
@pytest.mark.parametrize("size", [200, 70001])
def test_unary_matches_torch(F, threads, name, kwargs, torch_name, exact, size, flush_denormal):
    x = _unary_inputs(size)
    ref = getattr(F, torch_name)(tt(x), **kwargs).numpy()
    flushed = getattr(ops, name)(x, **kwargs)
    flush_denormal(False)  # torch's defaults keep subnormals (SPECIAL has +-1e-40)
    y = getattr(ops, name)(x, **kwargs)
    (assert_exact if exact else assert_close)(y, ref)
    # any shape, and torch's NaN rules: relu(NaN) = NaN, clamps of NaN = NaN
    x4 = x[:4 * 5 * 10].reshape(4, 5, 10)
    (assert_exact if exact else assert_close)(getattr(ops, name)(x4, **kwargs),
                                              getattr(F, torch_name)(tt(x4), **kwargs).numpy())
    assert np.isnan(getattr(ops, name)(np.float32(np.nan), **kwargs))
    # with FTZ|DAZ (the default) a subnormal input reads as 0 in arithmetic and comparisons (a max or a
    # clamp may still pass its bits through) and a subnormal result is written as 0: the difference stays
    # below FLT_MIN, at those elements only
    tiny = np.finfo(np.float32).tiny
    sub_in = (np.abs(x) < tiny) & (x != 0)
    sub_out = (np.abs(y) < tiny) & (y != 0) & ~sub_in
    assert sub_in.any()
    np.testing.assert_array_equal(flushed[~(sub_in | sub_out)], y[~(sub_in | sub_out)])
    of_zero = getattr(ops, name)(np.copysign(np.zeros(int(sub_in.sum()), np.float32), x[sub_in]), **kwargs)
    assert np.all(np.abs(flushed[sub_in] - of_zero) < tiny), (flushed[sub_in], of_zero)
    assert np.all(np.abs(flushed[sub_out]) < tiny)


def test_unary_keeps_input_and_handles_empty(threads):
    x = _unary_inputs(100)
    before = x.copy()
    for name in ("relu", "sigmoid", "hardswish"):
        getattr(ops, name)(x, inplace=True)  # accepted for torch compatibility; x is never written
    assert np.array_equal(x, before, equal_nan=True)
    assert ops.relu(np.zeros((0, 3), np.float32)).shape == (0, 3)
    assert ops.relu(np.float64(-2.0)) == 0.0


def test_unary_in_place_through_the_binding(threads):
    """y == x is allowed by the C contract (the executor's in-place steps)."""
    x = _unary_inputs(5000).reshape(1, 1, 1, -1)
    for kind, alpha, beta in (("relu", 0, 0), ("clip", -1, 2), ("hardswish", 0, 0), ("silu", 0, 0),
                              ("leaky_relu", 0.1, 0), ("identity", 0, 0)):
        expect = ops._unary(kind, x, alpha, beta)
        buf = x.copy()
        _ext.unary(kind, buf, buf, alpha, beta, None, gconv_cpu.get_num_threads())
        assert_exact(buf, expect)


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (3, 4), (2, 3, 17), (1, 32, 56, 56), (7,)])
@pytest.mark.parametrize("per_channel", [True, False])
def test_prelu_matches_torch(F, threads, shape, per_channel):
    x = rand(shape, seed=9)
    x.flat[0] = np.nan
    x.flat[-1] = -np.inf
    c = shape[1] if len(shape) >= 2 else 1
    w = (np.random.default_rng(1).uniform(-1, 1, c if per_channel else 1)).astype(np.float32)
    assert_exact(ops.prelu(x, w), F.prelu(tt(x), tt(w)).numpy())


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (4, 6), (3, 8, 11), (1, 96, 28, 28)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch(F, threads, shape, affine):
    c = shape[1]
    rng = np.random.default_rng(c)
    x = rand(shape, seed=c)
    mean, var = rng.standard_normal(c).astype(np.float32), rng.uniform(0.1, 3, c).astype(np.float32)
    w, b = (rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)) if affine else (None, None)
    ref = F.batch_norm(tt(x), tt(mean), tt(var), None if w is None else tt(w), None if b is None else tt(b),
                       False, 0.1, 1e-3).numpy()
    y = ops.batch_norm(x, mean, var, w, b, eps=1e-3)
    # y = x*a + b rounds twice: compare against the size of its terms
    a = (w if affine else 1) / np.sqrt(var + 1e-3)
    terms = np.abs(x * a.reshape((1, c) + (1,) * (x.ndim - 2))) + np.abs(mean * a).max() + (np.abs(b).max() if affine else 0)
    assert np.all(np.abs(y - ref) <= 2 * RTOL * terms)


# --------------------------------------------------------------------------------------- binary

def _shapes_with_singletons(full):
    for mask in itertools.product((False, True), repeat=len(full)):
        yield tuple(1 if m else d for m, d in zip(mask, full))


def _numpy_binary(kind, a, b):
    with np.errstate(all="ignore"):
        return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "max": np.maximum,
                "min": np.minimum}[kind](a, b)


def test_binary_broadcasts_every_singleton_combination(threads):
    full = (2, 3, 4, 5)
    shapes = list(_shapes_with_singletons(full))
    for kind in ops.BINARY_KINDS:
        for sa, sb in itertools.product(shapes, shapes):
            a, b = rand(sa, seed=1), rand(sb, seed=2) + 0.5
            a.flat[0] = np.nan
            b.flat[-1] = -np.inf
            assert_exact(ops.binary(kind, a, b), _numpy_binary(kind, a, b))


@pytest.mark.parametrize("sa,sb", [((1, 64, 56, 56), (1, 64, 56, 56)), ((1, 64, 56, 56), (1, 64, 1, 1)),
                                   ((1, 1, 1, 1), (2, 32, 40, 40)), ((3, 1, 50, 1), (1, 20, 1, 70)),
                                   ((5, 6), (6,)), ((7,), ()), ((), ()), ((2, 1, 3), (4, 1))])
@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
def test_binary_shapes_and_fused_activation(threads, sa, sb, activation):
    a, b = rand(sa, seed=3, scale=4), rand(sb, seed=4, scale=4)
    for kind in ops.BINARY_KINDS:
        ref = _numpy_binary(kind, a, b).astype(np.float32)
        if activation:
            ref = np.where(ref < 0, np.float32(0), ref)
            if activation == "relu6":
                ref = np.where(ref > 6, np.float32(6), ref)
        assert_exact(ops.binary(kind, a, b, activation), ref)


def test_binary_matches_torch_nan_rules(F, threads):
    import torch
    a = np.array([np.nan, 1.0, np.nan, -np.inf, 2.0, -0.0], np.float32)
    b = np.array([1.0, np.nan, np.nan, np.inf, 2.0, 0.0], np.float32)
    assert_exact(ops.binary("max", a, b), torch.maximum(tt(a), tt(b)).numpy())
    assert_exact(ops.binary("min", a, b), torch.minimum(tt(a), tt(b)).numpy())
    assert_exact(ops.binary("add", a, b, "relu"), F.relu(tt(a) + tt(b)).numpy())


def test_binary_aliasing_through_the_binding(threads):
    """y may be a or b when that operand has y's shape (the fused residual add writes in place)."""
    a, b, c = rand((1, 16, 20, 20), 1), rand((1, 16, 20, 20), 2), rand((1, 16, 1, 1), 3)
    nt = gconv_cpu.get_num_threads()
    y = a.copy()
    _ext.binary("add", y, b, y, "relu", nt)
    assert_exact(y, np.maximum(a + b, 0))
    y = b.copy()
    _ext.binary("sub", a, y, y, None, nt)
    assert_exact(y, a - b)
    y = a.copy()
    _ext.binary("mul", y, c, y, None, nt)
    assert_exact(y, a * c)
    # y may not alias an operand that is broadcast (here b is the first 16 floats of y)
    y = a.copy()
    b_view = y.reshape(-1)[:16].reshape(1, 16, 1, 1)
    with pytest.raises(ValueError, match="alias"):
        _ext.binary("add", a, b_view, y, None, nt)


# --------------------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("shape", [(10,), (3, 1000), (2, 3, 4), (2, 5, 3, 7), (1, 1), (4, 0), ()])
def test_softmax_matches_torch(F, threads, shape):
    x = rand(shape, seed=6, scale=8)
    for dim in range(-max(len(shape), 1), max(len(shape), 1)):
        if len(shape) == 0 and dim not in (0, -1):
            continue
        assert_close(ops.softmax(x, dim), F.softmax(tt(x), dim).numpy(), scale=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(ops.softmax(x), F.softmax(tt(x), dim=None).numpy(), scale=0.0)


def test_softmax_special_rows(F, threads):
    x = np.array([[1e4, 1e4 - 1, -1e4, 0], [np.nan, 1, 2, 3], [np.inf, 1, 2, 3], [-np.inf] * 4,
                  [-np.inf, 0, -np.inf, 1], [88, 89, 90, -90], [0, 0, 0, 0]], np.float32)
    assert_close(ops.softmax(x, 1), F.softmax(tt(x), 1).numpy(), scale=0.0)
    y = x.copy()
    _ext.softmax_rows(y, y)  # in place
    assert_close(y, F.softmax(tt(x), 1).numpy(), scale=0.0)


# ---------------------------------------------------------------------------------- interpolate

INTERP_SIZES = [(1, 1), (2, 3), (5, 7), (13, 26), (20, 9), (77, 130)]
INTERP_SCALES = [0.5, 1.0, 1.1, 1.5, 2.0, 2.3, 3.0, 1 / 3, (0.7, 3.7), (2.0, 1.0)]


@pytest.mark.parametrize("in_hw", [(1, 1), (3, 5), (7, 4), (37, 61)])
@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_interpolate_matches_torch(F, threads, in_hw, mode, align):
    x = rand((2, 3) + in_hw, seed=sum(in_hw))
    check = assert_exact if mode == "nearest" else assert_close
    for size in INTERP_SIZES:
        ref = F.interpolate(tt(x), size=size, mode=mode, align_corners=align).numpy()
        check(ops.interpolate(x, size=size, mode=mode, align_corners=align), ref)
    for sf in INTERP_SCALES:
        for recompute in (None, True):
            ref = _torch_or_none(lambda: F.interpolate(tt(x), scale_factor=sf, mode=mode, align_corners=align,
                                                       recompute_scale_factor=recompute).numpy())
            if ref is None:  # an empty output: refused by both
                with pytest.raises(ValueError, match="scale_factor"):
                    ops.interpolate(x, scale_factor=sf, mode=mode, align_corners=align)
                continue
            y = ops.interpolate(x, scale_factor=sf, mode=mode, align_corners=align,
                                recompute_scale_factor=recompute)
            check(y, ref)
            assert y.shape == ops.interpolate_output_shape(x.shape, scale_factor=sf, mode=mode, align_corners=align,
                                                           recompute_scale_factor=recompute)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_interpolate_3d_input_is_1d(F, threads, mode):
    x = rand((2, 3, 11), seed=2)
    align = None if mode == "nearest" else False
    check = assert_exact if mode == "nearest" else assert_close
    for kw in ({"size": 30}, {"size": 4}, {"scale_factor": 2.5}, {"scale_factor": 0.4}):
        check(ops.interpolate(x, mode=mode, align_corners=align, **kw),
              F.interpolate(tt(x), mode=mode, align_corners=align, **kw).numpy())


def test_interpolate_large_nearest_2x(F, threads):
    x = rand((1, 64, 40, 40), seed=8)
    assert_exact(ops.interpolate(x, scale_factor=2), F.interpolate(tt(x), scale_factor=2).numpy())
    assert_close(ops.interpolate(x, scale_factor=2, mode="bilinear"),
                 F.interpolate(tt(x), scale_factor=2, mode="bilinear").numpy())


def test_interpolate_spec_and_output_shape():
    spec = ops.interpolate_spec((1, 3, 8, 10), scale_factor=2)
    assert spec == {"mode": "nearest", "coord": "torch_nearest", "nearest": "floor", "size": None,
                    "scales": (2.0, 2.0)}
    assert ops.resize_output_shape((1, 3, 9, 10), spec["size"], spec["scales"]) == (1, 3, 18, 20)
    spec = ops.interpolate_spec((1, 3, 8, 10), size=(4, 5), mode="bilinear", align_corners=True)
    assert spec["coord"] == "torch_align_corners" and spec["size"] == (4, 5) and spec["scales"] is None
    assert ops.COORD_MODES.index(spec["coord"]) == 7 and ops.RESIZE_MODES.index(spec["mode"]) == 1
    # ONNX computes the output size in float32: 10 * 0.7f rounds to 7, torch's double gives 6
    assert ops.resize_output_shape((1, 1, 10, 10), scales=(np.float32(0.7), 1.0), onnx=True)[2] == 7
    assert ops.resize_output_shape((1, 1, 10, 10), scales=(float(np.float32(0.7)), 1.0))[2] == 6


# ---------------------------------------------------------------------------- ONNX Runtime Resize

def _ort():
    pytest.importorskip("onnx", reason="onnx builds the Resize models for the ONNX Runtime oracle")
    ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is the oracle for ONNX Resize")
    ort.set_default_logger_severity(3)
    return ort


def _ort_resize(ort, x, mode, coord, nearest, sizes=None, scales=None):
    from onnx import TensorProto, helper
    inits, names = [], ["X", "", ""]
    if scales is not None:
        inits.append(helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, *scales]))
        names[2] = "scales"
    else:
        inits.append(helper.make_tensor("sizes", TensorProto.INT64, [4], [x.shape[0], x.shape[1], *sizes]))
        names.append("sizes")
    node = helper.make_node("Resize", names, ["Y"], mode=mode, coordinate_transformation_mode=coord,
                            nearest_mode=nearest)
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})[0]


ORT_CASES = [("sizes", s) for s in ((1, 1), (2, 6), (5, 9), (7, 31), (13, 3), (77, 130), (200, 13))] + \
            [("scales", s) for s in ((0.5, 1.0), (1.0, 3.0), (1.5, 0.6), (2.0, 2.0), (2.7, 1.3), (1.3, 1.1),
                                     (2 / 7, 0.37), (3.7, 2.3))]


@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel",
                                   "tf_half_pixel_for_nn"])
@pytest.mark.parametrize("mode,nearest", [("nearest", n) for n in ("round_prefer_floor", "round_prefer_ceil",
                                                                   "floor", "ceil")] + [("linear", "floor")])
def test_resize_matches_onnxruntime(threads, coord, mode, nearest):
    if mode == "linear" and coord == "tf_half_pixel_for_nn":
        pytest.skip("tf_half_pixel_for_nn is a nearest-only transformation")
    ort = _ort()
    for hw in ((1, 1), (3, 5), (7, 4), (37, 61)):
        x = rand((1, 2) + hw, seed=hw[0] * 7 + hw[1])
        for kind, v in ORT_CASES:
            if kind == "scales" and min(int(np.float32(s) * np.float32(n)) for s, n in zip(v, hw)) < 1:
                continue  # an empty output
            ref = _ort_resize(ort, x, mode, coord, nearest, **{kind: v})
            y = ops.resize(x, **{"size" if kind == "sizes" else "scales": v}, mode=mode,
                           coordinate_transformation_mode=coord, nearest_mode=nearest)
            (assert_exact if mode == "nearest" else assert_close)(y, ref)


def test_resize_nearest_ties_match_onnxruntime(threads):
    """Exact ties whose float coordinate lands a few ulp off x.5 (1 / (2/7) = 3.4999998)."""
    ort = _ort()
    for n_in, n_out in ((7, 2), (7, 4), (10, 12), (13, 14), (20, 6), (26, 64)):
        x = np.arange(n_in, dtype=np.float32).reshape(1, 1, 1, n_in)
        for coord in ("asymmetric", "half_pixel", "tf_half_pixel_for_nn"):
            for nearest in ("round_prefer_floor", "round_prefer_ceil"):
                ref = _ort_resize(ort, x, "nearest", coord, nearest, sizes=(1, n_out))
                assert_exact(ops.resize(x, size=(1, n_out), coordinate_transformation_mode=coord,
                                        nearest_mode=nearest), ref)


# ------------------------------------------------------------------------------ bad parameters

X4 = np.zeros((1, 5, 8, 8), np.float32)

BAD = [
    (lambda: ops.max_pool2d(X4, 0), ValueError, "kernel_size"),
    (lambda: ops.max_pool2d(X4, 2.5), TypeError, "kernel_size"),
    (lambda: ops.max_pool2d(X4, (1, 2, 3)), ValueError, "kernel_size"),
    (lambda: ops.max_pool2d(X4, 3, stride=0), ValueError, "stride"),
    (lambda: ops.max_pool2d(X4, 3, padding=2), ValueError, "padding"),
    (lambda: ops.max_pool2d(X4, 3, padding=-1), ValueError, "padding"),
    (lambda: ops.max_pool2d(X4, 3, dilation=0), ValueError, "dilation"),
    (lambda: ops.max_pool2d(X4, 3, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: ops.max_pool2d(X4, 3, return_indices=True), ValueError, "return_indices"),
    (lambda: ops.max_pool2d(np.zeros((1, 1, 1, 1), np.float32), 3, 2), ValueError, "kernel_size"),
    (lambda: ops.max_pool2d(np.zeros((8, 8), np.float32), 2), ValueError, "x"),
    (lambda: ops.max_pool2d(np.zeros((1, 1, 0, 4), np.float32), 1), ValueError, "x"),
    (lambda: ops.max_pool2d(np.zeros((1, 2, 3, 4), complex), 1), TypeError, "x"),
    (lambda: ops.avg_pool2d(X4, 3, divisor_override=0), ValueError, "divisor_override"),
    (lambda: ops.avg_pool2d(X4, 3, count_include_pad=None), TypeError, "count_include_pad"),
    (lambda: ops.adaptive_avg_pool2d(X4, 0), ValueError, "output_size"),
    (lambda: ops.adaptive_avg_pool2d(X4, (1, 2, 3)), ValueError, "output_size"),
    (lambda: ops.channel_shuffle(X4, 0), ValueError, "groups"),
    (lambda: ops.channel_shuffle(X4, 2), ValueError, "groups"),
    (lambda: ops.hardtanh(X4, 2.0, 1.0), ValueError, "min_val"),
    (lambda: ops.hardtanh(X4, float("nan"), 1.0), ValueError, "min_val"),
    (lambda: ops.leaky_relu(X4, "0.1"), TypeError, "negative_slope"),
    (lambda: ops.prelu(X4, np.ones(3, np.float32)), ValueError, "weight"),
    (lambda: ops.batch_norm(X4, np.zeros(5), np.ones(5), training=True), ValueError, "training"),
    (lambda: ops.batch_norm(X4, np.zeros(4), np.ones(5)), ValueError, "running_mean"),
    (lambda: ops.batch_norm(X4, np.zeros(5), np.ones(5), np.ones(2)), ValueError, "weight"),
    (lambda: ops.batch_norm(X4, np.zeros(5), np.ones(5), eps=-1.0), ValueError, "eps"),
    (lambda: ops.softmax(X4, 4), ValueError, "dim"),
    (lambda: ops.softmax(X4, 1.5), TypeError, "dim"),
    (lambda: ops.interpolate(X4), ValueError, "size"),
    (lambda: ops.interpolate(X4, size=4, scale_factor=2), ValueError, "size"),
    (lambda: ops.interpolate(X4, size=0), ValueError, "size"),
    (lambda: ops.interpolate(X4, size=(2, 2, 2)), ValueError, "size"),
    (lambda: ops.interpolate(X4, scale_factor=-1.0), ValueError, "scale_factor"),
    (lambda: ops.interpolate(X4, scale_factor=0.01), ValueError, "scale_factor"),
    (lambda: ops.interpolate(X4, scale_factor="2"), TypeError, "scale_factor"),
    (lambda: ops.interpolate(X4, size=4, mode="bicubic"), ValueError, "mode"),
    (lambda: ops.interpolate(X4, size=4, mode="linear"), ValueError, "mode"),
    (lambda: ops.interpolate(X4, size=4, align_corners=True), ValueError, "align_corners"),
    (lambda: ops.interpolate(X4, size=4, mode="bilinear", antialias=True), ValueError, "antialias"),
    (lambda: ops.resize(X4), ValueError, "size"),
    (lambda: ops.resize(X4, scales=(1, 2, 2, 2)), ValueError, "scales"),
    (lambda: ops.resize(X4, scales=(2.0, float("inf"))), ValueError, "scales"),
    (lambda: ops.resize(X4, size=(1, 4, 4, 4)), ValueError, "size"),
    (lambda: ops.resize(X4, size=(4, 4), coordinate_transformation_mode="crop"), ValueError,
     "coordinate_transformation_mode"),
    (lambda: ops.resize(X4, size=(4, 4), nearest_mode="up"), ValueError, "nearest_mode"),
    (lambda: ops.resize(X4, size=(4, 4), mode="cubic"), ValueError, "mode"),
    (lambda: ops.binary("pow", X4, X4), ValueError, "kind"),
    (lambda: ops.binary("add", np.zeros((2, 3)), np.zeros(4)), ValueError, "b"),
    (lambda: ops.binary("add", X4, X4, "tanh"), ValueError, "activation"),
    (lambda: ops.binary("add", np.zeros((1, 1, 1, 1, 2)), np.zeros(2)), ValueError, "4 dimensions"),
    (lambda: ops.cat_channels([X4, np.zeros((1, 2, 8, 7), np.float32)]), ValueError, "tensors"),
    (lambda: ops.pool2d_output_shape((1, 1, 4, 4), "min", (2, 2), (2, 2), (0, 0, 0, 0)), ValueError, "kind"),
    (lambda: ops.pool2d_output_shape((1, 1, 4, 4), "avg", (2, 2), (2, 2), (0, 0, 0, 0), (2, 2)), ValueError,
     "dilation"),
    (lambda: ops.pool2d_output_shape((1, 1, 4, 4), "max", (2, 2), (2, 2), (0, 0)), ValueError, "pads"),
    (lambda: ops.interpolate_spec((1, 2, 3), size=4), ValueError, "x"),
    (lambda: ops.resize_output_shape((1, 2, 3, 4)), ValueError, "size"),
    # the binding's own checks
    (lambda: _ext.pool2d(("max", 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0), X4, np.zeros((1, 5, 3, 3), np.float32), 1),
     ValueError, "out"),
    (lambda: _ext.pool2d(("max", 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0), X4.astype(np.float64),
                         np.zeros((1, 5, 4, 4), np.float32), 1), TypeError, "x"),
    (lambda: _ext.pool2d(("max", 2, 2, 0, 2, 0, 0, 0, 0, 1, 1, 0, 0), X4, np.zeros((1, 5, 4, 4), np.float32), 1),
     ValueError, "stride"),
    (lambda: _ext.pool2d_output_size(("avg", 2, 2, 1, 1, 0, 0, 0, 0, 2, 1, 0, 0), 8, 8), ValueError, "dilation"),
    (lambda: _ext.pool2d_output_size(("max", 2, 2, 1, 1, -1, 0, 0, 0, 1, 1, 0, 0), 8, 8), ValueError, "padding"),
    (lambda: _ext.pool2d_output_size(("max", 2**40, 2**40, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0), 8, 8), SizeOverflowError,
     "kernel_size"),
    (lambda: _ext.pool2d_output_size(("max", 3, 3, 1, 1, 2**62, 2**62, 0, 0, 1, 1, 0, 0), 8, 8), SizeOverflowError,
     "x"),
    (lambda: _ext.unary("bogus", X4, X4.copy()), ValueError, "kind"),
    (lambda: _ext.unary("prelu", X4, X4.copy()), ValueError, "per_channel"),
    (lambda: _ext.unary("prelu", X4, X4.copy(), per_channel=np.ones(3, np.float32)), ValueError, "per_channel"),
    (lambda: _ext.unary("clip", X4, X4.copy(), float("nan"), 1.0), ValueError, "clip"),
    (lambda: _ext.unary("relu", X4, np.zeros((1, 5, 8, 7), np.float32)), ValueError, "out"),
    (lambda: _ext.binary("add", X4, np.zeros((1, 2, 8, 8), np.float32), X4.copy()), ValueError, "b"),
    (lambda: _ext.binary("add", np.zeros((1, 2, 8, 8), np.float32), X4, X4.copy()), ValueError, "a"),
    (lambda: _ext.binary("add", X4, X4, np.zeros((1, 5, 8, 1), np.float32)), ValueError, "y"),
    (lambda: _ext.binary("add", X4, X4, X4.copy(), "hardswish"), ValueError, "activation"),
    (lambda: _ext.copy_channels(X4, 3, 3, X4.copy(), 0), ValueError, "src_c0"),
    (lambda: _ext.copy_channels(X4, 0, 3, X4.copy(), 3), ValueError, "dst_c0"),
    (lambda: _ext.copy_channels(X4, 0, -1, X4.copy(), 0), ValueError, "count"),
    (lambda: _ext.copy_channels(X4, 0, 1, np.zeros((1, 5, 8, 7), np.float32), 0), ValueError, "dst"),
    (lambda: _ext.channel_shuffle(X4, 0, X4.copy(), 1), ValueError, "groups"),
    (lambda: _ext.channel_shuffle(X4, 1, X4.copy(), 0), ValueError, "num_threads"),
    (lambda: _ext.resize("nearest", "bogus", "floor", 0, 0, X4, X4.copy()), ValueError,
     "coordinate_transformation_mode"),
    (lambda: _ext.resize("bilinear", "torch_nearest", "floor", 0, 0, X4, X4.copy()), ValueError,
     "coordinate_transformation_mode"),
    (lambda: _ext.resize("nearest", "asymmetric", 9, 0, 0, X4, X4.copy()), ValueError, "nearest_mode"),
    (lambda: _ext.resize("nearest", "asymmetric", "floor", float("nan"), 0, X4, X4.copy()), ValueError, "scale_h"),
    (lambda: _ext.resize("nearest", "asymmetric", "floor", 0, 1e-300, X4, X4.copy()), ValueError, "scale_w"),
    (lambda: _ext.resize("nearest", "asymmetric", "floor", 0, 0, X4, np.zeros((1, 4, 2, 2), np.float32)), ValueError,
     "out"),
    (lambda: _ext.adaptive_avgpool2d(X4, np.zeros((1, 5, 0, 2), np.float32), 1), ValueError, "output_size"),
    (lambda: _ext.global_avgpool(X4, np.zeros(4, np.float32), 1), ValueError, "out"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_parameters_name_the_parameter(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


def test_sizes_that_overflow_are_refused_before_allocation():
    with pytest.raises(SizeOverflowError):
        ops.interpolate_output_shape((1, 1, 4, 4), size=(2**40, 2**40))
    with pytest.raises(SizeOverflowError):
        ops.adaptive_avg_pool2d_output_shape((1, 2**40, 4, 4), (2**20, 2**20))
    with pytest.raises(SizeOverflowError):
        ops.pool2d_output_shape((2**40, 2**40, 8, 8), "max", (1, 1), (1, 1), (0, 0, 0, 0))


# ------------------------------------------------------------------------------- guard bytes

class Guarded:
    """A float32 C-contiguous array of `shape` inside a larger buffer whose guard regions hold a sentinel:
    NaN around inputs (a stray read poisons the result), 12345.0 around outputs (a stray write shows)."""

    def __init__(self, shape, sentinel, fill=None):
        n = int(np.prod(shape))
        self.n, self.sentinel = n, np.float32(sentinel)
        self.big = np.full(n + 2 * GUARD, self.sentinel, np.float32)
        self.view = self.big[GUARD:GUARD + n].reshape(shape)
        if fill is not None:
            self.view[...] = fill
        assert self.view.flags.c_contiguous

    def guards_intact(self):
        g = np.concatenate([self.big[:GUARD], self.big[GUARD + self.n:]])
        return np.array_equal(g, np.full_like(g, self.sentinel), equal_nan=True)


def _guarded_in(a):
    return Guarded(a.shape, np.nan, a)


def _guarded_out(shape):
    return Guarded(shape, OUT_SENTINEL, OUT_SENTINEL)


def _check_guarded(inputs, out, expect, exact=True):
    for g, before in inputs:
        assert np.array_equal(g.big, before, equal_nan=True), "the op wrote into an input"
    assert out.guards_intact(), "the op wrote outside its output"
    (assert_exact if exact else assert_close)(out.view, expect)


@pytest.mark.parametrize("shape", [(1, 3, 9, 11), (2, 24, 58, 57)])
def test_guard_bytes_every_op(threads, shape):
    nt = gconv_cpu.get_num_threads()
    x = rand(shape, seed=11)
    gx = _guarded_in(x)
    snap = [(gx, gx.big.copy())]

    for spec, ref in ((("max", 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0), ops.max_pool2d(x, 3, 2, 1)),
                      (("max", 2, 3, 1, 2, 0, 0, 1, 1, 2, 1, 1, 0), ops.max_pool2d(x, (2, 3), (1, 2), (0, 1), (2, 1), True)),
                      (("avg", 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0), ops.avg_pool2d(x, (3, 2), (2, 1), 1, True, False)),
                      (("max", 3, 3, 2, 2, 0, 2, 1, 0, 1, 1, 0, 0), None)):  # asymmetric ONNX pads
        oh, ow = _ext.pool2d_output_size(spec, shape[2], shape[3])
        out = _guarded_out(shape[:2] + (oh, ow))
        _ext.pool2d(spec, gx.view, out.view, nt)
        if ref is None:  # asymmetric pads: max over the explicitly padded input
            padded = np.pad(x, ((0, 0), (0, 0), (0, 2), (1, 0)), constant_values=-np.inf)
            ref = np.stack([padded[:, :, i:i + 2 * oh - 1:2, j:j + 2 * ow - 1:2][:, :, :oh, :ow]
                            for i in range(3) for j in range(3)]).max(axis=0)
        _check_guarded(snap, out, ref)

    out = _guarded_out(shape[:2] + (1, 1))
    _ext.global_avgpool(gx.view, out.view, nt)
    _check_guarded(snap, out, x.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32), exact=False)
    out = _guarded_out(shape[:2] + (3, 5))
    _ext.adaptive_avgpool2d(gx.view, out.view, nt)
    _check_guarded(snap, out, ops.adaptive_avg_pool2d(x, (3, 5)), exact=False)

    if shape[1] % 3 == 0:
        out = _guarded_out(shape)
        _ext.channel_shuffle(gx.view, 3, out.view, nt)
        _check_guarded(snap, out, x.reshape(shape[0], 3, -1, *shape[2:]).swapaxes(1, 2).reshape(shape))

    slopes = _guarded_in(rand((2 * shape[1],), seed=12))
    snap_pc = snap + [(slopes, slopes.big.copy())]
    for kind in ops.UNARY_KINDS:
        out = _guarded_out(shape)
        pc = slopes.view[:shape[1]] if kind == "prelu" else (slopes.view if kind == "affine" else None)
        _ext.unary(kind, gx.view, out.view, 0.1, 0.7, pc, nt)
        if pc is not None:
            pc_arr = np.ascontiguousarray(pc)
        expect = ops._unary(kind, x, 0.1, 0.7, pc_arr if pc is not None else None)
        _check_guarded(snap_pc, out, expect)

    b = _guarded_in(rand((1, shape[1], 1, shape[3]), seed=13))
    for kind, act in itertools.product(ops.BINARY_KINDS, (None, "relu", "relu6")):
        out = _guarded_out(shape)
        _ext.binary(kind, gx.view, b.view, out.view, act, nt)
        _check_guarded(snap + [(b, b.big.copy())], out, ops.binary(kind, x, b.view.copy(), act))

    out = _guarded_out((shape[0], shape[1] + 4) + shape[2:])
    out.view[...] = 0
    _ext.copy_channels(gx.view, 1, shape[1] - 1, out.view, 3, nt)
    expect = np.zeros(out.view.shape, np.float32)
    expect[:, 3:3 + shape[1] - 1] = x[:, 1:]
    _check_guarded(snap, out, expect)

    out = _guarded_out(shape)
    _ext.softmax_rows(gx.view, out.view)
    _check_guarded(snap, out, ops.softmax(x, -1), exact=False)

    for mode, coord, nearest in (("nearest", "torch_nearest", "floor"), ("nearest", "half_pixel", "round_prefer_ceil"),
                                 ("bilinear", "torch_half_pixel", "floor"), ("bilinear", "align_corners", "floor"),
                                 ("bilinear", "torch_align_corners", "floor")):
        for oh, ow, sh, sw in ((2 * shape[2], 2 * shape[3], 2.0, 2.0), (5, 7, 0.0, 0.0), (shape[2] + 3, 1, 0.0, 0.0)):
            out = _guarded_out(shape[:2] + (oh, ow))
            _ext.resize(mode, coord, nearest, sh, sw, gx.view, out.view, nt)
            expect = np.empty((shape[0], shape[1], oh, ow), np.float32)
            _ext.resize(mode, coord, nearest, sh, sw, x, expect, 1)
            _check_guarded(snap, out, expect)
            assert np.all(np.isfinite(out.view)), "resize read the NaN guard"


def test_results_do_not_depend_on_thread_count(restore_threads):
    x = rand((1, 24, 112, 112), seed=21)
    b = rand((1, 24, 1, 1), seed=22)
    outs = []
    for n in (1, 2, 3):
        gconv_cpu.set_num_threads(n)
        outs.append([ops.max_pool2d(x, 3, 2, 1), ops.avg_pool2d(x, 3, 2, 1, True), ops.adaptive_avg_pool2d(x, 1),
                     ops.channel_shuffle(x, 8), ops.hardswish(x), ops.sigmoid(x), ops.binary("add", x, b, "relu"),
                     ops.interpolate(x, scale_factor=1.5, mode="bilinear"), ops.interpolate(x, size=(50, 60))])
    for other in outs[1:]:
        for a, c in zip(outs[0], other):
            assert_exact(c, a)


_ISA_SCRIPT = r"""
import sys
import numpy as np
import gconv_cpu
from gconv_cpu import _functional_ops as ops
x = np.load(sys.argv[1])
out = {}
for mode in (True, False):  # FTZ|DAZ (the default), then IEEE subnormals
    gconv_cpu.set_flush_denormal(mode)
    tag = "" if mode else "ieee:"
    for k in ("relu", "relu6", "clip", "hardswish", "hardsigmoid", "sigmoid", "leaky_relu", "silu"):
        out[tag + k] = ops._unary(k, x, 0.1, 0.7)
    out[tag + "hardsigmoid_torch"] = ops.hardsigmoid(x)
    out[tag + "prelu"] = ops.prelu(x.reshape(1, 4, -1), np.arange(4, dtype=np.float32) - 2)
    out[tag + "affine"] = ops.batch_norm(x.reshape(1, 4, -1), np.ones(4), np.full(4, 2.0), np.arange(4), np.ones(4))
    for k in ops.BINARY_KINDS:
        out[tag + "b_" + k] = ops.binary(k, x.reshape(4, -1), x.reshape(4, -1)[::-1].copy(), "relu6").ravel()
        out[tag + "bs_" + k] = ops.binary(k, x, np.float32(0.3))
np.savez(sys.argv[2], **out)
"""


def test_scalar_and_avx2_element_wise_tables_agree_bitwise(tmp_path):
    """Both tables come from one source without FMA, so they must round alike; GCONV_ISA=scalar
    (read once per process) selects the baseline table. Bitwise with IEEE subnormals; under FTZ|DAZ a
    subnormal compares equal to 0, and which operand a max or clamp then returns (the subnormal or the
    zero) is the compiler's choice, so elements that are subnormal in x or in the result may differ by
    less than FLT_MIN, and the rest must still agree bitwise."""
    import os
    import subprocess
    import sys
    if "avx2" not in gconv_cpu.available_isas():
        pytest.skip("CPU lacks avx2: only the baseline table runs here")
    x = _unary_inputs(4000)[:8000].copy()
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for isa in ("scalar", "avx2"):
        env = dict(os.environ, GCONV_ISA=isa, OMP_NUM_THREADS="1")
        script = tmp_path / "run.py"
        script.write_text(_ISA_SCRIPT)
        root = os.path.dirname(os.path.dirname(os.path.abspath(gconv_cpu.__file__)))  # this build
        subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"), str(tmp_path / f"{isa}.npz")],
                       env=dict(env, PYTHONPATH=root), check=True)
        outs[isa] = np.load(tmp_path / f"{isa}.npz")
    tiny = np.finfo(np.float32).tiny
    sub = lambda v: (np.abs(v) < tiny) & (v != 0)  # noqa: E731
    second = sub(x.reshape(4, -1)[::-1].ravel())  # the binary kinds' other operand
    for k in outs["scalar"].files:
        a, b = outs["scalar"][k].ravel(), outs["avx2"][k].ravel()
        if k.startswith("ieee:"):
            assert np.array_equal(a, b, equal_nan=True), k
            continue
        loose = sub(a) | sub(b) | sub(x) | (second if k.startswith("b_") else False)
        assert np.array_equal(a[~loose], b[~loose], equal_nan=True), k
        assert np.all(np.abs(a[loose] - b[loose]) < tiny), k
