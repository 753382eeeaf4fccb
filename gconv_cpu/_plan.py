"""Planned convolution: validated spec + packed weights + reusable scratch.

A ConvOp is built once per layer (or per functional call). Calling it does
no packing and, in steady state, no allocation beyond the output array
(none at all with out=). Scratch buffers live in a small pool so that
several Python threads can run the same op at once without sharing scratch.
"""
import math
import threading

import numpy as np

from . import _ext, _isa, _threads
from ._ext import check_out
from ._validate import conv_geometry, float_array, int_param, numeric_array, pair, padding4

ALGORITHMS = _ext.ALGO_NAMES  # ("auto", "reference", "dwconv", "gemm", "grouped_direct")
ACTIVATIONS = _ext.ACTIVATION_NAMES  # (None, "relu", "relu6", "prelu", "hardswish")
NO_CLAMP = (-math.inf, math.inf)


def channels_and_window(in_channels, out_channels, kernel_size, stride, dilation, groups, in_name, out_name):
    """The checks conv and transposed conv share: channel counts that groups divides, and the
    kernel, stride and dilation pairs. Returns (c_in, c_out, groups, kernel, stride, dilation)."""
    groups = int_param(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups}")
    in_channels = int_param(in_channels, in_name, 1)
    out_channels = int_param(out_channels, out_name, 1)
    if in_channels % groups:
        raise ValueError(f"groups={groups} does not divide {in_name}={in_channels}")
    if out_channels % groups:
        raise ValueError(f"groups={groups} does not divide {out_name}={out_channels}")
    kernel = pair(kernel_size, "kernel_size", 1, allow_single=False)  # torch rejects (k,) here
    stride = pair(stride, "stride", 1)
    dilation = pair(dilation, "dilation", 1)
    return in_channels, out_channels, groups, kernel, stride, dilation


def conv_spec(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
              in_name="in_channels", out_name="out_channels"):
    """Checks the layer-fixed parameters and returns the tuple the C core takes."""
    in_channels, out_channels, groups, kernel, stride, dilation = channels_and_window(
        in_channels, out_channels, kernel_size, stride, dilation, groups, in_name, out_name)
    pads = padding4(padding, kernel, dilation, stride)
    return (in_channels, out_channels, groups, *kernel, *stride, *dilation, *pads)


def algorithm_index(algorithm, choices=ALGORITHMS):
    """Index of `algorithm` in `choices` (the C enum's names for this op)."""
    if algorithm not in choices:
        raise ValueError(f"algorithm must be one of {', '.join(choices)}, got {algorithm!r}")
    return choices.index(algorithm)


def activation_index(activation, supported=ACTIVATIONS, op=""):
    """Index in _ext.ACTIVATION_NAMES (the C enum) of `activation` ('none' is None), which must be
    one that the op fuses (`supported`; `op` names the op in the error)."""
    if activation == "none":
        activation = None
    if activation not in supported:
        names = ", ".join(repr(a) for a in supported)
        raise ValueError(f"activation must be one of {names}{op}, got {activation!r}")
    return ACTIVATIONS.index(activation)


def prelu_slopes(activation, prelu_weight, out_channels):
    """PReLU's slopes as (out_channels,) float32: a float or an array of 1 or out_channels (torch's
    num_parameters). None for the other activations, where giving prelu_weight is an error."""
    if activation != "prelu":
        if prelu_weight is not None:
            raise ValueError(f"prelu_weight is only used with activation='prelu', not {activation!r}")
        return None
    if prelu_weight is None:
        raise ValueError("prelu_weight is required with activation='prelu' (a float or one slope per channel)")
    slope = numeric_array(prelu_weight, "prelu_weight").reshape(-1)
    if slope.size not in (1, out_channels):
        raise ValueError(f"prelu_weight must have 1 or {out_channels} values (out_channels), got {slope.size}")
    slope = float_array(slope, "prelu_weight")
    return np.ascontiguousarray(np.broadcast_to(slope, (out_channels,)), dtype=np.float32)


def aligned_scratch(nbytes):
    """nbytes of uint8 starting on a 64-byte boundary, the alignment the C core wants for scratch."""
    raw = np.empty(nbytes + 64, dtype=np.uint8)
    offset = -raw.ctypes.data % 64
    return raw[offset:offset + nbytes]


