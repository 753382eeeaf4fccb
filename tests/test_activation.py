"""Fused activations (activation= on conv2d and nn.Conv2d) against torch's conv + activation."""
import zlib

import numpy as np
import pytest

import gconv_cpu

torch = pytest.importorskip("torch", reason="torch is the reference oracle for these tests")
F = torch.nn.functional

# (C_in, C_out, H=W, kernel, stride, pad, groups): one per algorithm family.
CONFIGS = [
    (16, 16, 13, 3, 1, 1, 16),  # depthwise
    (16, 32, 13, 3, 2, 1, 16),  # depthwise, multiplier 2, strided
    (16, 32, 13, 1, 1, 0, 1),  # pointwise GEMM on the input in place
    (16, 32, 13, 3, 1, 1, 4),  # grouped direct (4 channels per group)
    (16, 32, 13, 3, 1, 1, 1),  # im2col GEMM
    (12, 24, 9, 3, 2, 1, 3),  # strided grouped
]
ACTIVATIONS = ["relu", "relu6", "hardswish", "prelu"]


def torch_reference(x, w, b, stride, pad, groups, activation, slope):
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad, 1, groups)
    if activation is None:
        return y.numpy()
    if activation == "prelu":
        return F.prelu(y, torch.from_numpy(slope)).numpy()
    return {"relu": F.relu, "relu6": F.relu6, "hardswish": F.hardswish}[activation](y).numpy()


def algorithms_for(cin, groups, k=None, stride=None, pad=None):
    winograd = k in (3, 5) and stride == 1 and pad <= k // 2 and cin // groups >= 16  # what "winograd" takes
    return (["auto", "reference", "gemm", "grouped_direct"] + (["dwconv"] if cin == groups else [])
            + (["winograd"] if winograd else []))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_activation_matches_torch(isa, config, activation):
    cin, cout, hw, k, stride, pad, groups = config
    rng = np.random.default_rng(zlib.crc32(repr((config, activation)).encode()))
    x = (rng.standard_normal((2, cin, hw, hw)) * 3).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]  # must propagate exactly as torch's
    w = rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    slope = rng.standard_normal(cout).astype(np.float32) if activation == "prelu" else None
    ref = torch_reference(x, w, b, stride, pad, groups, activation, slope)
    finite = np.isfinite(ref)
    # Rounding errors scale with the conv's own output, which the activation then maps: ReLU6 caps
    # the reference at 6 while the conv's values reach ~10x that, so the error is relative to those.
    conv = torch_reference(x, w, b, stride, pad, groups, None, None)
    scale = np.abs(conv[np.isfinite(conv)]).max()
    for algo in algorithms_for(cin, groups, k, stride, pad):
        y = gconv_cpu.conv2d(x, w, b, stride, pad, 1, groups, activation=activation, prelu_weight=slope,
                             algorithm=algo)
        assert np.array_equal(np.isnan(y), np.isnan(ref)), algo
        assert np.array_equal(y[np.isinf(ref)], ref[np.isinf(ref)]), algo
        err = np.abs(y[finite] - ref[finite]).max() / scale
        assert err < 1e-5, (algo, err)


def test_prelu_scalar_slope_broadcasts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 8, 6, 6)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    y1 = gconv_cpu.conv2d(x, w, groups=8, activation="prelu", prelu_weight=0.1)
    y2 = gconv_cpu.conv2d(x, w, groups=8, activation="prelu", prelu_weight=np.full(8, 0.1))
    np.testing.assert_array_equal(y1, y2)
    assert (y1 < 0).any()


def test_layer_activation_and_prelu_weight():
    layer = gconv_cpu.nn.Conv2d(8, 16, 3, padding=1, groups=2, activation="prelu")
    np.testing.assert_array_equal(layer.prelu_weight, np.full(16, 0.25, np.float32))  # torch's PReLU init
    x = np.random.default_rng(1).standard_normal((1, 8, 7, 7)).astype(np.float32)
    before = layer(x)
    layer.prelu_weight = np.zeros(16, np.float32)  # assignment repacks: PReLU(0) == ReLU
    after = layer(x)
    np.testing.assert_array_equal(after, np.maximum(gconv_cpu.conv2d(x, layer.weight, layer.bias, 1, 1, 1, 2), 0))
    assert not np.array_equal(before, after)
    assert "activation='prelu'" in repr(layer)


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="gelu"), "activation"),
    (dict(activation="prelu"), "prelu_weight"),
    (dict(activation="relu", prelu_weight=0.1), "prelu_weight"),
    (dict(activation="prelu", prelu_weight=np.ones(3)), "prelu_weight"),
    (dict(activation="prelu", prelu_weight="a"), "prelu_weight"),
])
def test_bad_activation_arguments(kwargs, match):
    x = np.zeros((1, 4, 5, 5), np.float32)
    w = np.zeros((8, 4, 3, 3), np.float32)
    with pytest.raises((ValueError, TypeError), match=match):
        gconv_cpu.conv2d(x, w, **kwargs)
