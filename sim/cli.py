"""The `gluon` command-line tool.

    gluon cc     C/assembly -> ELF with the Gluon SDK (ziglang clang)
    gluon objdump  ELF -> disassembly with symbols and source lines (firmware/objdump.py)
    gluon sim    ELF -> the simulated SoC (Verilator), UART on stdout, exit status = result
    gluon demo   build the demo firmware and run it on the simulated SoC
    gluon bench  software vs coprocessor: cycles, speedup, glue share; CPI; simulation speed
    gluon regs   regenerate the register header and docs from the Python declarations
    gluon build, gluon load (and any other command a package declares in the
                 ``gluon.commands`` entry points: boards/cli.py)

This module is the command frame; it imports gluon.sim, gluon.firmware and gluon.hdl, never
gluon.boards (the board commands register themselves through the entry points).
"""

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware" / "examples"


def _err(msg):
    print(f"gluon: error: {msg}", file=sys.stderr)


def _summary(res, config_name):
    speed = res.cycles / res.seconds if res.seconds > 0 else float("inf")
    # CPU time of the harness's cycle loop: what the model costs, whatever else the machine runs.
    cpu = res.cycles / res.cpu_seconds if res.cpu_seconds > 0 else float("inf")
    ended = {"tohost": f"a store to tohost of {res.tohost:#x}",
             "simctrl": f"SIMCTRL.EXIT = {res.tohost:#x}",
             "max-cycles": "--max-cycles", "interrupted": "Ctrl-C"}.get(res.reason, res.reason)
    lines = [f"gluon: ended by {ended}",
             f"gluon: {res.cycles} cycles, {res.instret} instructions retired, CPI {res.cpi:.3f}",
             f"gluon: simulated {cpu / 1e6:.2f} M cycles per CPU second ({res.cpu_seconds:.3f} s "
             f"CPU; {speed / 1e6:.2f} M/s in {res.seconds:.3f} s wall clock, '{config_name}' SoC)"]
    if res.busy_cycles:
        lines.insert(2, f"gluon: coprocessor busy {res.busy_cycles} of {res.measured['cycles']} "
                        f"{'region ' if res.region_seen else ''}cycles ({100 * res.busy_share:.1f} %), "
                        f"glue {100 * (1 - res.busy_share):.1f} %")
    return "\n".join(lines)


def _render(*tables):
    """Plain text of rich tables (no colour: the same on a terminal and in a log)."""
    import io
    from rich.console import Console
    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None, highlight=False)
    for t in tables:
        console.print(t)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def _table(title, *columns):
    from rich import box
    from rich.table import Table
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
              show_edge=False, min_width=len(title))
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i == 0 else "right")
    return t


def _profile(res, config):
    """The cycle-attribution table and the per-function profile (PC samples → ELF symbols)."""
    from gluon.hdl.config import coprocessor_class
    c = res.measured
    cyc = max(c["cycles"], 1)
    pct = lambda n: f"{100 * n / cyc:.1f} %"
    t = _table(f"profile ({'region marked by PERF.CTRL' if res.region_seen else 'whole run'})",
               "", "cycles", "share", "")
    t.add_row("cycles", str(c["cycles"]), "", "")
    t.add_row("instructions retired", str(c["instret"]), "",
              f"CPI {c['cycles'] / max(c['instret'], 1):.3f}")
    t.add_row("coprocessor busy", str(c["busy_cycles"]), pct(c["busy_cycles"]), "")
    t.add_row("glue", str(c["cycles"] - c["busy_cycles"]), pct(c["cycles"] - c["busy_cycles"]), "")
    t.add_row("core data-bus cycles", str(c["core_bus_cycles"]), pct(c["core_bus_cycles"]), "")
    for name in config.coprocessors:
        slot = coprocessor_class(name).SLOT
        t.add_row(f"{name} busy", str(c["busy_per_slot"][slot]), pct(c["busy_per_slot"][slot]),
                  f"DMA bus cycles {c['dma_per_slot'][slot]}")
    tables = [t]
    samples = getattr(res, "pc_samples", {})
    if samples:
        by_fn = {}
        for pc, n in samples.items():
            fn = res.image.symbolize(pc) or f"0x{pc:08x}"
            by_fn[fn] = by_fn.get(fn, 0) + n
        total = sum(by_fn.values())
        f = _table("functions (sampled retired PCs)", "function", "share")
        for fn, n in sorted(by_fn.items(), key=lambda kv: -kv[1])[:15]:
            f.add_row(fn, f"{100 * n / total:.1f} %")
        tables.append(f)
    return _render(*tables)


