"""The modular-arithmetic coprocessor's value transfers: a value of L limbs between memory (by
DMA) or the register-path FIFOs (XIN, XOUT) and the value store, for LOAD, LOADX, STORE,
STOREX and SETMOD's load of N. A loaded value is checked against N on the way in (the running
borrow of x - N, a limb per word) and only then moved from the STAGE slot to its destination;
SETMOD's N must be odd and at least 3."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out, connect, flipped

from ..dma import DMARequestSignature, DMAMover
from .montgomery import LIMB_BITS, ModulusPortSignature
from .value_store import SLOT_BITS, ValueAccessSignature, value_addr
from .registers import Cause, XIN_WAIT


__all__ = ["ValueTransfer"]


class ValueTransfer(wiring.Component):
    """Moves one value per ``load``/``store`` pulse (``setmod``: the load is SETMOD's N, which
    first zeroes the whole store and N; ``x``: through XIN/XOUT instead of DMA; ``length``: L;
    ``addr``: the DMA address; ``d``/``a``: the op's destination/source slot; all taken with
    the pulse).

    Ends with ``done`` (the value is in place), ``setmod_ok`` (N is loaded and valid: the
    constants come next), or ``fail`` with ``cause`` (``bad_modulus``: N was rejected).
    ``stop`` abandons the transfer (the caller aborts the DMA channel).

    ``lanes``: limbs per store block; ``blocks``: blocks per value; ``values``: slots in the
    store; ``stage``/``n_slot``: the STAGE and N slots.
    """

    def __init__(self, *, lanes, blocks, values, stage, n_slot, max_limbs):
        self._P, self._blocks, self._values = lanes, blocks, values
        self._stage, self._n_slot = stage, n_slot
        self.blk_bits = (blocks - 1).bit_length()
        depth = values << self.blk_bits
        super().__init__({
            "load": In(1), "store": In(1), "setmod": In(1), "x": In(1),
            "length": In(range(1024 + 1)),
            "addr": In(32),
            "d": In(SLOT_BITS), "a": In(SLOT_BITS),
            "done": Out(1), "setmod_ok": Out(1), "fail": Out(1), "cause": Out(Cause),
            "bad_modulus": Out(1),
            "stop": In(1),
            "store_port": Out(ValueAccessSignature(depth=depth, width=lanes * LIMB_BITS)),
            "modulus": Out(ModulusPortSignature(max_limbs=max_limbs)),
            "dma": Out(DMARequestSignature()),
            "rd": In(stream.Signature(32)),
            "wr": Out(stream.Signature(32)),
            "xin": In(stream.Signature(32)),
            "xout": Out(stream.Signature(32)),
        })

    def elaborate(self, platform):
        m = Module()
        P, bb = self._P, self.blk_bits
        lg = P.bit_length() - 1
        sp, mp, rd, wr, xin, xout = (self.store_port, self.modulus, self.rd, self.wr,
                                     self.xin, self.xout)
        m.submodules.mover = mover = DMAMover()
        connect(m, mover.chan, flipped(self.dma))

        words = Signal(range(1024 + 1))        # word counter of the transfer
        asm = [Signal(LIMB_BITS, name=f"asm{k}") for k in range(P)]
        borrow = Signal()                      # LOAD: running borrow of x - N
        odd = Signal()
        big = Signal()                         # SETMOD: N ≥ 3
        is_setmod = Signal()
        from_x = Signal()                      # LOADX: the words come from XIN, not the DMA
        xwait = Signal(range(XIN_WAIT))        # LOADX: cycles waited so far
        to_x = Signal()                        # STOREX: the words go to XOUT
        xfer_len = Signal(range(1024 + 1))
        # The op's operands, taken at the start: the caller's op may change meanwhile, and the
        # DMA descriptor then comes from registers (its window check is the engine's, not
        # the end of a path from the op's decode).
        desc_addr = Signal(32)
        ld_dest = Signal(SLOT_BITS)
        hold = Signal(P * LIMB_BITS)
        clr = Signal(len(sp.waddr) + 1)
        mv = Signal(range(self._blocks + 2))   # LD_MOVE: block counter
        st_blk = Signal(range(self._blocks))
        st_stream = Signal()                   # STOREX: read the block of word `words + 1`
        lane = words[:lg] if lg else C(0, 1)
        ld_slot = Mux(is_setmod, self._n_slot, self._stage)
        st_slot = Signal(SLOT_BITS)
        used_blocks = (xfer_len + P - 1) >> lg
        m.d.comb += sp.raddr.eq(value_addr(st_slot, Mux(st_stream, (words + 1) >> lg, st_blk),
                                           bb))

        def fail(cause):
            m.d.comb += [self.fail.eq(1), self.cause.eq(cause)]

        def start(setmod, x):
            m.d.sync += [words.eq(0), borrow.eq(0), odd.eq(0), big.eq(0),
                         xfer_len.eq(self.length), is_setmod.eq(setmod),
                         from_x.eq(x), to_x.eq(x), xwait.eq(0), clr.eq(0), st_blk.eq(0),
                         st_slot.eq(self.a), desc_addr.eq(self.addr), ld_dest.eq(self.d)] + [
                            a.eq(0) for a in asm]

        def command(write, then):
            """Offer the descriptor; once taken, go to ``then`` (where a refusal, the engine's
            ``error`` in the next cycle, fails the transfer)."""
            m.d.comb += [mover.req.eq(1), mover.desc.addr.eq(desc_addr),
                         mover.desc.words.eq(xfer_len), mover.desc.write.eq(write)]
            with m.If(mover.accepted):
                m.next = then

        def stop():
            with m.If(self.stop):
                m.next = "IDLE"

        with m.FSM(name="xfer"):
            with m.State("IDLE"):
                with m.If(self.load):
                    start(self.setmod, self.x)
                    with m.If(self.setmod):
                        m.next = "CLEAR"
                    with m.Elif(self.x):
                        m.next = "LD_WORDS"
                    with m.Else():
                        m.next = "LD_CMD"
                with m.Elif(self.store):
                    start(0, self.x)
                    m.next = "ST_CMD"
                    with m.If(self.x):
                        m.next = "ST_READ"

            # SETMOD: zero the whole store and N, then load N like a value.
            with m.State("CLEAR"):
                m.d.comb += [sp.we.eq(1), sp.waddr.eq(clr), sp.wdata.eq(0), mp.clear.eq(1)]
                m.d.sync += clr.eq(clr + 1)
                with m.If(clr == (self._values << bb) - 1):
                    m.next = "LD_CMD"
                stop()

            with m.State("LD_CMD"):
                command(0, "LD_WORDS")
                stop()
            with m.State("LD_WORDS"):
                m.d.comb += mover.req.eq(~from_x)
                w = Mux(from_x, xin.payload, rd.payload)
                w_valid = Mux(from_x, xin.valid, rd.valid)
                m.d.comb += [rd.ready.eq(~from_x), xin.ready.eq(from_x), mp.idx.eq(words)]
                with m.If(w_valid):
                    m.d.sync += words.eq(words + 1)
                    merged = [Mux(lane == k, w, asm[k]) for k in range(P)]
                    full = (lane == P - 1) | (words == xfer_len - 1)
                    m.d.sync += [asm[k].eq(Mux(full, 0, merged[k])) for k in range(P)]
                    m.d.comb += [sp.we.eq(full), sp.waddr.eq(value_addr(ld_slot, words >> lg, bb)),
                                 sp.wdata.eq(Cat(*merged))]
                    # x < N ⟺ the subtraction x - N borrows out of the top limb.
                    diff = w - mp.limb - borrow
                    m.d.sync += borrow.eq(diff[LIMB_BITS])
                    with m.If(is_setmod):
                        m.d.comb += [mp.we.eq(1), mp.data.eq(w)]
                        with m.If(words == 0):
                            m.d.sync += [odd.eq(w[0]), big.eq(w >= 3)]
                        with m.Elif(w != 0):
                            m.d.sync += big.eq(1)
                with m.If(from_x):
                    m.d.sync += xwait.eq(xwait + 1)
                    with m.If(w_valid & (words == xfer_len - 1)):
                        m.next = "LD_CHECK"
                    with m.Elif(xwait == XIN_WAIT - 1):
                        fail(Cause.FIFO)
                with m.Elif(mover.error):
                    fail(Cause.DMA)
                with m.Elif(mover.done):
                    m.next = "LD_CHECK"
                stop()
            with m.State("LD_CHECK"):
                with m.If(is_setmod):
                    with m.If(~odd | ~big):
                        fail(Cause.MODULUS)
                        m.d.comb += self.bad_modulus.eq(1)
                    with m.Else():
                        m.d.comb += self.setmod_ok.eq(1)
                        m.next = "IDLE"
                with m.Elif(~borrow):
                    fail(Cause.RANGE)
                with m.Else():
                    m.d.sync += [st_slot.eq(self._stage), st_blk.eq(0), mv.eq(0)]
                    m.next = "LD_MOVE"
                stop()
            with m.State("LD_MOVE"):
                # The checked value: STAGE → d, one block per cycle (blocks at and above
                # ceil(L/lanes) are zero in every slot).
                m.d.comb += sp.sel.eq(1)
                m.d.sync += [st_blk.eq(st_blk + 1), mv.eq(mv + 1)]
                with m.If(mv != 0):
                    m.d.comb += [sp.we.eq(1), sp.waddr.eq(value_addr(ld_dest, mv - 1, bb)),
                                 sp.wdata.eq(sp.rdata)]
                with m.If(mv == used_blocks):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
                stop()

            with m.State("ST_CMD"):
                command(1, "ST_READ")
                stop()
            with m.State("ST_READ"):
                m.d.comb += [sp.sel.eq(1), mover.req.eq(~to_x)]
                with m.If(to_x):
                    m.next = "STX_SEND"
                with m.Else():
                    m.next = "ST_HOLD"
                # The engine may end the descriptor in any cycle (a window changed, a bus
                # error): its one-cycle error must not be missed here, else ST_SEND would wait
                # for a wr.ready that never comes.
                with m.If(mover.error):
                    fail(Cause.DMA)
                stop()
            with m.State("STX_SEND"):
                # STOREX: XOUT always has room (checked before): one word per cycle, the
                # block of the next word read meanwhile.
                m.d.comb += [sp.sel.eq(1), st_stream.eq(1), xout.valid.eq(1),
                             xout.payload.eq(Array(sp.rdata[LIMB_BITS * k:LIMB_BITS * (k + 1)]
                                                   for k in range(P))[lane])]
                m.d.sync += words.eq(words + 1)
                with m.If(words == xfer_len - 1):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
                stop()
            with m.State("ST_HOLD"):
                m.d.comb += [sp.sel.eq(1), mover.req.eq(1)]
                m.d.sync += hold.eq(sp.rdata)
                m.next = "ST_SEND"
                with m.If(mover.error):
                    fail(Cause.DMA)
                stop()
            with m.State("ST_SEND"):
                limb = Array(hold[LIMB_BITS * k:LIMB_BITS * (k + 1)] for k in range(P))[lane]
                m.d.comb += [mover.req.eq(~to_x), wr.valid.eq(~to_x), wr.payload.eq(limb),
                             xout.valid.eq(to_x), xout.payload.eq(limb)]
                with m.If(Mux(to_x, xout.ready, wr.ready)):
                    m.d.sync += words.eq(words + 1)
                    with m.If(words == xfer_len - 1):
                        m.next = "ST_WAIT"
                        with m.If(to_x):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                    with m.Elif(lane == P - 1):
                        m.d.sync += st_blk.eq(st_blk + 1)
                        m.next = "ST_READ"
                with m.If(mover.error):
                    fail(Cause.DMA)
                stop()
            with m.State("ST_WAIT"):
                m.d.comb += mover.req.eq(1)
                with m.If(mover.error):
                    fail(Cause.DMA)
                with m.Elif(mover.done):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
                stop()
        return m