class _WorkspacePool:
    """Scratch buffers handed to one call at a time; reused, never shared concurrently."""

    _KEEP = 8

    def __init__(self):
        self._free = []
        self._lock = threading.Lock()

    def acquire(self, nbytes):
        if nbytes == 0:
            return None
        with self._lock:
            for i, buf in enumerate(self._free):
                if buf.nbytes >= nbytes:
                    return self._free.pop(i)
        return aligned_scratch(nbytes)

    def release(self, buf):
        if buf is not None:
            with self._lock:
                if len(self._free) < self._KEEP:
                    self._free.append(buf)


class PlannedOp:
    """What every planned operator shares: its plan (one ISA, weights packed), a per-shape cache of
    output size and workspace, and the workspace pool. Subclasses build `_plan` and give output_shape."""

    def __init__(self, spec, plan, isa):
        self.spec, self._plan, self.isa = spec, plan, isa
        self._geometry = {}
        self._pool = _WorkspacePool()

    @property
    def algorithm(self):
        return self._plan.algorithm

    @property
    def kernel_name(self):
        return self._plan.kernel_name

    def output_shape(self, x_shape):
        raise NotImplementedError

    def _pixels_meeting_every_weight(self, x_shape, y_shape):
        """The output's shape for a conv, the input's for a deconv (see _threads.conv_threads)."""
        raise NotImplementedError

    def threads_for(self, x_shape, num_threads=None):
        """Threads a call on this input shape runs on: num_threads (default: the current setting), or
        fewer when the conv is too small to pay for waking them (_threads.conv_threads)."""
        num_threads = _threads.get_num_threads() if num_threads is None else num_threads
        y_shape = self.output_shape(x_shape)
        io_floats = math.prod(x_shape) + math.prod(y_shape)
        return _threads.conv_threads(num_threads, self.spec, self._pixels_meeting_every_weight(x_shape, y_shape),
                                     io_floats, self.algorithm)

    def __call__(self, x, out=None):
        """x: C-contiguous float32 (N, C_in, H, W); returns (N, C_out, H_out, W_out)."""
        threads = _threads.get_num_threads()
        key = (x.shape, threads)
        geo = self._geometry.get(key)
        if geo is None:
            shape = self.output_shape(x.shape)
            run_threads = self.threads_for(x.shape, threads)
            workspace = self._plan.geometry(shape[0], x.shape[2], x.shape[3], run_threads)[2]
            geo = self._geometry[key] = (shape, workspace, run_threads)
            if len(self._geometry) > 64:  # many input sizes: keep the cache bounded
                self._geometry.clear()
                self._geometry[key] = geo
        shape, ws_bytes, threads = geo
        if out is None:
            out = np.empty(shape, dtype=np.float32)
        else:
            check_out(out, shape, x)
        ws = self._pool.acquire(ws_bytes)
        try:
            self._plan.run(x, out, ws, threads)
        finally:
            self._pool.release(ws)
        return out


class ConvOp(PlannedOp):
    """One convolution, planned for one ISA: algorithm chosen, weights packed."""

    def __init__(self, spec, weight, bias, algorithm="auto", activation=None, prelu_weight=None,
                 clamp=NO_CLAMP, isa=None):
        spec, isa = tuple(spec), isa or _isa.get_isa()
        slopes = prelu_slopes(activation, prelu_weight, spec[1])
        super().__init__(spec, _ext.ConvPlan(spec + tuple(clamp), weight, bias, _isa.isa_index(isa),
                                             algorithm_index(algorithm), activation_index(activation), slopes), isa)

    def output_shape(self, x_shape):
        return conv_geometry(x_shape, self.spec)

    @property
    def global_kernel_name(self):
        """The GDC kernel a depthwise plan runs instead on an input of exactly the kernel's size with no
        padding, or None."""
        return self._plan.global_kernel_name

    def kernel_name_for(self, x_shape):
        """The microkernel a call on an (N, C, H, W) input of this shape runs."""
        n, _, h, w = x_shape
        return self._plan.kernel_name_for(n, h, w)

    def _pixels_meeting_every_weight(self, x_shape, y_shape):
        return y_shape
