"""The board commands of ``gluon``: ``gluon build`` and ``gluon load``.

The ``gluon`` command frame (sim/cli.py) finds these through the ``gluon.commands`` entry-point
group declared in pyproject.toml, so the simulator package and this one never import each
other. Each entry point is a function that adds its sub-command to the frame's parser; the
choices in ``--help`` come from the tables that define them (``BOARDS``, ``CONFIGS``).
"""

import sys


__all__ = ["register_build", "register_load"]


def _err(cmd, msg):
    print(f"gluon {cmd}: error: {msg}", file=sys.stderr)


def register_build(sub):
    from gluon.hdl.config import CONFIGS
    from .targets import BOARDS
    p = sub.add_parser("build", help="build an FPGA bitstream",
                       description="Build a bitstream for a board with the pip toolchain (YoWASP "
                       "Yosys and nextpnr). Output under build/<board>/. Exit status: 0 built "
                       "and timing met; 1 a tool or timing failed; 2 bad arguments or firmware.")
    p.add_argument("--board", default="ulx3s-85f", choices=list(BOARDS),
                   help="target board (default ulx3s-85f)")
    from .targets import board_config
    own = ", ".join(f"{c.name} at {mhz:g} MHz on {b.name}" for b in BOARDS.values()
                    for c, mhz in [board_config(b)])
    p.add_argument("--config", default=None, choices=list(CONFIGS),
                   help=f"SoC configuration (default: the board's own: {own})")
    p.add_argument("--freq", type=float, default=None,
                   help="target clock in MHz (default: the board's for the configuration)")
    p.add_argument("--firmware", default=None,
                   help="ELF placed in block RAM's initial contents, or 'boot' for the UART "
                        "boot loader (default: a small self-test program)")
    p.add_argument("--debug", action="store_true",
                   help="with the Debug Module, reached over the UART by `gluon debug` "
                        "(ULX3S only; docs/debugging.md)")
    p.add_argument("--allow-timing-fail", action="store_true",
                   help="pack the bitstream even if the clock constraint is not met")
    p.add_argument("--synth-opts", default="", metavar="OPTS",
                   help="extra options for Yosys' synth_ecp5/synth_ice40, e.g. --synth-opts=-nowidelut")
    p.add_argument("--nextpnr-opts", default="", metavar="OPTS",
                   help="extra nextpnr options, e.g. --nextpnr-opts=\"--router router2\"")
    p.set_defaults(func=cmd_build)


def cmd_build(args):
    from .build import main as build_main
    return build_main(args)


def register_load(sub):
    p = sub.add_parser("load", help="load an ELF over the UART into a board running the boot "
                       "loader (`gluon build --firmware boot`) and start it")
    p.add_argument("elf")
    p.add_argument("--port", required=True, help="the board's serial device, e.g. /dev/ttyUSB1")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    p.add_argument("--monitor", action="store_true",
                   help="then print what the program sends until Ctrl-C")
    p.set_defaults(func=cmd_load)


def cmd_load(args):
    """`gluon load`: send an ELF to the board's UART boot loader and start it."""
    from .boot import Loader, SerialPort, BootError
    try:
        port = SerialPort(args.port, args.baud)
    except BootError as e:
        _err("load", str(e)); return 2
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
        print(); _err("load", str(e)); return 1
    finally:
        port.close()
    return 0