def _check_output(path, what):
    """Fail before the run, not after it, when ``path`` cannot be written: an existing file is
    opened for writing without truncating it; a new one is tried as a temporary file beside it."""
    import tempfile
    p = Path(path)
    if p.is_dir():
        raise _BadInput(f"{what} {path}: is a directory")
    try:
        if p.exists():
            with open(p, "r+b"):
                pass
        else:
            parent = p.parent if str(p.parent) else Path(".")
            if not parent.is_dir():
                raise _BadInput(f"{what} {path}: no directory {parent}")
            with tempfile.NamedTemporaryFile(dir=parent, prefix=".gluon-check-"):
                pass
    except OSError as e:
        raise _BadInput(f"{what} {path}: cannot be written ({e.strerror})") from None


class _BadInput(Exception):
    pass


def _count(text, minimum):
    """A cycle count (``200000000``, ``0x1000``, ``2e8``, ``200_000_000``) in [minimum, 2^64)."""
    try:
        n = int(text.replace("_", ""), 0)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a cycle count: {text!r}") from None
        if f != int(f):
            raise argparse.ArgumentTypeError(f"not a whole number of cycles: {text!r}") from None
        n = int(f)
    if not minimum <= n < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text} is outside [{minimum}, 2^64 - 1]")
    return n


def _max_cycles(text):
    return _count(text, 1)


def _cycle(text):
    return _count(text, 0)


def _ram_size(text):
    from gluon.firmware.cc import parse_size
    n = parse_size(text)
    if n < 4096 or n > 256 << 20 or n & (n - 1):
        raise argparse.ArgumentTypeError(f"{text}: the RAM size must be a power of two from 4K "
                                         f"to 256M")
    return n


class _Console:
    """UART output and, on a terminal, a progress line (rich): cycles, simulated speed and the
    function running. Also notes the SDK trap handler's report to locate it afterwards."""

    TRAP = re.compile(rb"\*\*\* trap: mcause=0x([0-9a-f]{8}) \(([^)]*)\) mepc=0x([0-9a-f]{8})")

    def __init__(self, image, max_cycles, show):
        self.image, self.max_cycles, self.show = image, max_cycles, show
        self.lock = threading.Lock()
        self.live = None
        self.tail = b""
        self.pending = ""
        self.trap = None
        self.last = None
        self.t0 = time.monotonic()
        self.stdout_tty = sys.stdout.isatty()

    def write(self, data):
        with self.lock:
            m = self.TRAP.search(self.tail + data)
            if m:
                self.trap = (int(m.group(1), 16), m.group(2).decode(errors="replace"),
                             int(m.group(3), 16))
            self.tail = (self.tail + data)[-160:]
            if self.live is None or not self.stdout_tty:
                # no progress line, or it is on another file than the program's output
                sys.stdout.buffer.write(data)
                if b"\n" in data:
                    sys.stdout.flush()
                return
            # above the progress line: whole lines only
            self.pending += data.decode(errors="replace")
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                self.live.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def update(self, cycles, pc):
        if not self.show:
            return
        now = time.monotonic()
        with self.lock:
            if self.last is not None:
                c0, t0 = self.last
                speed = (cycles - c0) / max(now - t0, 1e-6)
            else:
                speed = cycles / max(now - self.t0, 1e-6)
            self.last = (cycles, now)
            where = self.image.symbolize(pc) or f"0x{pc:08x}"
            text = (f"gluon: {cycles:,} cycles ({100 * cycles / self.max_cycles:.1f} % of "
                    f"--max-cycles), {speed / 1e6:.2f} M cycles/s, in {where}")
            if self.live is None:
                from rich.console import Console
                from rich.live import Live
                sys.stdout.flush()
                console = Console(stderr=True, highlight=False)
                self.live = Live(console=console, transient=True, auto_refresh=False,
                                 redirect_stdout=False, redirect_stderr=False)
                self.live.start()
            from rich.text import Text
            self.live.update(Text(text, no_wrap=True, overflow="ellipsis"), refresh=True)

    def close(self):
        with self.lock:
            if self.live is not None:
                if self.pending:
                    self.live.console.print(self.pending, markup=False, highlight=False, end="")
                    self.pending = ""
                self.live.stop()
                self.live = None
        sys.stdout.flush()


