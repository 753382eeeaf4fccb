"""gconv_cpu: fast CPU inference for grouped, depthwise and pointwise convolutions.

    import gconv_cpu
    y = gconv_cpu.conv2d(x, w, b, stride=1, padding=1, groups=32)   # torch.nn.functional.conv2d semantics
    layer = gconv_cpu.nn.Conv2d(128, 128, 3, padding=1, groups=32)    # torch.nn.Conv2d semantics
"""
from . import _openmp_env  # first: it loads the extension, and libgomp reads its settings then
from . import functional, models, nn
from ._denormal import get_flush_denormal, set_flush_denormal
from ._errors import SizeOverflowError
from ._ext import kernel_table as _kernel_table
from ._isa import available_isas, get_isa, set_isa
from ._threads import OPENMP_ENABLED, get_num_threads, set_num_threads
from .functional import conv2d, conv_transpose2d
from .serialize import ModelFormatError, load
from .summary import summary

__version__ = "0.1.0"
__all__ = ["conv2d", "conv_transpose2d", "nn", "functional", "models", "cpu_info", "kernel_table", "set_num_threads", "get_num_threads", "set_isa",
           "get_isa", "available_isas", "SizeOverflowError", "summary", "load", "ModelFormatError", "set_flush_denormal",
           "get_flush_denormal"]


def kernel_table():
    """Every microkernel in this build: name, kind, ISA, tile, specialization."""
    return _kernel_table()


def cpu_info():
    """The SIMD path in use, the paths this CPU can run, and the threading setup."""
    return {
        "isa": get_isa(),
        "available": available_isas(),
        "openmp": OPENMP_ENABLED,
        "num_threads": get_num_threads(),
        "openmp_wait_policy": _openmp_env.wait_policy(),
        "flush_denormal": get_flush_denormal(),
        "kernels": [k["name"] for k in kernel_table() if k["isa"] in available_isas()],
    }
