"""Linear and Flatten with torch.nn's names, arguments, defaults and initialization."""
import math

import numpy as np

from .. import functional as F
from .._validate import check_alloc, int_param, shaped_float_array
from .module import Module, touch


class Linear(Module):
    """y = x @ weight.T + bias on (N, in_features). Planned, it runs as a 1x1 convolution (GEMM kernels)."""

    _state = ("weight", "bias")

    def __init__(self, in_features, out_features, bias=True):
        self.in_features = int_param(in_features, "in_features", 1)
        self.out_features = int_param(out_features, "out_features", 1)
        check_alloc((self.out_features, self.in_features), "weight")
        bound = 1.0 / math.sqrt(self.in_features)  # torch: kaiming_uniform_(a=sqrt(5)) and the bias rule
        self._weight = np.random.uniform(-bound, bound, (self.out_features, self.in_features)).astype(np.float32)
        self._bias = np.random.uniform(-bound, bound, self.out_features).astype(np.float32) if bias else None

    @property
    def weight(self):
        return self._weight

    @weight.setter
    def weight(self, value):
        self._weight = shaped_float_array(value, "weight", (self.out_features, self.in_features))
        touch()

    @property
    def bias(self):
        return self._bias

    @bias.setter
    def bias(self, value):
        self._bias = None if value is None else shaped_float_array(value, "bias", (self.out_features,))
        touch()

    def _trace(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x: Linear({self.in_features}, {self.out_features}) expects (N, {self.in_features}), "
                             f"got shape {x.shape}")
        return x.graph.add("linear", [x], weight=self._weight, bias=self._bias)

    def forward(self, x):
        return F.linear(x, self._weight, self._bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self._bias is not None}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def _trace(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)
