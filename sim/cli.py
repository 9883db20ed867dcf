"""The `gluon` command-line tool.

    gluon cc     C/assembly -> ELF with the Gluon SDK (ziglang clang)
    gluon sim    ELF -> the simulated SoC (Verilator), UART on stdout, exit status = result
    gluon demo   build the demo firmware and run it on the simulated SoC
    gluon bench  software vs coprocessor: cycles, speedup, glue share; CPI; simulation speed
    gluon build  FPGA bitstream (Yosys + nextpnr from pip)
    gluon regs   regenerate the register header and docs from the Python declarations
"""

import argparse
import json
import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware" / "examples"


def _err(msg):
    print(f"gluon: error: {msg}", file=sys.stderr)


def _summary(res, config_name):
    speed = res.cycles / res.seconds if res.seconds > 0 else float("inf")
    # CPU time of the harness's cycle loop: what the model costs, whatever else the machine runs.
    cpu = res.cycles / res.cpu_seconds if res.cpu_seconds > 0 else float("inf")
    lines = [f"gluon: {res.reason}: tohost = {res.tohost:#x}",
             f"gluon: {res.cycles} cycles, {res.instret} instructions retired, CPI {res.cpi:.3f}",
             f"gluon: simulated {cpu / 1e6:.2f} M cycles per CPU second ({res.cpu_seconds:.3f} s "
             f"CPU; {speed / 1e6:.2f} M/s in {res.seconds:.3f} s wall clock, '{config_name}' SoC)"]
    if res.busy_cycles:
        lines.insert(2, f"gluon: coprocessor busy {res.busy_cycles} of {res.measured['cycles']} "
                        f"{'region' if res.region_seen else ''} cycles ({100 * res.busy_share:.1f} %), "
                        f"glue {100 * (1 - res.busy_share):.1f} %")
    return "\n".join(lines)


def _profile(res, config):
    """The cycle-attribution table and the per-function profile (PC samples → ELF symbols)."""
    from gluon.hdl.config import coprocessor_class
    c = res.measured
    cyc = max(c["cycles"], 1)
    out = [f"profile ({'region marked by PERF.CTRL' if res.region_seen else 'whole run'}):",
           f"  cycles               {c['cycles']:>12}",
           f"  instructions retired {c['instret']:>12}   CPI {c['cycles'] / max(c['instret'], 1):.3f}",
           f"  coprocessor busy     {c['busy_cycles']:>12}   {100 * c['busy_cycles'] / cyc:5.1f} %",
           f"  glue                 {c['cycles'] - c['busy_cycles']:>12}   {100 * (1 - c['busy_cycles'] / cyc):5.1f} %",
           f"  core data-bus cycles {c['core_bus_cycles']:>12}   {100 * c['core_bus_cycles'] / cyc:5.1f} %"]
    for name in config.coprocessors:
        slot = coprocessor_class(name).SLOT
        out.append(f"  {name:<8} busy        {c['busy_per_slot'][slot]:>12}   "
                   f"{100 * c['busy_per_slot'][slot] / cyc:5.1f} %   DMA bus cycles {c['dma_per_slot'][slot]}")
    samples = getattr(res, "pc_samples", {})
    if samples:
        by_fn = {}
        for pc, n in samples.items():
            fn = res.image.symbolize(pc) or f"0x{pc:08x}"
            by_fn[fn] = by_fn.get(fn, 0) + n
        total = sum(by_fn.values())
        out.append("  functions (sampled PC of the last retired instruction):")
        for fn, n in sorted(by_fn.items(), key=lambda kv: -kv[1])[:15]:
            out.append(f"    {100 * n / total:5.1f} %  {fn}")
    return "\n".join(out)


def cmd_sim(args):
    from gluon.hdl.config import get_config
    from .verilator import run, SimError
    from .elf import LoadError
    try:
        config = get_config(args.config)
    except ValueError as e:
        _err(str(e)); return 2
    if args.max_cycles <= 0:
        _err("--max-cycles must be positive"); return 2
    try:
        res = run(args.elf, config, max_cycles=args.max_cycles, capture=False,
                  insn_trace=args.insn_trace, fst=args.trace, pc_sample=97 if args.profile else 0,
                  gdb_port=args.gdb)
    except (LoadError, SimError) as e:
        _err(str(e)); return 2
    sys.stdout.flush()
    print(_summary(res, config.name), file=sys.stderr)
    if args.profile:
        print(_profile(res, config), file=sys.stderr)
    if res.reason == "max-cycles":
        where = res.image.symbolize(res.last_pc)
        _err(f"the program did not finish within --max-cycles {args.max_cycles} "
             f"(no store to tohost and no SIMCTRL.EXIT); stopped at pc 0x{res.last_pc:08x}"
             + (f" in {where}" if where else ""))
    elif res.tohost != 1:
        print(f"gluon: FAIL: tohost = {res.tohost:#x}" +
              (f" (exit code {res.tohost >> 1})" if res.tohost & 1 else ""), file=sys.stderr)
    if args.stats:
        d = res.as_dict()
        d["config"] = config.name
        Path(args.stats).write_text(json.dumps(d, indent=2) + "\n")
    if args.insn_trace:
        print(f"gluon: instruction trace written to {args.insn_trace}", file=sys.stderr)
    if args.trace:
        print(f"gluon: waveform written to {args.trace}", file=sys.stderr)
    return res.exit_code


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


