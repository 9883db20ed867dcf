"""The hash coprocessor's control (slot 0, register map ``HASH``): register bank, parameter
checks and the operation's sequence (see the package documentation and docs/hash.md).

Timing depends only on the mode, the flags and the lengths (and on how busy the bus is),
never on the data: the filler waits only for DMA words, the engines have fixed latency.

Wipe (the coprocessor contract, docs/coprocessor-contract.md): the datapath (control state
machine, latched parameters and addresses, streaming state, block buffer, SHA-256 and Keccak
state, serial remainder, descriptor splitter, mode table) holds no memory, only flip-flops,
all behind one synchronous reset that the slot's ``wipe`` drives, and the register bank's
parameter storage is cleared with it: :data:`WIPE_CYCLES` cycle after ``wipe`` rises every
flip-flop of the block is at its reset value and ``wipe_done`` holds; the slot's DMA engine
takes longer (:attr:`gluon.hdl.dma.DMAEngine.wipe_cycles`) and the control component waits
for both.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from ..bus import WishboneSignature
from ..dma import DMAChannelSignature, WindowSignature, DMAControlSignature
from ..coproctl import CoprocessorControl
from ..regs import RegisterBank
from ..simgate import sim_gated_block
from .registers import VERSION, HASH_SETTLE, MAX_DESCRIPTOR_WORDS, Mode, Op, Cause, hash_regs
from .sha256 import SHA256Engine
from .keccak import KeccakF1600, ABSORB_WORDS
from .splitter import DescriptorSplitter
from .buffer import BlockBuffer
from .mode_table import ModeTable
from .remainder import SerialRemainder


__all__ = ["HashCoprocessor", "WIPE_CYCLES"]


#: Cycles from ``wipe`` rising to every flip-flop of the block at reset and ``wipe_done``.
WIPE_CYCLES = 1


class HashCoprocessor(wiring.Component):
    """The hash coprocessor (see the module docstring and docs/hash.md).

    Ports (the coprocessor contract, docs/coprocessor-contract.md):

    ``bus``      In(WishboneSignature(addr_width=10))  the 4 KiB slot page (target side)
    ``ctl_bus``  In(WishboneSignature(addr_width=6))   its section of the M-only control page
    ``dma``      Out(DMAChannelSignature())            to this coprocessor's DMA engine
    ``dma_windows`` Out(WindowSignature()), ``dma_ctl`` Out(DMAControlSignature()): the
                 engine's windows, revocation and wipe (from the control component)
    ``irq``      Out(1)   the control component's (STATUS.DONE, enabled, M-owned)
    ``busy``     Out(1)   an operation runs, its DMA is active, or a wipe runs

    ``max_descriptor_words`` (keyword, default 32768): the longest DMA descriptor issued;
    longer messages and outputs are split into several.
    """

    NAME = "HASH"
    SLOT = 0
    REGS = hash_regs()

    bus: In(WishboneSignature(addr_width=10))
    ctl_bus: In(WishboneSignature(addr_width=6))
    dma: Out(DMAChannelSignature())
    dma_windows: Out(WindowSignature())
    dma_ctl: Out(DMAControlSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, max_descriptor_words=MAX_DESCRIPTOR_WORDS):
        # Only tests change this (to exercise descriptor splitting on short messages).
        if not isinstance(max_descriptor_words, int) or isinstance(max_descriptor_words, bool):
            raise TypeError(f"max_descriptor_words must be an integer, not {max_descriptor_words!r}")
        if not 1 <= max_descriptor_words <= 0xFFFF:
            raise ValueError(f"max_descriptor_words must be in 1..65535, not {max_descriptor_words}")
        self._max_words = max_descriptor_words
        super().__init__()
        self.ctl = CoprocessorControl(kind="HS", version=VERSION, op=Op, cause=Cause)

    @property
    def retained(self):
        """Flip-flops a wipe keeps by design: the control component's (M's configuration of
        the slot)."""
        return self.ctl.retained

    sim_gating = False        # sim/simtop.py: stop the block's clock while idle (hdl/simgate.py)

    def elaborate(self, platform):
        if not self.sim_gating:
            return self._elaborate(platform)
        # Simulation model only (hdl/simgate.py): the whole block, register banks
        # included, on a clock that stops while the block is idle. Its registers
        # change only while an operation or a wipe runs (busy: the control FSM out of IDLE,
        # the DMA engine busy, the slot wiping), on a bus request to its slot page or its
        # control section, and in the few cycles after either (a register bank drops its
        # response, SHA-256 adds its last round into H, the control component ends the wipe
        # once block and engine report it): HASH_SETTLE cycles cover them.
        # The control component stays on ``sync``'s clock: it must see the SoC's resets
        # (``hold``), after which it starts the wipe, exactly as in the synthesised design
        # (the gated domain has no reset).
        m = Module()
        m.submodules.ctl = self.ctl
        sim_gated_block(m, "hash", self.bus.cyc | self.ctl_bus.cyc | self.busy | self.dma_ctl.wipe,
                        HASH_SETTLE, self._elaborate)
        return m

    def _elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        ctl = self.ctl
        if not self.sim_gating:
            m.submodules.ctl = ctl          # (else elaborate() adds it, on sync's clock)
        ctl.connect_block(m, self, regs)
        c = ctl.block

        # The wipe: the datapath is held in reset and the parameter registers cleared while
        # ``wipe`` is held; one edge of that is enough (WIPE_CYCLES).
        wiped = Signal()
        m.d.sync += wiped.eq(c.wipe)
        m.d.comb += [regs.clear.eq(c.wipe), c.wipe_done.eq(wiped & c.wipe),
                     self.irq.eq(ctl.irq)]
        datapath = Module()
        self._datapath(datapath, regs, c)
        m.submodules.datapath = ResetInserter(c.wipe)(datapath)
        m.d.comb += self.busy.eq(c.busy | c.wipe)
        return m

    def _datapath(self, m, regs, c):
        m.submodules.sha256 = sha = SHA256Engine()
        m.submodules.keccak = kec = KeccakF1600()

        dma = self.dma

        # ---- the operation, latched at START ---------------------------------------------
        mode = Signal(Mode)
        cont = Signal()
        more = Signal()
        src = Signal(32)
        length = Signal(32)
        dst = Signal(32)
        outlen = Signal(32)

        # Mode parameters, latched at START.
        m.submodules.modes = modes = ModeTable()
        pm = modes.info
        p_valid, p_sha, p_shake, p_bw, p_bytes = pm.valid, pm.sha, pm.shake, pm.bw, pm.bytes
        p_thresh, p_pad, p_outw, p_last_fi, p_wmask = (pm.thresh, pm.pad, pm.outw, pm.last_fi,
                                                       pm.wmask)

        # Streaming state: an unfinished message (MORE chunks) of held_mode in the engine.
        held_valid = Signal()
        held_mode = Signal(Mode)
        total = Signal(61)        # message bytes so far (SHA-256 length field)

        # ---- output ------------------------------------------------------------------------
        out_left = Signal(30)     # words still to write
        out_more = Signal()       # out_left > block words: another squeeze block follows
        blk_out = Signal(6)       # words of the buffer still to write
        oi = Signal(range(ABSORB_WORDS))   # the buffer word being written out

        # ---- DMA descriptors, block buffer, engines ---------------------------------------
        m.submodules.splitter = spl = DescriptorSplitter(max_words=self._max_words)
        m.submodules.buffer = bb = BlockBuffer()
        connect(m, spl.dma.cmd, flipped(dma.cmd))
        m.d.comb += [spl.dma.done.eq(dma.done), spl.dma.error.eq(dma.error)]
        connect(m, flipped(dma.rd), bb.rd)

        eng_busy = Mux(p_sha, sha.busy, kec.busy)
        absorbing = Signal()
        m.d.comb += [
            bb.params.sha.eq(p_sha), bb.params.more.eq(more), bb.params.pad.eq(p_pad),
            bb.params.thresh.eq(p_thresh), bb.params.last_fi.eq(p_last_fi),
            bb.total.eq(total), bb.absorbing.eq(absorbing), bb.eng_busy.eq(eng_busy),
            bb.load_sha.eq(p_sha), bb.oi.eq(oi),
        ]
        m.d.comb += [bb.digest[i].eq(sha.digest[i]) for i in range(8)]
        m.d.comb += [bb.state[i].eq(kec.state[i]) for i in range(ABSORB_WORDS // 2)]

        # Engines: the block buffer feeds both; only the mode's engine is started.
        m.d.comb += [sha.block[i].eq(bb.words[i]) for i in range(16)]
        for i in range(ABSORB_WORDS):
            m.d.comb += kec.absorb[i].eq(Mux(absorbing & p_wmask[i], bb.words[i], 0))
        sha_start = Signal()
        kec_start = Signal()
        eng_init = Signal()
        m.d.comb += [
            sha.start.eq(sha_start),
            kec.start.eq(kec_start),
            sha.init.eq(eng_init),
            kec.clear.eq(eng_init),
        ]
        with m.If(bb.handoff & p_sha):
            m.d.comb += sha_start.eq(1)
        with m.If(bb.handoff & ~p_sha):
            m.d.comb += kec_start.eq(1)

        # ---- control -----------------------------------------------------------------------
        # The control component starts an operation only while the block is idle and not
        # wiping, and forwards ABORT only while one runs; it keeps DONE/ERROR/CAUSE/CYCLES.
        start = c.start
        abort = c.abort
        m.submodules.remainder = rmd = SerialRemainder()       # LEN mod block size
        m.d.comb += [rmd.dividend.eq(length), rmd.divisor.eq(p_bytes)]
        fail_cause = Signal(Cause)
        in_idle = Signal()
        in_stop = Signal()
        stop_req = Signal()
        m.d.comb += stop_req.eq(~in_idle & ~in_stop & (abort | dma.error))

        def stop_on_request():
            with m.If(stop_req):
                m.next = "STOP"

        with m.FSM(name="ctrl") as ctrl:
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [
                        mode.eq(regs.ctrl.data.mode), cont.eq(c.op == Op.CONT),
                        more.eq(regs.ctrl.data.more),
                        src.eq(regs.src.data), length.eq(regs.len.data),
                        dst.eq(regs.dst.data), outlen.eq(regs.outlen.data),
                    ]
                    with m.If((c.op == Op.HASH) | (c.op == Op.CONT)):
                        m.next = "CHECK"
                    with m.Else():
                        m.d.sync += fail_cause.eq(Cause.OP)
                        m.next = "FAIL"

            with m.State("CHECK"):
                src_end = src + length
                out_end = dst + outlen
                with m.If(~p_valid):
                    m.d.sync += fail_cause.eq(Cause.MODE)
                    m.next = "FAIL"
                with m.Elif(cont & (~held_valid | (held_mode != mode))):
                    m.d.sync += fail_cause.eq(Cause.SEQ)
                    m.next = "FAIL"
                with m.Elif(((length != 0) & (src[:2] != 0)) | (~more & (dst[:2] != 0))):
                    m.d.sync += fail_cause.eq(Cause.ALIGN)
                    m.next = "FAIL"
                with m.Elif(src_end[32] | (more & (length == 0))):
                    m.d.sync += fail_cause.eq(Cause.LEN)
                    m.next = "FAIL"
                with m.Elif(~more & p_shake & ((outlen == 0) | (outlen[:2] != 0) | out_end[32])):
                    m.d.sync += fail_cause.eq(Cause.OUTLEN)
                    m.next = "FAIL"
                with m.Elif(more):
                    m.d.comb += rmd.load.eq(1)
                    m.next = "MODCHK"
                with m.Else():
                    m.next = "SETUP"
                stop_on_request()

            with m.State("MODCHK"):
                # LEN mod block size: fixed 32 cycles.
                m.d.comb += rmd.step.eq(1)
                with m.If(rmd.done):
                    with m.If(rmd.zero):
                        m.next = "SETUP"
                    with m.Else():
                        m.d.sync += fail_cause.eq(Cause.LEN)
                        m.next = "FAIL"
                stop_on_request()

            with m.State("SETUP"):
                with m.If(~cont):
                    m.d.comb += eng_init.eq(1)
                    m.d.sync += total.eq(length)
                with m.Else():
                    m.d.sync += total.eq(total + length)
                m.d.sync += held_valid.eq(0)
                m.d.comb += [bb.setup.eq(1), bb.length.eq(length),
                             spl.start.eq(length != 0), spl.addr.eq(src),
                             spl.words.eq((length + 3) >> 2), spl.write.eq(0)]
                m.next = "ABSORB"
                stop_on_request()

            with m.State("ABSORB"):
                m.d.comb += absorbing.eq(1)
                with m.If(~bb.active & ~bb.full & ~eng_busy & spl.idle):
                    with m.If(more):
                        m.d.sync += [held_valid.eq(1), held_mode.eq(mode)]
                        m.d.comb += c.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        out_total = Mux(p_shake, outlen[2:], p_outw)
                        m.d.sync += [out_left.eq(out_total), out_more.eq(out_total > p_bw)]
                        m.d.comb += [spl.start.eq(1), spl.addr.eq(dst), spl.words.eq(out_total),
                                     spl.write.eq(1)]
                        m.next = "SQUEEZE"
                stop_on_request()

            with m.State("SQUEEZE"):
                # Copy the next output block into the buffer; for SHAKE, if more output is
                # needed, start the next permutation now so it runs while this block is written.
                with m.If(~eng_busy):
                    m.d.comb += bb.load.eq(1)
                    m.d.sync += oi.eq(0)
                    with m.If(out_more):
                        m.d.sync += blk_out.eq(p_bw)
                        m.d.comb += kec_start.eq(1)
                    with m.Else():
                        m.d.sync += blk_out.eq(out_left)
                    m.next = "WRITE"
                stop_on_request()

            with m.State("WRITE"):
                m.d.comb += [dma.wr.valid.eq(1), dma.wr.payload.eq(bb.out)]
                with m.If(dma.wr.ready):
                    m.d.sync += [oi.eq(oi + 1), out_left.eq(out_left - 1), blk_out.eq(blk_out - 1),
                                 out_more.eq((out_left - 1) > p_bw)]
                    with m.If(blk_out == 1):
                        with m.If(out_left == 1):
                            m.next = "FLUSH"
                        with m.Else():
                            m.next = "SQUEEZE"
                stop_on_request()

            with m.State("FLUSH"):
                # The last words are on their way; done once memory acknowledged them all.
                with m.If(spl.idle):
                    m.d.comb += c.done.eq(1)
                    m.next = "IDLE"
                stop_on_request()

            with m.State("FAIL"):
                m.d.comb += [c.error.eq(1), c.cause.eq(fail_cause)]
                m.next = "IDLE"

            with m.State("STOP"):
                # Stop the DMA, let the engines finish their fixed-length work, then report.
                m.d.comb += [dma.abort.eq(1), spl.stop.eq(1)]
                with m.If(~dma.busy & ~sha.busy & ~kec.busy):
                    m.d.comb += [bb.flush.eq(1), c.error.eq(1), c.cause.eq(fail_cause)]
                    m.d.sync += held_valid.eq(0)
                    m.next = "IDLE"

        m.d.comb += [in_idle.eq(ctrl.ongoing("IDLE")), in_stop.eq(ctrl.ongoing("STOP")),
                     modes.mode.eq(regs.ctrl.data.mode), modes.load.eq(start & in_idle)]

        # A DMA error or ABORT ends the operation (the states that move no data end by
        # themselves within 34 cycles; an ABORT there is reported as ABORTED by the control
        # component).
        with m.If(stop_req):
            m.d.sync += fail_cause.eq(Mux(abort, Cause.ABORTED, Cause.DMA))

        m.d.comb += c.busy.eq(~in_idle | dma.busy)

