"""The boards `gluon build` knows: one table of data (platform, clocking, pins, defaults).

Adding a board with a UART and an ECP5 or iCE40 is one entry here.
"""

from dataclasses import dataclass

from amaranth_boards.ulx3s import (ULX3S_12F_Platform, ULX3S_25F_Platform,
                                   ULX3S_45F_Platform, ULX3S_85F_Platform)
from amaranth_boards.icebreaker import ICEBreakerPlatform

from gluon.hdl.config import get_config


__all__ = ["Board", "BOARDS", "get_board", "board_config", "board_flow"]


@dataclass(frozen=True)
class Board:
    name: str
    platform: type
    family: str                 # "ecp5" | "ice40"
    clk: str                    # the board clock resource
    leds: tuple                 # LED indices in role order: heartbeat, UART, exited, code...
    rst: tuple                  # (resource, index) of a reset button, or None
    default_config: str
    default_mhz: float          # the default of --freq (the target clock)...
    config_mhz: tuple = ()      # ...except for these (config, MHz): the clock it meets here
    ram_size: int = 0           # 0: the configuration's own; else the largest RAM that fits
    config_flow: tuple = ()     # (config, synth_opts, nextpnr_opts): tool options it needs here
    global_reset: tuple = ()    # configs whose reset goes through a global buffer (ECP5 DCCA)
    note: str = ""

    def make_platform(self):
        return self.platform()


# The default clock is the 60 MHz target, except for the configurations that do not reach it
# (docs/fpga-timing.md): 'minimal' defaults to a clock it meets (25 MHz: 33.7-36.0 achieved),
# so that a plain `gluon build --board ulx3s-12f|25f|45f` gives a working bitstream;
# 'compact-pipelined' (the 85F's default) to 40 MHz, met on seeds 1 and 2; 'compact' and 'full'
# (85F) to their estimate after placement.
_ULX3S = dict(family="ecp5", clk="clk25", leds=tuple(range(8)), rst=("button_fire", 0))
_ULX3S_MHZ = (("minimal", 25),)

# 'compact' routes on the 85F only from nextpnr's electrostatic placement: from the default
# (HeAP) placement router2 stalls at 1,000-7,000 overused wires whatever the clock, seed or
# RAM size; the static placer's placement has ~19 % less wire and routes. 'full' does not
# route with either placer (docs/fpga-timing.md, "The ULX3S-85F, `compact` and `full`").
# `-nowidelut`: LUT4s only, which suits the Keccak round (5,505 instead of 20,332 LUT4 with
# its hierarchy kept).
_BIG_FLOW = ("-nowidelut", "--router router2 --placer static")
# compact: seed 2 routes (71 router2 iterations, 21.52 MHz at 17.86); seed 1's placement is
# at 3,830 overused wires after 11 iterations.
_COMPACT_FLOW = ("-nowidelut", "--router router2 --placer static --seed 2")
# compact-pipelined: the same options; both seeds route and meet 40 MHz (seed 1: 41.38 MHz,
# router2 converged in 124 iterations; seed 2: 40.60 MHz; docs/fpga.md, "The SoC with the
# pipelined core"). The build's own seed, 1, is used.
_COMPACT_PIPELINED_FLOW = _BIG_FLOW

