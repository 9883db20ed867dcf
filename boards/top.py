"""A board top: clock and reset, UART pins, LEDs, and the board-independent SoC.

:class:`BoardLogic` is everything that is not a pin or a clock (the SoC, the program-end
latch, the LED roles), so it can be simulated without a platform; :class:`BoardTop` adds the
PLL, the reset synchronizer and the pins.

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
from amaranth.lib.wiring import In, Out

from gluon.hdl.soc import GluonSoC
from gluon.hdl.debug.uart_dtm import DmiUartBridge
from .clocking import ECP5ClockReset, ICE40ClockReset


__all__ = ["BoardLogic", "BoardTop"]


class BoardLogic(wiring.Component):
    """The SoC with ``hold`` and the ``debug`` initiator tied off, and the LED roles.

    ``config``: the SoC configuration (``clk_hz`` sets the LED timings too); ``ram_init``: RAM
    words; ``tohost``: byte address of the firmware's ``tohost`` (None: only SIMCTRL.EXIT);
    ``n_leds``: how many LEDs the board has. Ports: ``uart_tx``, ``uart_rx``, ``leds``, and
    ``exited``/``code`` (the latched end of the program)."""

    def __init__(self, *, config, ram_init=(), tohost=None, n_leds=2):
        if tohost is not None and not (isinstance(tohost, int) and tohost % 4 == 0):
            raise ValueError(f"tohost must be a word-aligned address, not {tohost!r}")
        self.config = config
        self.tohost = tohost
        self.soc = GluonSoC(config, ram_init=ram_init)
        super().__init__({
            "uart_tx": Out(1),
            "uart_rx": In(1, init=1),
            "leds": Out(n_leds),
            "exited": Out(1),
            "code": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.soc = soc = self.soc
        m.d.comb += [
            soc.hold.eq(0),
            soc.debug.cyc.eq(0),
            soc.debug.stb.eq(0),
        ]
        if cfg.debug:
            # the Debug Module through the UART (hdl/debug/uart_dtm.py): transparent until a
            # debugger opens a link with a break
            m.submodules.dmi_bridge = bridge = DmiUartBridge(divisor=cfg.divisor)
            wiring.connect(m, bridge.dmi, soc.dmi)
            m.d.comb += [
                bridge.pin_rx.eq(self.uart_rx), self.uart_tx.eq(bridge.pin_tx),
                soc.uart_rx.eq(bridge.soc_rx), bridge.soc_tx.eq(soc.uart_tx),
                bridge.soc_tx_stb.eq(soc.uart_tx_stb), bridge.soc_tx_byte.eq(soc.uart_tx_byte),
            ]
        else:
            m.d.comb += [self.uart_tx.eq(soc.uart_tx), soc.uart_rx.eq(self.uart_rx)]

        # Program end: the store to tohost (or SIMCTRL.EXIT), latched.
        exited, code = self.exited, self.code
        dbus = soc.core_dbus
        if self.tohost is not None:
            # registered first (one cycle later is as good for the LEDs), so the bus's
            # decode does not reach the latch; the decoder's stall is not looked at either: the
            # core holds a request until it is taken, so a stalled store to tohost is seen
            # (again, with the same data) one or more cycles early, which the latch ignores
            hit = Signal()
            hit_data = Signal(32)
            # (a store made with effective privilege U is not an end: ending is M-mode's)
            m.d.sync += [
                hit.eq(dbus.cyc & dbus.stb & dbus.we & soc.core.dbus_m &
                       (dbus.adr == (self.tohost >> 2)) & dbus.sel[0]),
                hit_data.eq(dbus.dat_w),
            ]
            # the pipelined core judges PMP in W: a refused store's request is made and then
            # cancelled in the next cycle, the one ``hit`` is seen in (hdl/pipeline.py)
            cancel = soc.core.dbus_cancel if hasattr(soc.core, "dbus_cancel") else C(0)
            with m.If(hit & ~cancel & ~exited & (hit_data != 0)):
                m.d.sync += [exited.eq(1), code.eq(hit_data)]
        with m.If(soc.exit_stb & ~exited):
            m.d.sync += [exited.eq(1), code.eq(soc.exit_code)]
        failed = exited & (code != 1)

        # Heartbeat: the top bit of a counter of about log2(clk_hz) bits (~1 Hz).
        k = max(1, cfg.clk_hz.bit_length() - 1)
        beat = Signal(k + 1)
        m.d.sync += beat.eq(beat + 1)
        # UART activity: a byte either way keeps the LED on for ~50 ms.
        hold_cycles = max(1, cfg.clk_hz // 20)
        act = Signal(range(hold_cycles + 1))
        rx_q = Signal(init=1)
        tx_q = Signal()
        m.d.sync += [rx_q.eq(self.uart_rx), tx_q.eq(soc.uart_tx_stb)]
        with m.If(tx_q | (rx_q & ~self.uart_rx)):
            m.d.sync += act.eq(hold_cycles)
        with m.Elif(act != 0):
            m.d.sync += act.eq(act - 1)

        roles = [Mux(exited, ~failed, beat[-1]), (act != 0) | failed, exited, failed]
        roles += [code[1 + i] & failed for i in range(max(0, len(self.leds) - 4))]
        for i, role in zip(range(len(self.leds)), roles):
            m.d.comb += self.leds[i].eq(role)
        return m


class BoardTop(wiring.Component):
    """``board``: a :class:`~gluon.boards.targets.Board`; ``config``: the SoC configuration, its
    ``clk_hz`` equal to the clock the PLL really makes (:func:`~gluon.boards.clocking.pll_hz`);
    ``ram_init``, ``tohost``: as :class:`BoardLogic`."""

    def __init__(self, *, board, config, ram_init=(), tohost=None):
        self.board = board
        self.config = config
        self.logic = BoardLogic(config=config, ram_init=ram_init, tohost=tohost,
                                n_leds=len(board.leds))
        super().__init__({})

    @property
    def soc(self):
        return self.logic.soc

    def elaborate(self, platform):
        m = Module()
        board, cfg = self.board, self.config

        # Clock and reset: the PLL makes exactly cfg.clk_hz (the caller chose it from the PLL).
        m.domains.sync = ClockDomain("sync")
        f_in = platform.lookup(board.clk, 0).clock.frequency
        if board.family == "ecp5":
            global_reset = cfg.name.removesuffix("-debug") in board.global_reset
            m.submodules.crg = crg = ECP5ClockReset(f_in=f_in, f_out=cfg.clk_hz,
                                                    global_reset=global_reset)
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

        # The SoC and LEDs; UART to the board's USB serial.
        m.submodules.logic = logic = self.logic
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.d.comb += [uart_tx.o.eq(logic.uart_tx), logic.uart_rx.eq(uart_rx.i)]
        for i, index in enumerate(board.leds):
            m.submodules[f"led_{index}"] = led = io.Buffer("o", platform.request("led", index, dir="-"))
            m.d.comb += led.o.eq(logic.leds[i])
        return m
