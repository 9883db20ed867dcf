"""The int8 matrix coprocessor (slot 2, register map ``MATMUL``).

Computes ``C = A·B`` or ``C += A·B`` for row-major signed int8 matrices A (M×K) and B (K×N)
with int32 accumulation, and stores C either requantized to int8 or as raw int32.
The multiply-accumulates run on a :class:`~gluon.hdl.systolic.SystolicArray`; data moves only
through the coprocessor's DMA channel (:mod:`gluon.hdl.dma`).

Requantization follows gemmlowp / TensorFlow Lite integer-only inference (B. Jacob et al.,
"Quantization and training of neural networks for efficient integer-arithmetic-only
inference", CVPR 2018; gemmlowp ``fixedpoint.h``)::

    x   = acc + bias[n]                          (int32, wraps modulo 2**32)
    y   = SaturatingRoundingDoublingHighMul(x, QMUL)
    q   = RoundingDivideByPOT(y, QSHIFT)
    out = clamp(q + QZP, QZP if RELU else -128, 127)

docs/matmul.md gives the exact definitions, the error codes, cycle counts and resources.

Structure:

* :class:`MatMulCoprocessor` — the contract's component: register bank, parameter checks,
  START/ABORT/STATUS/IRQ. It holds the engine in reset whenever no operation runs, so an
  aborted operation leaves nothing in flight.
* :class:`MatMulEngine` — buffers (B double-buffered by K chunk, A double-buffered by unit,
  int32 accumulators in two banks, bias), the loader (DMA reads into the buffers), the
  sequencer feeding the array, the accumulator read-modify-write, and the output stage
  (four requantizer lanes, DMA writes), which runs while the array computes.
* :class:`Requantizer` — the int32 → int8 pipeline, one value per cycle, LUT multiplier.

Schedule. K is cut into chunks of ``k_chunk`` and M into groups of G = 2P rows; a *unit*
(c, g) is chunk c of the rows of group g. Chunk c of B stays in buffer half c mod 2 for all
groups; the A unit of the next group is loaded while the array works on the current one.
Within a unit the array runs *passes* (K block kb outer, column block nb inner): the P×P
block of B is the array's weights and the group's rows stream through, one per cycle, each
producing P partial sums that are added to the accumulators. A pass occupies a *slot* of
exactly 2P cycles; during slot p the weights of pass p+1 are written into the other weight
bank, so consecutive passes follow without a gap. When the last chunk's passes of group g
are done, its accumulators (bank g mod 2) are requantized and stored, one word of C per
cycle, while the array works on group g+1 (bank (g+1) mod 2). Every count and every wait
depends only on M, N, K, the strides' contiguity and the operation, never on data.
"""

from amaranth import *
from amaranth.hdl import ResetInserter, DomainRenamer
from amaranth.lib import wiring, data, stream, enum, fifo
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank
from .dma import DMAChannelSignature, DMACommand
from .systolic import SystolicArray
from .simgate import sim_gated_domain, sim_gated_block


__all__ = ["VERSION", "MAX_K", "Cause", "Store", "Op", "Job", "Requantizer", "MatMulEngine",
           "MatMulCoprocessor"]


VERSION = 1
#: Largest K of one operation. K·(-128)·(-128) = K·2**14 must stay below 2**31.
MAX_K = (1 << 17) - 1


class Cause(enum.Enum, shape=4):
    """STATUS.CAUSE: why the last operation ended with ERROR."""
    NONE = 0
    ZERO_SIZE = 1      # M, N or K is zero
    TOO_BIG = 2        # M > MAX_M, N > MAX_N or K > MAX_K
    ALIGN = 3          # an address or stride the operation uses is not a multiple of 4
    BAD_OP = 4         # OP.STORE is the reserved value 3
    DMA = 5            # the DMA engine refused a descriptor (outside the windows) or a bus error
    BUSY = 6           # START while an operation ran: that operation was abandoned
    ABORTED = 7        # ABORT while an operation ran


class Store(enum.Enum, shape=2):
    """OP.STORE: what happens to the accumulators at the end of the operation."""
    NONE = 0           # keep them (to accumulate further K tiles with OP.ACC)
    INT8 = 1           # requantize to int8, store M rows of ceil(N/4) words
    INT32 = 2          # store raw int32 (+ bias), M rows of N words


class Op(data.Struct):
    acc: 1             # 1: C += A·B (keep accumulators); 0: C = A·B
    store: Store
    bias: 1            # add the int32 vector at BIAS_ADDR (N words) before storing
    relu: 1            # int8 output clamped below at QZP


class Job(data.Struct):
    """Parameters of one operation, latched at START."""
    a_addr: 32
    b_addr: 32
    c_addr: 32
    bias_addr: 32
    lda: 32
    ldb: 32
    ldc: 32
    m: 32
    n: 32
    k: 32
    op: Op
    qmul: signed(32)
    qshift: 5
    qzp: signed(8)


_CAUSES = {c.value: c.name for c in Cause}


