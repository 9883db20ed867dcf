"""The simulation top level: the SoC plus what a simulator needs around it.

The same Verilog serves the C++ harness (``gluon sim``) and the cocotb tests. It adds, outside
the SoC, only observation: a watch on the core's data bus for stores to the ELF's ``tohost``
address (riscv-tests convention). Loading uses the SoC's ``debug`` initiator while ``hold`` is
high; console output comes from the UART's own ``tx_stb``/``tx_byte`` ports.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from gluon.hdl.bus import WishboneSignature
from gluon.hdl.core import TraceSignature
from gluon.hdl.soc import GluonSoC


__all__ = ["SimTop"]


class SimTop(wiring.Component):
    def __init__(self, config):
        # Nobody listens to the serial line in simulation: the UART shifts a bit every 2 cycles
        # so console output costs ~20 cycles a byte, not 434 per bit. Everything else is the
        # configuration as given (SYSINFO still reports the real clock).
        self.soc = GluonSoC(config.with_(uart_divisor=2))
        super().__init__({
            "hold": In(1),
            "debug": In(WishboneSignature(addr_width=30)),
            "tohost_addr": In(32),
            "tohost_stb": Out(1),
            "tohost_data": Out(32),
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
        wiring.connect(m, wiring.flipped(self.debug), soc.debug)
        wiring.connect(m, soc.trace, wiring.flipped(self.trace))
        m.d.comb += [
            soc.hold.eq(self.hold),
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
        m.d.comb += [
            self.tohost_stb.eq(dbus.cyc & dbus.stb & ~dbus.stall & dbus.we &
                               (dbus.adr == self.tohost_addr[2:]) & (self.tohost_addr != 0)),
            self.tohost_data.eq(dbus.dat_w),
            self.core_bus.eq(dbus.cyc & dbus.stb & ~dbus.stall),
        ]
        return m
