"""The modular-arithmetic coprocessor (slot 1, register map ``MODMUL``), modelled on EVM-MAX.

Model: EIP-6690 "EVM Modular Arithmetic Extensions" (a modulus set once, a file of values in
Montgomery-friendly storage, ADDMODX/SUBMODX/MULMODX on value indices). Datapath:
:mod:`gluon.hdl.montgomery` (Montgomery, "Modular multiplication without trial division", 1985).

The block holds a *value store* (``slots`` values of up to ``max_limbs`` 32-bit limbs, in
block RAM) and runs *programs*: lists of 32-bit :class:`Op` words, fetched by DMA from RAM
(``PROG_ADDR``/``PROG_LEN``, then ``START``) or pushed one by one through ``CMD`` and run with
``START.QUEUE``. Operations (``d``, ``a``, ``b``: value slots; ``imm``: a word offset from
``DATA_BASE``; ``R = 2^(32·L)``):

=========== ==================================================================================
SETMOD imm  N ← L words at DATA_BASE + 4·imm (L = the LIMBS register). N must be odd and ≥ 3.
            Clears every slot, then derives N' = -N^-1 mod R (Newton's iteration on the
            datapath's low-half products) and R² mod N (33·L modular doublings of 1, then five
            Montgomery squarings).
LOAD d,imm  slot d ← L words at DATA_BASE + 4·imm; a value ≥ N is rejected (slot unchanged)
STORE a,imm L words at DATA_BASE + 4·imm ← slot a
COPY d,a    d ← a
ADD d,a,b   d ← a + b mod N
SUB d,a,b   d ← a - b mod N
MUL d,a,b   d ← a·b·R^-1 mod N (Montgomery product)
TOMONT d,a  d ← a·R mod N
FROMMONT d,a d ← a·R^-1 mod N
=========== ==================================================================================

Every operation's duration depends only on its opcode and L (and, for the DMA operations, on
how busy the bus is), never on the values. Misuse ends the program with ``STATUS.ERROR`` and a
``CAUSE`` (see :class:`Cause`) and ``STATUS.PC`` pointing at the failing op; nothing hangs.
See docs/modmul.md.
"""

from amaranth import *
from amaranth.lib import wiring, data, enum
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect, flipped

from .bus import WishboneSignature
from .dma import DMAChannelSignature
from .regs import Field, Register, RegisterMap, RegisterBank
from .montgomery import MontgomeryUnit, MontMode, LIMB_BITS, blocks_for
from .simgate import sim_gated_block


__all__ = ["OpCode", "Op", "Cause", "ModMulCoprocessor", "VERSION", "encode"]


VERSION = 1
NEWTON_START_BITS = 3          # x0 = N is N^-1 mod 8 for every odd N
R2_SQUARINGS = 5               # 2^(33L) → R² mod N by five Montgomery squarings
XIN_WAIT = 1024                # cycles a LOADX waits for its words before failing (cause FIFO)
UNIT_SETTLE = 16               # simulation model: idle cycles until the unit is still (simgate)


class OpCode(enum.Enum, shape=4):
    SETMOD   = 1
    LOAD     = 2
    STORE    = 3
    COPY     = 4
    ADD      = 5
    SUB      = 6
    MUL      = 7
    TOMONT   = 8
    FROMMONT = 9
    LOADX    = 10
    STOREX   = 11


class OpTail(data.Union):
    b:   6          # second source slot (ADD, SUB, MUL)
    imm: 16         # word offset from DATA_BASE (SETMOD, LOAD, STORE)


class Op(data.Struct):
    """One program word."""
    opcode: OpCode
    d:      6       # destination slot
    a:      6       # first source slot
    tail:   OpTail


def encode(opcode, d=0, a=0, b=0, imm=0):
    """The 32-bit word of one op (for tests and tools; the C header has the same macros)."""
    opcode = OpCode(opcode)
    tail = imm if opcode in (OpCode.SETMOD, OpCode.LOAD, OpCode.STORE) else b
    return opcode.value | (d << 4) | (a << 10) | (tail << 16)


class Cause(enum.Enum, shape=4):
    NONE    = 0
    BUSY    = 1
    LIMBS   = 2
    MODULUS = 3
    RANGE   = 4
    SLOT    = 5
    NOMOD   = 6
    OPCODE  = 7
    DMA     = 8
    LENGTH  = 9
    ABORTED = 10
    FIFO    = 11


CAUSE_DOC = {
    Cause.NONE:    "no error",
    Cause.BUSY:    "START, CMD, LIMBS, PROG_ADDR, PROG_LEN or DATA_BASE written while a program "
                   "ran; the write was ignored and the program goes on",
    Cause.LIMBS:   "SETMOD with LIMBS outside 1..MAX_LIMBS",
    Cause.MODULUS: "SETMOD: N is even or below 3 (no modulus is set afterwards)",
    Cause.RANGE:   "LOAD: the value is not below N (the slot is unchanged)",
    Cause.SLOT:    "a slot index is not below SLOTS",
    Cause.NOMOD:   "an operation other than SETMOD while no valid modulus is set",
    Cause.OPCODE:  "unknown opcode",
    Cause.DMA:     "the DMA engine refused a descriptor (outside the DMA windows, no "
                   "permission) or a bus error ended it",
    Cause.LENGTH:  "PROG_LEN is 0 or above the program memory, START.QUEUE with no pushed op, "
                   "or CMD with the queue full",
    Cause.ABORTED: "ABORT was written while a program ran",
    Cause.FIFO:    f"LOADX whose L words did not all arrive in XIN within {XIN_WAIT} cycles, "
                   "STOREX with room for fewer than L words in XOUT, XIN written while full, "
                   "XOUT read while empty",
}


