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
