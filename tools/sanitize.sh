#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the gconv_cpu test suite.
#
#   bash tools/sanitize.sh [--quick] [--keep] [--dir DIR] [-- PYTEST_ARGS...]
#
# 1. Copies setup.py, gconv_cpu/ and src_c/ into a temp dir (never over the normal in-place build) and
#    builds the extension there with
#      GCONV_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer
#                          -fno-sanitize-recover=undefined -fno-wrapv -g $SANITIZE_OPT"   (SANITIZE_OPT: -O1)
#    -fno-wrapv cancels the -fwrapv in Python's own CFLAGS, so signed overflow is UB that UBSan checks
#    (under -fwrapv it is defined and never reported); it also cuts the instrumented compile of the
#    specialized depthwise kernels from ~50 s to ~1.5 s each. -O1 is ASan's recommended level (-O3 takes
#    ~40 s per specialized kernel under ASan); the kernels are intrinsics, so -O1 runs the same vector code
#    paths (SANITIZE_OPT=-O3 to build at the release level). Compiles run on SANITIZE_JOBS (2) threads.
# 2. Runs tools/lsan_check.py --self-test and tools/lsan_check.py: the leak check (see below).
# 3. Runs the test suite from that dir (python -m pytest tests/...; the cwd comes first on sys.path, so
#    gconv_cpu is the sanitized copy; checked before running) with
#      LD_PRELOAD="libasan.so libstdc++.so"  (gcc -print-file-name): python is not linked with ASan, so
#        its runtime must come first. libstdc++ is preloaded too: without it ASan's __cxa_throw
#        interceptor is unresolved when a C++ library loaded later (torch, OpenVINO) throws, and the
#        process dies with "CHECK failed: asan_interceptors.cpp ... real___cxa_throw". libubsan needs no
#        preload (it is a DT_NEEDED of the sanitized extension).
#      PYTHONMALLOC=malloc: every Python object is a malloc block, so an overflow out of a Python object
#        or NumPy buffer written by the binding is an ASan report (pymalloc would hide it in arenas).
#    and fails on ANY report: pytest's exit status, and every ASan/UBSan report file under
#    DIR/logs (log_path, so reports from the tests' subprocesses are caught too).
#
# Leaks: detect_leaks=0 for the suite, plus the targeted check. A leak check at exit (detect_leaks=1)
# reports CPython/NumPy/torch shutdown allocations and every uninstrumented child (sh, uname, gcc) that
# inherits LD_PRELOAD; suppressions cannot carve those out without hiding ours, because a suppression
# matches ANY frame of the allocation stack and all of our allocations have CPython's eval loop above
# them. tools/lsan_check.py instead drives every allocating path of the library (plans of every
# algorithm/ISA/activation, layers, setters, scratch pools, Python and C error paths) and runs LSan
# mid-process (__lsan_do_recoverable_leak_check, PYTHONMALLOC=malloc, full stacks), which reports
# nothing for a clean run; it fails on any leaked block whose stack passes through src_c/ or _ext.
# Its --self-test plants a leak made by _ext and must catch it. RSS-level leaks are tests/test_leaks.py's.
#
# Allocation size: max_allocation_size_mb = this machine's RAM with allocator_may_return_null=0, so any
# attempt to malloc more than the machine has -- anywhere in the process -- is an ASan report
# (allocation-size-too-big) instead of a quiet MemoryError: the API promises to refuse such sizes
# before allocating.
#
# Torch runs fine under ASan (checked: torch 2.13 CPU, with libstdc++ preloaded), so nothing that needs
# torch is excluded. Excluded, always: tests/test_bench.py::test_layers_quick and ::test_nets_quick, which
# run the bench with its third-party peers: OpenVINO dlopens TBB with RTLD_DEEPBIND, which the ASan
# runtime refuses ("incompatible with sanitizer runtime", google/sanitizers#611), aborting the bench;
# the gconv_cpu part of the bench still runs, in test_layers_missing_peers_are_skipped (peers hidden).
# tests/test_leaks.py skips itself under ASan (the quarantine keeps freed memory, so RSS is no leak
# signal). Children that cap themselves with RLIMIT_AS (the parameter and model-file fuzz workers) skip
# the cap under ASan (tests/reference.py's under_asan()): ASan's allocator and shadow cannot map under
# it ("ERROR: Failed to mmap", exit 1 before the first case); max_allocation_size_mb bounds them here.
#
# --quick (CI): the same build and leak check, and the suite minus tests/test_bench.py (benchmark
# plumbing, no native code of its own) and test_threads.py's two GIL timing tests (~20 s of big convs
# under ASan; tests/test_concurrency.py checks the same in ~1 s), with hypothesis' "smoke" profile
# (40 examples per property instead of the "ci" 300). A few minutes on 2 cores. Without --quick: the
# whole suite (minus the two peer tests above) with the "ci" profile.
#
# OpenMP: libgomp is not instrumented, and ASan needs nothing from it: its threads are ordinary
# pthreads whose stacks and allocations ASan sees; no false positives were observed. ThreadSanitizer
# is NOT run: it reports false races on every OpenMP barrier unless libgomp itself is built with TSan
# (its futex-based synchronization is invisible to TSan); a meaningful TSan run would need a
# GCONV_NO_OPENMP=1 build (the remaining concurrency is Python threads sharing layers, which
# tests/test_concurrency.py checks for bit-exact results).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
quick=0 keep=0 dir="" pytest_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --keep) keep=1 ;;
        --dir) dir=$2; keep=1; shift ;;
        --) shift; pytest_extra=("$@"); break ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "sanitize.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/gconv_sanitize.XXXXXX"); fi