def cmd_sim(args):
    from gluon.hdl.config import get_config
    from gluon.firmware.elf import load_elf, LoadError
    from .verilator import run, SimError, EXIT_BAD_INPUT, EXIT_SIM_ERROR, EXIT_INTERRUPTED
    config = get_config(args.config)
    if args.ram_size is not None:
        config = config.with_(ram_size=args.ram_size)
    try:
        if args.trace is not None and args.trace.endswith(".fst"):
            raise _BadInput("FST waveforms need the system's lz4 library, which no pip package "
                            "provides: write a VCD (--trace out.vcd; GTKWave and Surfer open it, "
                            "GTKWave's vcd2fst converts it)")
        if args.trace is None and (args.trace_all or args.trace_from or args.trace_to is not None):
            raise _BadInput("--trace-all, --trace-from and --trace-to need --trace OUT.vcd")
        if args.trace_to is not None and args.trace_to <= args.trace_from:
            raise _BadInput(f"--trace-to {args.trace_to} must be after --trace-from {args.trace_from}")
        for path, what in ((args.stats, "--stats"), (args.insn_trace, "--insn-trace"),
                           (args.trace, "--trace")):
            if path is not None:
                _check_output(path, what)
        try:
            image = load_elf(args.elf, ram_size=config.ram_size)
        except LoadError as e:
            msg = str(e)
            if "outside RAM" in msg:
                msg += ": a larger --ram-size (a power of two) runs it"
            raise _BadInput(msg) from None
    except _BadInput as e:
        _err(str(e)); return EXIT_BAD_INPUT
    if image.rvc:
        print(f"gluon: warning: {args.elf} is flagged as using compressed (RVC) instructions; "
              f"the core runs RV32IM only, so a 16-bit instruction traps as illegal",
              file=sys.stderr)
    show = not args.no_progress and sys.stderr.isatty() and args.gdb is None
    console = _Console(image, args.max_cycles, show)
    try:
        res = run(args.elf, config, image=image, max_cycles=args.max_cycles, capture=False,
                  insn_trace=args.insn_trace, wave=args.trace, wave_all=args.trace_all,
                  wave_from=args.trace_from, wave_to=args.trace_to,
                  pc_sample=97 if args.profile else 0, progress=console,
                  gdb_port=args.gdb)
    except SimError as e:
        console.close()
        _err(str(e)); return EXIT_SIM_ERROR
    console.close()
    print(_summary(res, config.name), file=sys.stderr)
    if args.profile:
        print(_profile(res, config), file=sys.stderr)
    if res.reason == "max-cycles":
        where = res.image.where(res.last_pc)
        _err(f"the program did not finish within --max-cycles {args.max_cycles} "
             f"(no store to tohost and no SIMCTRL.EXIT); stopped at pc 0x{res.last_pc:08x}"
             + (f" {where}" if where else ""))
    elif res.reason == "interrupted":
        where = res.image.where(res.last_pc)
        _err(f"interrupted after {res.cycles} cycles at pc 0x{res.last_pc:08x}"
             + (f" {where}" if where else ""))
    elif res.tohost != 1:
        code = res.tohost >> 1 if res.tohost & 1 else None
        msg = f"gluon: FAIL: tohost {res.tohost:#x}" + (f", exit code {code}" if code is not None
                                                         else " (bit 0 clear: not an exit code)")
        if res.exit_code != code:
            msg += f"; exit status {res.exit_code}"
        print(msg, file=sys.stderr)
        if console.trap is not None:
            mcause, name, mepc = console.trap
            where = res.image.where(mepc)
            print(f"gluon: trap (mcause {mcause:#x}, {name}) at pc 0x{mepc:08x}"
                  + (f" {where}" if where else ""), file=sys.stderr)
    try:
        if args.stats:
            d = res.as_dict()
            d["config"] = config.name
            d["ram_size"] = config.ram_size
            Path(args.stats).write_text(json.dumps(d, indent=2) + "\n")
    except OSError as e:
        _err(f"--stats {args.stats}: {e.strerror}"); return EXIT_BAD_INPUT
    if args.insn_trace:
        print(f"gluon: instruction trace written to {args.insn_trace}", file=sys.stderr)
    if args.trace:
        print(f"gluon: waveform written to {args.trace}", file=sys.stderr)
    return res.exit_code


