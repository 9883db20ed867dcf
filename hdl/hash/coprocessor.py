"""The hash coprocessor (slot 0, register map ``HASH``): SHA-256, SHA3-256, SHA3-512,
Keccak-256, SHAKE128 and SHAKE256, with padding, sponge and DMA in hardware.

Specifications: NIST FIPS 180-4 (SHA-256, padding 5.1.1), NIST FIPS 202 (SHA-3 and SHAKE,
padding pad10*1 in 5.1 and domain bits in 6.1/6.2); Keccak-256 is the original Keccak
submission's padding (domain byte 0x01) as used by Ethereum.

How an operation runs (see docs/hash.md for the firmware's view):

1. Firmware writes CTRL (mode, CONT, MORE), SRC, LEN, DST, OUTLEN, then START.
2. CHECK rejects misuse with a cause code before anything moves (and, for a non-final
   chunk, a 32-cycle serial remainder check of LEN against the block size).
3. ABSORB: a *reader* issues DMA read descriptors for ceil(LEN/4) words; a *filler* turns
   the word stream into blocks in the block buffer, masking the bytes past LEN and inserting
   the padding; a full buffer is handed to the engine as soon as the engine is free, and the
   filler immediately fills the next block (double buffering: the engine holds the current
   block, the buffer the next one).
4. SQUEEZE/WRITE (final chunk only): the digest (or SHAKE output, one rate-sized block at a
   time, the next permutation running while the previous block is written) is copied into
   the buffer and shifted out on a DMA write descriptor.

Timing depends only on the mode, the flags and the lengths (and on how busy the bus is),
never on the data: the filler waits only for DMA words, the engines have fixed latency.
"""

from amaranth import *
from amaranth.lib import wiring, enum
from amaranth.lib.wiring import In, Out, connect, flipped

from .bus import WishboneSignature
from .dma import DMAChannelSignature
from .regs import Field, Register, RegisterMap, RegisterBank
from .sha256 import SHA256Engine
from .keccak import KeccakF1600, ABSORB_WORDS
from .simgate import sim_gated_block


__all__ = ["Mode", "Cause", "HashCoprocessor", "MODE_PARAMS", "VERSION"]


VERSION = 1


class Mode(enum.Enum, shape=4):
    NONE      = 0
    SHA256    = 1
    SHA3_256  = 2
    SHA3_512  = 3
    KECCAK256 = 4
    SHAKE128  = 5
    SHAKE256  = 6


class Cause(enum.Enum, shape=4):
    NONE    = 0
    BUSY    = 1
    MODE    = 2
    SEQ     = 3
    ALIGN   = 4
    LEN     = 5
    OUTLEN  = 6
    DMA     = 7
    ABORTED = 8


CAUSE_DOC = {
    Cause.NONE:    "no error",
    Cause.BUSY:    "START while an operation was running; the START was ignored, the running "
                   "operation goes on and sets DONE when it ends",
    Cause.MODE:    "MODE is 0 (none) or not a known mode",
    Cause.SEQ:     "CONT set but the engine holds no unfinished message of this MODE",
    Cause.ALIGN:   "SRC (with LEN > 0) or DST (final chunk) is not word aligned",
    Cause.LEN:     "SRC + LEN wraps past 4 GiB, or a non-final chunk (MORE) whose LEN is not "
                   "a non-zero multiple of the block size",
    Cause.OUTLEN:  "SHAKE: OUTLEN is 0, not a multiple of 4, or DST + OUTLEN wraps past 4 GiB",
    Cause.DMA:     "the DMA engine refused a descriptor (buffer outside the DMA windows or "
                   "without permission) or a bus error ended it",
    Cause.ABORTED: "ABORT was written while the operation ran",
}

MODE_DOC = {
    Mode.NONE:      "none (START fails with cause MODE)",
    Mode.SHA256:    "SHA-256 (FIPS 180-4), 32-byte digest, 64-byte blocks",
    Mode.SHA3_256:  "SHA3-256 (FIPS 202), 32-byte digest, 136-byte blocks",
    Mode.SHA3_512:  "SHA3-512 (FIPS 202), 64-byte digest, 72-byte blocks",
    Mode.KECCAK256: "Keccak-256 (original padding 0x01, Ethereum), 32-byte digest, 136-byte blocks",
    Mode.SHAKE128:  "SHAKE128 (FIPS 202), OUTLEN bytes, 168-byte blocks",
    Mode.SHAKE256:  "SHAKE256 (FIPS 202), OUTLEN bytes, 136-byte blocks",
}


