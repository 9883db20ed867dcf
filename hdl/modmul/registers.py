"""The modular-arithmetic coprocessor's register map, op words and cause codes."""

from amaranth import *
from amaranth.lib import data, enum

from ..regs import Field, Register, RegisterMap


__all__ = ["VERSION", "NEWTON_START_BITS", "R2_SQUARINGS", "XIN_WAIT", "UNIT_SETTLE", "OpCode",
           "OpTail", "Op", "encode", "Cause", "CAUSE_DOC", "xfifo_depth", "modmul_regs"]


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


def modmul_regs(max_limbs, slots, lanes, prog_depth):
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
                  enum=Cause, enum_doc=CAUSE_DOC),
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


