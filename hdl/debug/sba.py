"""The Debug Module's way onto the core's data bus (system bus access reaches RAM and MMIO).

The core's data bus goes through :class:`BusShare` before the SoC's address decoder, so a
debugger's memory access sees exactly the address map the core sees (RAM, every register
block, the coprocessors). The share is a multiplexer with a registered select: the core owns
the bus unless the Debug Module asks for it in a cycle where the core has no bus cycle open;
while the Debug Module owns it (one access: a few cycles) the core sees ``stall``. An idle
Debug Module never takes the bus, so it costs the core no cycle; while the hart is halted the
core issues nothing and the Debug Module's accesses never wait.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import WishboneSignature


__all__ = ["BusShare"]


class BusShare(wiring.Component):
    """``core`` and ``dm``: initiators in; ``bus``: to the decoder."""

    def __init__(self, *, addr_width=30):
        super().__init__({
            "core": In(WishboneSignature(addr_width=addr_width)),
            "dm": In(WishboneSignature(addr_width=addr_width)),
            "bus": Out(WishboneSignature(addr_width=addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        core, dm, bus = self.core, self.dm, self.bus
        grant_dm = Signal()
        with m.If(~grant_dm):
            with m.If(dm.cyc & ~core.cyc):
                m.d.sync += grant_dm.eq(1)
        with m.Elif(~dm.cyc):
            m.d.sync += grant_dm.eq(0)
        for name in ("cyc", "stb", "we", "adr", "dat_w", "sel"):
            m.d.comb += getattr(bus, name).eq(Mux(grant_dm, getattr(dm, name), getattr(core, name)))
        m.d.comb += [
            core.dat_r.eq(bus.dat_r), dm.dat_r.eq(bus.dat_r),
            core.ack.eq(bus.ack & ~grant_dm), core.err.eq(bus.err & ~grant_dm),
            core.stall.eq(bus.stall | grant_dm),
            dm.ack.eq(bus.ack & grant_dm), dm.err.eq(bus.err & grant_dm),
            dm.stall.eq(bus.stall | ~grant_dm),
        ]
        return m