class ModeParams:
    """What the datapath needs to know about a mode. ``out_words`` None: OUTLEN decides."""

    def __init__(self, *, sha, block_bytes, pad, out_words):
        self.sha, self.block_bytes, self.pad, self.out_words = sha, block_bytes, pad, out_words

    @property
    def block_words(self):
        return self.block_bytes // 4

    @property
    def last_threshold(self):
        # The block is the last one if fewer than this many message bytes remain at its start:
        # SHA-256 needs 9 bytes for 0x80 and the 64-bit length, the sponges one byte.
        return 56 if self.sha else self.block_bytes


MODE_PARAMS = {
    Mode.SHA256:    ModeParams(sha=True,  block_bytes=64,  pad=0x80, out_words=8),
    Mode.SHA3_256:  ModeParams(sha=False, block_bytes=136, pad=0x06, out_words=8),
    Mode.SHA3_512:  ModeParams(sha=False, block_bytes=72,  pad=0x06, out_words=16),
    Mode.KECCAK256: ModeParams(sha=False, block_bytes=136, pad=0x01, out_words=8),
    Mode.SHAKE128:  ModeParams(sha=False, block_bytes=168, pad=0x1F, out_words=None),
    Mode.SHAKE256:  ModeParams(sha=False, block_bytes=136, pad=0x1F, out_words=None),
}

# Largest word count per DMA descriptor (the descriptor's field is 16 bits).
MAX_DESCRIPTOR_WORDS = 0x8000


def _hash_regs():
    return RegisterMap("HASH", [
        Register("ID", 0x00, "r", [
            Field("VERSION", 16, desc="Register interface version"),
            Field("KIND", 16, desc='ASCII "HS" (0x4853)'),
        ], desc="Identifies the hash coprocessor."),
        Register("CTRL", 0x04, "rw", [
            Field("MODE", 4, desc="Algorithm", enum={m.value: d for m, d in MODE_DOC.items()}),
            Field("CONT", 1, desc="Continue the unfinished message held in the engine (same "
                                  "MODE) instead of starting a new one"),
            Field("MORE", 1, desc="More chunks follow: LEN must be a non-zero multiple of the "
                                  "block size; no padding, no output, the state is kept"),
        ], desc="Operation setup, read when START is written."),
        Register("SRC", 0x08, "rw", desc="Message address (word aligned). The engine reads whole "
                 "words: the buffer must be readable up to the next word boundary after LEN bytes."),
        Register("LEN", 0x0C, "rw", desc="Message (chunk) length in bytes."),
        Register("DST", 0x10, "rw", desc="Digest address (word aligned), written by DMA."),
        Register("OUTLEN", 0x14, "rw", desc="SHAKE output length in bytes (a non-zero multiple "
                 "of 4). Ignored by the fixed-length modes."),
        Register("START", 0x18, "w", desc="Any write starts the operation described by CTRL, "
                 "SRC, LEN, DST, OUTLEN (latched at this write)."),
        Register("STATUS", 0x1C, "ext", [
            Field("BUSY", 1, desc="An operation runs (or its DMA drains after ABORT)"),
            Field("DONE", 1, desc="The last operation ended (check ERROR). Write 1 to clear"),
            Field("ERROR", 1, desc="The last operation failed, or a START was refused. "
                                   "Write 1 to clear (clears CAUSE too)"),
            Field("CAUSE", 4, offset=8, desc="Why ERROR is set",
                  enum={c.value: d for c, d in CAUSE_DOC.items()}),
        ], desc="State of the engine. DONE and ERROR are also cleared by an accepted START."),
        Register("ABORT", 0x20, "w", desc="Any write stops the running operation: its DMA is "
                 "drained, then DONE and ERROR are set with cause ABORTED. The unfinished message "
                 "(streaming state) is discarded. No effect when idle."),
        Register("IRQ_EN", 0x24, "rw", [
            Field("DONE", 1, desc="Raise the interrupt line while STATUS.DONE is set"),
        ], desc="Interrupt enable."),
        Register("CYCLES", 0x28, "r", desc="Clock cycles the last operation took, from START "
                 "to DONE (a refused START does not change it)."),
    ], desc="Hash coprocessor: SHA-256, SHA3-256/512, Keccak-256, SHAKE128/256 with padding and "
            "DMA in hardware. See docs/hash.md.")