# Block RAM: one copy of the RAM in DP16KDs on ECP5 (2 KiB each), two copies in SB_RAM40_4Ks
# on iCE40 (docs/fpga.md, "The RAM in block RAM"); the smaller ECP5 parts (LFE5U-45F:
# 108 DP16KD, 25F: 56, 12F: 32) get a smaller RAM.
BOARDS = {b.name: b for b in [
    # Every coprocessor, in the 'compact' sizes, with the pipelined core: the simulation's
    # 'full' sizes need 59,600 LUT4 and do not route on the 85F; 'compact' (44,700) routes with
    # the static placer, at 21.5 MHz with the unpipelined core (docs/fpga-timing.md, "The
    # ULX3S-85F, `compact` and `full`") and at 41.38 / 40.60 MHz (seeds 1 / 2) with the
    # pipelined one, 'compact-pipelined' (docs/fpga.md, "The SoC with the pipelined core").
    Board("ulx3s-85f", ULX3S_85F_Platform, default_config="compact-pipelined", default_mhz=60,
          # 'pipelined' (minimal with the pipelined core): 50 MHz (the PLL's 25 x 2) met on
          # seeds 1 / 2 at 52.00 / 53.07 MHz (docs/fpga.md)
          config_mhz=_ULX3S_MHZ + (("pipelined", 50), ("compact-pipelined", 40), ("compact", 18),
                                   ("full", 18)),
          config_flow=(("compact-pipelined",) + _COMPACT_PIPELINED_FLOW,
                       ("compact",) + _COMPACT_FLOW, ("full",) + _BIG_FLOW), **_ULX3S),
    # The LFE5U-45F (43,848 LUT4, 72 MULT18X18D) holds neither 'full' (~59,600 LUT4, 116 DSP)
    # nor 'compact' (see docs/fpga.md): the minimal SoC.
    # 'pipelined' on the smaller parts, met on seeds 1 / 2 (docs/fpga.md): 45F 51.63 / 50.13
    # MHz at 50, 25F 50.50 / 52.79 at 45 (49.83 / 46.81 at 50), 12F 54.65 / 54.56 at 50
    Board("ulx3s-45f", ULX3S_45F_Platform, default_config="minimal", default_mhz=60,
          ram_size=32 * 1024, config_mhz=_ULX3S_MHZ + (("pipelined", 50),), **_ULX3S),
    Board("ulx3s-25f", ULX3S_25F_Platform, default_config="minimal", default_mhz=60,
          ram_size=16 * 1024, config_mhz=_ULX3S_MHZ + (("pipelined", 45),), **_ULX3S),
    Board("ulx3s-12f", ULX3S_12F_Platform, default_config="minimal", default_mhz=60,
          ram_size=8 * 1024, config_mhz=_ULX3S_MHZ + (("pipelined", 50),), **_ULX3S),
    # iCEBreaker: the "small" configuration (no PMP, no PERF block). LED 1 is green
    # (heartbeat), LED 0 red (UART activity). UP5K block RAM is
    # 30 x 4 Kbit: 4 KiB of RAM takes 16 blocks (two copies), 8 KiB would take 32.
    # small: nextpnr seed 1 places it at 26.01 MHz against the PLL's 25.125 (seed 3: 25.40;
    # seed 2: 24.93, the register file's block RAM -> branch/JALR -> jump_r path). The margin
    # is placement noise of a few percent (the previous netlist: seed 2 25.92, seed 1 24.18).
    Board("icebreaker", ICEBreakerPlatform, family="ice40", clk="clk12", leds=(1, 0),
          rst=("button", 0), default_config="small", default_mhz=25, ram_size=4 * 1024,
          config_flow=(("small", "", "--seed 1"),)),
]}


def get_board(name):
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"Unknown board {name!r}; known: {', '.join(BOARDS)}") from None


def board_config(board, config_name=None, mhz=None):
    """The SoC configuration for ``board``: the named one (default: the board's), its RAM
    reduced to what the board holds, its ``clk_hz`` left for the caller to set from the real
    PLL frequency. Returns (config, requested MHz)."""
    config = get_config(config_name or board.default_config)
    if board.ram_size and config.ram_size > board.ram_size:
        config = config.with_(ram_size=board.ram_size)
    if mhz is None:
        mhz = dict(board.config_mhz).get(config.name, board.default_mhz)
    if not (isinstance(mhz, (int, float)) and 1 <= mhz <= 400):
        raise ValueError(f"--freq must be a clock frequency in MHz (1-400), not {mhz!r}")
    return config, float(mhz)


def _options(text):
    """``text`` split into options, each a flag with the value after it if any:
    "--placer static --tmg-ripup" -> [["--placer", "static"], ["--tmg-ripup"]]."""
    groups = []
    for tok in text.split():
        if tok.startswith("-") or not groups:
            groups.append([tok])
        else:
            groups[-1].append(tok)
    return groups


def board_flow(board, config_name, synth_opts="", nextpnr_opts=""):
    """The tool options for ``config_name`` on ``board``: the board's own for that
    configuration (``Board.config_flow``), then the user's. An option the user gives replaces
    the board's of the same name (nextpnr refuses an option given twice: a ``--seed``, or the
    board's own options repeated by hand). Returns (synth_opts, nextpnr_opts)."""
    flows = {c: (so, no) for c, so, no in board.config_flow}
    # a configuration with the Debug Module (``<name>-debug``, `gluon build --debug`) is built
    # as its configuration is
    own = flows.get(config_name) or flows.get(config_name.removesuffix("-debug"), ("", ""))

    def merged(board_opts, user_opts):
        def name(g):
            return g[0].split("=", 1)[0]
        named = {name(g) for g in _options(user_opts)}
        kept = " ".join(" ".join(g) for g in _options(board_opts) if name(g) not in named)
        return f"{kept} {user_opts.strip()}".strip()
    return merged(own[0], synth_opts), merged(own[1], nextpnr_opts)
