"""Thread count for every kernel call (after scikit-learn's _openmp_helpers).

Every C entry point takes an explicit num_threads; this module is the one place
that decides it. The default is OpenMP's max threads, which honours
OMP_NUM_THREADS. A build without OpenMP always runs on 1 thread.
"""
import numbers

from . import _ext

OPENMP_ENABLED = _ext.openmp_enabled()
_num_threads = None  # None: follow OpenMP's default


def _validate_count(n, name):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if n > 4096:
        raise ValueError(f"{name} must be <= 4096, got {n}")
    return int(n)


def set_num_threads(n):
    """Use n threads for every kernel from now on (in every Python thread)."""
    global _num_threads
    _num_threads = _validate_count(n, "num_threads")


def get_num_threads():
    """Threads the kernels will use: 1 in a build without OpenMP."""
    if not OPENMP_ENABLED:
        return 1
    return _num_threads if _num_threads is not None else max(1, _ext.openmp_max_threads())


# ---- per-step thread counts (used by the planner) -------------------------------------------------
# A step's expected 1-thread time comes from its multiply-adds and the bytes it reads and writes, at
# rates measured on the 2-core Xeon (AVX-512) by timing mobilenet_v2's and shufflenet_v2's steps one
# at a time: depthwise 20-40 MAC/ns (7x7 planes pay more per-plane setup than 14x14 ones), the GEMM,
# Winograd and grouped-direct convs 60-75 MAC/ns, copies, shuffles and pooling 35-75 bytes/ns (their
# tensors are in L2 at the sizes where the choice matters). The slower rates are used, so a step
# near the cut gets the extra thread; the kernels' own cuts (dw_threads, gconv_ops_threads in C) can
# still run it on fewer, the planner's count is an upper bound.
MACS_PER_NS = {"dwconv": 20.0}
DEFAULT_MACS_PER_NS = 60.0
BYTES_PER_NS = 35.0
# Handing a loop to a waiting team member and joining it costs ~1 us (inside a planned forward's team,
# or a region whose threads are still spinning), more when a thread has to be woken, so a thread
# must get at least this much work to pay for itself.
MIN_US_PER_THREAD = 5.0


def estimated_us(macs, nbytes, algorithm=None):
    """A step's expected time on one thread, in microseconds."""
    rate = MACS_PER_NS.get(algorithm, DEFAULT_MACS_PER_NS)
    return (macs / rate + nbytes / BYTES_PER_NS) / 1000.0


def threads_for_work(num_threads, macs, nbytes, algorithm=None):
    """Threads worth waking for a step: one per MIN_US_PER_THREAD of expected work, at most num_threads."""
    if num_threads <= 1:
        return 1
    return max(1, min(num_threads, int(estimated_us(macs, nbytes, algorithm) // MIN_US_PER_THREAD)))


def conv_threads(num_threads, spec, pixels_shape, io_floats, algorithm=None):
    """threads_for_work for a conv or deconv: spec starts (c_in, c_out, groups, kh, kw); every weight
    meets every pixel of pixels_shape (the output for a conv, the input for a deconv); io_floats
    counts the tensors it reads and writes, the weights are added here."""
    c_in, c_out, groups, kh, kw = spec[:5]
    weights = c_in * c_out // groups * kh * kw
    n, _, h, w = pixels_shape
    return threads_for_work(num_threads, n * h * w * weights, 4 * (io_floats + weights), algorithm)
