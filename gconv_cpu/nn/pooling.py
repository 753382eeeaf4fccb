"""Pooling layers with torch.nn's names, arguments and defaults."""
from .. import functional as F
from .._validate import is_int, pair
from .module import Module


class _Pool2d(Module):
    def _pool_args(self):
        """(kernel, stride, pads (t, b, l, r), dilation), checked like torch does."""
        kernel = pair(self.kernel_size, "kernel_size", 1)
        stride = kernel if self.stride is None or self.stride == () else pair(self.stride, "stride", 1)
        ph, pw = pair(self.padding, "padding", 0)
        dilation = pair(getattr(self, "dilation", 1), "dilation", 1)
        for p, k, d in ((ph, kernel[0], dilation[0]), (pw, kernel[1], dilation[1])):
            if p > (d * (k - 1) + 1) // 2:
                raise ValueError(f"padding should be at most half of effective kernel size, got padding={p} "
                                 f"for kernel_size={k}")
        return kernel, stride, (ph, ph, pw, pw), dilation


class MaxPool2d(_Pool2d):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        if return_indices:
            raise ValueError("return_indices: max-pool indices are not supported (inference only)")
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.ceil_mode = bool(ceil_mode)
        self._pool_args()

    def _trace(self, x):
        kernel, stride, pads, dilation = self._pool_args()
        return x.graph.add("pool", [x], kind="max", kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                           ceil_mode=self.ceil_mode, count_include_pad=False)

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        if divisor_override is not None:
            raise ValueError("divisor_override is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self._pool_args()

    def _trace(self, x):
        kernel, stride, pads, dilation = self._pool_args()
        return x.graph.add("pool", [x], kind="avg", kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                           ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad)

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Planned models support output_size 1 (global average pooling) and sizes that divide the input
    evenly (then the windows are uniform, an ordinary AvgPool2d)."""

    def __init__(self, output_size):
        self.output_size = output_size
        pair(output_size, "output_size", 1)

    def _trace(self, x):
        oh, ow = pair(self.output_size, "output_size", 1)
        if (oh, ow) == (1, 1):
            return x.graph.add("global_avgpool", [x])
        h, w = x.shape[2], x.shape[3]
        if h % oh or w % ow:
            raise ValueError(f"output_size: {oh}x{ow} does not divide the input {h}x{w}; a planned model supports "
                             "only uniform adaptive windows")
        k = (h // oh, w // ow)
        return x.graph.add("pool", [x], kind="avg", kernel=k, stride=k, pads=(0, 0, 0, 0), dilation=(1, 1),
                           ceil_mode=False, count_include_pad=True)

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
