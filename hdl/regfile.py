"""The register file (x0-x31, RV32I) in LUT RAM: two asynchronous read ports, one write port.
Used by the pipelined core and by the default core; the block-RAM variant for FPGAs without
LUT RAM (iCE40) is :class:`~gluon.hdl.regfile_bram.BlockRamRegisterFile`, with the same ports.

``bypass`` (the pipelined core's): the read ports are transparent to the write port, a
register written in this cycle (by ``W``) reads as the new value (by ``D``), so the
instruction in ``D`` never needs a bypass from the instruction two ahead of it. Without it
(the default core's) a read returns the register as it was at the start of the cycle: that
core forwards ``W``'s ALU result itself, and its load data, which arrives late in the cycle,
never reaches a read port (the load-use wait covers it). x0 reads 0 (its row is never
written).

``debug_port``: a third read port (``dbg_raddr`` → ``dbg_rdata``) for the Debug Module's
register access (hdl/debug/hart.py); it writes through the ordinary write port while the
hart is halted.
"""

from amaranth import *
from amaranth.lib import wiring, memory
from amaranth.lib.wiring import In, Out


__all__ = ["RegisterFile", "PORTS"]


#: the ports both register files have: two reads, one write
PORTS = {"raddr1": In(5), "rdata1": Out(32), "raddr2": In(5), "rdata2": Out(32),
         "waddr": In(5), "wdata": In(32), "we": In(1)}


class RegisterFile(wiring.Component):
    """Ports: ``raddr1``/``rdata1``, ``raddr2``/``rdata2``, ``waddr``/``wdata``/``we``
    (writes to x0 are dropped here); with ``debug_port``, ``dbg_raddr``/``dbg_rdata``."""

    def __init__(self, *, bypass=True, debug_port=False):
        self.bypass = bool(bypass)
        self.debug_port = bool(debug_port)
        ports = {"dbg_raddr": In(5), "dbg_rdata": Out(32)} if debug_port else {}
        super().__init__({**PORTS, **ports})

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
            if self.bypass:
                m.d.comb += rd.eq(Mux(we & (self.waddr == ra), self.wdata, rp.data))
            else:
                m.d.comb += rd.eq(rp.data)
        if self.debug_port:
            rp_dbg = mem.read_port(domain="comb")
            m.d.comb += [rp_dbg.addr.eq(self.dbg_raddr), self.dbg_rdata.eq(rp_dbg.data)]
        return m
