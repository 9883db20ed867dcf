"""The hash coprocessor's block buffer and its filler.

The filler turns the DMA word stream of a message chunk into blocks in the buffer, masking the
bytes past LEN and inserting the padding (FIPS 180-4 5.1.1 for SHA-256: 0x80 and the 64-bit
bit length; FIPS 202 pad10*1 with the mode's domain bits for the sponges); a full buffer is
handed to the engine as soon as the engine is free, and the filler immediately fills the next
block (double buffering: the engine holds the current block, the buffer the next one). For the
output, the buffer is loaded with the digest (or a block of the sponge's state) at once and
read out a word at a time.

One signal per word rather than one 1344-bit signal: the simulator (Verilator) then handles 42
machine words instead of copying a wide value twice every cycle. The buffer is written through
a word pointer: the filler's word goes to word ``fi`` (a decoded flip-flop enable per word, the
word itself on every word's data input), the squeeze loads every word at once, and the output
is read through a multiplexer at ``oi``. So a buffer bit is one 2:1 choice (word or state; the
digest words 3:1) behind a clock enable: no shift path, and no select that fans out to all
1,344 bits but the squeeze load.
"""

from amaranth import *
from amaranth.lib import wiring, data, stream
from amaranth.lib.wiring import In, Out

from .keccak import ABSORB_WORDS


__all__ = ["ChunkParams", "BlockBuffer", "bswap"]


def bswap(x):
    return Cat(x[24:32], x[16:24], x[8:16], x[0:8])


class ChunkParams(data.Struct):
    """What the filler needs to know about the operation (stable while it runs)."""
    sha: 1           # SHA-256 (else a Keccak sponge)
    more: 1          # a non-final chunk: no padding
    pad: 8           # first padding byte
    thresh: 8        # last-block threshold in bytes
    last_fi: 6       # index of a block's last word


