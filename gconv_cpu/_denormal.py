"""Flush-to-zero / denormals-are-zero for the float kernels, under torch's name for the switch.

Subnormal (denormal) float32 inputs, weights or results make x86 multiply/FMA units take a microcode
assist: 15-144x slower kernels (`python -m bench denormals`). With the switch on (the default) every
kernel call sets FTZ|DAZ in each of its threads for its duration and gives the caller's thread its
floating-point mode back afterwards: subnormal inputs and weights read as zero and subnormal results
are written as zero, so results differ from torch's defaults by less than FLT_MIN * K in absolute terms
(K: the multiply-adds per output) and only where subnormals occur. Off, subnormals are computed exactly
as torch computes them by default (FTZ|DAZ cleared for the call even if the caller had set them).

The setting is process-wide, like torch's: the C core keeps it in an atomic and each call reads it
once (a model's forward once for all its layers), so a call never mixes modes.
"""
import numpy as np

from . import _ext


def set_flush_denormal(mode):
    """Flush subnormals in every kernel (True, the default) or keep them (False). Returns True where the
    CPU has the switch (x86), False where it does not (then nothing changes), as torch.set_flush_denormal."""
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"mode must be a bool, got {type(mode).__name__}")
    if not _ext.flush_denormal_supported():
        return False
    _ext.set_flush_denormal(bool(mode))
    return True


def get_flush_denormal():
    """Whether the kernels flush subnormals (False where the CPU has no FTZ/DAZ)."""
    return _ext.flush_denormal_supported() and _ext.get_flush_denormal()
