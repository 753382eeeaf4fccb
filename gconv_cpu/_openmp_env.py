"""How long gconv_cpu's idle OpenMP threads spin before they sleep, decided before libgomp loads.

libgomp reads its settings from the environment once, when it is loaded (with the extension). With
neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set, an idle thread spins for 300,000 pause instructions,
~3 ms on the 2-core Xeon (a pause is ~10 ns there), before it sleeps. That is harmless on an idle
machine and ruinous on a busy one: the spinning thread uses up its share of a core, the scheduler
runs another process in its place, and the next parallel region waits for it. With per-step
regions, mobilenet_v2 and shufflenet_v2 on 2 threads ran 10-100x slower than on 1 under load.

Sleeping at once (OMP_WAIT_POLICY=passive, the previous default) has the opposite cost: on this
project's VMs waking a halted vCPU takes 30-70 us, paid by every parallel region. A planned model
now opens one region per forward (src_c/common/team.c, whose members spin then yield between loops),
so that cost is left to single layers called back to back, where a 2-thread dw3x3_s1_c32_112 ran
0.128 ms against 0.128 on 1 thread, passive.

So gconv_cpu sets GOMP_SPINCOUNT=10000 (~0.1 ms) when the user has set neither variable: long
enough to span the gap between two calls, short enough that a busy machine gets the core back.
Measured on the 2-core VM (a pause is ~11 ns there), dw3x3_s1_c32_112 called back to back on 2
threads after a 30 ms pause, median of 60 calls, four pauses: spin 1000 (~11 us) 0.106 / 0.116 /
0.160 / 0.145 ms, spin 3000 0.055 each, spin 10000 0.053-0.055 (1 thread: 0.12). At 1000 the
workers fell asleep between calls, and a woken worker lands on its waker's CPU (the idle vCPU looks
preempted to the guest) and waits there for the caller. With one busy process beside it, spin
10000 and 1000 ran 2-thread layers at 1.1-1.3x and networks at 0.7-0.8x of their 1-thread speed
(spin 3000 the same): no collapse, because shares are claimed (a descheduled thread's share is
taken by the other, team.c).

The variable is set while libgomp loads and removed again, so child processes and later-loaded
libraries see the environment as it was. libgomp is one runtime per process: when another library
(torch ships a libgomp.so.1) loaded it first, gconv_cpu shares that runtime and its settings, and
when gconv_cpu loads it first, such a library shares gconv_cpu's. wait_policy() says which happened.
"""
import os

SPIN_VARIABLE, SPIN_COUNT = "GOMP_SPINCOUNT", "10000"
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
    """Imports gconv_cpu._ext with the spin count described above."""
    global _policy
    user = {k: os.environ[k] for k in _USER_VARIABLES if k in os.environ}
    set_here = not user and not _libgomp_loaded()
    if user:
        _policy = "from the environment: " + ", ".join(f"{k}={v}" for k, v in user.items())
    elif not set_here:
        _policy = "inherited: libgomp was loaded before gconv_cpu"
    else:
        _policy = f"{SPIN_VARIABLE}={SPIN_COUNT} (gconv_cpu's default)"
        os.environ[SPIN_VARIABLE] = SPIN_COUNT
    try:
        from . import _ext
    finally:
        if set_here:
            os.environ.pop(SPIN_VARIABLE, None)
    if not _ext.openmp_enabled():
        _policy = "none: built without OpenMP"


def wait_policy():
    """Where the OpenMP wait policy of this process came from (see the module docstring)."""
    return _policy


_load_extension()
