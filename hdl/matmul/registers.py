"""The matrix coprocessor's register map and the layouts of its operation: the cause codes,
the OP register's fields and the :class:`Job` the coprocessor latches at START.
"""

from amaranth import *
from amaranth.lib import data, enum

from ..regs import Field, Register, RegisterMap


__all__ = ["VERSION", "MAX_K", "Cause", "Store", "Op", "Job", "matmul_regs"]


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


CAUSE_DOC = {
    Cause.NONE: "no error",
    Cause.ZERO_SIZE: "M, N or K is zero",
    Cause.TOO_BIG: "M > MAX_M, N > MAX_N or K > MAX_K",
    Cause.ALIGN: "an address or stride the operation uses is not a multiple of 4",
    Cause.BAD_OP: "OP.STORE is the reserved value 3",
    Cause.DMA: "the DMA engine refused a descriptor (outside the windows) or a bus error",
    Cause.BUSY: "START while an operation ran: that operation was abandoned",
    Cause.ABORTED: "ABORT while an operation ran",
}


def matmul_regs():
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
            Field("CAUSE", 4, offset=4, desc="Why it failed", enum=Cause, enum_doc=CAUSE_DOC),
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


