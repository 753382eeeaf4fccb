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