def cmd_build(args):
    try:
        from gluon.boards.build import main as build_main
    except ImportError as e:
        _err(f"bitstream builds are not available in this checkout ({e})"); return 2
    return build_main(args)


def cmd_load(args):
    """`gluon load`: send an ELF to the board's UART boot loader and start it."""
    from gluon.boards.boot import Loader, SerialPort, BootError
    try:
        port = SerialPort(args.port, args.baud)
    except BootError as e:
        _err(str(e)); return 2
    try:
        loader = Loader(port, timeout=args.timeout,
                        log=lambda msg: print(f"\rgluon load: {msg}", end="", flush=True))
        n = loader.load(args.elf)
        print(f"\ngluon load: {n} bytes loaded, program started", flush=True)
        if args.monitor:
            while True:
                data = port.read(256, 0.1)
                if data:
                    sys.stdout.buffer.write(data); sys.stdout.flush()
    except BootError as e:
        print(); _err(str(e)); return 1
    finally:
        port.close()
    return 0


def cmd_regs(args):
    from gluon.hdl import regsgen
    return regsgen.main(["--check"] if args.check else [])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "cc":
        return cmd_cc(argv[1:])
    ap = argparse.ArgumentParser(prog="gluon", description="Gluon: a security-first RISC-V SoC "
                                 "with coprocessors (simulation, firmware, bitstreams).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("cc", help="compile C/assembly into an ELF with the SDK (see `gluon cc -h`)")

    p = sub.add_parser("sim", help="run an ELF on the simulated SoC")
    p.add_argument("elf")
    p.add_argument("--config", default="full", help="SoC configuration: minimal or full (default full)")
    p.add_argument("--max-cycles", type=int, default=200_000_000,
                   help="stop a program that has not finished after N cycles (default 2e8)")
    p.add_argument("--trace", metavar="OUT.vcd|OUT.fst",
                   help="write a waveform, VCD or FST by the file's extension (builds a traced "
                        "model once; FST needs the system's liblz4-dev)")
    p.add_argument("--stats", metavar="OUT.json", help="write run statistics as JSON")
    p.add_argument("--insn-trace", metavar="FILE", help="write one line per retired instruction")
    p.add_argument("--profile", action="store_true",
                   help="print cycle attribution (glue vs. coprocessors) and a per-function profile")
    p.add_argument("--gdb", type=int, metavar="PORT",
                   help="hold the SoC halted at the reset vector and serve GDB on 127.0.0.1:PORT "
                        "until the program ends (docs/debugging.md)")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("demo", help="build the demo firmware and run it on the simulated SoC")
    p.add_argument("--config", default="full")
    p.add_argument("--max-cycles", type=int, default=50_000_000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="software vs coprocessor cycles, glue share, CPI, "
                       "simulation speed")
    p.add_argument("--config", default="full")
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--quick", action="store_true",
                   help="a short subset (SHA-256 and Keccak-256 of 4 KiB, sort)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these workloads")
    p.add_argument("--docs", action="store_true",
                   help="write docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.png")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="simulations in parallel (default: the number of CPUs)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("build", help="build an FPGA bitstream")
    p.add_argument("--board", default="ulx3s-85f")
    p.add_argument("--config", default=None)
    p.add_argument("--freq", type=float, default=None, help="target clock in MHz")
    p.add_argument("--firmware", default=None, help="ELF placed in block RAM's initial contents")
    p.add_argument("--allow-timing-fail", action="store_true")
    p.add_argument("--synth-opts", default="", metavar="OPTS",
                   help="extra options for Yosys' synth_ecp5/synth_ice40, e.g. --synth-opts=-nowidelut")
    p.add_argument("--nextpnr-opts", default="", metavar="OPTS",
                   help="extra nextpnr options, e.g. --nextpnr-opts=\"--router router2\"")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("load", help="load an ELF over the UART into a board running the boot "
                       "loader (`gluon build --firmware boot`) and start it")
    p.add_argument("elf")
    p.add_argument("--port", required=True, help="the board's serial device, e.g. /dev/ttyUSB1")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    p.add_argument("--monitor", action="store_true",
                   help="then print what the program sends until Ctrl-C")
    p.set_defaults(func=cmd_load)

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