def xfifo_depth(max_limbs):
    """Words of each of the XIN/XOUT FIFOs: two values of the largest width, rounded up to a
    power of two (64 for 24 limbs)."""
    return 1 << (2 * max_limbs - 1).bit_length()


def _regs(max_limbs, slots, lanes, prog_depth):
    xdepth = xfifo_depth(max_limbs)
    return RegisterMap("MODMUL", [
        Register("ID", 0x00, "r", [
            Field("VERSION", 16, desc="Register interface version"),
            Field("KIND", 16, desc='ASCII "MM" (0x4D4D)'),
        ], desc="Identifies the modular-arithmetic coprocessor."),
        Register("STATUS", 0x04, "ext", [
            Field("BUSY", 1, desc="A program runs (or its DMA drains after ABORT or an error)"),
            Field("DONE", 1, desc="The last program ended (check ERROR). Write 1 to clear"),
            Field("ERROR", 1, desc="The last program failed, or a write was refused. "
                                   "Write 1 to clear (clears CAUSE too)"),
            Field("MODSET", 1, desc="A valid modulus is set"),
            Field("CAUSE", 4, offset=8, desc="Why ERROR is set",
                  enum={c.value: d for c, d in CAUSE_DOC.items()}),
            Field("PC", 10, offset=16, desc="Index of the op running, or of the op that failed"),
            Field("ACTIVE_LIMBS", 6, offset=26, desc="L of the modulus set (0: none)"),
        ], desc="State of the coprocessor. DONE and ERROR are also cleared by an accepted START."),
        Register("START", 0x08, "w", [
            Field("QUEUE", 1, desc="0: fetch PROG_LEN ops from PROG_ADDR by DMA and run them; "
                                   "1: run the ops pushed through CMD (the queue empties)"),
            Field("AGAIN", 1, desc="1: run the last program started with QUEUE once more: its "
                                   "ops stay in the program memory until a CMD write or a "
                                   "DMA-fetched program replaces them (else cause LENGTH)"),
        ], desc="Starts a program."),
        Register("ABORT", 0x0C, "w", desc="Any write stops the running program: its DMA is "
                 "drained, then DONE and ERROR are set with cause ABORTED. No effect when idle."),
        Register("IRQ_EN", 0x10, "rw", [
            Field("DONE", 1, desc="Raise the interrupt line while STATUS.DONE is set"),
        ], desc="Interrupt enable."),
        Register("LIMBS", 0x14, "ext", [
            Field("VALUE", 6, desc=f"Width L of the next SETMOD, in 32-bit limbs (1..{max_limbs})"),
        ], desc="Modulus width for SETMOD, latched by SETMOD."),
        Register("PROG_ADDR", 0x18, "ext", desc="Address of the program (word aligned), "
                 "latched by START."),
        Register("PROG_LEN", 0x1C, "ext", [
            Field("VALUE", 11, desc=f"Number of ops, 1..{prog_depth}"),
        ], desc="Program length in ops, latched by START."),
        Register("DATA_BASE", 0x20, "ext", desc="Base address of the values SETMOD, LOAD and "
                 "STORE move: their imm is a word offset from it. Latched by START."),
        Register("CMD", 0x24, "w", desc="Appends one op word to the queue (idle only)."),
        Register("QUEUE", 0x28, "r", [
            Field("COUNT", 11, desc="Ops in the queue"),
        ], desc="Queue fill level."),
        Register("CYCLES", 0x2C, "r", desc="Clock cycles the last program took, from START to "
                 "DONE."),
        Register("INFO", 0x30, "r", [
            Field("MAX_LIMBS", 8, desc=f"Largest L ({max_limbs})"),
            Field("SLOTS", 8, desc=f"Value slots ({slots})"),
            Field("LANES", 4, desc=f"32x32 multipliers per engine ({lanes})"),
            Field("PROG_DEPTH", 12, desc=f"Program memory in ops ({prog_depth})"),
        ], desc="Build parameters."),
        Register("XIN", 0x34, "w", desc=f"Appends a word to the input FIFO ({xdepth} words) "
                 "that LOADX takes values from, least significant limb first. Accepted at any "
                 "time, also while a program runs (a LOADX takes the words as they arrive, "
                 f"waiting at most {XIN_WAIT} cycles); a write to a full FIFO is refused "
                 "(ERROR, cause FIFO)."),
        Register("XOUT", 0x38, "r", desc=f"Takes the oldest word of the output FIFO ({xdepth} "
                 "words) that STOREX fills, least significant limb first. Reading it empty "
                 "returns 0 and sets ERROR with cause FIFO."),
        Register("XFIFO", 0x3C, "ext", [
            Field("IN_LEVEL", 8, desc="Words in XIN"),
            Field("OUT_LEVEL", 8, desc="Words in XOUT"),
            Field("DEPTH", 8, desc=f"Words each FIFO holds ({xdepth})"),
            Field("CLEAR_IN", 1, desc="Write 1: empty XIN (refused while a program runs)"),
            Field("CLEAR_OUT", 1, desc="Write 1: empty XOUT (refused while a program runs)"),
        ], desc="The register-path FIFOs: values move through XIN/XOUT and the LOADX/STOREX "
                "ops without DMA. A failing or aborted program empties XIN."),
    ], desc="Modular arithmetic (Montgomery) coprocessor in the style of EVM-MAX (EIP-6690): "
            "a value store and programs of SETMOD/LOAD/STORE/COPY/ADD/SUB/MUL/TOMONT/FROMMONT/LOADX/STOREX. "
            "See docs/modmul.md.")


