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
* :class:`MatMulEngine` — buffers (A, B double-buffered by K chunk; int32 accumulators; bias),
  the loader (DMA reads into the buffers), the sequencer feeding the array, the accumulator
  read-modify-write, and the output stage (requantizer, packer, DMA writes).
* :class:`Requantizer` — the int32 → int8 pipeline, one value per cycle, LUT multiplier.

Schedule. K is cut into chunks of ``k_chunk``; chunk c of A (M × k_chunk) and of B
(k_chunk × N) is loaded into buffer half c mod 2 while the array works on chunk c-1. Within a
chunk the array runs *passes*: for each column block nb (P columns of C) and each K block kb
(P elements of K), the P×P block of B is the array's weights and the M rows of A stream
through, one per cycle, each producing P partial sums that are added to the accumulators.
A pass occupies a *slot* of L = max(M, 2P) cycles; during slot p the weights of pass p+1 are
written into the other weight bank, so consecutive passes follow without a gap. Every count
depends only on M, N, K and the operation, never on data.
"""

from amaranth import *
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring, data, stream, enum, fifo
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank
from .dma import DMAChannelSignature
from .systolic import SystolicArray


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
    """int32 → int8 requantization, one value per cycle, fixed latency, no DSP blocks.

    Ports: ``i`` (stream of ``value`` signed(32) and an opaque ``tag``), the parameters
    ``multiplier`` (signed Q0.31), ``shift`` (0..31), ``zero_point`` (signed(8)), ``relu``
    (which must be stable while values flow), and ``o`` (stream of the int8 ``value``, the
    input ``raw`` value and the ``tag``), ``latency`` cycles after ``i``.

    The 32×32 product is a tree of explicit additions, one level per pipeline stage, so Yosys
    maps it to LUTs and carry chains: the DSP blocks are left to the systolic array.
    """

    def __init__(self, *, tag_width=1):
        self._tag_width = tag_width
        self.latency = 10
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
        neg_mul = Signal(signed(33))
        mask = Signal(32)
        half = Signal(32)
        m.d.sync += [
            neg_mul.eq(-self.multiplier),
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

        # Stages 1..5: x · multiplier as a tree of partial sums (value, weight 2**shift).
        # Bit 31 of x weighs -2**31 (two's complement), so its row adds -multiplier.
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
        prod = terms[0][0]          # exact 64-bit product x·multiplier (sign-extended)

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
        sv = side(*sv)

        assert len(stages) == self.latency, len(stages)
        v, r, t = sv
        m.d.comb += [
            self.o.valid.eq(v),
            self.o.payload.value.eq(out),
            self.o.payload.raw.eq(r),
            self.o.payload.tag.eq(t),
        ]
        return m


class MatMulEngine(wiring.Component):
    """Buffers, array, sequencers and output stage of the matrix coprocessor.

    Runs one operation described by ``job`` (stable while it runs, already checked by
    :class:`MatMulCoprocessor`) after a ``start`` pulse; ends with a ``done`` pulse, or an
    ``error`` pulse if the DMA engine refused a descriptor or saw a bus error (the caller then
    resets the engine). ``halt`` drives the DMA channel's ``abort``.
    """

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32):
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
        job, dma = self.job, self.dma
        lgP, lgKc = exact_log2(P), exact_log2(Kc)
        wpe = P // 4                              # 32-bit words per buffer entry
        lg_wpe = exact_log2(wpe)
        a_epr = Kc // P                           # A buffer entries per row of a chunk
        b_epr = MN // P                           # B buffer / accumulator entries per row
        half_a = MM * a_epr                       # entries in one half of the A buffer
        half_b = Kc * b_epr
        max_chunks = (MAX_K + Kc - 1) // Kc

        m.d.comb += dma.abort.eq(self.halt)

        # ---- buffers --------------------------------------------------------------------
        m.submodules.a_buf = a_buf = Memory(shape=8 * P, depth=2 * half_a, init=[])
        m.submodules.b_buf = b_buf = Memory(shape=8 * P, depth=2 * half_b, init=[])
        m.submodules.acc_buf = acc_buf = Memory(shape=32 * P, depth=MM * b_epr, init=[])
        m.submodules.bias_buf = bias_buf = Memory(shape=32, depth=MN, init=[])
        a_w = a_buf.write_port(granularity=32)
        a_r = a_buf.read_port()
        b_w = b_buf.write_port(granularity=32)
        b_r = b_buf.read_port()
        acc_w = acc_buf.write_port()
        acc_r = acc_buf.read_port()
        bias_w = bias_buf.write_port()
        bias_r = bias_buf.read_port()

        m.submodules.array = array = SystolicArray(dim=P)
        m.submodules.requant = rq = Requantizer(tag_width=3)

        # ---- derived sizes (registered in SETUP) ---------------------------------------
        M = job.m[:ceil_log2(MM + 1)]
        N = job.n[:ceil_log2(MN + 1)]
        K = job.k[:17]
        is_int8 = job.op.store == Store.INT8
        n_chunks = Signal(range(max_chunks + 1))
        last_c = Signal(range(max_chunks))
        k_last = Signal(range(Kc + 1))            # K elements in the last chunk
        kb_last = Signal(range(Kc // P + 1))      # K blocks in the last chunk
        rem_last = Signal(range(P))               # last valid lane of the last K block
        a_words_last = Signal(range(Kc // 4 + 1))
        b_words = Signal(range(MN // 4 + 1))      # words per row of B (and of int8 C)
        nb_cnt = Signal(range(MN // P + 1))
        slot = Signal(range(max(MM, 2 * P) + 1))
        st_words = Signal(range(MN + 1))          # words per stored row of C
        st_vals = Signal(range(MN + 4))           # values per stored row (int8: padded)
        km1 = Signal(17)
        m.d.comb += km1.eq(K - 1)

        # ---- engine phases ---------------------------------------------------------------
        run = Signal()                            # loader and compute active
        store_go = Signal()
        compute_end = Signal()
        drain = Signal(range(array.latency + 8))
        store_end = Signal()

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
                    slot.eq(Mux(M > 2 * P, M, 2 * P)),
                    st_words.eq(Mux(is_int8, ((N - 1) >> 2) + 1, N)),
                    st_vals.eq(Mux(is_int8, (((N - 1) >> 2) + 1) << 2, N)),
                ]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += run.eq(1)
                with m.If(compute_end):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Let the last rows leave the array and reach the accumulators.
                m.d.sync += drain.eq(drain + 1)
                with m.If(drain == array.latency + 4):
                    with m.If(job.op.store == Store.NONE):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "STORE"
            with m.State("STORE"):
                m.d.comb += store_go.eq(1)
                with m.If(store_end):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"

        m.d.comb += self.error.eq(dma.error)

        # ---- loader: DMA reads into the A/B halves, bias first ---------------------------
        full = Signal(2)                          # half h holds a loaded chunk
        release = Signal(2)                       # compute frees a half (pulse)
        loaded = Signal(2)                        # loader fills a half (pulse)
        m.d.sync += full.eq((full | loaded) & ~release)

        ld_c = Signal(range(max_chunks + 1))      # chunk being loaded
        ld_half = Signal()
        ld_row = Signal(range(max(MM, Kc) + 1))
        ld_word = Signal(range(MN + 1))
        a_chunk_ptr = Signal(32)
        a_ptr = Signal(32)
        b_ptr = Signal(32)
        ld_is_last = ld_c == last_c
        k_c = Mux(ld_is_last, k_last, Kc)

        cmd = dma.cmd.payload
        rd = dma.rd
        m.d.comb += rd.ready.eq(1)

        with m.FSM(name="loader"):
            with m.State("IDLE"):
                with m.If(run):
                    m.d.sync += [
                        ld_c.eq(0), ld_half.eq(0),
                        a_chunk_ptr.eq(job.a_addr), b_ptr.eq(job.b_addr),
                    ]
                    with m.If(job.op.bias & (job.op.store != Store.NONE)):
                        m.next = "BIAS_CMD"
                    with m.Else():
                        m.next = "WAIT"
            with m.State("BIAS_CMD"):
                m.d.comb += [
                    dma.cmd.valid.eq(1),
                    cmd.addr.eq(job.bias_addr),
                    cmd.words.eq(N),
                    cmd.write.eq(0),
                ]
                with m.If(dma.cmd.ready):
                    m.d.sync += ld_word.eq(0)
                    m.next = "BIAS_DATA"
            with m.State("BIAS_DATA"):
                m.d.comb += [
                    bias_w.addr.eq(ld_word),
                    bias_w.data.eq(rd.payload),
                    bias_w.en.eq(rd.valid),
                ]
                with m.If(rd.valid):
                    m.d.sync += ld_word.eq(ld_word + 1)
                with m.If(dma.done):
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(ld_c == n_chunks):
                    m.next = "END"
                with m.Elif(~full.bit_select(ld_half, 1)):
                    m.d.sync += [ld_row.eq(0), a_ptr.eq(a_chunk_ptr)]
                    m.next = "A_CMD"
            with m.State("A_CMD"):
                m.d.comb += [
                    dma.cmd.valid.eq(1),
                    cmd.addr.eq(a_ptr),
                    cmd.words.eq(Mux(ld_is_last, a_words_last, Kc // 4)),
                    cmd.write.eq(0),
                ]
                with m.If(dma.cmd.ready):
                    m.d.sync += ld_word.eq(0)
                    m.next = "A_DATA"
            with m.State("A_DATA"):
                m.d.comb += [
                    a_w.addr.eq(ld_half * half_a + (ld_row << exact_log2(a_epr))
                                + (ld_word >> lg_wpe)),
                    a_w.data.eq(Cat([rd.payload] * wpe)),
                    a_w.en.eq(Mux(rd.valid, C(1, wpe) << (ld_word & (wpe - 1)), 0)),
                ]
                with m.If(rd.valid):
                    m.d.sync += ld_word.eq(ld_word + 1)
                with m.If(dma.done):
                    m.d.sync += [ld_row.eq(ld_row + 1), a_ptr.eq(a_ptr + job.lda)]
                    with m.If(ld_row + 1 == M):
                        m.d.sync += ld_row.eq(0)
                        m.next = "B_CMD"
                    with m.Else():
                        m.next = "A_CMD"
            with m.State("B_CMD"):
                m.d.comb += [
                    dma.cmd.valid.eq(1),
                    cmd.addr.eq(b_ptr),
                    cmd.words.eq(b_words),
                    cmd.write.eq(0),
                ]
                with m.If(dma.cmd.ready):
                    m.d.sync += ld_word.eq(0)
                    m.next = "B_DATA"
            with m.State("B_DATA"):
                m.d.comb += [
                    b_w.addr.eq(ld_half * half_b + (ld_row << exact_log2(b_epr))
                                + (ld_word >> lg_wpe)),
                    b_w.data.eq(Cat([rd.payload] * wpe)),
                    b_w.en.eq(Mux(rd.valid, C(1, wpe) << (ld_word & (wpe - 1)), 0)),
                ]
                with m.If(rd.valid):
                    m.d.sync += ld_word.eq(ld_word + 1)
                with m.If(dma.done):
                    m.d.sync += [ld_row.eq(ld_row + 1), b_ptr.eq(b_ptr + job.ldb)]
                    with m.If(ld_row + 1 == k_c):
                        m.d.comb += loaded.eq(Mux(ld_half, 0b10, 0b01))
                        m.d.sync += [
                            ld_c.eq(ld_c + 1),
                            ld_half.eq(~ld_half),
                            a_chunk_ptr.eq(a_chunk_ptr + Kc),
                        ]
                        m.next = "WAIT"
                    with m.Else():
                        m.next = "B_CMD"
            with m.State("END"):
                pass

        # ---- compute sequencer: slots of `slot` cycles, one pass each ---------------------
        # "cur" is the pass whose A rows stream in this slot; "nxt" the pass whose weights
        # are written into the other bank in this slot.
        cur_valid = Signal()
        cur_half = Signal()
        cur_nb = Signal(range(MN // P))
        cur_kb = Signal(range(Kc // P))
        cur_bank = Signal()
        cur_first = Signal()                      # first K block: overwrite the accumulators
        cur_partial = Signal()                    # last K block of K: mask lanes past K
        cur_release = Signal()                    # last pass of its chunk: free the half

        nxt_valid = Signal()
        nxt_c = Signal(range(max_chunks + 1))
        nxt_half = Signal()
        nxt_nb = Signal(range(MN // P))
        nxt_kb = Signal(range(Kc // P))
        nxt_bank = Signal()
        nxt_kb_end = Mux(nxt_c == last_c, kb_last, Kc // P) - 1

        s = Signal(range(max(MM, 2 * P) + 1))     # cycle within the slot

        inj_valid = Signal()                      # this cycle: read A for injection next cycle
        wl_valid = Signal()                       # this cycle: read B for a weight row
        wl_index = Signal(range(P))
        m.d.comb += wl_index.eq(s - P)

        with m.FSM(name="compute"):
            with m.State("IDLE"):
                with m.If(run):
                    m.d.sync += [
                        cur_valid.eq(0),
                        nxt_valid.eq(1), nxt_c.eq(0), nxt_half.eq(0),
                        nxt_nb.eq(0), nxt_kb.eq(0), nxt_bank.eq(0),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(~cur_valid & ~nxt_valid):
                    m.d.comb += compute_end.eq(1)
                    m.next = "END"
                with m.Elif(~nxt_valid | full.bit_select(nxt_half, 1)):
                    m.d.sync += s.eq(0)
                    m.next = "SLOT"
            with m.State("SLOT"):
                m.d.sync += s.eq(s + 1)
                m.d.comb += [
                    inj_valid.eq(cur_valid & (s < M)),
                    wl_valid.eq(nxt_valid & (s >= P) & (s < 2 * P)),
                ]
                with m.If(s == slot - 1):
                    with m.If(cur_valid & cur_release):
                        m.d.comb += release.eq(Mux(cur_half, 0b10, 0b01))
                    # Advance: nxt becomes cur, nxt steps to its successor.
                    m.d.sync += [
                        cur_valid.eq(nxt_valid),
                        cur_half.eq(nxt_half),
                        cur_nb.eq(nxt_nb),
                        cur_kb.eq(nxt_kb),
                        cur_bank.eq(nxt_bank),
                        cur_first.eq((nxt_c == 0) & (nxt_kb == 0) & ~job.op.acc),
                        cur_partial.eq((nxt_c == last_c) & (nxt_kb == kb_last - 1)),
                        cur_release.eq((nxt_kb == nxt_kb_end) & (nxt_nb == nb_cnt - 1)),
                        nxt_bank.eq(~nxt_bank),
                    ]
                    with m.If(nxt_kb != nxt_kb_end):
                        m.d.sync += nxt_kb.eq(nxt_kb + 1)
                    with m.Elif(nxt_nb != nb_cnt - 1):
                        m.d.sync += [nxt_kb.eq(0), nxt_nb.eq(nxt_nb + 1)]
                    with m.Elif(nxt_c != last_c):
                        m.d.sync += [nxt_kb.eq(0), nxt_nb.eq(0), nxt_c.eq(nxt_c + 1),
                                     nxt_half.eq(~nxt_half)]
                    with m.Else():
                        m.d.sync += nxt_valid.eq(0)
                    m.next = "WAIT"
            with m.State("END"):
                pass

        # Buffer reads for this cycle; the array sees the data next cycle.
        m.d.comb += [
            a_r.addr.eq(cur_half * half_a + (s << exact_log2(a_epr)) + cur_kb),
            b_r.addr.eq(nxt_half * half_b + (((nxt_kb << lgP) + wl_index) << exact_log2(b_epr))
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

        # Accumulator address and "first" travel beside the array (latency + 1 cycles).
        meta_layout = data.StructLayout({
            "valid": 1, "first": 1, "addr": range(MM * b_epr)})
        meta = Signal(meta_layout)
        m.d.comb += [
            meta.valid.eq(inj_valid),
            meta.first.eq(cur_first),
            meta.addr.eq((s << exact_log2(b_epr)) + cur_nb),
        ]
        for d in range(array.latency + 1):
            meta_d = Signal(meta_layout, name=f"meta_{d}")
            m.d.sync += meta_d.valid.eq(meta.valid)
            with m.If(meta.valid):              # (first and addr only matter when valid)
                m.d.sync += [meta_d.first.eq(meta.first), meta_d.addr.eq(meta.addr)]
            meta = meta_d

        # Read-modify-write of one accumulator row (P int32) per cycle. A row is revisited
        # only `slot` >= 2P cycles later, long after its write.
        sums_d = Signal.like(array.sums.payload)
        rmw = Signal(meta_layout)
        m.d.sync += rmw.valid.eq(meta.valid)
        with m.If(meta.valid):
            m.d.sync += [sums_d.eq(array.sums.payload), rmw.first.eq(meta.first),
                         rmw.addr.eq(meta.addr)]
        m.d.comb += [
            acc_w.addr.eq(rmw.addr),
            acc_w.en.eq(rmw.valid),
        ]
        with m.If(rmw.valid):
            new = []
            for j in range(P):
                old = acc_r.data[32 * j:32 * j + 32].as_signed()
                new.append((Mux(rmw.first, 0, old) + sums_d[j])[:32])
            m.d.comb += acc_w.data.eq(Cat(new))

        # ---- output stage: accumulators → (+bias) → requantizer → packer → FIFO → DMA -----
        st_row = Signal(range(MM + 1))            # producer position
        st_n = Signal(range(MN + 4))
        st_run = Signal()
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(width=32, depth=32)
        pipe_depth = 2 + rq.latency + 1
        issue = Signal()
        m.d.comb += issue.eq(st_run & (out_fifo.level < out_fifo.depth - pipe_depth))

        with m.If(store_go & ~st_run & (st_row == 0) & (st_n == 0)):
            m.d.sync += st_run.eq(1)
        with m.If(issue):
            with m.If(st_n == st_vals - 1):
                m.d.sync += [st_n.eq(0), st_row.eq(st_row + 1)]
                with m.If(st_row == M - 1):
                    m.d.sync += [st_run.eq(0), st_row.eq(M)]   # stays stopped
            with m.Else():
                m.d.sync += st_n.eq(st_n + 1)

        with m.If(store_go):
            m.d.comb += [
                acc_r.addr.eq((st_row << exact_log2(b_epr)) + (st_n >> lgP)),
            ]
        with m.Else():
            m.d.comb += acc_r.addr.eq(meta.addr)
        m.d.comb += bias_r.addr.eq(st_n)

        # Stage 1: select the lane, add the bias.
        tag_layout = data.StructLayout({"pad": 1, "word_end": 1, "_": 1})
        p1_valid = Signal()
        p1_lane = Signal(range(P))
        p1_tag = Signal(tag_layout)
        m.d.sync += [
            p1_valid.eq(issue),
            p1_lane.eq(st_n & (P - 1)),
            p1_tag.pad.eq(st_n >= N),
            p1_tag.word_end.eq(~is_int8 | (st_n[:2] == 3)),
        ]
        lane_val = Signal(signed(32))
        x = Signal(signed(32))
        x_valid = Signal()
        x_tag = Signal(tag_layout)
        m.d.sync += [
            x_valid.eq(p1_valid),
            x_tag.eq(p1_tag),
        ]
        with m.If(p1_valid):                    # (x is only read when x_valid)
            m.d.comb += lane_val.eq(acc_r.data.word_select(p1_lane, 32))
            m.d.sync += x.eq(lane_val + Mux(job.op.bias, bias_r.data, 0))
        m.d.comb += [
            rq.i.valid.eq(x_valid),
            rq.i.payload.value.eq(x),
            rq.i.payload.tag.eq(x_tag),
            rq.multiplier.eq(job.qmul),
            rq.shift.eq(job.qshift),
            rq.zero_point.eq(job.qzp),
            rq.relu.eq(job.op.relu),
        ]

        # Packer: four int8 (little-endian) per word, or one int32 per word.
        pack = Signal(24)
        o_tag = Signal(tag_layout)
        m.d.comb += o_tag.eq(rq.o.payload.tag)
        byte = Mux(o_tag.pad, 0, rq.o.payload.value.as_unsigned())
        with m.If(rq.o.valid):
            m.d.sync += pack.eq(Cat(pack[8:], byte))
        m.d.comb += [
            out_fifo.w_en.eq(rq.o.valid & o_tag.word_end),
            out_fifo.w_data.eq(Mux(is_int8, Cat(pack, byte), rq.o.payload.raw)),
            dma.wr.valid.eq(out_fifo.r_rdy),
            dma.wr.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(dma.wr.ready),
        ]

        # Store descriptors: one per row of C.
        c_ptr = Signal(32)
        c_row = Signal(range(MM + 1))
        with m.FSM(name="store"):
            with m.State("IDLE"):
                with m.If(store_go):
                    m.d.sync += [c_ptr.eq(job.c_addr), c_row.eq(0)]
                    m.next = "CMD"
            with m.State("CMD"):
                m.d.comb += [
                    dma.cmd.valid.eq(1),
                    cmd.addr.eq(c_ptr),
                    cmd.words.eq(st_words),
                    cmd.write.eq(1),
                ]
                with m.If(dma.cmd.ready):
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(dma.done):
                    m.d.sync += [c_ptr.eq(c_ptr + job.ldc), c_row.eq(c_row + 1)]
                    with m.If(c_row == M - 1):
                        m.next = "END"
                    with m.Else():
                        m.next = "CMD"
            with m.State("END"):
                m.d.comb += store_end.eq(1)
        return m


class MatMulCoprocessor(wiring.Component):
    """The int8 matrix coprocessor, per docs/coprocessor-contract.md.

    Parameters (keyword-only): ``dim`` (array side P, power of two 4..32; 8 = 64 MACs/cycle),
    ``max_m``, ``max_n`` (accumulator capacity of one operation, powers of two), ``k_chunk``
    (K elements per double-buffered chunk, power of two >= dim).

    Ports: ``bus`` (its 4 KiB register slot), ``dma`` (to its DMAEngine), ``irq``
    (STATUS.DONE & IRQ_EN.DONE), ``busy`` (an operation runs).
    """

    NAME = "MATMUL"
    SLOT = 2
    REGS = _regs()

    bus: In(WishboneSignature(addr_width=10))
    dma: Out(DMAChannelSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32):
        # MatMulEngine checks the parameters.
        self.engine = MatMulEngine(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk)
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)

        engine_rst = Signal(init=1)
        m.submodules.engine = ResetInserter(engine_rst)(self.engine)
        eng = self.engine
        wiring.connect(m, wiring.flipped(self.dma), eng.dma)

        job = Signal(Job)
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
                    m.d.sync += [
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
                    m.d.comb += [engine_rst.eq(0), eng.start.eq(1)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), engine_rst.eq(0)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(start):
                    m.d.sync += cause.eq(Cause.BUSY)
                    m.next = "HALT"
                with m.Elif(abort):
                    m.d.sync += cause.eq(Cause.ABORTED)
                    m.next = "HALT"
                with m.Elif(eng.error):
                    m.d.sync += cause.eq(Cause.DMA)
                    m.next = "HALT"
                with m.Elif(eng.done):
                    finish(Cause.NONE)
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
