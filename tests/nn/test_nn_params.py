"""Every layer's parameter setters check the shape on the caller's array before any float32 copy:
a stride-0 view may declare terabytes (the check Conv2d had first, now shared by all layers)."""
import numpy as np
import pytest

from gconv_cpu import nn


def huge_view(shape):
    """A float64 array of `shape` backed by one element (copying it to float32 would need terabytes)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1), shape=shape, strides=(0,) * len(shape))


@pytest.mark.parametrize("layer,attr,good", [
    (lambda: nn.Conv2d(4, 8, 3), "weight", (8, 4, 3, 3)),
    (lambda: nn.Conv2d(4, 8, 3), "bias", (8,)),
    (lambda: nn.ConvTranspose2d(4, 8, 3), "weight", (4, 8, 3, 3)),
    (lambda: nn.ConvTranspose2d(4, 8, 3), "bias", (8,)),
    (lambda: nn.Linear(4, 8), "weight", (8, 4)),
    (lambda: nn.Linear(4, 8), "bias", (8,)),
    (lambda: nn.PReLU(8), "weight", (8,)),
    (lambda: nn.BatchNorm2d(8), "running_var", (8,)),
])
def test_setter_refuses_a_huge_view_by_its_shape(layer, attr, good):
    m = layer()
    bad = (2**40,) + good[1:] if len(good) > 1 else (2**40,)
    with pytest.raises(ValueError, match=f"{attr}: expected shape"):
        setattr(m, attr, huge_view(bad))
    setattr(m, attr, np.ones(good))  # the right shape, any real dtype, is stored as float32
    assert getattr(m, attr).dtype == np.float32 and getattr(m, attr).shape == good


# ------------------------------------------------------------------ bias assignment, against torch

# kind -> (our layer for a `bias` flag, torch's layer for it, input shape). Grouped, strided shapes so that
# the conv layers plan a real kernel rather than a trivial one.
BIAS_LAYERS = {
    "Conv2d": (lambda bias: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=bias),
               lambda torch, bias: torch.nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=bias), (2, 4, 7, 6)),
    "ConvTranspose2d": (lambda bias: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=bias),
                        lambda torch, bias: torch.nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, bias=bias),
                        (2, 4, 5, 4)),
    "Linear": (lambda bias: nn.Linear(5, 6, bias=bias),
               lambda torch, bias: torch.nn.Linear(5, 6, bias=bias), (3, 5)),
}


def _torch_twin(kind, layer):
    """torch's float64 layer with `layer`'s weight and bias (None where `layer` has none)."""
    torch = pytest.importorskip("torch", reason="torch is the oracle")
    twin = BIAS_LAYERS[kind][1](torch, True).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.astype(np.float64)))
        if layer.bias is None:
            twin.bias = None
        else:
            twin.bias.copy_(torch.from_numpy(layer.bias.astype(np.float64)))
    return twin


def _assert_matches_torch(kind, layer, runs, x, what):
    torch = pytest.importorskip("torch", reason="torch is the oracle")
    with torch.no_grad():
        expected = _torch_twin(kind, layer)(torch.from_numpy(x.astype(np.float64))).numpy()
    for run in runs:
        np.testing.assert_allclose(run(x), expected, rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("built_with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", BIAS_LAYERS)
def test_bias_assignment_matches_torch(kind, built_with_bias):
    make, _, x_shape = BIAS_LAYERS[kind]
    layer = make(built_with_bias)
    # The planned program must see the new bias too, not only the layer. A model takes (N, C, H, W),
    # so Linear's runs on (N, C, 1, 1) through Flatten.
    if kind == "Linear":
        model = nn.Sequential(nn.Flatten(), layer)
        runs = (layer, lambda x: model(x[:, :, None, None]))
    else:
        runs = (layer, nn.Sequential(layer))
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(np.float32)
    _assert_matches_torch(kind, layer, runs, x, "as built")  # both plans exist before the assignments

    new_bias = rng.standard_normal(6) + 3.0  # float64, far from the old bias
    layer.bias = new_bias
    assert layer.bias.dtype == np.float32 and layer.bias.shape == (6,)
    _assert_matches_torch(kind, layer, runs, x, "after bias = array")

    source = new_bias.astype(np.float32)
    layer.bias = source
    source[...] = 100.0  # the layer holds a copy: editing the caller's array changes nothing
    np.testing.assert_array_equal(layer.bias, new_bias.astype(np.float32))
    if kind != "Linear":  # repack from what the layer holds now (Linear packs nothing of its own)
        layer.prepare()
    _assert_matches_torch(kind, layer, runs, x, "after editing the assigned array")

    layer.bias = None
    assert layer.bias is None and "bias" not in layer.state_dict()
    _assert_matches_torch(kind, layer, runs, x, "after bias = None")

    layer.bias = [0.5] * 6  # and back: a list is converted
    _assert_matches_torch(kind, layer, runs, x, "after bias = list")


@pytest.mark.parametrize("bad, error", [
    (np.zeros(5), ValueError),                 # wrong length
    (np.zeros((6, 1)), ValueError),            # wrong ndim
    (np.float32(1.0), ValueError),             # a scalar is 0-D, not (C_out,)
    (np.array(["a"] * 6), TypeError),          # not numeric
    (np.zeros(6, np.complex64), TypeError),    # complex
    ("bias", TypeError),
], ids=["len5", "2d", "scalar", "str", "complex", "string"])
@pytest.mark.parametrize("kind", BIAS_LAYERS)
def test_bad_bias_is_refused_by_name(kind, bad, error):
    make, _, x_shape = BIAS_LAYERS[kind]
    layer = make(True)
    x = np.random.default_rng(8).standard_normal(x_shape).astype(np.float32)
    before, y = layer.bias, layer(x)
    with pytest.raises(error, match="^bias"):
        layer.bias = bad
    assert layer.bias is before  # a failed assignment changes nothing
    np.testing.assert_array_equal(layer(x), y)
