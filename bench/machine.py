"""The machine the numbers came from: CPU, gconv_cpu's SIMD path, library versions, and the
measured ceilings (single-core FMA peak, stream-triad bandwidth) the roofline and %peak use."""
import datetime
import os
import platform

import numpy as np

import gconv_cpu
from gconv_cpu import _ext

from .peers.base import package_version

INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def _cpuinfo():
    """CPU model name and the SIMD flags that matter here (first core's entry of /proc/cpuinfo)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux
        pass
    flags = set(fields.get("flags", "").split())
    return fields.get("model name", platform.processor() or platform.machine()), [f for f in INTERESTING_FLAGS if f in flags]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def versions():
    import sys
    out = {"python": sys.version.split()[0], "numpy": np.__version__, "gconv_cpu": gconv_cpu.__version__}
    for dist in ("torch", "onnxruntime", "openvino", "ncnn", "pnnx", "ai-edge-litert", "onnx"):
        out[dist] = package_version(dist)
    return out


def machine_info():
    model, flags = _cpuinfo()
    info = gconv_cpu.cpu_info()
    active = {k["name"] for k in gconv_cpu.kernel_table() if k["isa"] in (info["isa"], "scalar")}
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "cpu_flags": flags,
        "platform": platform.platform(),
        "gconv_isa": info["isa"],
        "gconv_isas_available": info["available"],
        "gconv_openmp": info["openmp"],
        "gconv_kernels": [k for k in info["kernels"] if k in active],
        "loadavg_start": loadavg(),
        "versions": versions(),
    }


def measure_ceilings(thread_counts, quick=False):
    """Best of a few runs, since the machine is shared: the ceiling is what it can do when it can."""
    isa = gconv_cpu.get_isa()
    if not hasattr(_ext, "fma_peak_gflops"):  # a gconv_cpu build older than its bench helpers
        return {"isa": isa, "fma_gflops_per_core": None, "triad_gbps": {},
                "unavailable": "this gconv_cpu build has no _ext.fma_peak_gflops / triad_bandwidth_gbps"}
    iters = 2_000_000 if quick else 20_000_000
    fma = max(_ext.fma_peak_gflops(isa, iters) for _ in range(2 if quick else 5))
    floats = 1 << (22 if quick else 25)
    triad = {t: _ext.triad_bandwidth_gbps(floats, 2 if quick else 5, t) for t in sorted(set(thread_counts))}
    fork_join = {t: _ext.fork_join_us(t, 200 if quick else 2000) for t in sorted(set(thread_counts)) if t > 1}
    return {"isa": isa, "fma_gflops_per_core": fma, "triad_floats_per_array": floats, "triad_gbps": triad,
            "fork_join_us": fork_join, "openmp_wait_policy": gconv_cpu.cpu_info()["openmp_wait_policy"]}
