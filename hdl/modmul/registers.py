"""The modular-arithmetic coprocessor's register map, START operations, program op words and
cause codes. The slot page follows the coprocessor contract (:mod:`gluon.hdl.coproctl`): the
common registers at 0x00-0x10, the block's own from 0x20."""

from amaranth import *
from amaranth.lib import data, enum

from ..regs import Field, Register, RegisterMap
from ..coproctl import slot_registers


__all__ = ["VERSION", "NEWTON_START_BITS", "R2_SQUARINGS", "XIN_WAIT", "UNIT_SETTLE", "OpCode",
           "OpTail", "OpWord", "encode", "Op", "OP_DOC", "Cause", "CAUSE_DOC", "xfifo_depth",
           "modmul_regs"]


VERSION = 2
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


class OpWord(data.Struct):
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


class Op(enum.Enum, shape=2):
    """What START.OP starts: a program, from one of three places (the values of the former
    START.QUEUE and START.AGAIN bits; 3 is refused with cause OPCODE)."""
    PROG  = 0
    QUEUE = 1
    AGAIN = 2


OP_DOC = {
    Op.PROG:  "fetch PROG_LEN ops from PROG_ADDR by DMA and run them",
    Op.QUEUE: "run the ops pushed through CMD (the queue empties)",
    Op.AGAIN: "run the last program started with QUEUE once more: its ops stay in the "
              "program memory until a CMD write, a DMA-fetched program or a wipe replaces "
              "them (else cause LENGTH)",
}


class Cause(enum.Enum, shape=4):
    NONE    = 0
    BUSY    = 1
    WIPING  = 2
    ABORTED = 3
    LIMBS   = 4
    MODULUS = 5
    RANGE   = 6
    SLOT    = 7
    NOMOD   = 8
    OPCODE  = 9
    DMA     = 10
    LENGTH  = 11
    FIFO    = 12


CAUSE_DOC = {
    Cause.NONE:    "no error",
    Cause.BUSY:    "START while a program ran (STATUS); CMD, LIMBS, PROG_ADDR, PROG_LEN, "
                   "DATA_BASE or XFIFO written while a program ran (STATE.REFUSED): the write "
                   "was ignored and the program goes on",
    Cause.WIPING:  "START while a wipe ran",
    Cause.ABORTED: "ABORT was written while a program ran",
    Cause.LIMBS:   "SETMOD with LIMBS outside 1..MAX_LIMBS",
    Cause.MODULUS: "SETMOD: N is even or below 3 (no modulus is set afterwards)",
    Cause.RANGE:   "LOAD: the value is not below N (the slot is unchanged)",
    Cause.SLOT:    "a slot index is not below SLOTS",
    Cause.NOMOD:   "an operation other than SETMOD while no valid modulus is set",
    Cause.OPCODE:  "unknown opcode in a program, or START.OP 3",
    Cause.DMA:     "the DMA engine refused a descriptor (outside the slot's DMA windows, no "
                   "permission, a window changed while it ran) or a bus error ended it",
    Cause.LENGTH:  "PROG_LEN is 0 or above the program memory, START.QUEUE with no pushed op, "
                   "START.AGAIN with no queued program kept, or CMD with the queue full "
                   "(STATE.REFUSED)",
    Cause.FIFO:    f"LOADX whose L words did not all arrive in XIN within {XIN_WAIT} cycles, "
                   "STOREX with room for fewer than L words in XOUT; XIN written while full, "
                   "XOUT read while empty (STATE.REFUSED)",
}


def xfifo_depth(max_limbs):
    """Words of each of the XIN/XOUT FIFOs: two values of the largest width, rounded up to a
    power of two (64 for 24 limbs)."""
    return 1 << (2 * max_limbs - 1).bit_length()


