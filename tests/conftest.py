"""Shared fixtures for the gconv_cpu tests.

Run from the repository root with `python -m pytest` (cwd on sys.path picks up the
in-place build of gconv_cpu). Helpers that are not fixtures live in tests/reference.py.
"""
import pytest

import gconv_cpu
from gconv_cpu import _threads

import reference

ISAS = ("scalar", "avx2", "avx512")


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per SIMD path; a path this CPU lacks is SKIPPED, never passed."""
    name = request.param
    if name not in gconv_cpu.available_isas():
        pytest.skip(f"CPU lacks {name}")
    previous = gconv_cpu.get_isa()
    gconv_cpu.set_isa(name)
    try:
        yield name
    finally:
        gconv_cpu.set_isa(previous)


@pytest.fixture
def restore_threads():
    """Restores the thread setting (including 'follow OpenMP's default') after the test."""
    saved = _threads._num_threads
    try:
        yield
    finally:
        _threads._num_threads = saved


@pytest.fixture
def flush_denormal():
    """gconv_cpu.set_flush_denormal for the test (call it with the mode); the setting is restored after."""
    saved = gconv_cpu.get_flush_denormal()

    def set_mode(mode):
        assert gconv_cpu.set_flush_denormal(mode) is gconv_cpu._ext.flush_denormal_supported()

    try:
        yield set_mode
    finally:
        gconv_cpu.set_flush_denormal(saved)


@pytest.fixture
def restore_isa():
    saved = gconv_cpu.get_isa()
    try:
        yield
    finally:
        gconv_cpu.set_isa(saved)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not reference.WORST:
        return
    tr = terminalreporter
    tr.section("gconv_cpu worst error per ISA / kernel")
    tr.write_line(f"metric A = max |y-ref| / (sqrt(K) * S)  (limit {reference.RTOL:.3g});  "
                  f"metric B = max|y-ref| / max|ref|  (limit {reference.DONE_WHEN:g})")
    for key in sorted(reference.WORST):
        v = reference.WORST[key]
        tr.write_line(f"  {key:34s} A = {v['scaled']:.3e}   B = {v['rel_max']:.3e}   (A worst at {v['where']})")