def cmd_objdump(argv):
    from gluon.firmware import objdump
    return objdump.main(argv)


def cmd_cc(argv):
    try:
        from gluon.firmware import cc
    except ImportError as e:
        _err(f"the firmware SDK is not available: {e}"); return 2
    return cc.main(argv)


def cmd_demo(args):
    """Build firmware/examples/demo.c and run it on the simulated SoC: hello, SYSINFO, short
    versions of the accelerated workloads on both paths, and a glue-vs-coprocessor table the
    firmware prints from its own PERF counters."""
    from gluon.hdl.config import get_config
    from gluon.firmware import cc
    from .verilator import run, build_model, SimError
    try:
        config = get_config(args.config)
    except ValueError as e:
        _err(str(e)); return 2
    src = EXAMPLES / "demo.c"
    if not src.exists():
        src = EXAMPLES / "hello.c"
    try:
        build_model(config)
        with __import__("tempfile").TemporaryDirectory(prefix="gluon-demo-") as td:
            out = Path(td) / "demo.elf"
            print(f"gluon demo: compiling {src.relative_to(ROOT)}", file=sys.stderr)
            cc.compile([src], out, opt="-O2")
            print(f"gluon demo: running on the simulated '{config.name}' SoC", file=sys.stderr)
            res = run(out, config, capture=False, max_cycles=args.max_cycles)
    except (cc.CompileError, SimError) as e:
        _err(str(e)); return 2
    sys.stdout.flush()
    print(_summary(res, config.name), file=sys.stderr)
    return res.exit_code


def cmd_bench(args):
    from .bench import main as bench_main
    return bench_main(args)


