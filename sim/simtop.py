"""The simulation top level: the SoC plus what a simulator needs around it.

The same Verilog serves the C++ harness (``gluon sim``) and the cocotb tests. It adds, outside
the SoC, only observation: a watch on the core's data bus for stores to the ELF's ``tohost``
address (riscv-tests convention). Ending the run is M-mode's: a store to ``tohost`` made with
effective privilege U (``mstatus.MPRV`` counts; the core's ``dbus_m``) does not end it but
raises ``tohost_refused`` for the harness to report, so an untrusted task given RAM that holds
``tohost`` cannot end a run as a pass. Loading uses the SoC's ``debug`` initiator while ``hold`` is
high; console output comes from the UART's own ``tx_stb``/``tx_byte`` ports.

Every top-level input is registered before it reaches the SoC, and the reset comes from an
internal power-on counter rather than a ``rst`` port. Verilator re-evaluates all logic
that depends combinationally on a top-level input at every ``eval()``; with registered inputs
that is a handful of flip-flops instead of the whole SoC (measured: ~40 % of the run time).
The debug port is therefore a 4-phase handshake: the harness raises ``dbg_req`` with the
request, waits for ``dbg_done`` (with ``dbg_err``/``dbg_rdata``), then drops ``dbg_req`` and
waits for ``dbg_done`` to fall.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from gluon.hdl.bus import WishboneSignature
from gluon.hdl.core import TraceSignature
from gluon.hdl.soc import GluonSoC


__all__ = ["SimTop"]


class SimTop(wiring.Component):
    def __init__(self, config, *, sim_gating=True):
        # Nobody listens to the serial line in simulation: the UART shifts a bit every 2 cycles
        # so console output costs ~20 cycles a byte, not 434 per bit. Everything else is the
        # configuration as given (SYSINFO still reports the real clock).
        self.soc = GluonSoC(config.with_(uart_divisor=2))
        # Each coprocessor's clock stops while it is idle (hdl/simgate.py): the model then
        # skips its logic. Same cycles, same results; only this model does it, not synthesis.
        for c in self.soc.coprocessors:
            c.sim_gating = sim_gating
        super().__init__({
            "clk": In(1),
            "hold": In(1),
            "dbg_req": In(1),
            "dbg_we": In(1),
            "dbg_adr": In(30),
            "dbg_wdata": In(32),
            "dbg_sel": In(4),
            "dbg_done": Out(1),
            "dbg_err": Out(1),
            "dbg_rdata": Out(32),
            "dmi_req": In(1),
            "dmi_we": In(1),
            "dmi_addr": In(7),
            "dmi_wdata": In(32),
            "dmi_done": Out(1),
            "dmi_rdata": Out(32),
            "halted": Out(1),
            "tohost_addr": In(32),
            "tohost_stb": Out(1),
            "tohost_data": Out(32),
            "tohost_refused": Out(1),
            "uart_tx_stb": Out(1),
            "uart_tx_byte": Out(8),
            "exit_stb": Out(1),
            "exit_code": Out(32),
            "trace": Out(TraceSignature()),
            "copro_busy": Out(self.soc.copro_busy.shape().width),
            "dma_req": Out(self.soc.dma_req.shape().width),
            "perf_enable": Out(1),
            "core_bus": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = self.soc
        wiring.connect(m, soc.trace, wiring.flipped(self.trace))

        # Clock from the harness; reset for the first 4 cycles from a power-on counter.
        m.domains.por = ClockDomain(reset_less=True)
        m.domains.sync = ClockDomain()
        por = Signal(3, init=0)
        m.d.comb += [ClockSignal("por").eq(self.clk), ClockSignal("sync").eq(self.clk),
                     ResetSignal("sync").eq(~por[2])]
        with m.If(~por[2]):
            m.d.por += por.eq(por + 1)

        # Registered inputs.
        hold = Signal(init=1)
        tohost = Signal(32)
        req = Signal()
        req_we = Signal()
        req_adr = Signal(30)
        req_wdata = Signal(32)
        req_sel = Signal(4)
        m.d.sync += [hold.eq(self.hold), tohost.eq(self.tohost_addr), req.eq(self.dbg_req),
                     req_we.eq(self.dbg_we), req_adr.eq(self.dbg_adr),
                     req_wdata.eq(self.dbg_wdata), req_sel.eq(self.dbg_sel)]

        # The debug handshake: one Wishbone request per dbg_req pulse.
        dbg = soc.debug
        m.d.comb += [dbg.we.eq(req_we), dbg.adr.eq(req_adr), dbg.dat_w.eq(req_wdata),
                     dbg.sel.eq(req_sel)]
        with m.FSM(name="debug"):
            with m.State("IDLE"):
                with m.If(req & ~self.dbg_done):
                    m.next = "REQ"
                with m.If(~req):
                    m.d.sync += self.dbg_done.eq(0)
            with m.State("REQ"):
                m.d.comb += [dbg.cyc.eq(1), dbg.stb.eq(1)]
                with m.If(~dbg.stall):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += dbg.cyc.eq(1)
                with m.If(dbg.ack | dbg.err):
                    m.d.sync += [self.dbg_done.eq(1), self.dbg_err.eq(dbg.err),
                                 self.dbg_rdata.eq(dbg.dat_r)]
                    m.next = "IDLE"

        # The Debug Module Interface: the same 4-phase handshake (dmi_req / dmi_done) with
        # registered inputs; one DMI access per dmi_req pulse (sim/gdbserver.py drives it
        # through the harness). Without a Debug Module dmi_done never rises.
        dmi_req = Signal()
        dmi_we = Signal()
        dmi_addr = Signal(7)
        dmi_wdata = Signal(32)
        m.d.sync += [dmi_req.eq(self.dmi_req), dmi_we.eq(self.dmi_we), dmi_addr.eq(self.dmi_addr),
                     dmi_wdata.eq(self.dmi_wdata)]
        dmi_sent = Signal()
        m.d.comb += [soc.dmi.req.eq(dmi_req & ~dmi_sent & ~self.dmi_done), soc.dmi.we.eq(dmi_we),
                     soc.dmi.addr.eq(dmi_addr), soc.dmi.wdata.eq(dmi_wdata)]
        with m.If(soc.dmi.req):
            m.d.sync += dmi_sent.eq(1)
        with m.If(soc.dmi.ack):
            m.d.sync += [dmi_sent.eq(0), self.dmi_done.eq(1), self.dmi_rdata.eq(soc.dmi.rdata)]
        with m.If(~dmi_req):
            m.d.sync += self.dmi_done.eq(0)

        m.d.comb += [
            self.halted.eq(soc.halted),
            soc.hold.eq(hold),
            soc.uart_rx.eq(1),
            self.uart_tx_stb.eq(soc.uart_tx_stb),
            self.uart_tx_byte.eq(soc.uart_tx_byte),
            self.exit_stb.eq(soc.exit_stb),
            self.exit_code.eq(soc.exit_code),
            self.copro_busy.eq(soc.copro_busy),
            self.dma_req.eq(soc.dma_req),
            self.perf_enable.eq(soc.perf_enable),
        ]
        # Watch the core's data bus (reading a submodule's port is observation only).
        dbus = soc.core_dbus
        tohost_store = (dbus.cyc & dbus.stb & ~dbus.stall & dbus.we &
                        (dbus.adr == tohost[2:]) & (tohost != 0))
        if hasattr(soc.core, "dbus_cancel"):
            # The pipelined core judges PMP in W: a store PMP refuses is requested, then
            # cancelled in the next cycle (hdl/pipeline.py). The watch reports the store a
            # cycle late, when the cancel is known, so a refused store to tohost (a locked
            # entry over it, in M-mode) neither ends the run nor counts as a U-mode attempt.
            seen, seen_m, seen_data = Signal(), Signal(), Signal(32)
            m.d.sync += [seen.eq(tohost_store), seen_m.eq(soc.core.dbus_m),
                         seen_data.eq(dbus.dat_w)]
            store, store_m, data = seen & ~soc.core.dbus_cancel, seen_m, seen_data
        else:
            store, store_m, data = tohost_store, soc.core.dbus_m, dbus.dat_w
        m.d.comb += [
            self.tohost_stb.eq(store & store_m),
            self.tohost_refused.eq(store & ~store_m),
            self.tohost_data.eq(data),
            self.core_bus.eq(dbus.cyc & dbus.stb & ~dbus.stall),
        ]
        return m
