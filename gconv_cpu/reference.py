"""Plain NumPy (float64) grouped convolution: slow, obviously correct, no C.

The demo compares the kernels against it; users can use it to check a model.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._plan import conv_spec
from .functional import as_batched
from ._validate import conv_geometry, float_array


def conv2d_numpy(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d semantics, computed in float64 with NumPy; returns float64."""
    x, unbatched = as_batched(x)
    weight = float_array(weight, "weight", ndim=4)
    spec = conv_spec(x.shape[1], weight.shape[0], weight.shape[2:], stride, padding, dilation, groups)
    _, c_out, g, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = spec
    n, _, out_h, out_w = conv_geometry(x.shape, spec)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    # Windows of the dilated kernel's extent, then keep every dilation-th tap.
    win = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :out_h, :out_w]
    cin_g, cout_g = x.shape[1] // g, c_out // g
    w = weight.astype(np.float64)
    y = np.empty((n, c_out, out_h, out_w))
    for i in range(g):
        y[:, i * cout_g:(i + 1) * cout_g] = np.einsum(
            "nchwyx,ocyx->nohw", win[:, i * cin_g:(i + 1) * cin_g], w[i * cout_g:(i + 1) * cout_g], optimize=True)
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return y[0] if unbatched else y