def _regs():
    addr = lambda name, off, what: Register(name, off, "rw", desc=what)
    return RegisterMap("MATMUL", [
        Register("ID", 0x00, "r", desc="Reads (ord('M') << 24) | (ord('X') << 16) | version."),
        Register("CONFIG", 0x04, "r", [
            Field("DIM", 8, desc="Systolic array side P (P×P MACs per cycle)"),
            Field("MAX_M", 12, desc="Largest M of one operation (accumulator rows)"),
            Field("MAX_N", 12, desc="Largest N of one operation (accumulator columns)"),
        ], desc="Build parameters of this instance."),
        addr("A_ADDR", 0x08, "Byte address of A[0][0] (int8, row-major, word aligned)."),
        addr("B_ADDR", 0x0C, "Byte address of B[0][0] (int8, row-major, word aligned)."),
        addr("C_ADDR", 0x10, "Byte address of C[0][0] (int8 or int32, row-major, word aligned)."),
        addr("BIAS_ADDR", 0x14, "Byte address of the int32 bias vector (N words), if OP.BIAS."),
        addr("A_STRIDE", 0x18, "Bytes from one row of A to the next (multiple of 4)."),
        addr("B_STRIDE", 0x1C, "Bytes from one row of B to the next (multiple of 4)."),
        addr("C_STRIDE", 0x20, "Bytes from one row of C to the next (multiple of 4)."),
        addr("M", 0x24, "Rows of A and C, 1..MAX_M."),
        addr("N", 0x28, "Columns of B and C, 1..MAX_N."),
        addr("K", 0x2C, f"Columns of A = rows of B, 1..{MAX_K}."),
        Register("OP", 0x30, "rw", [
            Field("ACC", 1, desc="1: C += A·B onto the accumulators of the previous operation; "
                                 "0: C = A·B"),
            Field("STORE", 2, desc="What to store at the end",
                  enum={0: "NONE: keep the int32 accumulators in the coprocessor",
                        1: "INT8: requantize; rows of ceil(N/4) words, pad bytes are 0",
                        2: "INT32: raw accumulators (+ bias); rows of N words",
                        3: "reserved: BAD_OP"}),
            Field("BIAS", 1, desc="Add the int32 vector at BIAS_ADDR to every row before storing"),
            Field("RELU", 1, desc="INT8 output is clamped below at QZP"),
        ], desc="The operation."),
        Register("QMUL", 0x34, "rw", desc="Requantization multiplier, signed Q0.31 "
                                          "(real multiplier = QMUL / 2**31 / 2**QSHIFT)."),
        Register("QSHIFT", 0x38, "rw", [Field("SHIFT", 5, desc="Rounding right shift 0..31")],
                 desc="Requantization exponent."),
        Register("QZP", 0x3C, "rw", [Field("ZP", 8, desc="Output zero point, signed int8")],
                 desc="Output zero point."),
        Register("START", 0x40, "w", [Field("GO", 1, desc="Write 1: start the operation")],
                 desc="Starts an operation with the registers above. While busy: the running "
                      "operation is abandoned and ends with ERROR, CAUSE=BUSY."),
        Register("STATUS", 0x44, "ext", [
            Field("BUSY", 1, desc="An operation runs"),
            Field("DONE", 1, desc="The last operation ended (with or without ERROR). Write 1 "
                                  "to clear (acknowledges the interrupt)"),
            Field("ERROR", 1, desc="The last operation failed; see CAUSE"),
            Field("CAUSE", 4, offset=4, desc="Why it failed", enum=_CAUSES),
        ], desc="Progress and errors. START clears DONE, ERROR and CAUSE."),
        Register("ABORT", 0x48, "w", [Field("GO", 1, desc="Write 1: abandon the running "
                                                          "operation (ERROR, CAUSE=ABORTED)")],
                 desc="Stops the running operation; its outputs are undefined."),
        Register("IRQ_EN", 0x4C, "rw", [Field("DONE", 1, desc="Interrupt while STATUS.DONE")],
                 desc="Interrupt enable."),
        Register("CYCLES", 0x50, "r", desc="Cycles from START to DONE of the last operation "
                                           "(counts while busy)."),
    ], desc="int8 matrix coprocessor: C = A·B or C += A·B on a systolic array of int8 MACs, "
            "int32 accumulation, int8 requantized or int32 output.")


