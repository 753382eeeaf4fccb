"""Which SIMD path the kernels take: chosen once at import from CPUID (and the
OS's XSAVE state), overridable with GCONV_ISA=scalar|avx2|avx512 or set_isa()."""
import os

from . import _ext

ISA_NAMES = _ext.ISA_NAMES  # ("scalar", "avx2", "avx512"), in order of preference
_available = [name for i, name in enumerate(ISA_NAMES) if _ext.cpu_isa_mask() & (1 << i)]


def available_isas():
    """The paths this CPU and OS can run, slowest first."""
    return list(_available)


def _check_name(name, source):
    if not isinstance(name, str) or name not in ISA_NAMES:
        raise ValueError(f"{source}: unknown ISA {name!r}; choose one of {', '.join(ISA_NAMES)}")
    if name not in _available:
        raise ValueError(f"{source}: this CPU cannot run the {name} path (available: {', '.join(_available)})")
    return name


def _initial_isa():
    forced = os.environ.get("GCONV_ISA", "").strip().lower()
    return _check_name(forced, "GCONV_ISA") if forced else _available[-1]


_current = _initial_isa()


def get_isa():
    """The SIMD path new plans use."""
    return _current


def set_isa(name):
    """Force a SIMD path ('scalar', 'avx2' or 'avx512'). Layers repack on their next call."""
    global _current
    _current = _check_name(name, "isa")


def isa_index(name):
    return ISA_NAMES.index(name)
