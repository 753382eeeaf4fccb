"""Element-wise activations with torch.nn's names and defaults. In a planned model they fuse into the
convolution before them when they can (ReLU, ReLU6, PReLU, Hardswish)."""
import numpy as np

from .. import functional as F
from .._validate import shaped_float_array
from .module import Module, touch


class _Unary(Module):
    kind = None

    def __init__(self, inplace=False):
        self.inplace = inplace  # accepted for torch compatibility; results are never written into x

    def _trace(self, x):
        return x.graph.add("unary", [x], kind=self.kind, alpha=0.0, beta=0.0)

    def forward(self, x):
        return getattr(F, self.kind)(x)


class ReLU(_Unary):
    kind = "relu"


class ReLU6(_Unary):
    kind = "relu6"


class Hardswish(_Unary):
    kind = "hardswish"


class Hardsigmoid(_Unary):
    kind = "hardsigmoid"

    def _trace(self, x):
        return x.graph.add("unary", [x], kind="hardsigmoid", alpha=1.0 / 6.0, beta=0.5)


class Sigmoid(_Unary):
    kind = "sigmoid"


class Tanh(_Unary):
    kind = "tanh"


class SiLU(_Unary):
    kind = "silu"


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        if not min_val <= max_val:
            raise ValueError(f"max_val must be >= min_val, got min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def _trace(self, x):
        return x.graph.add("unary", [x], kind="clip", alpha=self.min_val, beta=self.max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        self.negative_slope = float(negative_slope)

    def _trace(self, x):
        return x.graph.add("unary", [x], kind="leaky_relu", alpha=self.negative_slope, beta=0.0)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """One learned slope, or one per channel (num_parameters=C), initialized to `init` like torch."""

    _state = ("weight",)

    def __init__(self, num_parameters=1, init=0.25):
        if not isinstance(num_parameters, (int, np.integer)) or num_parameters < 1:
            raise ValueError(f"num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self._weight = np.full(self.num_parameters, init, np.float32)

    @property
    def weight(self):
        return self._weight

    @weight.setter
    def weight(self, value):
        self._weight = shaped_float_array(value, "weight", (self.num_parameters,))
        touch()

    def _trace(self, x):
        return x.graph.add("unary", [x], kind="prelu", alpha=0.0, beta=0.0, slope=self._weight)

    def forward(self, x):
        return F.prelu(x, self._weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    def __init__(self, dim=None):
        self.dim = dim

    def _trace(self, x):
        if self.dim not in (1, -1) or x.ndim != 2:
            raise ValueError(f"dim: a planned Softmax runs over the features of a 2-D tensor (dim=1), "
                             f"got dim={self.dim} for shape {x.shape}")
        return x.graph.add("softmax", [x])

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
