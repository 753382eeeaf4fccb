"""Inference BatchNorm: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias. In a planned
model it is folded into the convolution before it; on its own it runs as a per-channel affine map."""
import numpy as np

from .. import functional as F
from .._validate import int_param, shaped_float_array
from .module import Module, touch


class _BatchNorm(Module):
    _state = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    _rank = 4

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        self.num_features = int_param(num_features, "num_features", 1)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if not track_running_stats:
            raise ValueError("track_running_stats: inference needs running statistics (True)")
        self.eps, self.momentum, self.affine = float(eps), momentum, affine
        c = self.num_features
        object.__setattr__(self, "_arrays", {
            "weight": np.ones(c, np.float32) if affine else None,
            "bias": np.zeros(c, np.float32) if affine else None,
            "running_mean": np.zeros(c, np.float32),
            "running_var": np.ones(c, np.float32),
        })
        self._num_batches_tracked = np.array(0, np.int64)

    def __getattr__(self, name):
        arrays = self.__dict__.get("_arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        arrays = self.__dict__.get("_arrays")
        if arrays is not None and name in arrays:
            if arrays[name] is None and name in ("weight", "bias"):
                raise ValueError(f"{name}: this BatchNorm was built with affine=False")
            arrays[name] = shaped_float_array(value, name, (self.num_features,))
            touch()
            return
        super().__setattr__(name, value)

    @property
    def num_batches_tracked(self):
        return self._num_batches_tracked

    @num_batches_tracked.setter
    def num_batches_tracked(self, value):
        self._num_batches_tracked = np.asarray(value, np.int64).reshape(())

    def scale_shift(self):
        """(scale, shift) with y = x*scale + shift, computed in float64 and rounded once."""
        a = self._arrays
        scale = 1.0 / np.sqrt(a["running_var"].astype(np.float64) + self.eps)
        if a["weight"] is not None:
            scale = scale * a["weight"]
        shift = -a["running_mean"] * scale
        if a["bias"] is not None:
            shift = shift + a["bias"]
        return scale.astype(np.float32), shift.astype(np.float32)

    def _trace(self, x):
        if x.ndim != self._rank or x.shape[1] != self.num_features:
            raise ValueError(f"x: {type(self).__name__}({self.num_features}) expects {self._rank}-D input with "
                             f"{self.num_features} channels, got shape {x.shape}")
        scale, shift = self.scale_shift()
        return x.graph.add("affine", [x], scale=scale, shift=shift)

    def forward(self, x):
        a = self._arrays
        return F.batch_norm(x, a["running_mean"], a["running_var"], a["weight"], a["bias"], eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm2d(_BatchNorm):
    _rank = 4


class BatchNorm1d(_BatchNorm):
    """On (N, C) inputs, e.g. after a Linear in a face-embedding head."""
    _rank = 2