def modmul_regs(max_limbs, slots, lanes, prog_depth):
    xdepth = xfifo_depth(max_limbs)
    return RegisterMap("MODMUL", slot_registers(kind="MM", version=VERSION, op=Op, cause=Cause,
                                                op_doc=OP_DOC, cause_doc=CAUSE_DOC) + [
        Register("STATE", 0x20, "ext", [
            Field("MODSET", 1, desc="A valid modulus is set (0 after SETMOD failed, and after "
                                    "a wipe)"),
            Field("REFUSED", 1, desc="A register access was refused since this bit was last "
                                     "cleared (see REFUSED_CAUSE). Write 1 to clear"),
            Field("REFUSED_CAUSE", 4, offset=8, desc="Why the last refused access was refused",
                  enum=Cause, enum_doc=CAUSE_DOC),
            Field("PC", 10, offset=16, desc="Index of the op running, or of the op that failed"),
            Field("ACTIVE_LIMBS", 6, offset=26, desc="L of the modulus set (0: none)"),
        ], desc="The block's state: modulus, program counter, refused register accesses. "
                "Refused accesses never stall the bus and never disturb a running program."),
        Register("LIMBS", 0x24, "ext", [
            Field("VALUE", 6, desc=f"Width L of the next SETMOD, in 32-bit limbs (1..{max_limbs})"),
        ], desc="Modulus width for SETMOD, latched by SETMOD."),
        Register("PROG_ADDR", 0x28, "ext", desc="Address of the program (word aligned), "
                 "latched by START."),
        Register("PROG_LEN", 0x2C, "ext", [
            Field("VALUE", 11, desc=f"Number of ops, 1..{prog_depth}"),
        ], desc="Program length in ops, latched by START."),
        Register("DATA_BASE", 0x30, "ext", desc="Base address of the values SETMOD, LOAD and "
                 "STORE move: their imm is a word offset from it. Latched by START."),
        Register("CMD", 0x34, "w", desc="Appends one op word to the queue (idle only)."),
        Register("QUEUE", 0x38, "r", [
            Field("COUNT", 11, desc="Ops in the queue"),
        ], desc="Queue fill level."),
        Register("INFO", 0x3C, "r", [
            Field("MAX_LIMBS", 8, desc=f"Largest L ({max_limbs})"),
            Field("SLOTS", 8, desc=f"Value slots ({slots})"),
            Field("LANES", 4, desc=f"32x32 multipliers per engine ({lanes})"),
            Field("PROG_DEPTH", 12, desc=f"Program memory in ops ({prog_depth})"),
        ], desc="Build parameters."),
        Register("XIN", 0x40, "w", desc=f"Appends a word to the input FIFO ({xdepth} words) "
                 "that LOADX takes values from, least significant limb first. Accepted at any "
                 "time, also while a program runs (a LOADX takes the words as they arrive, "
                 f"waiting at most {XIN_WAIT} cycles); a write to a full FIFO is refused "
                 "(STATE.REFUSED, cause FIFO)."),
        Register("XOUT", 0x44, "r", desc=f"Takes the oldest word of the output FIFO ({xdepth} "
                 "words) that STOREX fills, least significant limb first. Reading it empty "
                 "returns 0 and is refused (STATE.REFUSED, cause FIFO)."),
        Register("XFIFO", 0x48, "ext", [
            Field("IN_LEVEL", 8, desc="Words in XIN"),
            Field("OUT_LEVEL", 8, desc="Words in XOUT"),
            Field("DEPTH", 8, desc=f"Words each FIFO holds ({xdepth})"),
            Field("CLEAR_IN", 1, desc="Write 1: empty XIN (refused while a program runs)"),
            Field("CLEAR_OUT", 1, desc="Write 1: empty XOUT (refused while a program runs)"),
        ], desc="The register-path FIFOs: values move through XIN/XOUT and the LOADX/STOREX "
                "ops without DMA. A failing or aborted program empties XIN."),
    ], desc="Modular arithmetic (Montgomery) coprocessor in the style of EVM-MAX (EIP-6690): "
            "a value store and programs of SETMOD/LOAD/STORE/COPY/ADD/SUB/MUL/TOMONT/FROMMONT/LOADX/STOREX. "
            "A wipe zeroes values, modulus, program memory and FIFOs. See docs/modmul.md.")
