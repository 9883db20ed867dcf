"""A board top: clock and reset, UART pins, LEDs, and the board-independent SoC.

LEDs, in the order a board lists them (boards with fewer LEDs use the first roles):

0. heartbeat (about 1 Hz) while the program runs; after it ends, on = pass, off = fail;
1. UART activity (a byte sent or received lights it ~50 ms); on for good after a failure;
2. the program has ended (a store to ``tohost`` or a write to SIMCTRL.EXIT);
3. it failed (``tohost`` != 1);
4+. the exit code's low bits (``tohost >> 1``).

The program's end is seen by watching the core's data bus for the store to ``tohost`` (the
ELF symbol's address, riscv-tests convention as in simulation); the SoC is not changed for it.
"""

from amaranth import *
from amaranth.lib import wiring, io

from gluon.hdl.soc import GluonSoC
from .clocking import ECP5ClockReset, ICE40ClockReset


__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """``board``: a :class:`~gluon.boards.targets.Board`; ``config``: the SoC configuration, its
    ``clk_hz`` equal to the clock the PLL really makes (:func:`~gluon.boards.clocking.pll_hz`);
    ``ram_init``: RAM words;
    ``tohost``: the byte address of the firmware's ``tohost`` (None: only SIMCTRL.EXIT ends)."""

    def __init__(self, *, board, config, ram_init=(), tohost=None):
        self.board = board
        self.config = config
        self.tohost = tohost
        self.soc = GluonSoC(config, ram_init=ram_init)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        board, cfg = self.board, self.config

        # Clock and reset: the PLL makes exactly cfg.clk_hz (the caller chose it from the PLL).
        m.domains.sync = ClockDomain("sync")
        clk_res = platform.lookup(board.clk, 0)
        f_in = clk_res.clock.frequency
        if board.family == "ecp5":
            m.submodules.crg = crg = ECP5ClockReset(f_in=f_in, f_out=cfg.clk_hz)
            m.submodules.clk_buf = clk_buf = io.Buffer("i", platform.request(board.clk, 0, dir="-"))
            m.d.comb += crg.clk_in.eq(clk_buf.i)
        else:
            pad = platform.request(board.clk, 0, dir="-")
            m.submodules.crg = crg = ICE40ClockReset(pad=pad, f_in=f_in, f_out=cfg.clk_hz)
        if round(crg.f_out) != cfg.clk_hz:
            raise ValueError(f"config.clk_hz {cfg.clk_hz} is not a frequency the PLL makes "
                             f"(closest {crg.f_out:.0f} Hz): SYSINFO and the UART would be wrong")
        if board.rst is not None:
            m.submodules.rst_buf = rst_buf = io.Buffer("i", platform.request(*board.rst, dir="-"))
            m.d.comb += crg.ext_rst.eq(rst_buf.i)

        # The SoC: hold and the debug initiator idle, UART to the board's USB serial.
        m.submodules.soc = soc = self.soc
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.d.comb += [
            soc.hold.eq(0),
            soc.debug.cyc.eq(0),
            soc.debug.stb.eq(0),
            uart_tx.o.eq(soc.uart_tx),
            soc.uart_rx.eq(uart_rx.i),
        ]

        # Program end: the store to tohost (or SIMCTRL.EXIT), latched.
        exited = Signal()
        code = Signal(32)
        dbus = soc.core_dbus
        if self.tohost is not None:
            hit = (dbus.cyc & dbus.stb & ~dbus.stall & dbus.we &
                   (dbus.adr == (self.tohost >> 2)) & dbus.sel[0])
            with m.If(hit & ~exited & (dbus.dat_w != 0)):
                m.d.sync += [exited.eq(1), code.eq(dbus.dat_w)]
        with m.If(soc.exit_stb & ~exited):
            m.d.sync += [exited.eq(1), code.eq(soc.exit_code)]
        failed = exited & (code != 1)

        # Heartbeat: bit k of a free-running counter toggles every 2**k cycles (~0.5-1 s).
        k = max(1, cfg.clk_hz.bit_length() - 1)
        beat = Signal(k + 1)
        m.d.sync += beat.eq(beat + 1)
        # UART activity: a byte either way keeps the LED on for ~50 ms.
        act = Signal(range(cfg.clk_hz // 20 + 1))
        rx_edge = Signal()
        rx_q = Signal(init=1)
        m.d.sync += rx_q.eq(soc.uart_rx)
        m.d.comb += rx_edge.eq(rx_q & ~soc.uart_rx)
        with m.If(soc.uart_tx_stb | rx_edge):
            m.d.sync += act.eq(cfg.clk_hz // 20)
        with m.Elif(act != 0):
            m.d.sync += act.eq(act - 1)

        roles = [Mux(exited, ~failed, beat[-1]), (act != 0) | failed, exited, failed]
        roles += [code[1 + i] & failed for i in range(max(0, len(board.leds) - 4))]
        for role, index in zip(roles, board.leds):
            m.submodules[f"led_{index}"] = led = io.Buffer("o", platform.request("led", index, dir="-"))
            m.d.comb += led.o.eq(role)
        return m
