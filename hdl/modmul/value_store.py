"""The modular-arithmetic coprocessor's value store: every slot's value (user slots, then the
internal ones) as blocks of ``lanes`` limbs in one block RAM, shared by the Montgomery unit and
the value transfers (:mod:`.transfer`)."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .montgomery import BlockReadSignature, BlockWriteSignature


__all__ = ["SLOT_BITS", "value_addr", "ValueAccessSignature", "ValueStore"]


SLOT_BITS = 6


def value_addr(slot, blk, blk_bits):
    """The store address of block ``blk`` of value ``slot``."""
    return Cat(blk[:blk_bits] if blk_bits else C(0, 0), slot)


class ValueAccessSignature(wiring.Signature):
    """The value transfers' access to the store, seen from them.

    ``sel``   Out(1)      read at ``raddr`` (else the unit's operand A port reads)
    ``raddr`` Out(depth)  store address to read; ``rdata`` In(width) the block, a cycle later
    ``we``    Out(1)      write ``wdata`` at ``waddr`` (before the unit's result write)
    """

    def __init__(self, *, depth, width):
        super().__init__({
            "sel": Out(1), "raddr": Out(range(depth)), "rdata": In(width),
            "we": Out(1), "waddr": Out(range(depth)), "wdata": Out(width),
        })


class ValueStore(wiring.Component):
    """``values`` values of ``blocks`` blocks of ``width`` bits. The unit reads through
    ``unit_a``/``unit_b`` and writes through ``unit_wr`` into the values ``ua``, ``ub``, ``ud``;
    the transfers through ``xfer``, which takes precedence."""

    def __init__(self, *, values, blocks, width):
        self.blk_bits = (blocks - 1).bit_length()
        self.depth = values << self.blk_bits
        super().__init__({
            "ua": In(SLOT_BITS), "ub": In(SLOT_BITS), "ud": In(SLOT_BITS),
            "unit_a": In(BlockReadSignature(blocks=blocks, width=width)),
            "unit_b": In(BlockReadSignature(blocks=blocks, width=width)),
            "unit_wr": In(BlockWriteSignature(blocks=blocks, width=width)),
            "xfer": In(ValueAccessSignature(depth=self.depth, width=width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.values = values = Memory(shape=len(self.xfer.wdata), depth=self.depth,
                                              init=[])
        rd_a = values.read_port()
        rd_b = values.read_port()
        wr = values.write_port()
        bb, x = self.blk_bits, self.xfer
        m.d.comb += [
            rd_a.addr.eq(Mux(x.sel, x.raddr, value_addr(self.ua, self.unit_a.addr, bb))),
            rd_b.addr.eq(value_addr(self.ub, self.unit_b.addr, bb)),
            self.unit_a.data.eq(rd_a.data),
            self.unit_b.data.eq(rd_b.data),
            x.rdata.eq(rd_a.data),
            wr.en.eq(self.unit_wr.en | x.we),
            wr.addr.eq(Mux(x.we, x.waddr, value_addr(self.ud, self.unit_wr.addr, bb))),
            wr.data.eq(Mux(x.we, x.wdata, self.unit_wr.data)),
        ]
        return m
