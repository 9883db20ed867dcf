"""The register file (x0-x31, RV32I) in FPGA block RAM: two synchronous read ports, one write
port, for the default core with ``regfile_bram`` (iCE40 has no LUT RAM; configuration
``small``). Same ports as the LUT-RAM :class:`~gluon.hdl.regfile.RegisterFile`.

A read addressed in one cycle returns its data in the next, and is transparent to that
cycle's write: the data is the register file after the write, as an asynchronous read would
see it at the start of the next cycle. The core therefore needs no bypass from ``W``; it
spends one decode cycle (``D``) reading (docs/core.md, "The block-RAM register file"). x0
reads 0 (its row is never written).
"""

from amaranth import *
from amaranth.lib import wiring, memory

from .regfile import PORTS


__all__ = ["BlockRamRegisterFile"]


class BlockRamRegisterFile(wiring.Component):
    """Ports: ``raddr1``/``rdata1``, ``raddr2``/``rdata2`` (data one cycle after the address),
    ``waddr``/``wdata``/``we`` (writes to x0 are dropped here)."""

    def __init__(self):
        super().__init__(PORTS)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=32, depth=32, init=[])
        wp = mem.write_port()
        rp1 = mem.read_port(transparent_for=(wp,))
        rp2 = mem.read_port(transparent_for=(wp,))
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata),
                     wp.en.eq(self.we & (self.waddr != 0)),
                     rp1.addr.eq(self.raddr1), rp2.addr.eq(self.raddr2),
                     self.rdata1.eq(rp1.data), self.rdata2.eq(rp2.data)]
        return m
