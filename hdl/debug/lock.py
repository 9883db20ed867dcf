"""The debug lock: one register in an M-mode-only page that turns the Debug Module off.

M-mode firmware writes 1 to ``DEBUG.LOCK``; from then on the Debug Module refuses to halt the
hart, to reset it, and to read or write registers and memory (``dmstatus.authenticated`` reads
0). Nothing but power-on (FPGA configuration) clears it: the flip-flop has no reset at all, so
neither ``ndmreset``, nor the simulator's or the boot loader's ``hold``, nor a board's reset
button (the ``sync`` domain's reset) touch it. That matters because block RAM and the
coprocessors' memories keep their contents across every one of those resets.

The page is M-only whatever PMP says (the core's fixed M-only regions, as the DMA windows).
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import WishboneSignature
from ..regs import Register, RegisterMap, RegisterBank, Field


__all__ = ["DebugLock"]


class DebugLock(wiring.Component):
    REGS = RegisterMap("DEBUG", [
        Register("LOCK", 0x00, "ext", [
            Field("LOCKED", 1, desc="1: the Debug Module is locked until power-on. Write 1 to "
                                    "lock; writing 0 has no effect."),
        ], desc="Debug lock (M-mode only; cleared by power-on alone)."),
    ], desc="Debug Module lock.")

    def __init__(self):
        super().__init__({"bus": In(WishboneSignature(addr_width=10)), "locked": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        locked = Signal(reset_less=True)           # power-on (configuration) value 0 only
        with m.If(regs.lock.w_stb & regs.lock.w_data.locked):
            m.d.sync += locked.eq(1)
        m.d.comb += [regs.lock.r_data.locked.eq(locked), self.locked.eq(locked)]
        return m