def _bswap(x):
    return Cat(x[24:32], x[16:24], x[8:16], x[0:8])


HASH_SETTLE = 16               # simulation model: idle cycles until the block is still (simgate)


class HashCoprocessor(wiring.Component):
    """The hash coprocessor (see the module docstring and docs/hash.md).

    Ports (the coprocessor contract, docs/coprocessor-contract.md):

    ``bus``  In(WishboneSignature(addr_width=10))  the 4 KiB control slot (target side)
    ``dma``  Out(DMAChannelSignature())            to this coprocessor's DMA engine
    ``irq``  Out(1)                                STATUS.DONE & IRQ_EN.DONE
    ``busy`` Out(1)                                an operation runs or its DMA is active

    ``max_descriptor_words`` (keyword, default 32768): the longest DMA descriptor issued;
    longer messages and outputs are split into several.
    """

    NAME = "HASH"
    SLOT = 0
    REGS = _hash_regs()

    bus: In(WishboneSignature(addr_width=10))
    dma: Out(DMAChannelSignature())
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

    sim_gating = False        # sim/simtop.py: stop the block's clock while idle (hdl/simgate.py)

    def elaborate(self, platform):
        if not self.sim_gating:
            return self._elaborate(platform)
        # Simulation model only (hdl/simgate.py): the whole block, register bank included, on a
        # clock that stops while the block is idle. Its registers change only while an
        # operation runs (busy: the control FSM out of IDLE or the DMA engine busy), on a bus
        # request to its slot, and in the few cycles after either (the register bank drops
        # its response, SHA-256 adds its last round into H): HASH_SETTLE cycles cover them.
        m = Module()
        sim_gated_block(m, "hash", self.bus.cyc | self.busy, HASH_SETTLE, self._elaborate)
        return m

    def _elaborate(self, platform):
        m = Module()

        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        m.submodules.sha256 = sha = SHA256Engine()
        m.submodules.keccak = kec = KeccakF1600()

        dma = self.dma
        m.d.comb += regs.id.r_data.eq((ord("H") << 24) | (ord("S") << 16) | VERSION)

        # ---- status --------------------------------------------------------------------
        done = Signal()
        error = Signal()
        cause = Signal(Cause)
        cycles = Signal(32)
        m.d.comb += [
            regs.status.r_data.done.eq(done),
            regs.status.r_data.error.eq(error),
            regs.status.r_data.cause.eq(cause),
            regs.cycles.r_data.eq(cycles),
            self.irq.eq(done & regs.irq_en.data.done),
        ]
        with m.If(regs.status.w_stb):
            with m.If(regs.status.w_data.done):
                m.d.sync += done.eq(0)
            with m.If(regs.status.w_data.error):
                m.d.sync += [error.eq(0), cause.eq(Cause.NONE)]

        # ---- the operation, latched at START ---------------------------------------------
        mode = Signal(Mode)
        cont = Signal()
        more = Signal()
        src = Signal(32)
        length = Signal(32)
        dst = Signal(32)
        outlen = Signal(32)

        # Mode parameters, latched at START so no decoder sits in the datapath.
        p_valid = Signal()
        p_sha = Signal()
        p_shake = Signal()
        p_bw = Signal(6)          # block words
        p_bytes = Signal(8)       # block bytes
        p_thresh = Signal(8)      # last-block threshold in bytes
        p_pad = Signal(8)         # first padding byte
        p_outw = Signal(5)        # digest words of the fixed-length modes
        p_last_fi = Signal(6)     # index of a block's last word
        p_wmask = Signal(ABSORB_WORDS)   # buffer words inside the rate

        # Streaming state: an unfinished message (MORE chunks) of held_mode in the engine.
        held_valid = Signal()
        held_mode = Signal(Mode)
        total = Signal(61)        # message bytes so far (SHA-256 length field)

        # ---- DMA descriptor issuer (the "mover") -------------------------------------------
        mv_addr = Signal(32)
        mv_words = Signal(31)
        mv_n = Signal(16)
        mv_write = Signal()
        mv_go = Signal()          # comb: start moving (addr/words/write set by the caller)
        mv_stop = Signal()        # comb: forget the transfer (after an error or abort)
        mv_idle = Signal()
        n_next = Mux(mv_words > self._max_words, self._max_words, mv_words)
        m.d.comb += [
            dma.cmd.payload.addr.eq(mv_addr),
            dma.cmd.payload.words.eq(n_next),
            dma.cmd.payload.write.eq(mv_write),
        ]
        with m.FSM(name="mover"):
            with m.State("IDLE"):
                m.d.comb += mv_idle.eq(1)
                with m.If(mv_go & ~mv_stop):
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += dma.cmd.valid.eq(~mv_stop)
                with m.If(mv_stop):
                    m.next = "IDLE"
                with m.Elif(dma.cmd.ready):
                    m.d.sync += mv_n.eq(n_next)
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(mv_stop):
                    m.next = "IDLE"
                with m.Elif(dma.done):
                    m.d.sync += [mv_addr.eq(mv_addr + (mv_n << 2)), mv_words.eq(mv_words - mv_n)]
                    with m.If(mv_words == mv_n):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "ISSUE"

        # ---- block buffer, filler ----------------------------------------------------------
        # One signal per word rather than one 1344-bit signal: the simulator (Verilator) then
        # handles 42 machine words instead of copying a wide value twice every cycle.
        buf = [Signal(32, name=f"buf{i}") for i in range(ABSORB_WORDS)]
        buf_full = Signal()
        fill_active = Signal()    # blocks of this chunk remain to be filled
        fi = Signal(range(ABSORB_WORDS))
        left = Signal(32)         # message bytes of this chunk not yet in a block
        pad_done = Signal()
        blk_last = Signal()
        # Comparisons on ``left``, kept in registers (updated with ``left``) so the filler's
        # word path and its shift enable stay shallow.
        left_nz = Signal()        # left != 0
        left_ge4 = Signal()       # left >= 4
        left_lt = Signal()        # left < the last-block threshold

        # The buffer is written through a word pointer: the filler's word goes to word ``fi``
        # (a decoded flip-flop enable per word, the word itself on every word's data input),
        # the squeeze loads every word at once, and the output is read through a multiplexer
        # at ``oi``. So a buffer bit is one 2:1 choice (word or state; the digest words 3:1)
        # behind a clock enable: no shift path, and no select that fans out to all 1,344 bits
        # but the squeeze load.
        def write_word(value):
            for i in range(ABSORB_WORDS):
                with m.If(fi == i):
                    m.d.sync += buf[i].eq(value)

        def set_left_flags(value):
            m.d.sync += [
                left_nz.eq(value != 0),
                left_ge4.eq(value[2:] != 0),
                left_lt.eq((value[8:] == 0) & (value[:8] < p_thresh)),
            ]

        eng_busy = Mux(p_sha, sha.busy, kec.busy)
        handoff = Signal()
        fill_go = Signal()
        absorbing = Signal()
        m.d.comb += [
            handoff.eq(absorbing & buf_full & ~eng_busy),
            fill_go.eq(absorbing & fill_active & (~buf_full | handoff)),
        ]

        need = left_nz
        ge4 = left_ge4
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
        m.d.comb += raw.eq((dma.rd.payload & mask)
                           | Mux(pad_here, p_pad << Cat(C(0, 3), left[:2]), 0)
                           | Mux(~p_sha & is_last & (fi == p_last_fi), 0x8000_0000, 0))
        bitlen = Cat(C(0, 3), total)
        word = Signal(32)
        with m.If(p_sha & is_last & (fi == 14)):
            m.d.comb += word.eq(bitlen[32:64])
        with m.Elif(p_sha & is_last & (fi == 15)):
            m.d.comb += word.eq(bitlen[0:32])
        with m.Elif(p_sha):
            m.d.comb += word.eq(_bswap(raw))
        with m.Else():
            m.d.comb += word.eq(raw)
        left_next = Mux(ge4, left - 4, 0)[:32]

        take = Signal()
        m.d.comb += [
            dma.rd.ready.eq(fill_go & need),
            take.eq(fill_go & (~need | dma.rd.valid)),
        ]
        with m.If(handoff):
            m.d.sync += buf_full.eq(0)
        with m.If(take):
            write_word(word)
            m.d.sync += [left.eq(left_next), pad_done.eq(pad_done | pad_here)]
            set_left_flags(left_next)
            with m.If(fi == 0):
                m.d.sync += blk_last.eq(is_last_now)
            with m.If(fi == p_last_fi):
                m.d.sync += [
                    fi.eq(0),
                    buf_full.eq(1),
                    fill_active.eq(Mux(more, left_next != 0, ~is_last)),
                ]
            with m.Else():
                m.d.sync += fi.eq(fi + 1)

        # Engines: the block buffer feeds both; only the mode's engine is started.
        m.d.comb += [sha.block[i].eq(buf[i]) for i in range(16)]
        for i in range(ABSORB_WORDS):
            m.d.comb += kec.absorb[i].eq(Mux(absorbing & p_wmask[i], buf[i], 0))
        sha_start = Signal()
        kec_start = Signal()
        eng_init = Signal()
        m.d.comb += [
            sha.start.eq(sha_start),
            kec.start.eq(kec_start),
            sha.init.eq(eng_init),
            kec.clear.eq(eng_init),
        ]
        with m.If(handoff & p_sha):
            m.d.comb += sha_start.eq(1)
        with m.If(handoff & ~p_sha):
            m.d.comb += kec_start.eq(1)

        # ---- output ------------------------------------------------------------------------
        out_left = Signal(30)     # words still to write
        out_more = Signal()       # out_left > block words: another squeeze block follows
        blk_out = Signal(6)       # words of the buffer still to write
        oi = Signal(range(ABSORB_WORDS))   # the buffer word being written out

        # ---- control -----------------------------------------------------------------------
        start = regs.start.w_stb
        abort = regs.abort.w_stb
        rem = Signal(9)           # serial LEN mod block size
        rem_bits = Signal(32)
        rem_cnt = Signal(6)
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
                        mode.eq(regs.ctrl.data.mode), cont.eq(regs.ctrl.data.cont),
                        more.eq(regs.ctrl.data.more),
                        src.eq(regs.src.data), length.eq(regs.len.data),
                        dst.eq(regs.dst.data), outlen.eq(regs.outlen.data),
                        done.eq(0), error.eq(0), cause.eq(Cause.NONE), cycles.eq(0),
                    ]
                    with m.Switch(regs.ctrl.data.mode):
                        for md, pp in MODE_PARAMS.items():
                            with m.Case(md.value):
                                m.d.sync += [
                                    p_valid.eq(1), p_sha.eq(pp.sha),
                                    p_shake.eq(pp.out_words is None),
                                    p_bw.eq(pp.block_words), p_bytes.eq(pp.block_bytes),
                                    p_thresh.eq(pp.last_threshold), p_pad.eq(pp.pad),
                                    p_outw.eq(pp.out_words or 0),
                                    p_last_fi.eq(pp.block_words - 1),
                                    p_wmask.eq((1 << pp.block_words) - 1),
                                ]
                        with m.Default():
                            m.d.sync += p_valid.eq(0)
                    m.next = "CHECK"

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
                    m.d.sync += [rem.eq(0), rem_bits.eq(length), rem_cnt.eq(0)]
                    m.next = "MODCHK"
                with m.Else():
                    m.next = "SETUP"
                stop_on_request()

            with m.State("MODCHK"):
                # LEN mod block size, one bit per cycle, MSB first (block sizes are not powers
                # of two for the sponges). Fixed 32 cycles.
                shifted = Cat(rem_bits[31], rem[:8])
                m.d.sync += [
                    rem.eq(Mux(shifted >= p_bytes, shifted - p_bytes, shifted)),
                    rem_bits.eq(rem_bits << 1),
                    rem_cnt.eq(rem_cnt + 1),
                ]
                with m.If(rem_cnt == 32):
                    with m.If(rem == 0):
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
                m.d.sync += [
                    held_valid.eq(0),
                    left.eq(length), pad_done.eq(0), fi.eq(0), buf_full.eq(0), fill_active.eq(1),
                    mv_addr.eq(src), mv_words.eq((length + 3) >> 2), mv_write.eq(0),
                ]
                set_left_flags(length)
                m.d.comb += mv_go.eq(length != 0)
                m.next = "ABSORB"
                stop_on_request()

            with m.State("ABSORB"):
                m.d.comb += absorbing.eq(1)
                with m.If(~fill_active & ~buf_full & ~eng_busy & mv_idle):
                    with m.If(more):
                        m.d.sync += [held_valid.eq(1), held_mode.eq(mode), done.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        out_total = Mux(p_shake, outlen[2:], p_outw)
                        m.d.sync += [
                            out_left.eq(out_total),
                            out_more.eq(out_total > p_bw),
                            mv_addr.eq(dst), mv_words.eq(Mux(p_shake, outlen[2:], p_outw)),
                            mv_write.eq(1),
                        ]
                        m.d.comb += mv_go.eq(1)
                        m.next = "SQUEEZE"
                stop_on_request()

            with m.State("SQUEEZE"):
                # Copy the next output block into the buffer; for SHAKE, if more output is
                # needed, start the next permutation now so it runs while this block is written.
                with m.If(~eng_busy):
                    with m.If(p_sha):
                        for i in range(8):
                            m.d.sync += buf[i].eq(_bswap(sha.digest[i]))
                    with m.Else():
                        for i in range(ABSORB_WORDS // 2):
                            m.d.sync += [buf[2 * i].eq(kec.state[i][:32]),
                                         buf[2 * i + 1].eq(kec.state[i][32:])]
                    m.d.sync += oi.eq(0)
                    with m.If(out_more):
                        m.d.sync += blk_out.eq(p_bw)
                        m.d.comb += kec_start.eq(1)
                    with m.Else():
                        m.d.sync += blk_out.eq(out_left)
                    m.next = "WRITE"
                stop_on_request()

            with m.State("WRITE"):
                m.d.comb += [dma.wr.valid.eq(1), dma.wr.payload.eq(Array(buf)[oi])]
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
                with m.If(mv_idle):
                    m.d.sync += done.eq(1)
                    m.next = "IDLE"
                stop_on_request()

            with m.State("FAIL"):
                m.d.sync += [done.eq(1), error.eq(1), cause.eq(fail_cause)]
                m.next = "IDLE"
                stop_on_request()

            with m.State("STOP"):
                # Stop the DMA, let the engines finish their fixed-length work, then report.
                m.d.comb += [dma.abort.eq(1), mv_stop.eq(1)]
                with m.If(~dma.busy & ~sha.busy & ~kec.busy):
                    m.d.sync += [done.eq(1), error.eq(1), cause.eq(fail_cause),
                                 held_valid.eq(0), fill_active.eq(0), buf_full.eq(0)]
                    m.next = "IDLE"

        m.d.comb += [in_idle.eq(ctrl.ongoing("IDLE")), in_stop.eq(ctrl.ongoing("STOP"))]

        with m.If(~in_idle):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(start):
                m.d.sync += [error.eq(1), cause.eq(Cause.BUSY)]
        # A DMA error or ABORT ends the operation (the states that move no data end by
        # themselves within 34 cycles; an ABORT there still ends them as ABORTED).
        with m.If(stop_req):
            m.d.sync += fail_cause.eq(Mux(abort, Cause.ABORTED, Cause.DMA))

        m.d.comb += [
            regs.status.r_data.busy.eq(~in_idle | dma.busy),
            self.busy.eq(~in_idle | dma.busy),
        ]
        return m