class BlockBuffer(wiring.Component):
    """The block buffer (``ABSORB_WORDS`` words on ``words``) and the filler.

    ``setup`` (a pulse) starts a chunk of ``length`` bytes; then, while ``absorbing``, words
    from ``rd`` (through a one-word input register, taken whenever it is empty) fill blocks; ``handoff`` pulses when a full buffer goes to the engine (it is
    free: ``~eng_busy``). ``active``: blocks of this chunk remain to be filled; ``full``: the
    buffer holds a block the engine has not taken. ``total``: the message bytes so far (for
    SHA-256's length field). ``flush`` forgets the chunk.

    Output: ``load`` puts ``digest`` (with ``load_sha``, byte-swapped) or the sponge ``state``
    into the buffer; ``out`` is word ``oi``.
    """

    def __init__(self):
        super().__init__({
            "params": In(ChunkParams),
            "total": In(61),
            "setup": In(1),
            "length": In(32),
            "absorbing": In(1),
            "eng_busy": In(1),
            "handoff": Out(1),
            "active": Out(1),
            "full": Out(1),
            "flush": In(1),
            "rd": In(stream.Signature(32)),
            "words": Out(32).array(ABSORB_WORDS),
            "load": In(1),
            "load_sha": In(1),
            "digest": In(32).array(8),
            "state": In(64).array(ABSORB_WORDS // 2),
            "oi": In(range(ABSORB_WORDS)),
            "out": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        buf = [Signal(32, name=f"buf{i}") for i in range(ABSORB_WORDS)]
        m.d.comb += [self.words[i].eq(buf[i]) for i in range(ABSORB_WORDS)]
        buf_full = self.full
        fill_active = self.active # blocks of this chunk remain to be filled
        fi = Signal(range(ABSORB_WORDS))
        left = Signal(32)         # message bytes of this chunk not yet in a block
        pad_done = Signal()
        blk_last = Signal()
        # Comparisons on ``left``, kept in registers (updated with ``left``) so the filler's
        # word path and its shift enable stay shallow.
        left_nz = Signal()        # left != 0
        left_ge4 = Signal()       # left >= 4
        left_lt = Signal()        # left < the last-block threshold

        def write_word(value):
            for i in range(ABSORB_WORDS):
                with m.If(fi == i):
                    m.d.sync += buf[i].eq(value)

        def set_left_flags(value):
            m.d.sync += [
                left_nz.eq(value != 0),
                left_ge4.eq(value[2:] != 0),
                left_lt.eq((value[8:] == 0) & (value[:8] < p.thresh)),
            ]

        handoff = self.handoff
        fill_go = Signal()
        m.d.comb += [
            handoff.eq(self.absorbing & buf_full & ~self.eng_busy),
            fill_go.eq(self.absorbing & fill_active & (~buf_full | handoff)),
        ]

        word_in = Signal(32)      # the next DMA word (below)
        word_in_valid = Signal()
        need = left_nz
        ge4 = left_ge4
        more = p.more
        is_last_now = ~more & left_lt
        is_last = Mux(fi == 0, is_last_now, blk_last)
        mask = Signal(32)
        with m.Switch(Cat(left[:2], ge4)):
            with m.Case("1--"):
                m.d.comb += mask.eq(0xFFFF_FFFF)
            for k in range(4):
                with m.Case(k):
                    m.d.comb += mask.eq((1 << (8 * k)) - 1)
        pad_here = ~more & ~pad_done & ~ge4
        raw = Signal(32)
        m.d.comb += raw.eq((word_in & mask)
                           | Mux(pad_here, p.pad << Cat(C(0, 3), left[:2]), 0)
                           | Mux(~p.sha & is_last & (fi == p.last_fi), 0x8000_0000, 0))
        bitlen = Cat(C(0, 3), self.total)
        word = Signal(32)
        with m.If(p.sha & is_last & (fi == 14)):
            m.d.comb += word.eq(bitlen[32:64])
        with m.Elif(p.sha & is_last & (fi == 15)):
            m.d.comb += word.eq(bitlen[0:32])
        with m.Elif(p.sha):
            m.d.comb += word.eq(bswap(raw))
        with m.Else():
            m.d.comb += word.eq(raw)
        left_next = Mux(ge4, left - 4, 0)[:32]

        # The DMA word waits in a register (``word_in``) before it is written into the
        # buffer: the stream's ``valid`` is gated by the slot's revocation in the cycle of a
        # window or owner write on the CPU bus, and that write then reaches one 33-bit
        # register instead of the enables and data of every buffer word. One word of slack:
        # still one word per cycle, the words of a chunk reach the buffer one cycle later.
        take = Signal()
        consume = Signal()
        m.d.comb += [
            consume.eq(fill_go & need & word_in_valid),
            self.rd.ready.eq(~word_in_valid | consume),
            take.eq(fill_go & (~need | word_in_valid)),
        ]
        with m.If(self.rd.valid & self.rd.ready):
            m.d.sync += [word_in.eq(self.rd.payload), word_in_valid.eq(1)]
        with m.Elif(consume):
            m.d.sync += word_in_valid.eq(0)
        with m.If(handoff):
            m.d.sync += buf_full.eq(0)
        with m.If(take):
            write_word(word)
            m.d.sync += [left.eq(left_next), pad_done.eq(pad_done | pad_here)]
            set_left_flags(left_next)
            with m.If(fi == 0):
                m.d.sync += blk_last.eq(is_last_now)
            with m.If(fi == p.last_fi):
                m.d.sync += [
                    fi.eq(0),
                    buf_full.eq(1),
                    fill_active.eq(Mux(more, left_next != 0, ~is_last)),
                ]
            with m.Else():
                m.d.sync += fi.eq(fi + 1)

        with m.If(self.setup):
            m.d.sync += [left.eq(self.length), pad_done.eq(0), fi.eq(0), buf_full.eq(0),
                         fill_active.eq(1), word_in_valid.eq(0)]
            set_left_flags(self.length)

        # Output: the digest or a block of the state, then a word at a time.
        with m.If(self.load):
            with m.If(self.load_sha):
                for i in range(8):
                    m.d.sync += buf[i].eq(bswap(self.digest[i]))
            with m.Else():
                for i in range(ABSORB_WORDS // 2):
                    m.d.sync += [buf[2 * i].eq(self.state[i][:32]),
                                 buf[2 * i + 1].eq(self.state[i][32:])]
        m.d.comb += self.out.eq(Array(buf)[self.oi])

        with m.If(self.flush):
            m.d.sync += [fill_active.eq(0), buf_full.eq(0), word_in_valid.eq(0)]
        return m
