"""CLINT-compatible machine timer and software interrupt (SiFive CLINT layout).

Reference: SiFive "Core-Local Interruptor (CLINT)" memory map (msip at +0x0, mtimecmp at
+0x4000, mtime at +0xBFF8), RISC-V Privileged ISA 20211203 section 3.2.1.
``mtime`` counts clock cycles (the timebase is the SoC clock, see SYSINFO.CLK_HZ).
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank


__all__ = ["CLINT"]


class CLINT(wiring.Component):
    REGS = RegisterMap("CLINT", [
        Register("MSIP", 0x0000, "rw", [Field("MSIP", 1, desc="machine software interrupt pending")],
                 desc="Software interrupt: write 1 to raise mip.MSIP, 0 to clear."),
        Register("MTIMECMP", 0x4000, "ext", desc="Timer compare, low word. mip.MTIP = mtime >= mtimecmp."),
        Register("MTIMECMPH", 0x4004, "ext", desc="Timer compare, high word (resets to all ones)."),
        Register("MTIME", 0xBFF8, "ext", desc="Cycle-counting timer, low word (writable)."),
        Register("MTIMEH", 0xBFFC, "ext", desc="Timer, high word (writable)."),
    ], desc="CLINT-compatible machine timer and software interrupt.")

    def __init__(self):
        super().__init__({
            "bus": In(WishboneSignature(addr_width=14)),
            "mtime": Out(64),
            "timer_irq": Out(1),
            "soft_irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=14)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        mtime = Signal(64)
        mtimecmp = Signal(64, init=(1 << 64) - 1)
        # mtime + 1 as two 32-bit increments (no 64-bit carry chain in front of the compare
        # below): the high word takes its increment when the low word wraps
        lo_inc = Signal(33)                      # bit 32: the low word is all ones
        hi_inc = Signal(33)
        m.d.comb += [lo_inc.eq(mtime[:32] + 1), hi_inc.eq(mtime[32:] + 1)]
        m.d.sync += mtime[:32].eq(lo_inc[:32])
        with m.If(lo_inc[32]):
            m.d.sync += mtime[32:].eq(hi_inc[:32])
        wrote = Signal()                         # a timer register was written last cycle
        m.d.sync += wrote.eq(0)
        for reg, sig, lo in [(regs.mtimecmp, mtimecmp, True), (regs.mtimecmph, mtimecmp, False),
                             (regs.mtime, mtime, True), (regs.mtimeh, mtime, False)]:
            part = sig[:32] if lo else sig[32:]
            m.d.comb += reg.r_data.eq(part)
            with m.If(reg.w_stb):
                m.d.sync += [part.eq(reg.w_data), wrote.eq(1)]

        # mip.MTIP, registered: `ge` holds mtime >= mtimecmp for this cycle's values, computed
        # last cycle from last cycle's registers as (mtime + 1 mod 2^64) >= mtimecmp, i.e.
        # (mtime >= mtimecmp unless mtime wraps) or mtime + 1 == mtimecmp. Exact while the
        # registers only count; after a bus write to mtime/mtimecmp the prediction is void,
        # so MTIP reads 0 for that one cycle (it falls in the very cycle the write takes
        # effect, and rises one cycle late if the write itself makes mtime >= mtimecmp).
        # 32-bit compares and increments in parallel, no 64-bit carry chain.
        hi_gt = mtime[32:] > mtimecmp[32:]
        hi_eq = mtime[32:] == mtimecmp[32:]
        lo_ge = mtime[:32] >= mtimecmp[:32]
        ge = Signal()
        all_ones = lo_inc[32] & hi_inc[32]
        inc_eq = (lo_inc[:32] == mtimecmp[:32]) & Mux(lo_inc[32], hi_inc[:32] == mtimecmp[32:], hi_eq)
        m.d.sync += ge.eq((hi_gt | hi_eq & lo_ge) & ~all_ones | inc_eq)
        m.d.comb += [
            self.mtime.eq(mtime),
            self.timer_irq.eq(ge & ~wrote),
            self.soft_irq.eq(regs.msip.data.msip),
        ]
        return m