class WordFIFO(wiring.Component):
    """``depth`` 32-bit words, first word fall-through (``r_data`` valid while ``r_rdy``),
    in block RAM (``depth - 1`` words) plus an output register. ``clear`` empties it.

    The XIN/XOUT FIFOs. (Not ``amaranth.lib.fifo.SyncFIFOBuffered``: Yosys maps that
    storage to LUT RAM, and the full SoC then trips an assertion in synth_ecp5's ABC9 step.)
    """

    def __init__(self, depth):
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer of at least 2, not {depth!r}")
        self.depth = depth
        super().__init__({
            "w_data": In(LIMB_BITS), "w_en": In(1), "w_rdy": Out(1),
            "r_data": Out(LIMB_BITS), "r_en": In(1), "r_rdy": Out(1),
            "level": Out(range(depth + 1)), "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.depth - 1
        m.submodules.storage = mem = Memory(shape=LIMB_BITS, depth=n, init=[],
                                            attrs={"ram_style": "block"})
        wp, rp = mem.write_port(), mem.read_port(domain="sync")
        head, tail = Signal(range(n)), Signal(range(n))
        count = Signal(range(n + 1))                  # words in the RAM
        push = self.w_en & self.w_rdy
        # Move the oldest stored word into the output register when that is free or read.
        fill = (count != 0) & (~self.r_rdy | self.r_en)
        m.d.comb += [
            self.w_rdy.eq(count != n),
            wp.addr.eq(head), wp.data.eq(self.w_data), wp.en.eq(push),
            rp.addr.eq(tail), rp.en.eq(fill), self.r_data.eq(rp.data),
            self.level.eq(count + self.r_rdy),
        ]
        with m.If(push):
            m.d.sync += head.eq(Mux(head == n - 1, 0, head + 1))
        with m.If(fill):
            m.d.sync += [tail.eq(Mux(tail == n - 1, 0, tail + 1)), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        m.d.sync += count.eq(count + push - fill)
        with m.If(self.clear):
            m.d.sync += [head.eq(0), tail.eq(0), count.eq(0), self.r_rdy.eq(0)]
        return m


class ModMulCoprocessor(wiring.Component):
    """The modular-arithmetic coprocessor (see the module docstring and docs/modmul.md).

    Parameters: ``lanes`` (32×32 multipliers per row engine: ``12·lanes`` ECP5 DSP blocks),
    ``max_limbs`` (largest modulus, in 32-bit limbs), ``slots`` (user values),
    ``prog_depth`` (program memory, in ops).

    Ports (the coprocessor contract, docs/coprocessor-contract.md):

    ``bus``  In(WishboneSignature(addr_width=10))  the 4 KiB control slot (target side)
    ``dma``  Out(DMAChannelSignature())            to this coprocessor's DMA engine
    ``irq``  Out(1)                                STATUS.DONE & IRQ_EN.DONE
    ``busy`` Out(1)                                a program runs or its DMA is active
    """

    NAME = "MODMUL"
    SLOT = 1
    REGS = _regs(24, 32, 4, 512)

    def __init__(self, *, lanes=4, max_limbs=24, slots=32, prog_depth=512):
        if not isinstance(slots, int) or not 1 <= slots <= 32:
            raise ValueError(f"slots must be an integer in 1..32, not {slots!r}")
        if not isinstance(max_limbs, int) or not 1 <= max_limbs <= 63:
            raise ValueError(f"max_limbs must be an integer in 1..63, not {max_limbs!r}")
        if not isinstance(prog_depth, int) or prog_depth < 2 or prog_depth & (prog_depth - 1) \
                or prog_depth > 1024:
            raise ValueError(f"prog_depth must be a power of two in 2..1024, not {prog_depth!r}")
        self.lanes, self.max_limbs, self.slots, self.prog_depth = lanes, max_limbs, slots, prog_depth
        # The unit checks lanes.
        self.unit = MontgomeryUnit(lanes=lanes, max_limbs=max_limbs)
        self.REGS = _regs(max_limbs, slots, lanes, prog_depth)
        super().__init__({
            "bus":  In(WishboneSignature(addr_width=10)),
            "dma":  Out(DMAChannelSignature()),
            "irq":  Out(1),
            "busy": Out(1),
        })

    sim_gating = False        # sim/simtop.py: stop the unit's clock while idle (hdl/simgate.py)

    # Internal slots after the user's.
    @property
    def internal_slots(self):
        names = ["N", "X", "Y", "TWO", "ONE", "R2", "STAGE"]
        return {n: self.slots + i for i, n in enumerate(names)}

    @property
    def newton_steps(self):
        bits, steps = NEWTON_START_BITS, 0
        while bits < LIMB_BITS * self.max_limbs:
            bits, steps = 2 * bits, steps + 1
        return steps

    @property
    def dsp_count(self):
        return self.unit.dsp_count

    def elaborate(self, platform):
        if not self.sim_gating:
            return self._elaborate(platform)
        # Simulation model only (hdl/simgate.py): two clocks that stop while idle.
        m = Module()
        # The Montgomery unit's registers change only while it runs (start .. done, then its
        # pipelines drain within UNIT_SETTLE cycles) and when N is written through the modulus
        # port: every other register loads under a valid token, or copies one that no longer
        # changes.
        unit = self.unit
        mp = unit.modulus
        sim_gated_block(m, "mmunit", unit.busy | unit.start | mp.clear | mp.we, UNIT_SETTLE,
                        lambda platform: unit, submodule="unit")
        # The rest (control, value store, FIFOs, register bank) changes only on a bus request
        # to its slot, while busy (a program runs or its DMA is active) and, through the
        # register bank's response and the unit's ports, in the cycles after.
        sim_gated_block(m, "modmul", self.bus.cyc | self.busy, UNIT_SETTLE, self._elaborate)
        return m

    def _elaborate(self, platform):
        m = Module()
        P, max_limbs = self.lanes, self.max_limbs
        WB = P * LIMB_BITS
        S = self.internal_slots

        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        unit = self.unit
        if not self.sim_gating:
            m.submodules.unit = unit        # (else elaborate() adds it, on its own clock)
        max_nb = unit.max_nb
        blk_bits = (max_nb - 1).bit_length()
        n_phys = self.slots + len(S)
        slot_bits = 6

        # ---- storage --------------------------------------------------------------------
        m.submodules.values = values = Memory(shape=WB, depth=n_phys << blk_bits, init=[])
        rd_a = values.read_port()
        rd_b = values.read_port()
        wr = values.write_port()
        m.submodules.program = program = Memory(shape=Op, depth=self.prog_depth, init=[])
        prog_rd = program.read_port()
        prog_wr = program.write_port()

        # The register path: XIN → LOADX, STOREX → XOUT (no DMA, no program fetch).
        xdepth = xfifo_depth(max_limbs)
        xin_clear, xout_clear = Signal(), Signal()
        m.submodules.xin = xin = WordFIFO(xdepth)
        m.submodules.xout = xout = WordFIFO(xdepth)
        m.d.comb += [xin.clear.eq(xin_clear), xout.clear.eq(xout_clear)]

        def vaddr(slot, blk):
            return Cat(blk[:blk_bits] if blk_bits else C(0, 0), slot)

        dma = self.dma

        # ---- registers ------------------------------------------------------------------
        m.d.comb += regs.id.r_data.eq((ord("M") << 24) | (ord("M") << 16) | VERSION)
        m.d.comb += [
            regs.info.r_data.max_limbs.eq(max_limbs),
            regs.info.r_data.slots.eq(self.slots),
            regs.info.r_data.lanes.eq(P),
            regs.info.r_data.prog_depth.eq(self.prog_depth),
        ]
        running = Signal()
        done = Signal()
        error = Signal()
        cause = Signal(Cause)
        modset = Signal()
        active_l = Signal(range(max_limbs + 1))
        pc = Signal(range(self.prog_depth + 1))
        plen = Signal(range(self.prog_depth + 1))
        qcount = Signal(range(self.prog_depth + 1))
        qlast = Signal(range(self.prog_depth + 1))   # length of the last queued program (AGAIN)
        cycles = Signal(32)

        limbs_req = Signal(6)
        prog_addr = Signal(32)
        prog_len = Signal(11)
        data_base = Signal(32)
        m.d.comb += [
            regs.status.r_data.busy.eq(running),
            regs.status.r_data.done.eq(done),
            regs.status.r_data.error.eq(error),
            regs.status.r_data.modset.eq(modset),
            regs.status.r_data.cause.eq(cause),
            regs.status.r_data.pc.eq(pc),
            regs.status.r_data.active_limbs.eq(Mux(modset, active_l, 0)),
            regs.limbs.r_data.value.eq(limbs_req),
            regs.prog_addr.r_data.eq(prog_addr),
            regs.prog_len.r_data.value.eq(prog_len),
            regs.data_base.r_data.eq(data_base),
            regs.queue.r_data.count.eq(qcount),
            regs.cycles.r_data.eq(cycles),
            self.busy.eq(running),
            self.irq.eq(done & regs.irq_en.data.done),
        ]

        fail = Signal()                  # the program fails with fail_cause this cycle
        fail_cause = Signal(Cause)
        refuse = Signal()                # a register write is refused
        refuse_cause = Signal(Cause)

        with m.If(regs.status.w_stb):
            with m.If(regs.status.w_data.done):
                m.d.sync += done.eq(0)
            with m.If(regs.status.w_data.error):
                m.d.sync += [error.eq(0), cause.eq(Cause.NONE)]

        for reg, store in ((regs.limbs, limbs_req), (regs.prog_addr, prog_addr),
                           (regs.prog_len, prog_len), (regs.data_base, data_base)):
            with m.If(reg.w_stb):
                with m.If(running):
                    m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
                with m.Else():
                    value = reg.w_data.as_value()
                    if store is prog_addr or store is data_base:
                        value = value & ~3
                    m.d.sync += store.eq(value)

        # XIN, XOUT, XFIFO.
        m.d.comb += [
            regs.xfifo.r_data.in_level.eq(xin.level),
            regs.xfifo.r_data.out_level.eq(xout.level),
            regs.xfifo.r_data.depth.eq(xdepth),
            xin.w_data.eq(regs.xin.w_data.as_value()),
            regs.xout.r_data.eq(Mux(xout.r_rdy, xout.r_data, 0)),
        ]
        with m.If(regs.xin.w_stb):
            with m.If(xin.w_rdy):
                m.d.comb += xin.w_en.eq(1)
            with m.Else():
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.FIFO)]
        with m.If(regs.xout.r_stb):
            with m.If(xout.r_rdy):
                m.d.comb += xout.r_en.eq(1)
            with m.Else():
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.FIFO)]
        with m.If(regs.xfifo.w_stb):
            with m.If(running):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
            with m.Else():
                m.d.comb += [xin_clear.eq(regs.xfifo.w_data.clear_in),
                             xout_clear.eq(regs.xfifo.w_data.clear_out)]

        # CMD: push into the program memory while idle.
        with m.If(regs.cmd.w_stb):
            with m.If(running):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
            with m.Elif(qcount == self.prog_depth):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
            with m.Else():
                m.d.comb += [prog_wr.en.eq(1), prog_wr.addr.eq(qcount),
                             prog_wr.data.eq(regs.cmd.w_data.as_value())]
                m.d.sync += [qcount.eq(qcount + 1), qlast.eq(0)]

        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)

        # ---- the op being run -----------------------------------------------------------
        op = Signal(Op)
        # fetch_next: read the op after pc now (it is there next cycle, in DECODE);
        # fetch_first: read op 0 (a program starting from the program memory).
        fetch_next, fetch_first = Signal(), Signal()
        m.d.comb += [prog_rd.addr.eq(Mux(fetch_first, 0, Mux(fetch_next, pc + 1, pc))),
                     op.eq(prog_rd.data)]
        ua, ub, ud = Signal(slot_bits), Signal(slot_bits), Signal(slot_bits)
        m.d.comb += [unit.limbs.eq(active_l)]

        # Unit start request (one cycle), with its operands.
        u_start = Signal()
        u_mode = Signal(MontMode)
        u_a, u_b, u_d = Signal(slot_bits), Signal(slot_bits), Signal(slot_bits)
        u_za, u_zb, u_np = Signal(), Signal(), Signal()
        u_imm = Signal(8)
        with m.If(u_start):
            m.d.sync += [ua.eq(u_a), ub.eq(u_b), ud.eq(u_d)]
        # The unit latches mode/flags at start; its slots come from ua/ub/ud, set in the same
        # cycle: its first read happens the cycle after start.
        m.d.comb += [unit.start.eq(u_start), unit.mode.eq(u_mode), unit.zero_a.eq(u_za),
                     unit.zero_b.eq(u_zb), unit.imm.eq(u_imm), unit.to_np.eq(u_np)]

        # Value-store ports: the unit's, unless a DMA op or the clear uses them.
        words = Signal(range(1024 + 1))        # word counter of a transfer (DMA, XIN, XOUT)
        lg = P.bit_length() - 1
        st_blk = Signal(range(max_nb))
        st_slot = Signal(slot_bits)
        use_store_port = Signal()
        st_stream = Signal()                   # STOREX: read the block of word `words + 1`
        m.d.comb += [
            rd_a.addr.eq(Mux(use_store_port,
                             vaddr(st_slot, Mux(st_stream, (words + 1) >> lg, st_blk)),
                             vaddr(ua, unit.rd_a.addr))),
            rd_b.addr.eq(vaddr(ub, unit.rd_b.addr)),
            unit.rd_a.data.eq(rd_a.data),
            unit.rd_b.data.eq(rd_b.data),
        ]
        ld_wr = Signal()
        ld_addr = Signal(len(wr.addr))
        ld_data = Signal(WB)
        m.d.comb += [
            wr.en.eq(unit.wr.en | ld_wr),
            wr.addr.eq(Mux(ld_wr, ld_addr, vaddr(ud, unit.wr.addr))),
            wr.data.eq(Mux(ld_wr, ld_data, unit.wr.data)),
        ]

        # ---- DMA transfers of values (LOAD, SETMOD, STORE) and of the program -------------
        asm = [Signal(LIMB_BITS, name=f"asm{k}") for k in range(P)]
        borrow = Signal()                      # LOAD: running borrow of x - N
        odd = Signal()
        big = Signal()                         # SETMOD: N ≥ 3
        ld_slot = Signal(slot_bits)
        is_setmod = Signal()
        from_x = Signal()                      # LOADX: the words come from XIN, not the DMA
        xwait = Signal(range(XIN_WAIT))        # LOADX: cycles waited so far
        to_x = Signal()                        # STOREX: the words go to XOUT
        xfer_len = Signal(range(1024 + 1))
        hold = Signal(WB)

        # SETMOD microcode: (mode, d, a, b, zero_a, zero_b, imm, to_np, repeat)
        # repeat: an int, "newton" (loop back over the three Newton steps) or "dbl" (33·L).
        UCODE = [
            (MontMode.ADDR, S["TWO"], 0, 0, 1, 1, 2, 0, 1),
            (MontMode.ADDR, S["X"], S["N"], 0, 0, 1, 0, 0, 1),
            (MontMode.LOW,  S["Y"], S["N"], S["X"], 0, 0, 0, 0, 1),         # y = N·x
            (MontMode.SUBR, S["Y"], S["TWO"], S["Y"], 0, 0, 0, 0, 1),       # y = 2 - y
            (MontMode.LOW,  S["X"], S["X"], S["Y"], 0, 0, 0, 0, "newton"),  # x = x·y
            (MontMode.SUBR, S["Y"], 0, S["X"], 1, 0, 0, 1, 1),              # N' = -x
            (MontMode.ADDR, S["R2"], 0, 0, 1, 1, 1, 0, 1),
            (MontMode.ADD,  S["R2"], S["R2"], S["R2"], 0, 0, 0, 0, "dbl"),
            (MontMode.MONT, S["R2"], S["R2"], S["R2"], 0, 0, 0, 0, R2_SQUARINGS),
            (MontMode.ADDR, S["ONE"], 0, 0, 1, 1, 1, 0, 1),
        ]
        upc = Signal(range(len(UCODE)))
        urep = Signal(range(33 * max_limbs + 1))
        uiter = Signal(range(self.newton_steps + 1))
        clr = Signal(len(wr.addr) + 1)
        mv = Signal(range(max_nb + 2))         # LD_MOVE: block counter
        used_blocks = Signal(range(max_nb + 1))
        m.d.comb += used_blocks.eq((active_l + P - 1) >> lg)

        # Decoded checks for the op at pc.
        opc = op.opcode
        known = Signal()
        m.d.comb += known.eq((opc.as_value() >= OpCode.SETMOD.value) &
                             (opc.as_value() <= OpCode.STOREX.value))
        uses_d = Signal()
        uses_a = Signal()
        uses_b = Signal()
        with m.Switch(opc):
            with m.Case(OpCode.LOAD, OpCode.LOADX):
                m.d.comb += uses_d.eq(1)
            with m.Case(OpCode.STORE, OpCode.STOREX):
                m.d.comb += uses_a.eq(1)
            with m.Case(OpCode.COPY, OpCode.TOMONT, OpCode.FROMMONT):
                m.d.comb += [uses_d.eq(1), uses_a.eq(1)]
            with m.Case(OpCode.ADD, OpCode.SUB, OpCode.MUL):
                m.d.comb += [uses_d.eq(1), uses_a.eq(1), uses_b.eq(1)]
        bad_slot = (uses_d & (op.d >= self.slots)) | (uses_a & (op.a >= self.slots)) | \
                   (uses_b & (op.tail.b >= self.slots))
        imm_addr = data_base + (op.tail.imm << 2)

        abort_req = regs.abort.w_stb & running

        def leave_on_failure():
            with m.If(fail | abort_req):
                m.next = "DRAIN"

        with m.FSM(name="ctrl") as fsm:
            with m.State("IDLE"):
                with m.If(regs.start.w_stb):
                    with m.If(regs.start.w_data.again):
                        with m.If(qlast == 0):
                            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
                        with m.Else():
                            m.d.comb += fetch_first.eq(1)
                            m.d.sync += [plen.eq(qlast), pc.eq(0), running.eq(1),
                                         done.eq(0), error.eq(0), cause.eq(Cause.NONE),
                                         cycles.eq(0)]
                            m.next = "DECODE"
                    with m.Elif(regs.start.w_data.queue):
                        with m.If(qcount == 0):
                            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
                        with m.Else():
                            m.d.comb += fetch_first.eq(1)
                            m.d.sync += [plen.eq(qcount), qlast.eq(qcount), qcount.eq(0), pc.eq(0),
                                         running.eq(1), done.eq(0), error.eq(0),
                                         cause.eq(Cause.NONE), cycles.eq(0)]
                            m.next = "DECODE"
                    with m.Else():
                        with m.If((prog_len == 0) | (prog_len > self.prog_depth)):
                            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
                        with m.Else():
                            m.d.sync += [plen.eq(prog_len), qcount.eq(0), qlast.eq(0), pc.eq(0),
                                         running.eq(1), done.eq(0), error.eq(0),
                                         cause.eq(Cause.NONE), cycles.eq(0), words.eq(0)]
                            m.next = "PROG_CMD"

            with m.State("PROG_CMD"):
                m.d.comb += [dma.cmd.valid.eq(1), dma.cmd.payload.addr.eq(prog_addr),
                             dma.cmd.payload.words.eq(plen), dma.cmd.payload.write.eq(0)]
                with m.If(dma.cmd.ready):
                    with m.If(dma.error):
                        m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                    with m.Else():
                        m.next = "PROG_WORDS"
                leave_on_failure()
            with m.State("PROG_WORDS"):
                m.d.comb += [dma.rd.ready.eq(1), prog_wr.addr.eq(words),
                             prog_wr.data.eq(dma.rd.payload), prog_wr.en.eq(dma.rd.valid)]
                with m.If(dma.rd.valid):
                    m.d.sync += words.eq(words + 1)
                with m.If(dma.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                with m.Elif(dma.done):
                    m.next = "FETCH_OP"
                leave_on_failure()

            with m.State("FETCH_OP"):
                # prog_rd.addr = pc now; the word is there next cycle.
                m.next = "DECODE"
                leave_on_failure()

            with m.State("DECODE"):
                m.d.sync += [words.eq(0), borrow.eq(0), odd.eq(0), big.eq(0)] + \
                            [a.eq(0) for a in asm]
                with m.If(~known):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.OPCODE)]
                with m.Elif(bad_slot):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.SLOT)]
                with m.Elif((opc != OpCode.SETMOD) & ~modset):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.NOMOD)]
                with m.Else():
                    with m.Switch(opc):
                        with m.Case(OpCode.SETMOD):
                            with m.If((limbs_req == 0) | (limbs_req > max_limbs)):
                                m.d.comb += [fail.eq(1), fail_cause.eq(Cause.LIMBS)]
                            with m.Else():
                                m.d.sync += [modset.eq(0), active_l.eq(limbs_req), clr.eq(0),
                                             is_setmod.eq(1), ld_slot.eq(S["N"]),
                                             xfer_len.eq(limbs_req), from_x.eq(0)]
                                m.next = "CLEAR"
                        with m.Case(OpCode.LOAD):
                            m.d.sync += [is_setmod.eq(0), ld_slot.eq(S["STAGE"]),
                                         xfer_len.eq(active_l), from_x.eq(0)]
                            m.next = "LD_CMD"
                        with m.Case(OpCode.STORE):
                            m.d.sync += [st_slot.eq(op.a), st_blk.eq(0), xfer_len.eq(active_l),
                                         to_x.eq(0)]
                            m.next = "ST_CMD"
                        with m.Case(OpCode.LOADX):
                            # The words may still be on their way: the core can start the
                            # program first and write XIN while it runs.
                            m.d.sync += [is_setmod.eq(0), ld_slot.eq(S["STAGE"]),
                                         xfer_len.eq(active_l), from_x.eq(1), xwait.eq(0)]
                            m.next = "LD_WORDS"
                        with m.Case(OpCode.STOREX):
                            with m.If(xdepth - xout.level < active_l):
                                m.d.comb += [fail.eq(1), fail_cause.eq(Cause.FIFO)]
                            with m.Else():
                                m.d.sync += [st_slot.eq(op.a), st_blk.eq(0),
                                             xfer_len.eq(active_l), to_x.eq(1)]
                                m.next = "ST_READ"
                        with m.Default():
                            m.d.comb += [u_start.eq(1), u_d.eq(op.d), u_a.eq(op.a)]
                            with m.Switch(opc):
                                with m.Case(OpCode.COPY):
                                    m.d.comb += [u_mode.eq(MontMode.ADDR), u_zb.eq(1)]
                                with m.Case(OpCode.ADD):
                                    m.d.comb += [u_mode.eq(MontMode.ADD), u_b.eq(op.tail.b)]
                                with m.Case(OpCode.SUB):
                                    m.d.comb += [u_mode.eq(MontMode.SUB), u_b.eq(op.tail.b)]
                                with m.Case(OpCode.MUL):
                                    m.d.comb += [u_mode.eq(MontMode.MONT), u_b.eq(op.tail.b)]
                                with m.Case(OpCode.TOMONT):
                                    m.d.comb += [u_mode.eq(MontMode.MONT), u_b.eq(S["R2"])]
                                with m.Case(OpCode.FROMMONT):
                                    m.d.comb += [u_mode.eq(MontMode.MONT), u_b.eq(S["ONE"])]
                            # Prefetch the next op while the unit runs.
                            m.d.sync += pc.eq(pc + 1)
                            m.next = "UNIT"
                leave_on_failure()

            with m.State("UNIT"):
                with m.If(unit.done):
                    with m.If(pc == plen):
                        m.next = "FINISH"
                        m.d.sync += pc.eq(pc - 1)
                    with m.Else():
                        m.next = "DECODE"
                leave_on_failure()

            with m.State("NEXT"):
                with m.If(pc + 1 == plen):
                    m.next = "FINISH"
                with m.Else():
                    m.d.comb += fetch_next.eq(1)
                    m.d.sync += pc.eq(pc + 1)
                    m.next = "DECODE"
                leave_on_failure()

            # SETMOD: zero the whole store and N, then load N like a value.
            with m.State("CLEAR"):
                m.d.comb += [ld_wr.eq(1), ld_addr.eq(clr), ld_data.eq(0),
                             unit.modulus.clear.eq(1)]
                m.d.sync += clr.eq(clr + 1)
                with m.If(clr == (n_phys << blk_bits) - 1):
                    m.next = "LD_CMD"
                leave_on_failure()

            with m.State("LD_CMD"):
                m.d.comb += [dma.cmd.valid.eq(1), dma.cmd.payload.addr.eq(imm_addr),
                             dma.cmd.payload.words.eq(xfer_len), dma.cmd.payload.write.eq(0)]
                with m.If(dma.cmd.ready):
                    with m.If(dma.error):
                        m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                    with m.Else():
                        m.next = "LD_WORDS"
                leave_on_failure()
            with m.State("LD_WORDS"):
                w = Mux(from_x, xin.r_data, dma.rd.payload)
                w_valid = Mux(from_x, xin.r_rdy, dma.rd.valid)
                m.d.comb += [dma.rd.ready.eq(~from_x), xin.r_en.eq(from_x),
                             unit.modulus.idx.eq(words)]
                lane = words[:lg] if lg else C(0, 1)
                with m.If(w_valid):
                    m.d.sync += words.eq(words + 1)
                    merged = [Mux(lane == k, w, asm[k]) for k in range(P)]
                    full = (lane == P - 1) | (words == xfer_len - 1)
                    m.d.sync += [asm[k].eq(Mux(full, 0, merged[k])) for k in range(P)]
                    m.d.comb += [ld_wr.eq(full), ld_addr.eq(vaddr(ld_slot, words >> lg)),
                                 ld_data.eq(Cat(*merged))]
                    # x < N ⟺ the subtraction x - N borrows out of the top limb.
                    diff = w - unit.modulus.limb - borrow
                    m.d.sync += borrow.eq(diff[LIMB_BITS])
                    with m.If(is_setmod):
                        m.d.comb += [unit.modulus.we.eq(1), unit.modulus.data.eq(w)]
                        with m.If(words == 0):
                            m.d.sync += [odd.eq(w[0]), big.eq(w >= 3)]
                        with m.Elif(w != 0):
                            m.d.sync += big.eq(1)
                with m.If(from_x):
                    m.d.sync += xwait.eq(xwait + 1)
                    with m.If(w_valid & (words == xfer_len - 1)):
                        m.next = "LD_CHECK"
                    with m.Elif(xwait == XIN_WAIT - 1):
                        m.d.comb += [fail.eq(1), fail_cause.eq(Cause.FIFO)]
                with m.Elif(dma.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                with m.Elif(dma.done):
                    m.next = "LD_CHECK"
                leave_on_failure()
            with m.State("LD_CHECK"):
                with m.If(is_setmod):
                    with m.If(~odd | ~big):
                        m.d.comb += [fail.eq(1), fail_cause.eq(Cause.MODULUS)]
                        m.d.sync += active_l.eq(0)
                    with m.Else():
                        m.d.sync += [upc.eq(0), urep.eq(0), uiter.eq(0)]
                        m.next = "UCODE"
                with m.Elif(~borrow):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.RANGE)]
                with m.Else():
                    m.d.sync += [st_slot.eq(S["STAGE"]), st_blk.eq(0), mv.eq(0)]
                    m.next = "LD_MOVE"
                leave_on_failure()
            with m.State("LD_MOVE"):
                # The checked value: STAGE → d, one block per cycle (blocks at and above
                # ceil(L/lanes) are zero in every slot).
                m.d.comb += use_store_port.eq(1)
                m.d.sync += [st_blk.eq(st_blk + 1), mv.eq(mv + 1)]
                with m.If(mv != 0):
                    m.d.comb += [ld_wr.eq(1), ld_addr.eq(vaddr(op.d, mv - 1)),
                                 ld_data.eq(rd_a.data)]
                with m.If(mv == used_blocks):
                    m.next = "NEXT"
                leave_on_failure()

            with m.State("UCODE"):
                with m.Switch(upc):
                    for i, (mode, d, a, b, za, zb, imm, to_np, _rep) in enumerate(UCODE):
                        with m.Case(i):
                            m.d.comb += [u_start.eq(1), u_mode.eq(mode), u_d.eq(d), u_a.eq(a),
                                         u_b.eq(b), u_za.eq(za), u_zb.eq(zb), u_imm.eq(imm),
                                         u_np.eq(to_np)]
                m.next = "UCODE_RUN"
                leave_on_failure()
            with m.State("UCODE_RUN"):
                with m.If(unit.done):
                    m.next = "UCODE"
                    last_step = Signal()
                    with m.Switch(upc):
                        for i, (*_, rep) in enumerate(UCODE):
                            with m.Case(i):
                                if rep == "newton":
                                    with m.If(uiter == self.newton_steps - 1):
                                        m.d.sync += [upc.eq(i + 1), uiter.eq(0)]
                                    with m.Else():
                                        m.d.sync += [upc.eq(2), uiter.eq(uiter + 1)]
                                else:
                                    count = (active_l << 5) + active_l if rep == "dbl" else rep
                                    with m.If(urep == count - 1):
                                        m.d.sync += urep.eq(0)
                                        if i + 1 < len(UCODE):
                                            m.d.sync += upc.eq(i + 1)
                                        else:
                                            m.d.comb += last_step.eq(1)
                                    with m.Else():
                                        m.d.sync += urep.eq(urep + 1)
                    with m.If(last_step):
                        m.d.sync += modset.eq(1)
                        m.next = "NEXT"
                leave_on_failure()

            with m.State("ST_CMD"):
                m.d.comb += [dma.cmd.valid.eq(1), dma.cmd.payload.addr.eq(imm_addr),
                             dma.cmd.payload.words.eq(xfer_len), dma.cmd.payload.write.eq(1)]
                with m.If(dma.cmd.ready):
                    with m.If(dma.error):
                        m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                    with m.Else():
                        m.next = "ST_READ"
                leave_on_failure()
            with m.State("ST_READ"):
                m.d.comb += use_store_port.eq(1)
                with m.If(to_x):
                    m.next = "STX_SEND"
                with m.Else():
                    m.next = "ST_HOLD"
                leave_on_failure()
            with m.State("STX_SEND"):
                # STOREX: XOUT always has room (checked at DECODE): one word per cycle, the
                # block of the next word read meanwhile.
                lane = words[:lg] if lg else C(0, 1)
                m.d.comb += [use_store_port.eq(1), st_stream.eq(1), xout.w_en.eq(1),
                             xout.w_data.eq(Array(rd_a.data[LIMB_BITS * k:LIMB_BITS * (k + 1)]
                                                  for k in range(P))[lane])]
                m.d.sync += words.eq(words + 1)
                with m.If(words == xfer_len - 1):
                    m.next = "NEXT"
                leave_on_failure()
            with m.State("ST_HOLD"):
                m.d.comb += use_store_port.eq(1)
                m.d.sync += hold.eq(rd_a.data)
                m.next = "ST_SEND"
                leave_on_failure()
            with m.State("ST_SEND"):
                lane = words[:lg] if lg else C(0, 1)
                limb = Array(hold[LIMB_BITS * k:LIMB_BITS * (k + 1)] for k in range(P))[lane]
                m.d.comb += [dma.wr.valid.eq(~to_x), dma.wr.payload.eq(limb),
                             xout.w_en.eq(to_x), xout.w_data.eq(limb)]
                with m.If(Mux(to_x, xout.w_rdy, dma.wr.ready)):
                    m.d.sync += words.eq(words + 1)
                    with m.If(words == xfer_len - 1):
                        m.next = "ST_WAIT"
                        with m.If(to_x):
                            m.next = "NEXT"
                    with m.Elif(lane == P - 1):
                        m.d.sync += st_blk.eq(st_blk + 1)
                        m.next = "ST_READ"
                with m.If(dma.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                leave_on_failure()
            with m.State("ST_WAIT"):
                with m.If(dma.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                with m.Elif(dma.done):
                    m.next = "NEXT"
                leave_on_failure()

            with m.State("FINISH"):
                m.d.sync += [running.eq(0), done.eq(1)]
                m.next = "IDLE"

            # Failure: stop the unit and the DMA, wait for the DMA to drain, then report.
            with m.State("DRAIN"):
                m.d.comb += dma.abort.eq(dma.busy)
                with m.If(~dma.busy):
                    m.d.sync += [running.eq(0), done.eq(1)]
                    m.next = "IDLE"

        with m.If((fail | abort_req) & ~fsm.ongoing("DRAIN")):
            m.d.comb += [unit.abort.eq(1), xin_clear.eq(1)]
            m.d.sync += [error.eq(1), cause.eq(Mux(fail, fail_cause, Cause.ABORTED))]
        with m.If(regs.start.w_stb & running):
            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
        with m.If(refuse):
            m.d.sync += [error.eq(1), cause.eq(refuse_cause)]
        return m
