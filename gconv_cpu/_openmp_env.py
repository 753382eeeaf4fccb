"""Whether gconv_cpu's idle OpenMP threads spin or sleep, decided before libgomp loads.

libgomp reads its settings from the environment once, when it is loaded (with the extension). With
neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set, an idle thread spins for 300,000 pause instructions,
~3 ms on the 2-core Xeon (a pause is ~10 ns there), before it sleeps. That is harmless on an idle
machine and ruinous on a busy one: the spinning thread uses up its share of a core, the scheduler
runs another process in its place, and the next parallel region waits for it (every region ends in
a barrier that the whole team must reach). With one or two other busy processes on the 2 cores,
mobilenet_v2 and shufflenet_v2 on 2 threads ran 10-100x slower than on 1 (0.1-1.3 s a forward)
while ONNX Runtime and LiteRT held. Timed in alternation at a load of ~6 (shufflenet_v2, 2-thread
forward over 1-thread forward): default spin 10-100x, GOMP_SPINCOUNT=1000 (~10 us) 1.9x, 300 1.4x,
100 1.2x, OMP_WAIT_POLICY=passive 1.1-1.2x. Passive costs a futex wake per parallel region
(an empty region: ~3 us passive, ~1 us spinning, on a quiet moment), which the planner's per-step
thread counts keep off small steps. OMP_WAIT_POLICY is the standard variable, so it also works
with OpenMP runtimes other than libgomp.

So when the user has set neither variable, gconv_cpu sets OMP_WAIT_POLICY=passive while libgomp
loads and removes it again, so child processes and later-loaded libraries see the environment as it
was. libgomp is one runtime per process: when another library (torch ships a libgomp.so.1) loaded it
first, gconv_cpu shares that runtime and its settings, and when gconv_cpu loads it first, such a
library shares gconv_cpu's. wait_policy() says which happened.
"""
import os

POLICY = "passive"
_USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_policy = None


def _libgomp_loaded():
    try:
        with open("/proc/self/maps") as maps:
            return any(os.path.basename(line.split()[-1]).startswith("libgomp") for line in maps
                       if "/" in line)
    except OSError:  # not Linux: no way to tell, so assume not
        return False


def _load_extension():
    """Imports gconv_cpu._ext with the wait policy described above."""
    global _policy
    user = {k: os.environ[k] for k in _USER_VARIABLES if k in os.environ}
    set_here = not user and not _libgomp_loaded()
    if user:
        _policy = "from the environment: " + ", ".join(f"{k}={v}" for k, v in user.items())
    elif not set_here:
        _policy = "inherited: libgomp was loaded before gconv_cpu"
    else:
        _policy = f"OMP_WAIT_POLICY={POLICY} (gconv_cpu's default)"
        os.environ["OMP_WAIT_POLICY"] = POLICY
    try:
        from . import _ext
    finally:
        if set_here:
            os.environ.pop("OMP_WAIT_POLICY", None)
    if not _ext.openmp_enabled():
        _policy = "none: built without OpenMP"


def wait_policy():
    """Where the OpenMP wait policy of this process came from (see the module docstring)."""
    return _policy


_load_extension()