def cmd_regs(args):
    """Regenerate the register header and doc from the Python declarations: only the stale
    files are written, and only after every one of them is known to be writable."""
    from gluon.hdl import regsgen
    if args.check:
        return regsgen.main(["--check"])
    mmap = regsgen.memory_map()
    files = {regsgen.HEADER: regsgen.header_text(mmap), regsgen.DOC: regsgen.doc_text(mmap)}
    stale = {p: t for p, t in files.items() if not p.exists() or p.read_text() != t}
    if not stale:
        print("gluon regs: the generated files are up to date")
        return 0
    try:
        for p in stale:
            _check_output(p, "generated file")
    except _BadInput as e:
        _err(f"{e}; nothing written (`gluon regs --check` compares without writing)")
        return 2
    for p, text in stale.items():
        p.write_text(text)
        print(f"gluon regs: wrote {p.relative_to(regsgen.ROOT)}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the usage-error status of each command (``gluon sim``: 125, the table)."""

    usage_status = 2

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(self.usage_status, f"{self.prog}: error: {message}\n")


def _exit_table():
    from .verilator import EXIT_STATUS
    return "exit status:\n" + "\n".join(f"  {k:>7}  {v}" for k, v in EXIT_STATUS)


def _plugin_commands(sub):
    """Commands other packages add through the ``gluon.commands`` entry points (the board
    commands, boards/cli.py): each entry point is a function given the sub-parsers."""
    from importlib.metadata import entry_points
    for ep in sorted(entry_points(group="gluon.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as e:                           # a broken or partial install
            p = sub.add_parser(ep.name, help=f"(unavailable: {e})")
            p.set_defaults(func=lambda args, e=e, n=ep.name: (_err(f"`gluon {n}` is not "
                                                                   f"available: {e}"), 2)[1])
            continue
        register(sub)


def main(argv=None):
    from gluon.hdl.config import CONFIGS
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "cc":
        return cmd_cc(argv[1:])
    if argv and argv[0] == "objdump":
        return cmd_objdump(argv[1:])
    ap = _Parser(prog="gluon", description="Gluon: a security-first RISC-V SoC "
                 "with coprocessors (simulation, firmware, bitstreams).")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("cc", help="compile C/assembly into an ELF with the SDK (see `gluon cc -h`)")
    sub.add_parser("objdump", help="disassemble an ELF with symbols and source lines "
                   "(see `gluon objdump -h`)")
    configs = "; ".join(f"{n}: {c.description}" for n, c in CONFIGS.items())

    p = sub.add_parser("sim", help="run an ELF on the simulated SoC",
                       description="Run an ELF on the Verilator model of the SoC. UART output "
                       "goes to stdout; the summary to stderr.",
                       epilog=_exit_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.usage_status = 125
    p.add_argument("elf")
    p.add_argument("--config", default="full", choices=list(CONFIGS),
                   help=f"SoC configuration (default full). {configs}")
    p.add_argument("--ram-size", type=_ram_size, default=None, metavar="SIZE",
                   help="RAM size, a power of two (e.g. 256K, 2M; default the configuration's, "
                        "128K); each size is its own model, built once")
    p.add_argument("--max-cycles", type=_max_cycles, default=200_000_000, metavar="N",
                   help="stop a program that has not finished after N cycles (default 2e8, "
                        "at most 2^64 - 1)")
    p.add_argument("--trace", metavar="OUT.vcd",
                   help="write a VCD waveform of the named signals, time axis at the real clock "
                        "period (builds a traced model once)")
    p.add_argument("--trace-all", action="store_true",
                   help="with --trace: every signal, the anonymous ones too (another model)")
    p.add_argument("--trace-from", type=_cycle, default=0, metavar="CYCLE",
                   help="with --trace: first cycle of the program's run to record (default 0)")
    p.add_argument("--trace-to", type=_cycle, default=None, metavar="CYCLE",
                   help="with --trace: record up to (not including) this cycle")
    p.add_argument("--stats", metavar="OUT.json", help="write run statistics as JSON")
    p.add_argument("--insn-trace", metavar="FILE",
                   help="write one line per retired instruction (with function+offset) and one "
                        "per trap")
    p.add_argument("--profile", action="store_true",
                   help="print cycle attribution (glue vs. coprocessors) and a per-function profile")
    p.add_argument("--gdb", type=int, metavar="PORT",
                   help="hold the SoC halted at the reset vector and serve GDB on 127.0.0.1:PORT "
                        "until the program ends (docs/debugging.md)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress line (shown on a terminal after half a second)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("demo", help="build the demo firmware and run it on the simulated SoC")
    p.add_argument("--config", default="full", choices=list(CONFIGS))
    p.add_argument("--max-cycles", type=_max_cycles, default=50_000_000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="software vs coprocessor cycles, glue share, CPI, "
                       "simulation speed")
    p.add_argument("--config", default="full", choices=list(CONFIGS))
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--quick", action="store_true",
                   help="a short subset (SHA-256 and Keccak-256 of 4 KiB, sort)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these workloads")
    p.add_argument("--docs", action="store_true",
                   help="write docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.png")
    p.add_argument("--check-docs", action="store_true",
                   help="no simulation: exit 1 if docs/benchmarks.* are stale (the HDL, "
                   "firmware or workloads changed since `gluon bench --docs`)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="simulations in parallel (default: the number of CPUs)")
    p.set_defaults(func=cmd_bench)

    from .gdbserver import register_debug
    register_debug(sub)          # `gluon debug`: GDB for a board through its UART

    _plugin_commands(sub)

    p = sub.add_parser("regs", help="regenerate firmware/include/gluon/regs.h and docs/registers.md")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_regs)

    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted"); return 130


if __name__ == "__main__":
    sys.exit(main())
