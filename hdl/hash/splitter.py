"""Long transfers of the hash coprocessor as a series of DMA descriptors of at most
``max_words`` words each (a descriptor's word count is 16 bits; messages and SHAKE outputs are
longer)."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from ..dma import DMARequestSignature, DMAMover


__all__ = ["DescriptorSplitter"]


class DescriptorSplitter(wiring.Component):
    """From a ``start`` pulse with ``addr``, ``words`` (at least 1) and ``write``, issues the
    descriptors of the whole transfer on ``dma``, one after the other; ``idle`` when the last
    one is done (or before any). ``stop`` forgets the transfer (the caller aborts the channel).
    The words themselves travel on the channel's streams, past this block."""

    def __init__(self, *, max_words):
        self._max_words = max_words
        super().__init__({
            "start": In(1), "addr": In(32), "words": In(31), "write": In(1),
            "stop": In(1),
            "idle": Out(1),
            "dma": Out(DMARequestSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mover = mover = DMAMover()
        connect(m, mover.chan, flipped(self.dma))
        mv_addr = Signal(32)
        mv_words = Signal(31)
        mv_n = Signal(16)
        mv_write = Signal()
        busy = Signal()
        n_next = Mux(mv_words > self._max_words, self._max_words, mv_words)
        m.d.comb += [
            mover.req.eq(busy & ~self.stop),
            mover.desc.addr.eq(mv_addr),
            mover.desc.words.eq(n_next),
            mover.desc.write.eq(mv_write),
            self.idle.eq(~busy),
        ]
        with m.If(~busy):
            with m.If(self.start):
                m.d.sync += [mv_addr.eq(self.addr), mv_words.eq(self.words),
                             mv_write.eq(self.write)]
                with m.If(~self.stop):
                    m.d.sync += busy.eq(1)
        with m.Elif(self.stop):
            m.d.sync += busy.eq(0)
        with m.Else():
            with m.If(mover.accepted):
                m.d.sync += mv_n.eq(n_next)
            with m.If(mover.done):
                m.d.sync += [mv_addr.eq(mv_addr + (mv_n << 2)), mv_words.eq(mv_words - mv_n)]
                with m.If(mv_words == mv_n):
                    m.d.sync += busy.eq(0)
        return m