if [ "$keep" = 0 ]; then trap 'rm -rf "$dir"' EXIT; fi
mkdir -p "$dir/src" "$dir/logs"
rm -f "$dir"/logs/*
start=$(date +%s)

echo "== sanitize: building the ASan+UBSan extension in $dir/src"
tar -C "$repo" --exclude='*.so' --exclude='_ext.c' --exclude='__pycache__' -cf - setup.py pyproject.toml gconv_cpu src_c \
    | tar -C "$dir/src" -xf -
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# -fno-wrapv undoes the -fwrapv of Python's CFLAGS: signed overflow is then UB that UBSan checks (with
# -fwrapv it is defined and unchecked), and the instrumented kernels compile ~10x faster.
san_c="$san -fno-wrapv"
# setup.py through a wrapper that compiles the ~30 C files on $SANITIZE_JOBS threads (build_ext -j only
# parallelizes across extensions, and there is one): the body of distutils' CCompiler.compile, mapped.
parallel_setup='
import os, sys
from concurrent.futures import ThreadPoolExecutor
from setuptools._distutils import ccompiler

def pcompile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0, extra_preargs=None,
             extra_postargs=None, depends=None):
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
    def one(obj):
        src, ext = build[obj]
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)
    with ThreadPoolExecutor(int(os.environ.get("SANITIZE_JOBS", "2"))) as pool:
        list(pool.map(one, objects))
    return objects

ccompiler.CCompiler.compile = pcompile
sys.argv = ["setup.py"] + sys.argv[1:]
exec(compile(open("setup.py").read(), "setup.py", "exec"), {"__name__": "__main__", "__file__": os.path.abspath("setup.py")})
'
(cd "$dir/src" && GCONV_EXTRA_CFLAGS="$san_c -g ${SANITIZE_OPT:--O1}" GCONV_EXTRA_LDFLAGS="$san" \
    python -c "$parallel_setup" -q build_ext --inplace -t "$dir/build" > "$dir/build.log" 2>&1) \
    || { tail -30 "$dir/build.log"; echo "sanitize: build FAILED"; exit 1; }
so=$(ls "$dir"/src/gconv_cpu/_ext*.so)
ldd "$so" | grep libasan > /dev/null || { echo "sanitize: $so is not linked with libasan"; exit 1; }
echo "   built in $(( $(date +%s) - start )) s"

asan_lib=$(gcc -print-file-name=libasan.so)
stdcxx_lib=$(gcc -print-file-name=libstdc++.so)
[ -e "$asan_lib" ] || { echo "sanitize: gcc has no libasan.so"; exit 1; }
mem_mb=$(( $(getconf PAGE_SIZE) * $(getconf _PHYS_PAGES) / 1048576 ))
# Only the sanitized Python processes get the preload (and their children, which inherit it): a shell
# of this script with ASan preloaded would report its own leaks at exit.
# PYTHONPATH: a script run by path (tools/lsan_check.py, the tests' worker scripts) has its own folder,
# not the cwd, first on sys.path, and would otherwise import whatever gconv_cpu is installed (an editable
# install of the unsanitized tree) or none.
san_python() { LD_PRELOAD="$asan_lib $stdcxx_lib" PYTHONMALLOC=malloc PYTHONFAULTHANDLER=1 \
               PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$dir/src${PYTHONPATH:+:$PYTHONPATH}" python "$@"; }
common="halt_on_error=1:print_summary=1:symbolize=1:allocator_may_return_null=0:max_allocation_size_mb=$mem_mb"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:report_error_type=1:log_path=$dir/logs/ubsan"
status=0
cd "$dir/src"
(cd / && ASAN_OPTIONS="$common:detect_leaks=0" san_python -c \
    "import gconv_cpu, sys; f = gconv_cpu._ext.__file__; assert f.startswith('$dir/src/'), f; print('   testing', f)")

echo "== sanitize: targeted leak check (tools/lsan_check.py)"
lsan="$common:detect_leaks=1:leak_check_at_exit=0:fast_unwind_on_malloc=0:malloc_context_size=64"
ASAN_OPTIONS="$lsan:log_path=$dir/logs/selftest" san_python "$repo/tools/lsan_check.py" --self-test || status=1
rm -f "$dir"/logs/selftest*  # the planted leak's report is expected
ASAN_OPTIONS="$lsan:log_path=$dir/logs/lsan" GCONV_LSAN_ROUNDS=$([ "$quick" = 1 ] && echo 4 || echo 12) \
    san_python "$repo/tools/lsan_check.py" || status=1

echo "== sanitize: test suite under ASan+UBSan$([ "$quick" = 1 ] && echo ' (--quick)')"
suite_asan="$common:detect_leaks=0:log_path=$dir/logs/asan"
args=(-q -p no:cacheprovider --rootdir "$repo"
      --deselect tests/test_bench.py::test_layers_quick --deselect tests/test_bench.py::test_nets_quick)
if [ "$quick" = 1 ]; then
    export GCONV_HYPOTHESIS_PROFILE=${GCONV_HYPOTHESIS_PROFILE:-smoke}
    args+=(--ignore "$repo/tests/test_bench.py"
           --deselect tests/test_threads.py::test_gil_released_during_compute
           --deselect tests/test_threads.py::test_two_threads_overlap)
fi
ASAN_OPTIONS="$suite_asan" san_python -m pytest "$repo/tests" "${args[@]}" "${pytest_extra[@]}" \
    || { echo "sanitize: pytest exit status $?"; status=1; }

reports=$(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: AddressSanitizer" "$dir"/logs/* 2>/dev/null || true)
if [ -n "$reports" ]; then
    status=1
    for f in $reports; do echo "---- sanitizer report $f"; head -60 "$f"; done
fi
echo "== sanitize: $([ $status = 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - start )) s" \
     "(reports: $(echo "$reports" | grep -c . || true))"
exit $status
