"""Interleaved timing: every engine gets a sample in turn, round after round, so load and clock
drift on a shared machine hit all of them equally instead of whichever ran during the burst."""
import gc
import statistics
import time


def seconds_per_call(step, context, min_s, min_calls=3, probes=5):
    """Warm up (caches, lazy init, thread pools) for at least min_s and min_calls; returns the
    fastest of a few single calls: one call stalled by the machine (a descheduled vCPU costs
    milliseconds here) must not shrink every later batch to a single call."""
    with context():
        start = time.perf_counter()
        calls = 0
        while calls < min_calls or time.perf_counter() - start < min_s:
            step()
            calls += 1
        best = float("inf")
        for _ in range(probes):
            t0 = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t0)
        return best


def time_interleaved(engines, rounds, min_sample_s, warmup_s, switch_gap_s=1e-3, rewarm_s=0.0):
    """engines: {name: (step, context)}. Returns {name: (calls_per_sample, [ms per call])}.

    Each sample times a batch of back-to-back calls lasting at least min_sample_s, so the timer's
    resolution does not dominate microsecond layers. Rounds rotate the starting engine so nobody
    always runs first. Engines share the cores, so each handover is cushioned:
    - before a sample, idle switch_gap_s: thread pools (libgomp, ORT, pthreadpool) keep
      spin-waiting after their last call, 10-30 ms on this CPU, and a spinning thread on one of
      2 cores turns the next engine's 0.05 ms call into 7-25 ms (measured);
    - then untimed calls for rewarm_s (at least one): after that idle, an engine's own sleeping
      threads (and the vCPU they sleep on) take milliseconds to wake, which an engine whose main
      thread does not wait for its workers would otherwise pay as single-threaded samples.
    """
    names = list(engines)
    calls = {}
    for name, (step, context) in engines.items():
        time.sleep(switch_gap_s)
        per_call = max(seconds_per_call(step, context, warmup_s), 1e-9)
        calls[name] = max(1, round(min_sample_s / per_call))
    samples = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # no collector pauses inside a sample
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                step, context = engines[name]
                n = calls[name]
                time.sleep(switch_gap_s)
                with context():
                    start = time.perf_counter()
                    step()
                    while time.perf_counter() - start < rewarm_s:
                        step()
                    t0 = time.perf_counter()
                    for _ in range(n):
                        step()
                    dt = time.perf_counter() - t0
                samples[name].append(dt / n * 1e3)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: (calls[name], samples[name]) for name in names}


def summarize(samples_ms):
    return {"min_ms": min(samples_ms), "median_ms": statistics.median(samples_ms), "max_ms": max(samples_ms)}