class Requantizer(wiring.Component):
    """int32 → int8 requantization, one value per cycle, fixed latency.

    Ports: ``i`` (stream of ``value`` signed(32) and an opaque ``tag``), the parameters
    ``multiplier`` (signed Q0.31), ``shift`` (0..31), ``zero_point`` (signed(8)), ``relu``
    (which must be stable while values flow), and ``o`` (stream of the int8 ``value``, the
    input ``raw`` value and the ``tag``), ``latency`` cycles after ``i``.

    ``dsp=False`` (default): the 32×32 product is a tree of explicit additions, one level per
    pipeline stage, so Yosys maps it to LUTs and carry chains (about 2,800 LUT4 and 1,700
    flip-flops per requantizer on ECP5, in one synthesis of ``MatMulEngine(dim=4)`` with its
    hierarchy kept) and the DSP blocks are left to the systolic array;
    ``latency`` 10. ``dsp=True``: the product is one ``*`` between two registers, which Yosys
    maps to DSP blocks (four MULT18X18D on ECP5) and their adders; ``latency`` 6. The results
    are the same; only the latency and the resources differ.
    """

    def __init__(self, *, tag_width=1, dsp=False):
        if not isinstance(dsp, bool):
            raise TypeError(f"dsp must be a bool, not {dsp!r}")
        self._tag_width = tag_width
        self.dsp = dsp
        self.latency = 6 if dsp else 10
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "value": signed(32), "tag": tag_width}), always_ready=True)),
            "multiplier": In(signed(32)),
            "shift": In(5),
            "zero_point": In(signed(8)),
            "relu": In(1),
            "o": Out(stream.Signature(data.StructLayout({
                "value": signed(8), "raw": signed(32), "tag": tag_width}), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()

        # Parameters are constant during an operation: derive their helpers once, registered.
        mask = Signal(32)
        half = Signal(32)
        m.d.sync += [
            mask.eq((C(1, 33) << self.shift) - 1),
            half.eq(((C(1, 33) << self.shift) - 1) >> 1),
        ]

        # Side channel: valid, raw value and tag travel alongside the arithmetic. Every stage
        # register loads only when the value it takes is valid (``sv[0]`` of the stage before):
        # the others are never read, and an idle requantizer costs a simulator little.
        stages = []
        def side(prev_valid, prev_raw, prev_tag):
            v, r, t = Signal(), Signal(signed(32)), Signal(self._tag_width)
            m.d.sync += v.eq(prev_valid)
            with m.If(prev_valid):
                m.d.sync += [r.eq(prev_raw), t.eq(prev_tag)]
            stages.append((v, r, t))
            return v, r, t

        # Stage 0: register the input.
        x = Signal(signed(32))
        with m.If(self.i.valid):
            m.d.sync += x.eq(self.i.payload.value)
        sv = side(self.i.valid, self.i.payload.value, self.i.payload.tag)

        if self.dsp:
            # Stage 1: the product, from registers to a register (the DSP blocks' adders).
            prod = Signal(signed(64))
            with m.If(sv[0]):
                m.d.sync += prod.eq(x * self.multiplier)
            sv = side(*sv)
        else:
            prod, sv = self._product_tree(m, x, sv, side)

        out, (v, r, t) = self._tail(m, prod, mask, half, sv, side)
        assert len(stages) == self.latency, len(stages)
        m.d.comb += [
            self.o.valid.eq(v),
            self.o.payload.value.eq(out),
            self.o.payload.raw.eq(r),
            self.o.payload.tag.eq(t),
        ]
        return m

    def _product_tree(self, m, x, sv, side):
        """Stages 1..5: x · multiplier as a tree of partial sums (value, weight 2**shift).
        Bit 31 of x weighs -2**31 (two's complement), so its row adds -multiplier (a register:
        the parameters are constant during an operation). Returns (product, side channel)."""
        neg_mul = Signal(signed(33))
        m.d.sync += neg_mul.eq(-self.multiplier)
        terms = []
        for b in range(32):
            row = neg_mul if b == 31 else self.multiplier
            terms.append((Mux(x[b], row, 0), b))
        def combine(lo, hi):
            (a, sa), (b, sb) = lo, hi
            d = sb - sa
            # The low d bits of the sum are a's alone; only the rest needs an adder.
            return Cat(a[:d], (a >> d) + b).as_signed(), sa
        while len(terms) > 1:
            level = []
            for k in range(0, len(terms), 2):
                v, s = combine(terms[k], terms[k + 1])
                r = Signal(signed(len(v)), name=f"pp{len(terms) // 2}_{k // 2}")
                with m.If(sv[0]):
                    m.d.sync += r.eq(v)
                level.append((r, s))
            terms = level
            sv = side(*sv)
        return terms[0][0], sv      # exact 64-bit product x·multiplier (sign-extended)

    def _tail(self, m, prod, mask, half, sv, side):
        """The four stages after the product (6..9 after the tree, 2..5 after the DSP product):
        rounding high half, shift, zero point, clamp.
        Returns (int8 result, side channel)."""
        # Stage 6: SaturatingRoundingDoublingHighMul = floor((prod + 2**30) / 2**31),
        # saturated (only INT32_MIN·INT32_MIN overflows). See docs/matmul.md for why this equals
        # gemmlowp's nudge-and-truncate formulation.
        hi = Signal(signed(35))
        m.d.comb += hi.eq(((prod >> 30) + 1) >> 1)
        y = Signal(signed(32))
        with m.If(sv[0]):
            with m.If(hi > (1 << 31) - 1):
                m.d.sync += y.eq((1 << 31) - 1)
            with m.Elif(hi < -(1 << 31)):
                m.d.sync += y.eq(-(1 << 31))
            with m.Else():
                m.d.sync += y.eq(hi)
        sv = side(*sv)

        # Stages 7, 8: RoundingDivideByPOT(y, shift): round half away from zero.
        shifted = Signal(signed(32))
        rem = Signal(32)
        thr = Signal(33)
        with m.If(sv[0]):
            m.d.sync += [
                shifted.eq(y >> self.shift),
                rem.eq(y.as_unsigned() & mask),
                thr.eq(half + y[31]),
            ]
        sv = side(*sv)
        q = Signal(signed(32))
        with m.If(sv[0]):
            m.d.sync += q.eq(shifted + (rem > thr))
        sv = side(*sv)

        # Stage 9: zero point, clamp (ReLU raises the floor to the zero point).
        s = Signal(signed(34))
        m.d.comb += s.eq(q + self.zero_point)
        lo = Mux(self.relu, self.zero_point, -128)
        out = Signal(signed(8))
        with m.If(sv[0]):
            with m.If(s > 127):
                m.d.sync += out.eq(127)
            with m.Elif(s < lo):
                m.d.sync += out.eq(lo)
            with m.Else():
                m.d.sync += out.eq(s)
        return out, side(*sv)


class MatMulEngine(wiring.Component):
    """Buffers, array, sequencers and output stage of the matrix coprocessor.

    Runs one operation described by ``job`` (stable while it runs, already checked by
    :class:`MatMulCoprocessor`) after a ``start`` pulse; ends with a ``done`` pulse, or an
    ``error`` pulse if the DMA engine refused a descriptor or saw a bus error (the caller then
    resets the engine). ``halt`` drives the DMA channel's ``abort``.
    """

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32, requant_dsp=False):
        if not isinstance(requant_dsp, bool):
            raise TypeError(f"requant_dsp must be a bool, not {requant_dsp!r}")
        for name, v in (("dim", dim), ("max_m", max_m), ("max_n", max_n), ("k_chunk", k_chunk)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an integer, not {v!r}")
            if v < 1 or v & (v - 1):
                raise ValueError(f"{name} must be a power of two, not {v}")
        if not 4 <= dim <= 32:
            raise ValueError(f"dim must be 4..32 (a buffer row holds whole 32-bit words), not {dim}")
        if max_n < dim or k_chunk < dim or max_m < 1:
            raise ValueError(f"max_n ({max_n}) and k_chunk ({k_chunk}) must be at least dim ({dim})")
        if max_m > 2048 or max_n > 2048:
            raise ValueError("max_m and max_n must be at most 2048 (CONFIG has 12-bit fields)")
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        self.requant_dsp = requant_dsp
        super().__init__({
            "job": In(Job),
            "start": In(1),
            "done": Out(1),
            "error": Out(1),
            "halt": In(1),
            "dma": Out(DMAChannelSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        P, Kc = self.dim, self.k_chunk
        MM, MN = self.max_m, self.max_n
        G = 2 * P                                 # rows of A per group (one slot = G cycles)
        job, dma = self.job, self.dma
        lgP, lgKc, lgG = exact_log2(P), exact_log2(Kc), exact_log2(G)
        wpe = P // 4                              # 32-bit words per buffer entry
        lg_wpe = exact_log2(wpe)
        a_epr = Kc // P                           # A buffer entries per row of a chunk
        b_epr = MN // P                           # B buffer / accumulator entries per row
        half_a = G * a_epr                        # entries in one half of the A buffer
        half_b = Kc * b_epr
        max_chunks = (MAX_K + Kc - 1) // Kc
        max_groups = (MM + G - 1) // G
        two_banks = MM > G
        bank_rows = MM // 2 if two_banks else MM

        m.d.comb += dma.abort.eq(self.halt)

        def smul(a, b):
            """a · b for a small unsigned b, as shifts and adds (no DSP block)."""
            b = Value.cast(b)
            return sum(Mux(b[i], a << i, 0) for i in range(len(b)))

        # ---- buffers --------------------------------------------------------------------
        m.submodules.a_buf = a_buf = Memory(shape=8 * P, depth=2 * half_a, init=[])
        m.submodules.b_buf = b_buf = Memory(shape=8 * P, depth=2 * half_b, init=[])
        m.submodules.bias_buf = bias_buf = Memory(shape=128, depth=max(MN // 4, 1), init=[])
        a_w = a_buf.write_port(granularity=32)
        a_r = a_buf.read_port()
        b_w = b_buf.write_port(granularity=32)
        b_r = b_buf.read_port()
        bias_w = bias_buf.write_port(granularity=32)
        bias_r = bias_buf.read_port()
        # Accumulators: groups alternate between two banks, so that the store reads one bank
        # while the array updates the other.
        acc_w, acc_r = [], []
        for bk in range(2 if two_banks else 1):
            mem = Memory(shape=32 * P, depth=bank_rows * b_epr, init=[])
            m.submodules[f"acc_buf{bk}"] = mem
            acc_w.append(mem.write_port())
            acc_r.append(mem.read_port())

        m.submodules.array = array = SystolicArray(dim=P)
        rqs = []
        for lane in range(4):
            rq = Requantizer(tag_width=1, dsp=self.requant_dsp)
            m.submodules[f"requant{lane}"] = rq
            rqs.append(rq)

        # ---- derived sizes (registered in SETUP) ---------------------------------------
        M = job.m[:ceil_log2(MM + 1)]
        N = job.n[:ceil_log2(MN + 1)]
        K = job.k[:17]
        is_int8 = job.op.store == Store.INT8
        storing = job.op.store != Store.NONE
        bias_used = job.op.bias & storing
        n_chunks = Signal(range(max_chunks + 1))
        last_c = Signal(range(max_chunks))
        k_last = Signal(range(Kc + 1))            # K elements in the last chunk
        kb_last = Signal(range(Kc // P + 1))      # K blocks in the last chunk
        rem_last = Signal(range(P))               # last valid lane of the last K block
        a_words_last = Signal(range(Kc // 4 + 1))
        b_words = Signal(range(MN // 4 + 1))      # words per row of B
        nb_cnt = Signal(range(MN // P + 1))
        last_g = Signal(range(max_groups))
        mg_last = Signal(range(G + 1))            # rows in the last group
        st_words = Signal(range(MN + 1))          # words per stored row of C
        km1 = Signal(17)
        m.d.comb += km1.eq(K - 1)

        # ---- engine phases ---------------------------------------------------------------
        run = Signal()                            # loader, compute and store active
        compute_end = Signal()
        drain = Signal(range(array.latency + 8))
        st_done = Signal(range(max_groups + 1))   # groups of C completely written
        pg = Signal(range(max_groups + 1))        # groups of C read out of the accumulators

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += [
                    n_chunks.eq((km1 >> lgKc) + 1),
                    last_c.eq(km1 >> lgKc),
                    k_last.eq((km1 & (Kc - 1)) + 1),
                    kb_last.eq(((km1 & (Kc - 1)) >> lgP) + 1),
                    rem_last.eq(km1 & (P - 1)),
                    a_words_last.eq(((km1 & (Kc - 1)) >> 2) + 1),
                    b_words.eq(((N - 1) >> 2) + 1),
                    nb_cnt.eq(((N - 1) >> lgP) + 1),
                    last_g.eq((M - 1) >> lgG),
                    mg_last.eq(((M - 1) & (G - 1)) + 1),
                    st_words.eq(Mux(is_int8, ((N - 1) >> 2) + 1, N)),
                ]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += run.eq(1)
                with m.If(compute_end):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Let the last rows leave the array and reach the accumulators; then wait
                # until every group of C is written.
                m.d.comb += run.eq(1)
                with m.If(drain != array.latency + 4):
                    m.d.sync += drain.eq(drain + 1)
                with m.Elif(~storing | (st_done == last_g + 1)):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"

        m.d.comb += self.error.eq(dma.error)

        # ---- DMA arbitration: the loader first, then the store --------------------------
        cmd = dma.cmd.payload
        rd = dma.rd
        m.d.comb += rd.ready.eq(1)
        ld_req = Signal()
        st_req = Signal()
        ld_cmd = Signal(DMACommand)
        st_cmd = Signal(DMACommand)
        owner = Signal(2)                         # 1: loader's descriptor, 2: store's
        ld_grant = Signal()
        st_grant = Signal()
        m.d.comb += [
            ld_grant.eq((owner == 0) & ld_req & dma.cmd.ready),
            st_grant.eq((owner == 0) & ~ld_req & st_req & dma.cmd.ready),
            dma.cmd.valid.eq((owner == 0) & (ld_req | st_req)),
            cmd.eq(Mux(ld_req, ld_cmd.as_value(), st_cmd.as_value())),
        ]
        with m.If(ld_grant):
            m.d.sync += owner.eq(1)
        with m.Elif(st_grant):
            m.d.sync += owner.eq(2)
        with m.Elif(dma.done):
            m.d.sync += owner.eq(0)
        ld_done = dma.done & (owner == 1)
        wr_done = dma.done & (owner == 2)

        # ---- loader: DMA reads into the A (per unit) and B (per chunk) halves, bias -----
        # Units (c, g): chunk c of the rows of group g. Order: A(c,0), B(c), [bias after
        # the second unit], A(c,1), A(c,2), ... so the array starts on the first rows of B.
        a_full = Signal(2)
        a_release = Signal(2)
        a_loaded = Signal(2)
        m.d.sync += a_full.eq((a_full | a_loaded) & ~a_release)
        b_full = Signal(2)
        b_release = Signal(2)
        b_loaded = Signal(2)
        m.d.sync += b_full.eq((b_full | b_loaded) & ~b_release)
        b_loading = Signal()                      # the loader fills B half ld_bh now

        ld_c = Signal(range(max_chunks + 1))
        ld_g = Signal(range(max_groups + 1))
        ld_ah = Signal()
        ld_bh = Signal()
        ld_row = Signal(range(max(G, Kc) + 1))
        ld_word = Signal(range(max(MN, Kc) + 1))
        ld_rows = Signal(range(max(G, Kc) + 1))   # rows of the current load
        ld_wpr = Signal(range(max(MN, Kc) + 1))   # words per row of the current load
        ld_merge = Signal()                       # one descriptor for all rows
        ld_words = Signal(16)                     # words per descriptor of the current load
        a_chunk_ptr = Signal(32)
        a_ptr = Signal(32)
        b_ptr = Signal(32)
        bias_pending = Signal()
        bias_done = Signal()
        ld_is_last = ld_c == last_c
        k_c = Mux(ld_is_last, k_last, Kc)
        a_words = Mux(ld_is_last, a_words_last, Kc // 4)
        ld_mg = Mux(ld_g == last_g, mg_last, G)

        def count_word():
            with m.If(rd.valid):
                with m.If(ld_word == ld_wpr - 1):
                    m.d.sync += [ld_word.eq(0), ld_row.eq(ld_row + 1)]
                with m.Else():
                    m.d.sync += ld_word.eq(ld_word + 1)

        def next_unit():
            with m.If(ld_g == last_g):
                m.d.sync += [ld_g.eq(0), ld_c.eq(ld_c + 1),
                             a_chunk_ptr.eq(a_chunk_ptr + Kc), a_ptr.eq(a_chunk_ptr + Kc)]
            with m.Else():
                m.d.sync += ld_g.eq(ld_g + 1)
            m.next = "WAIT"

        with m.FSM(name="loader"):
            with m.State("IDLE"):
                with m.If(run):
                    m.d.sync += [
                        ld_c.eq(0), ld_g.eq(0), ld_ah.eq(0), ld_bh.eq(0),
                        a_chunk_ptr.eq(job.a_addr), a_ptr.eq(job.a_addr), b_ptr.eq(job.b_addr),
                        bias_pending.eq(bias_used), bias_done.eq(~bias_used),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(bias_pending & ((ld_c != 0) | (ld_g == 2))):
                    m.next = "BIAS_CMD"
                with m.Elif(ld_c == n_chunks):
                    m.next = "END"
                with m.Elif(~a_full.bit_select(ld_ah, 1)):
                    a_merge = job.lda == (a_words << 2)
                    m.d.sync += [
                        ld_row.eq(0), ld_word.eq(0), ld_rows.eq(ld_mg), ld_wpr.eq(a_words),
                        ld_merge.eq(a_merge),
                        ld_words.eq(Mux(a_merge, smul(a_words, ld_mg), a_words)),
                    ]
                    m.next = "A_CMD"
            with m.State("BIAS_CMD"):
                m.d.comb += [
                    ld_req.eq(1),
                    ld_cmd.addr.eq(job.bias_addr),
                    ld_cmd.words.eq(N),
                    ld_cmd.write.eq(0),
                ]
                with m.If(ld_grant):
                    m.d.sync += [ld_word.eq(0), bias_pending.eq(0)]
                    m.next = "BIAS_DATA"
            with m.State("BIAS_DATA"):
                m.d.comb += [
                    bias_w.addr.eq(ld_word >> 2),
                    bias_w.data.eq(Cat([rd.payload] * 4)),
                    bias_w.en.eq(Mux(rd.valid, C(1, 4) << ld_word[:2], 0)),
                ]
                with m.If(rd.valid):
                    m.d.sync += ld_word.eq(ld_word + 1)
                with m.If(ld_done):
                    m.d.sync += bias_done.eq(1)
                    m.next = "WAIT"
            with m.State("A_CMD"):
                m.d.comb += [
                    ld_req.eq(1),
                    ld_cmd.addr.eq(a_ptr),
                    ld_cmd.words.eq(ld_words),
                    ld_cmd.write.eq(0),
                ]
                with m.If(ld_grant):
                    m.next = "A_DATA"
            with m.State("A_DATA"):
                m.d.comb += [
                    a_w.addr.eq(ld_ah * half_a + (ld_row << exact_log2(a_epr))
                                + (ld_word >> lg_wpe)),
                    a_w.data.eq(Cat([rd.payload] * wpe)),
                    a_w.en.eq(Mux(rd.valid, C(1, wpe) << (ld_word & (wpe - 1)), 0)),
                ]
                count_word()
                with m.If(ld_done):
                    m.d.sync += a_ptr.eq(a_ptr + Mux(ld_merge, ld_words << 2, job.lda))
                    with m.If(ld_row == ld_rows):
                        m.d.comb += a_loaded.eq(Mux(ld_ah, 0b10, 0b01))
                        m.d.sync += ld_ah.eq(~ld_ah)
                        with m.If(ld_g == 0):
                            m.next = "B_WAIT"
                        with m.Else():
                            next_unit()
                    with m.Else():
                        m.next = "A_CMD"
            with m.State("B_WAIT"):
                with m.If(~b_full.bit_select(ld_bh, 1)):
                    b_merge = job.ldb == (b_words << 2)
                    m.d.sync += [
                        ld_row.eq(0), ld_word.eq(0), ld_rows.eq(k_c), ld_wpr.eq(b_words),
                        ld_merge.eq(b_merge),
                        ld_words.eq(Mux(b_merge, smul(b_words, k_c), b_words)),
                    ]
                    m.next = "B_CMD"
            with m.State("B_CMD"):
                m.d.comb += [
                    b_loading.eq(1),
                    ld_req.eq(1),
                    ld_cmd.addr.eq(b_ptr),
                    ld_cmd.words.eq(ld_words),
                    ld_cmd.write.eq(0),
                ]
                with m.If(ld_grant):
                    m.next = "B_DATA"
            with m.State("B_DATA"):
                m.d.comb += [
                    b_loading.eq(1),
                    b_w.addr.eq(ld_bh * half_b + (ld_row << exact_log2(b_epr))
                                + (ld_word >> lg_wpe)),
                    b_w.data.eq(Cat([rd.payload] * wpe)),
                    b_w.en.eq(Mux(rd.valid, C(1, wpe) << (ld_word & (wpe - 1)), 0)),
                ]
                count_word()
                with m.If(ld_done):
                    m.d.sync += b_ptr.eq(b_ptr + Mux(ld_merge, ld_words << 2, job.ldb))
                    with m.If(ld_row == ld_rows):
                        m.d.comb += b_loaded.eq(Mux(ld_bh, 0b10, 0b01))
                        m.d.sync += ld_bh.eq(~ld_bh)
                        next_unit()
                    with m.Else():
                        m.next = "B_CMD"
            with m.State("END"):
                pass

        # ---- compute sequencer: slots of G = 2P cycles, one pass each --------------------
        # Pass order: chunk c, group g, K block kb, column block nb (innermost). "cur" is the
        # pass whose A rows stream in this slot; "nxt" the pass whose weights are written into
        # the other bank in this slot.
        cur_valid = Signal()
        cur_ah = Signal()
        cur_bh = Signal()
        cur_g = Signal(range(max_groups))
        cur_nb = Signal(range(MN // P))
        cur_kb = Signal(range(Kc // P))
        cur_bank = Signal()
        cur_mg = Signal(range(G + 1))
        cur_first = Signal()                      # first K block: overwrite the accumulators
        cur_partial = Signal()                    # last K block of K: mask lanes past K
        cur_unit_end = Signal()                   # last pass of its unit: free the A half
        cur_chunk_end = Signal()                  # last pass of its chunk: free the B half
        cur_last_c = Signal()                     # a pass of the last chunk

        nxt_valid = Signal()
        nxt_c = Signal(range(max_chunks + 1))
        nxt_g = Signal(range(max_groups))
        nxt_ah = Signal()
        nxt_bh = Signal()
        nxt_nb = Signal(range(MN // P))
        nxt_kb = Signal(range(Kc // P))
        nxt_bank = Signal()
        nxt_kb_end = Mux(nxt_c == last_c, kb_last, Kc // P) - 1
        nxt_unit_end = (nxt_kb == nxt_kb_end) & (nxt_nb == nb_cnt - 1)

        s = Signal(range(G))                      # cycle within the slot

        inj_valid = Signal()                      # this cycle: read A for injection next cycle
        wl_valid = Signal()                       # this cycle: read B for a weight row
        wl_index = Signal(range(P))
        m.d.comb += wl_index.eq(s - P)

        # The weights of nxt need B rows up to (kb+1)·P of its chunk; the rows of cur need
        # their A unit; in the last chunk, group g reuses the accumulator bank of group g-2,
        # whose store must have ended.
        def b_ready(bh, kb):
            return (b_full.bit_select(bh, 1)
                    | (b_loading & (ld_bh == bh) & (ld_row >= ((kb + 1) << lgP))))
        def a_ready(ah, g, last):
            return (a_full.bit_select(ah, 1) & ~(storing & last & (g >= pg + 2)))
        cur_ok = ~cur_valid | a_ready(cur_ah, cur_g, cur_last_c)
        nxt_ok = ~nxt_valid | b_ready(nxt_bh, nxt_kb)
        # The successor of nxt, to decide at the end of a slot whether the next slot can
        # follow without a gap (nxt becomes cur, the successor becomes nxt).
        succ_valid = Signal()
        succ_bh = Signal()
        succ_kb = Signal(range(Kc // P))
        m.d.comb += [succ_valid.eq(nxt_valid), succ_bh.eq(nxt_bh), succ_kb.eq(nxt_kb)]
        with m.If(nxt_nb != nb_cnt - 1):
            pass
        with m.Elif(nxt_kb != nxt_kb_end):
            m.d.comb += succ_kb.eq(nxt_kb + 1)
        with m.Elif(nxt_g != last_g):
            m.d.comb += succ_kb.eq(0)
        with m.Elif(nxt_c != last_c):
            m.d.comb += [succ_kb.eq(0), succ_bh.eq(~nxt_bh)]
        with m.Else():
            m.d.comb += succ_valid.eq(0)
        next_ok = ((~nxt_valid | a_ready(nxt_ah, nxt_g, nxt_c == last_c))
                   & (~succ_valid | b_ready(succ_bh, succ_kb)) & (nxt_valid | succ_valid))

        with m.FSM(name="compute"):
            with m.State("IDLE"):
                with m.If(run):
                    m.d.sync += [
                        cur_valid.eq(0),
                        nxt_valid.eq(1), nxt_c.eq(0), nxt_g.eq(0), nxt_ah.eq(0), nxt_bh.eq(0),
                        nxt_nb.eq(0), nxt_kb.eq(0), nxt_bank.eq(0),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(~cur_valid & ~nxt_valid):
                    m.d.comb += compute_end.eq(1)
                    m.next = "END"
                with m.Elif(cur_ok & nxt_ok):
                    m.d.sync += s.eq(0)
                    m.next = "SLOT"
            with m.State("SLOT"):
                m.d.sync += s.eq(s + 1)
                m.d.comb += [
                    inj_valid.eq(cur_valid & (s < cur_mg)),
                    wl_valid.eq(nxt_valid & (s >= P)),
                ]
                with m.If(s == G - 1):
                    with m.If(cur_valid & cur_unit_end):
                        m.d.comb += a_release.eq(Mux(cur_ah, 0b10, 0b01))
                    with m.If(cur_valid & cur_chunk_end):
                        m.d.comb += b_release.eq(Mux(cur_bh, 0b10, 0b01))
                    # Advance: nxt becomes cur, nxt steps to its successor.
                    m.d.sync += [
                        cur_valid.eq(nxt_valid),
                        cur_ah.eq(nxt_ah),
                        cur_bh.eq(nxt_bh),
                        cur_g.eq(nxt_g),
                        cur_nb.eq(nxt_nb),
                        cur_kb.eq(nxt_kb),
                        cur_bank.eq(nxt_bank),
                        cur_mg.eq(Mux(nxt_g == last_g, mg_last, G)),
                        cur_first.eq((nxt_c == 0) & (nxt_kb == 0) & ~job.op.acc),
                        cur_partial.eq((nxt_c == last_c) & (nxt_kb == kb_last - 1)),
                        cur_unit_end.eq(nxt_unit_end),
                        cur_chunk_end.eq(nxt_unit_end & (nxt_g == last_g)),
                        cur_last_c.eq(nxt_c == last_c),
                        nxt_bank.eq(~nxt_bank),
                    ]
                    with m.If(nxt_nb != nb_cnt - 1):
                        m.d.sync += nxt_nb.eq(nxt_nb + 1)
                    with m.Elif(nxt_kb != nxt_kb_end):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(nxt_kb + 1)]
                    with m.Elif(nxt_g != last_g):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(0), nxt_g.eq(nxt_g + 1),
                                     nxt_ah.eq(~nxt_ah)]
                    with m.Elif(nxt_c != last_c):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(0), nxt_g.eq(0),
                                     nxt_c.eq(nxt_c + 1), nxt_ah.eq(~nxt_ah), nxt_bh.eq(~nxt_bh)]
                    with m.Else():
                        m.d.sync += nxt_valid.eq(0)
                    with m.If(next_ok):
                        m.d.sync += s.eq(0)
                    with m.Else():
                        m.next = "WAIT"
            with m.State("END"):
                pass

        # Buffer reads for this cycle; the array sees the data next cycle.
        m.d.comb += [
            a_r.addr.eq(cur_ah * half_a + (s << exact_log2(a_epr)) + cur_kb),
            b_r.addr.eq(nxt_bh * half_b + (((nxt_kb << lgP) + wl_index) << exact_log2(b_epr))
                        + nxt_nb),
        ]
        inj_d = Signal()
        bank_d = Signal()
        partial_d = Signal()
        wl_d = Signal()
        wl_index_d = Signal(range(P))
        wl_bank_d = Signal()
        m.d.sync += [
            inj_d.eq(inj_valid), bank_d.eq(cur_bank), partial_d.eq(cur_partial),
            wl_d.eq(wl_valid), wl_index_d.eq(wl_index), wl_bank_d.eq(nxt_bank),
        ]
        for i in range(P):
            lane_on = ~partial_d | (i <= rem_last)
            m.d.comb += [
                array.rows.payload.a[i].eq(Mux(lane_on, a_r.data[8 * i:8 * i + 8], 0)),
                array.weights.payload.w[i].eq(b_r.data[8 * i:8 * i + 8]),
            ]
        m.d.comb += [
            array.rows.valid.eq(inj_d),
            array.rows.payload.bank.eq(bank_d),
            array.weights.valid.eq(wl_d),
            array.weights.payload.index.eq(wl_index_d),
            array.weights.payload.bank.eq(wl_bank_d),
        ]

        # Accumulator bank, address, "first" and "group final" travel beside the array
        # (latency + 1 cycles).
        meta_layout = data.StructLayout({
            "valid": 1, "first": 1, "final": 1, "bank": 1, "addr": range(bank_rows * b_epr)})
        meta = Signal(meta_layout)
        bank_row = Cat(s[:lgG], cur_g[1:]) if two_banks else s
        m.d.comb += [
            meta.valid.eq(inj_valid),
            meta.first.eq(cur_first),
            meta.final.eq(cur_last_c & cur_unit_end & (s == cur_mg - 1)),
            meta.bank.eq(cur_g[0] if two_banks else 0),
            meta.addr.eq((bank_row << exact_log2(b_epr)) + cur_nb),
        ]
        for d in range(array.latency + 1):
            meta_d = Signal(meta_layout, name=f"meta_{d}")
            m.d.sync += meta_d.valid.eq(meta.valid)
            with m.If(meta.valid):              # (the rest only matters when valid)
                m.d.sync += [meta_d.first.eq(meta.first), meta_d.final.eq(meta.final),
                             meta_d.bank.eq(meta.bank), meta_d.addr.eq(meta.addr)]
            meta = meta_d

        # Read-modify-write of one accumulator row (P int32) per cycle. A row is revisited
        # only a slot (2P cycles) later, long after its write.
        sums_d = Signal.like(array.sums.payload)
        rmw = Signal(meta_layout)
        m.d.sync += rmw.valid.eq(meta.valid)
        with m.If(meta.valid):
            m.d.sync += [sums_d.eq(array.sums.payload), rmw.first.eq(meta.first),
                         rmw.final.eq(meta.final), rmw.bank.eq(meta.bank),
                         rmw.addr.eq(meta.addr)]
        rmw_old = Mux(rmw.bank, acc_r[-1].data, acc_r[0].data)
        rmw_data = Signal(32 * P)
        with m.If(rmw.valid):
            new = []
            for j in range(P):
                old = rmw_old[32 * j:32 * j + 32].as_signed()
                new.append((Mux(rmw.first, 0, old) + sums_d[j])[:32])
            m.d.comb += rmw_data.eq(Cat(new))
        for bk, wp in enumerate(acc_w):
            m.d.comb += [
                wp.addr.eq(rmw.addr),
                wp.data.eq(rmw_data),
                wp.en.eq(rmw.valid & (rmw.bank == bk)),
            ]
        st_ready = Signal(range(max_groups + 1))  # groups whose accumulators are final
        with m.If(rmw.valid & rmw.final):
            m.d.sync += st_ready.eq(st_ready + 1)

        # ---- output stage: accumulators → (+bias) → 4 requantizers → FIFO → DMA ----------
        # One 32-bit word of C per cycle: four int8 values, or one int32 value. Group g of
        # C is stored (from bank g mod 2) while the array works on group g+1.
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(width=32, depth=32)
        pipe_depth = 3 + rqs[0].latency
        # producer: group pg (defined above), row in group, word
        pr = Signal(range(G))
        pw = Signal(range(MN + 1))
        p_mg = Mux(pg == last_g, mg_last, G)
        p_go = run & storing & (pg < st_ready) & bias_done
        issue = Signal()
        m.d.comb += issue.eq(p_go & (out_fifo.level < out_fifo.depth - pipe_depth))
        with m.If(issue):
            with m.If(pw == st_words - 1):
                m.d.sync += [pw.eq(0), pr.eq(pr + 1)]
                with m.If(pr == p_mg - 1):
                    m.d.sync += [pr.eq(0), pg.eq(pg + 1)]
            with m.Else():
                m.d.sync += pw.eq(pw + 1)
        with m.If(~run):
            m.d.sync += [pg.eq(0), pr.eq(0), pw.eq(0)]

        QPE = P // 4                              # quads (4 values) per accumulator entry
        lg_qpe = exact_log2(QPE)
        p_entry = Mux(is_int8, pw >> lg_qpe, pw >> lgP)
        p_quad = Mux(is_int8, pw, pw >> 2)[:lg_qpe] if lg_qpe else C(0, 1)
        p_row = Cat(pr[:lgG], pg[1:]) if two_banks else pr
        st_addr = (p_row << exact_log2(b_epr)) + p_entry
        for bk, rp in enumerate(acc_r):
            # The array's bank and the store's bank never coincide (see cur_ok).
            with m.If(meta.valid & (meta.bank == bk)):
                m.d.comb += rp.addr.eq(meta.addr)
            with m.Else():
                m.d.comb += rp.addr.eq(st_addr)
        m.d.comb += bias_r.addr.eq(Mux(is_int8, pw, pw >> 2))

        # Stage 1: data of the accumulator entry and the bias quad arrive; select the quad.
        p1_valid = Signal()
        p1_bank = Signal()
        p1_quad = Signal(max(lg_qpe, 1))
        p1_lane = Signal(2)
        p1_pad = Signal(4)
        m.d.sync += [
            p1_valid.eq(issue),
            p1_bank.eq(pg[0] if two_banks else 0),
            p1_quad.eq(p_quad),
            p1_lane.eq(pw[:2]),
            p1_pad.eq(Cat(((pw << 2) + l >= N) & is_int8 for l in range(4))),
        ]
        # The requantizers' input registers take the sums directly (their stage 0).
        x = [Signal(signed(32), name=f"x{l}") for l in range(4)]
        x_valid = p1_valid
        x_pad = p1_pad
        entry = Mux(p1_bank, acc_r[-1].data, acc_r[0].data)
        quad = entry.word_select(p1_quad, 128) if QPE > 1 else entry
        bquad = Mux(job.op.bias, bias_r.data, 0)
        vals = [quad[32 * l:32 * l + 32].as_signed() + bquad[32 * l:32 * l + 32].as_signed()
                for l in range(4)]
        one = Signal(signed(32))
        m.d.comb += one.eq(Array(vals)[p1_lane])
        for l in range(4):
            m.d.comb += x[l].eq(Mux(is_int8, vals[l], one if l == 0 else 0))
        for l, rq in enumerate(rqs):
            m.d.comb += [
                rq.i.valid.eq(x_valid),
                rq.i.payload.value.eq(x[l]),
                rq.i.payload.tag.eq(x_pad[l]),
                rq.multiplier.eq(job.qmul),
                rq.shift.eq(job.qshift),
                rq.zero_point.eq(job.qzp),
                rq.relu.eq(job.op.relu),
            ]
        bytes_ = [Mux(rq.o.payload.tag[0], 0, rq.o.payload.value.as_unsigned()) for rq in rqs]
        m.d.comb += [
            out_fifo.w_en.eq(rqs[0].o.valid),
            out_fifo.w_data.eq(Mux(is_int8, Cat(*bytes_), rqs[0].o.payload.raw)),
            dma.wr.valid.eq(out_fifo.r_rdy),
            dma.wr.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(dma.wr.ready),
        ]

        # Store descriptors: per group of C, one for all its rows if they are contiguous,
        # else one per row. Issued only when the group's words are coming (no descriptor
        # holds the DMA engine waiting).
        c_ptr = Signal(32)
        c_row = Signal(range(G + 1))
        c_mg = Signal(range(G + 1))               # rows of the group being stored
        c_merge = Signal()                        # rows of C contiguous: one descriptor
        c_words = Signal(16)                      # words per descriptor
        with m.FSM(name="store"):
            with m.State("IDLE"):
                with m.If(run & storing):
                    m.d.sync += [c_ptr.eq(job.c_addr), c_row.eq(0), st_done.eq(0)]
                    m.next = "WAIT"
            with m.State("WAIT"):
                mg = Mux(st_done == last_g, mg_last, G)
                merge = job.ldc == (st_words << 2)
                m.d.sync += [
                    c_mg.eq(mg), c_merge.eq(merge),
                    c_words.eq(Mux(merge, smul(st_words, mg), st_words)),
                ]
                with m.If(st_done == last_g + 1):
                    m.next = "END"
                with m.Elif((st_done < st_ready) & bias_done):
                    m.next = "CMD"
            with m.State("CMD"):
                m.d.comb += [
                    st_req.eq(1),
                    st_cmd.addr.eq(c_ptr),
                    st_cmd.words.eq(c_words),
                    st_cmd.write.eq(1),
                ]
                with m.If(st_grant):
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(wr_done):
                    with m.If(c_merge):
                        m.d.sync += [c_ptr.eq(c_ptr + (c_words << 2)),
                                     c_row.eq(0), st_done.eq(st_done + 1)]
                        m.next = "WAIT"
                    with m.Elif(c_row == c_mg - 1):
                        m.d.sync += [c_ptr.eq(c_ptr + job.ldc), c_row.eq(0),
                                     st_done.eq(st_done + 1)]
                        m.next = "WAIT"
                    with m.Else():
                        m.d.sync += [c_ptr.eq(c_ptr + job.ldc), c_row.eq(c_row + 1)]
                        m.next = "CMD"
            with m.State("END"):
                pass
        with m.If(~run):
            m.d.sync += st_ready.eq(0)
        return m


class MatMulCoprocessor(wiring.Component):
    """The int8 matrix coprocessor, per docs/coprocessor-contract.md.

    Parameters (keyword-only): ``dim`` (array side P, power of two 4..32; 8 = 64 MACs/cycle),
    ``max_m``, ``max_n`` (accumulator capacity of one operation, powers of two), ``k_chunk``
    (K elements per double-buffered chunk, power of two >= dim), ``requant_dsp`` (the four
    requantizers' 32×32 products in DSP blocks instead of LUTs: 16 more MULT18X18D on ECP5,
    and the 'compact' SoC went from 53,564 to 44,710 TRELLIS_COMB with it (docs/fpga.md);
    4 cycles less output latency; :class:`Requantizer`).

    Ports: ``bus`` (its 4 KiB register slot), ``dma`` (to its DMAEngine), ``irq``
    (STATUS.DONE & IRQ_EN.DONE), ``busy`` (an operation runs).
    """

    NAME = "MATMUL"
    SLOT = 2
    REGS = _regs()
    sim_gating = False        # sim/simtop.py: stop the engine's clock while idle (hdl/simgate.py)

    bus: In(WishboneSignature(addr_width=10))
    dma: Out(DMAChannelSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32, requant_dsp=False):
        # MatMulEngine checks the parameters.
        self.engine = MatMulEngine(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk,
                                   requant_dsp=requant_dsp)
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        super().__init__()

    def elaborate(self, platform):
        rst_next = Signal()                       # engine_rst's next value
        job_load = Signal()                       # START accepted: latch the parameters
        if not self.sim_gating:
            return self._elaborate(platform, rst_next, job_load, None)
        # Simulation model only (hdl/simgate.py). The engine (and the job it reads) gets a
        # clock that stops while the engine sits in reset (see sim_gated_domain); the rest
        # (control, register bank) one that stops while idle: it changes only on a bus request
        # to its slot, while busy, and in the cycle after (the register bank's response).
        m = Module()
        edom = sim_gated_domain(m, "mmeng", rst_next, job_load)
        m.submodules.engine = ResetInserter({edom.name: edom.rst})(
            DomainRenamer(edom.name)(self.engine))
        sim_gated_block(m, "matmul", self.bus.cyc | self.busy, 16,
                        lambda platform: self._elaborate(platform, rst_next, job_load, edom.name))
        return m

    def _elaborate(self, platform, rst_next, job_load, engine_domain):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)

        # The engine's reset is a register: it fans out to every flip-flop of the engine, so
        # nothing but a clock-to-output delay may precede it (the parameter checks do not).
        engine_rst = Signal(init=1)
        m.d.comb += rst_next.eq(engine_rst)
        m.d.sync += engine_rst.eq(rst_next)
        go = Signal()                             # first cycle of RUN: start the engine
        job = Signal(Job)
        eng = self.engine
        if engine_domain is None:
            m.submodules.engine = ResetInserter(engine_rst)(eng)
            job_d = m.d.sync
        else:                                     # (elaborate() added the engine)
            job_d = m.d[engine_domain]
        wiring.connect(m, wiring.flipped(self.dma), eng.dma)
        m.d.comb += eng.job.eq(job)

        done = Signal()
        error = Signal()
        cause = Signal(Cause)
        cycles = Signal(32)

        m.d.comb += [
            regs.id.r_data.eq((ord("M") << 24) | (ord("X") << 16) | VERSION),
            regs.config.r_data.dim.eq(self.dim),
            regs.config.r_data.max_m.eq(self.max_m),
            regs.config.r_data.max_n.eq(self.max_n),
            regs.status.r_data.busy.eq(self.busy),
            regs.status.r_data.done.eq(done),
            regs.status.r_data.error.eq(error),
            regs.status.r_data.cause.eq(cause),
            regs.cycles.r_data.eq(cycles),
            self.irq.eq(done & regs.irq_en.data.done),
        ]
        with m.If(regs.status.w_stb & regs.status.w_data.done):
            m.d.sync += done.eq(0)

        start = regs.start.w_stb & regs.start.w_data.go
        abort = regs.abort.w_stb & regs.abort.w_data.go

        # Parameter checks, in this order of priority.
        op = job.op
        stores = op.store != Store.NONE
        misaligned = Cat(
            job.a_addr[:2], job.b_addr[:2], job.lda[:2], job.ldb[:2],
            Mux(stores, Cat(job.c_addr[:2], job.ldc[:2]), 0),
            Mux(stores & op.bias, job.bias_addr[:2], 0)).any()
        check = Signal(Cause)
        with m.If(op.store.as_value() == 3):
            m.d.comb += check.eq(Cause.BAD_OP)
        with m.Elif((job.m == 0) | (job.n == 0) | (job.k == 0)):
            m.d.comb += check.eq(Cause.ZERO_SIZE)
        with m.Elif((job.m > self.max_m) | (job.n > self.max_n) | (job.k > MAX_K)):
            m.d.comb += check.eq(Cause.TOO_BIG)
        with m.Elif(misaligned):
            m.d.comb += check.eq(Cause.ALIGN)

        def finish(why):
            m.d.sync += [done.eq(1), error.eq(why != Cause.NONE), cause.eq(why)]

        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.comb += job_load.eq(1)
                    job_d += [
                        job.a_addr.eq(regs.a_addr.data),
                        job.b_addr.eq(regs.b_addr.data),
                        job.c_addr.eq(regs.c_addr.data),
                        job.bias_addr.eq(regs.bias_addr.data),
                        job.lda.eq(regs.a_stride.data),
                        job.ldb.eq(regs.b_stride.data),
                        job.ldc.eq(regs.c_stride.data),
                        job.m.eq(regs.m.data),
                        job.n.eq(regs.n.data),
                        job.k.eq(regs.k.data),
                        job.op.eq(regs.op.data.as_value()[:Op.as_shape().size]),
                        job.qmul.eq(regs.qmul.data),
                        job.qshift.eq(regs.qshift.data.shift),
                        job.qzp.eq(regs.qzp.data.zp),
                    ]
                    m.d.sync += [
                        done.eq(0), error.eq(0), cause.eq(Cause.NONE),
                        cycles.eq(1),
                    ]
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(start):
                    m.d.sync += cause.eq(Cause.BUSY)
                    m.next = "HALT"
                with m.Elif(check != Cause.NONE):
                    finish(check)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += go.eq(1)
                    m.d.comb += rst_next.eq(0)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), eng.start.eq(go)]
                m.d.sync += [cycles.eq(cycles + 1), go.eq(0)]
                with m.If(start):
                    m.d.sync += cause.eq(Cause.BUSY)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(abort):
                    m.d.sync += cause.eq(Cause.ABORTED)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.error):
                    m.d.sync += cause.eq(Cause.DMA)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.done):
                    finish(Cause.NONE)
                    m.d.comb += rst_next.eq(1)
                    m.next = "IDLE"
            with m.State("HALT"):
                # Engine held in reset (nothing in flight), DMA told to abort; wait until the
                # DMA engine has drained its bus responses and gone idle.
                m.d.comb += [self.busy.eq(1), eng.halt.eq(1)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(~self.dma.busy):
                    m.d.sync += [done.eq(1), error.eq(1)]
                    m.next = "IDLE"
        return m
