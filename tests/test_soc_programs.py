"""Whole C programs on the simulated SoC: the SDK's examples run unchanged, print what Python
computes (via the same expectations as the SDK tests), and agree byte for byte with the
independent unicorn emulator (gluon.sim.refsim); `gluon sim`'s exit-status contract."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.sim.refsim import run_elf as ref_run
from gluon.sim.verilator import run

EXAMPLES = Path(cc.__file__).parent / "examples"
PROGRAMS = ["hello", "sort", "crc32", "matmul", "sha256_sw"]


@pytest.fixture(scope="module")
def elfs(tmp_path_factory):
    d = tmp_path_factory.mktemp("soc")
    return {p: cc.compile([EXAMPLES / f"{p}.c"], d / f"{p}.elf", opt="-O2") for p in PROGRAMS}


@pytest.mark.parametrize("prog", PROGRAMS)
def test_program_matches_unicorn(elfs, prog):
    res = run(elfs[prog], get_config("minimal"), max_cycles=50_000_000)
    ref = ref_run(elfs[prog])
    assert res.reason == "tohost" and res.passed, res
    assert ref.passed
    # SYSINFO is the only thing allowed to differ (the reference models a 'minimal' SoC too).
    assert res.output == ref.uart, (res.output[-300:], ref.uart[-300:])
    # (instruction counts differ by design: on the SoC, putchar polls the real UART FIFO)
    # CPU benchmarks: the CPI target of the backbone issue (measured 1.02-1.13; docs/core.md)
    if prog != "hello":
        assert res.cpi <= 1.15, f"{prog}: CPI {res.cpi:.3f}"


def test_small_config_runs_sort(elfs):
    """The 'small' SoC (no PMP, no PERF block, no DMA window registers, the register file in
    block RAM; the iCEBreaker's) runs a program unchanged, with the same output as 'minimal';
    with the default core instead it also takes the same cycles (the core's timing does not
    depend on the PMP being there)."""
    small = run(elfs["sort"], get_config("small"), max_cycles=50_000_000)
    minimal = run(elfs["sort"], get_config("minimal"), max_cycles=50_000_000)
    assert small.reason == "tohost" and small.passed, small
    assert small.output == minimal.output
    assert small.instret == minimal.instret and small.cycles > minimal.cycles
    flat = run(elfs["sort"], get_config("small").with_(regfile_bram=False), max_cycles=50_000_000)
    assert flat.output == minimal.output and flat.cycles == minimal.cycles


def _gluon(*args, **kw):
    return subprocess.run([sys.executable, "-m", "gluon.sim.cli", *args], capture_output=True,
                          text=True, **kw)


@pytest.mark.parametrize("code,status", [(0, 0), (3, 3), (119, 119), (255, 120)])
def test_gluon_sim_exit_status(tmp_path, code, status):
    src = tmp_path / "e.c"
    src.write_text(f"int main(void) {{ return {code}; }}\n")
    elf = cc.compile([src], tmp_path / "e.elf")
    p = _gluon("sim", "--config", "minimal", "--stats", str(tmp_path / "s.json"), str(elf))
    assert p.returncode == status, p.stderr
    assert "cycles" in p.stderr and "CPI" in p.stderr
    import json
    st = json.loads((tmp_path / "s.json").read_text())
    assert {"cycles", "instret", "seconds", "tohost"} <= set(st)
    assert st["tohost"] == (1 if code == 0 else (code << 1) | 1)


def test_gluon_sim_runaway_and_bad_elf(tmp_path):
    src = tmp_path / "loop.c"
    src.write_text("int main(void) { for (;;) { __asm__ volatile(\"\"); } }\n")
    elf = cc.compile([src], tmp_path / "loop.elf")
    p = _gluon("sim", "--config", "minimal", "--max-cycles", "5000", str(elf))
    assert p.returncode != 0
    assert "did not finish within --max-cycles 5000" in p.stderr
    assert "stopped at pc 0x8" in p.stderr and "in main" in p.stderr
    assert "Traceback" not in p.stderr
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF garbage" * 10)
    p = _gluon("sim", "--config", "minimal", str(bad))
    assert p.returncode == 125 and "gluon: error:" in p.stderr and "Traceback" not in p.stderr
    p = _gluon("sim", "--config", "minimal", str(tmp_path / "missing.elf"))
    assert p.returncode == 125 and "cannot open" in p.stderr


def test_insn_trace(tmp_path, elfs):
    out = tmp_path / "t.txt"
    p = _gluon("sim", "--config", "minimal", "--insn-trace", str(out), str(elfs["hello"]))
    assert p.returncode == 0, p.stderr
    lines = out.read_text().splitlines()
    assert lines[1].split()[1] == "80000000"
    assert any(" sw " in l or "sw\t" in l or " sw" in l for l in lines)
    assert any("= 0x" in l for l in lines)
