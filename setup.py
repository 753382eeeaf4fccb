"""Build for gconv_cpu: one extension from src_c/ (C kernels) and gconv_cpu/_ext.pyx.

SIMD kernels carry their own `#pragma GCC target(...)`, so the whole build uses
baseline x86-64 flags and runs on every x86-64 CPU; the ISA is picked at import.
OpenMP is probed: without it (or with GCONV_NO_OPENMP=1) the build is serial.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _compiler():
    return os.environ.get("CC") or sysconfig.get_config_var("CC").split()[0] or "cc"


def openmp_flags():
    """Return (compile, link) flags if the C compiler can build an OpenMP program."""
    if os.environ.get("GCONV_NO_OPENMP") == "1":
        return [], []
    src = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\nreturn n>0?0:1;}\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = [_compiler(), "-fopenmp", path, "-o", os.path.join(tmp, "probe")]
        ok = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        ok = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        warnings.warn("gconv_cpu: the C compiler cannot build OpenMP code; building a serial (1-thread) extension")
        return [], []
    return ["-fopenmp"], ["-fopenmp"]


omp_compile, omp_link = openmp_flags()
sources = ["gconv_cpu/_ext.pyx"] + sorted(
    os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, "src_c", "**", "*.c"), recursive=True)
)
extra_compile = ["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unused-function"] + omp_compile
extra_compile += os.environ.get("GCONV_EXTRA_CFLAGS", "").split()
extra_link = omp_link + os.environ.get("GCONV_EXTRA_LDFLAGS", "").split()
if sys.platform == "darwin":
    extra_compile.remove("-std=gnu11")

ext = Extension(
    "gconv_cpu._ext",
    sources=sources,
    include_dirs=["src_c/include", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=extra_compile,
    extra_link_args=extra_link,
)

setup(ext_modules=cythonize([ext], language_level=3, compiler_directives={"boundscheck": False, "wraparound": False}))
