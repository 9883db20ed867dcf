"""The pipelined core's register file (x0-x31, RV32I): LUT RAM, two asynchronous read ports,
one write port.

The read ports are transparent to the write port: a register written in this cycle (by ``W``)
reads as the new value (by ``D``), so the instruction in ``D`` never needs a bypass from the
instruction two ahead of it. x0 reads 0 (its row is never written).
"""

from amaranth import *
from amaranth.lib import wiring, memory
from amaranth.lib.wiring import In, Out


__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    raddr1: In(5)
    rdata1: Out(32)
    raddr2: In(5)
    rdata2: Out(32)
    waddr:  In(5)
    wdata:  In(32)
    we:     In(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=32, depth=32, init=[])
        wp = mem.write_port()
        rp1 = mem.read_port(domain="comb")
        rp2 = mem.read_port(domain="comb")
        we = self.we & (self.waddr != 0)
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(we),
                     rp1.addr.eq(self.raddr1), rp2.addr.eq(self.raddr2)]
        for rp, ra, rd in ((rp1, self.raddr1, self.rdata1), (rp2, self.raddr2, self.rdata2)):
            m.d.comb += rd.eq(Mux(we & (self.waddr == ra), self.wdata, rp.data))
        return m
