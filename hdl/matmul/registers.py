"""The matrix coprocessor's register map and the layouts of its operation: the operations
(START.OP), the cause codes, the MODE register's fields and the :class:`Job` the coprocessor
latches at START. The common slot registers (ID, STATUS, START, ABORT, CYCLES at 0x00-0x10)
come from :func:`gluon.hdl.coproctl.slot_registers`; the block's own start at 0x20.
"""

from amaranth import *
from amaranth.lib import data, enum

from ..regs import Field, Register, RegisterMap
from ..coproctl import slot_registers, SLOT_REGS_END


__all__ = ["VERSION", "MAX_K", "Op", "Cause", "Store", "Mode", "Job", "matmul_regs",
           "OP_DOC", "CAUSE_DOC"]


#: Register interface version (2: the shared coprocessor contract, docs/coprocessor-contract.md).
VERSION = 2
#: Largest K of one operation. K·(-128)·(-128) = K·2**14 must stay below 2**31.
MAX_K = (1 << 17) - 1


class Op(enum.Enum, shape=2):
    """START.OP: the operation. NONE and 3 are not operations (ERROR, CAUSE = BAD_OP)."""
    NONE = 0           # not an operation (a START of 0 is refused, not taken for MUL)
    MUL = 1            # C = A·B
    MAC = 2            # C += A·B onto the accumulators the previous operation left


class Cause(enum.Enum, shape=4):
    """STATUS.CAUSE: why the last operation ended with ERROR (NONE..ABORTED: the contract's)."""
    NONE = 0
    BUSY = 1           # START while an operation or its DMA ran: refused, that one continues
    WIPING = 2         # START while a wipe ran: refused
    ABORTED = 3        # ABORT while an operation ran
    ZERO_SIZE = 4      # M, N or K is zero
    TOO_BIG = 5        # M > MAX_M, N > MAX_N or K > MAX_K
    ALIGN = 6          # an address or stride the operation uses is not a multiple of 4
    BAD_OP = 7         # START.OP is not MUL or MAC, or MODE.STORE is the reserved value 3
    DMA = 8            # the DMA engine refused a descriptor (outside the windows) or a bus error


class Store(enum.Enum, shape=2):
    """MODE.STORE: what happens to the accumulators at the end of the operation."""
    NONE = 0           # keep them (to accumulate further K tiles with Op.MAC)
    INT8 = 1           # requantize to int8, store M rows of ceil(N/4) words
    INT32 = 2          # store raw int32 (+ bias), M rows of N words


class Mode(data.Struct):
    """What the engine does with one operation: ``acc`` from START.OP (MAC), the rest from
    the MODE register."""
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
    op: Mode
    qmul: signed(32)
    qshift: 5
    qzp: signed(8)


OP_DOC = {
    Op.NONE: "not an operation: ends with ERROR, CAUSE = BAD_OP",
    Op.MUL: "C = A·B (the accumulators start from zero)",
    Op.MAC: "C += A·B onto the accumulators the previous operation of this owner left "
            "(a wipe leaves zeros)",
}

CAUSE_DOC = {
    Cause.NONE: "no error",
    Cause.BUSY: "START while an operation ran: refused, the running operation continues",
    Cause.WIPING: "START while a wipe ran: refused",
    Cause.ABORTED: "ABORT while an operation ran",
    Cause.ZERO_SIZE: "M, N or K is zero",
    Cause.TOO_BIG: "M > MAX_M, N > MAX_N or K > MAX_K",
    Cause.ALIGN: "an address or stride the operation uses is not a multiple of 4",
    Cause.BAD_OP: "START.OP is not MUL or MAC, or MODE.STORE is the reserved value 3",
    Cause.DMA: "the DMA engine refused a descriptor (outside the slot's windows), a window "
               "or owner change revoked it, or a bus error",
}


def matmul_regs():
    o = SLOT_REGS_END
    addr = lambda name, off, what: Register(name, o + off, "rw", desc=what)
    return RegisterMap("MATMUL", slot_registers(
        kind="MX", version=VERSION, op=Op, cause=Cause, op_doc=OP_DOC, cause_doc=CAUSE_DOC) + [
        Register("CONFIG", o + 0x00, "r", [
            Field("DIM", 8, desc="Systolic array side P (P×P MACs per cycle)"),
            Field("MAX_M", 12, desc="Largest M of one operation (accumulator rows)"),
            Field("MAX_N", 12, desc="Largest N of one operation (accumulator columns)"),
        ], desc="Build parameters of this instance."),
        addr("A_ADDR", 0x04, "Byte address of A[0][0] (int8, row-major, word aligned)."),
        addr("B_ADDR", 0x08, "Byte address of B[0][0] (int8, row-major, word aligned)."),
        addr("C_ADDR", 0x0C, "Byte address of C[0][0] (int8 or int32, row-major, word aligned)."),
        addr("BIAS_ADDR", 0x10, "Byte address of the int32 bias vector (N words), if MODE.BIAS."),
        addr("A_STRIDE", 0x14, "Bytes from one row of A to the next (multiple of 4)."),
        addr("B_STRIDE", 0x18, "Bytes from one row of B to the next (multiple of 4)."),
        addr("C_STRIDE", 0x1C, "Bytes from one row of C to the next (multiple of 4)."),
        addr("M", 0x20, "Rows of A and C, 1..MAX_M."),
        addr("N", 0x24, "Columns of B and C, 1..MAX_N."),
        addr("K", 0x28, f"Columns of A = rows of B, 1..{MAX_K}."),
        Register("MODE", o + 0x2C, "rw", [
            Field("STORE", 2, desc="What to store at the end", enum=Store, enum_doc={
                Store.NONE: "keep the int32 accumulators in the coprocessor (for Op.MAC)",
                Store.INT8: "requantize; rows of ceil(N/4) words, pad bytes are 0",
                Store.INT32: "raw accumulators (+ bias); rows of N words"}),
            Field("BIAS", 1, desc="Add the int32 vector at BIAS_ADDR to every row before storing"),
            Field("RELU", 1, desc="INT8 output is clamped below at QZP"),
        ], desc="Output of the operation (STORE = 3 is reserved: BAD_OP)."),
        Register("QMUL", o + 0x30, "rw", desc="Requantization multiplier, signed Q0.31 "
                                              "(real multiplier = QMUL / 2**31 / 2**QSHIFT)."),
        Register("QSHIFT", o + 0x34, "rw", [Field("SHIFT", 5, desc="Rounding right shift 0..31")],
                 desc="Requantization exponent."),
        Register("QZP", o + 0x38, "rw", [Field("ZP", 8, desc="Output zero point, signed int8")],
                 desc="Output zero point."),
    ], desc="int8 matrix coprocessor: C = A·B or C += A·B on a systolic array of int8 MACs, "
            "int32 accumulation, int8 requantized or int32 output. The parameter registers "
            "are latched at START (they may be rewritten while an operation runs) and "
            "cleared by a wipe.")
