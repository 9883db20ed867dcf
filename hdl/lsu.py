"""The pipelined core's load/store formatting (RV32I LB/LH/LW/LBU/LHU, SB/SH/SW, Unprivileged
ISA 20191213 section 2.6).

Purely combinational, in two halves: the request side in ``X`` (byte enables, the store data
replicated into its lanes, the misalignment verdict) and the response side in ``W`` (the
loaded word shifted down and sign- or zero-extended). Accesses are never split: a misaligned
one is refused (the core traps), so no address bit changes an access's length.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["LoadStoreUnit"]


class LoadStoreUnit(wiring.Component):
    """Request: ``addr``, ``funct3``, ``store`` (rs2) → ``sel``, ``wdata``, ``misaligned``.
    Response: ``r_addr`` (the load's address, low two bits), ``r_funct3``, ``rdata`` (the
    bus word) → ``result``."""

    addr:       In(32)
    funct3:     In(3)
    store:      In(32)
    sel:        Out(4)
    wdata:      Out(32)
    misaligned: Out(1)
    r_addr:     In(2)
    r_funct3:   In(3)
    rdata:      In(32)
    result:     Out(32)

    def elaborate(self, platform):
        m = Module()
        a = self.addr
        size = self.funct3[:2]
        m.d.comb += self.misaligned.eq((size == 1) & a[0] | (size == 2) & (a[:2] != 0))
        with m.Switch(size):
            with m.Case(0):
                m.d.comb += [self.sel.eq(1 << a[:2]), self.wdata.eq(self.store[:8].replicate(4))]
            with m.Case(1):
                m.d.comb += [self.sel.eq(Mux(a[1], 0b1100, 0b0011)),
                             self.wdata.eq(self.store[:16].replicate(2))]
            with m.Default():
                m.d.comb += [self.sel.eq(0b1111), self.wdata.eq(self.store)]

        shifted = Signal(32)
        m.d.comb += shifted.eq(self.rdata >> Cat(C(0, 3), self.r_addr))
        with m.Switch(self.r_funct3):
            with m.Case(0):
                m.d.comb += self.result.eq(shifted[:8].as_signed())
            with m.Case(1):
                m.d.comb += self.result.eq(shifted[:16].as_signed())
            with m.Case(4):
                m.d.comb += self.result.eq(shifted[:8])
            with m.Case(5):
                m.d.comb += self.result.eq(shifted[:16])
            with m.Default():
                m.d.comb += self.result.eq(shifted)
        return m
