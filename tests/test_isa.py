"""ISA detection, cpu_info(), set_isa/get_isa and the GCONV_ISA override."""
import pytest

import gconv_cpu
from gconv_cpu import _isa

from reference import describe_exit, run_python

ALL = ("scalar", "avx2", "avx512")


def test_cpu_info_keys_and_types():
    info = gconv_cpu.cpu_info()
    assert set(info) >= {"isa", "available", "openmp", "num_threads", "kernels"}
    assert isinstance(info["isa"], str) and info["isa"] in ALL
    assert isinstance(info["available"], list) and all(isinstance(a, str) for a in info["available"])
    assert isinstance(info["openmp"], bool)
    assert isinstance(info["num_threads"], int) and info["num_threads"] >= 1
    assert isinstance(info["kernels"], list) and all(isinstance(k, str) for k in info["kernels"])
    assert info["num_threads"] == gconv_cpu.get_num_threads()
    assert info["isa"] == gconv_cpu.get_isa()
    assert info["available"] == gconv_cpu.available_isas()


def test_available_isas():
    avail = gconv_cpu.available_isas()
    assert "scalar" in avail
    assert set(avail) <= set(ALL)
    assert avail == [a for a in ALL if a in avail], "slowest first, in the documented order"
    assert gconv_cpu.get_isa() in avail
    avail.append("bogus")  # a copy: callers cannot corrupt the module's list
    assert "bogus" not in gconv_cpu.available_isas()


def test_cpu_info_kernels_are_the_runnable_ones():
    avail = gconv_cpu.available_isas()
    table = gconv_cpu.kernel_table()
    assert gconv_cpu.cpu_info()["kernels"] == [k["name"] for k in table if k["isa"] in avail]
    for isa in avail:
        assert any(k.endswith(isa) for k in gconv_cpu.cpu_info()["kernels"])


def test_set_isa_round_trip(isa):
    assert gconv_cpu.get_isa() == isa
    assert gconv_cpu.cpu_info()["isa"] == isa


def test_default_isa_is_the_best_available():
    proc = run_python("import gconv_cpu; print(gconv_cpu.get_isa(), gconv_cpu.available_isas()[-1])",
                      env={"GCONV_ISA": None})
    assert proc.returncode == 0, proc.stderr[-500:]
    current, best = proc.stdout.split()
    assert current == best


@pytest.mark.parametrize("name", ALL)
def test_gconv_isa_env_forces_path(name):
    if name not in gconv_cpu.available_isas():
        pytest.skip(f"CPU lacks {name}")
    code = ("import gconv_cpu, numpy as np\n"
            "print(gconv_cpu.cpu_info()['isa'])\n"
            "layer = gconv_cpu.nn.Conv2d(4, 4, 3, groups=4)\n"
            "print(layer.plan_info['isa'], layer.plan_info['kernel'])\n")
    proc = run_python(code, env={"GCONV_ISA": name})
    assert proc.returncode == 0, f"GCONV_ISA={name!r}: {describe_exit(proc)} {proc.stderr[-500:]}"
    first, second = proc.stdout.strip().splitlines()
    assert first == name
    plan_isa, kernel = second.split()
    assert plan_isa == name and kernel.endswith(name)


@pytest.mark.parametrize("value", ["bogus", "avx3", "sse2"])
def test_gconv_isa_env_unknown_fails_clearly(value):
    proc = run_python("import gconv_cpu", env={"GCONV_ISA": value})
    assert proc.returncode != 0
    assert proc.returncode > 0, f"import crashed: {describe_exit(proc)}"
    assert "GCONV_ISA" in proc.stderr and "ValueError" in proc.stderr
    assert value in proc.stderr


def test_gconv_isa_env_unavailable_fails_clearly():
    missing = [a for a in ALL if a not in gconv_cpu.available_isas()]
    if not missing:
        pytest.skip("CPU has every ISA (scalar, avx2, avx512): no unavailable path to request")
    proc = run_python("import gconv_cpu", env={"GCONV_ISA": missing[0]})
    assert proc.returncode > 0, describe_exit(proc)
    assert "GCONV_ISA" in proc.stderr and "cannot run" in proc.stderr and missing[0] in proc.stderr


def test_set_isa_unavailable_rejected(restore_isa):
    missing = [a for a in ALL if a not in gconv_cpu.available_isas()]
    if not missing:
        pytest.skip("CPU has every ISA (scalar, avx2, avx512): no unavailable path to request")
    with pytest.raises(ValueError, match="cannot run"):
        gconv_cpu.set_isa(missing[0])


def test_empty_gconv_isa_means_auto():
    proc = run_python("import gconv_cpu; print(gconv_cpu.get_isa())", env={"GCONV_ISA": ""})
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == gconv_cpu.available_isas()[-1]


def test_isa_names_match_extension():
    assert tuple(_isa.ISA_NAMES) == ALL
