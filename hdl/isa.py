"""RV32IM + Zicsr encodings used by the core's decoder.

References: The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA (20191213),
chapter 24 (opcode map, instruction formats); Volume II: Privileged Architecture (20211203),
tables 2.2-2.5 (CSR addresses) and 3.6 (mcause values).
"""

from amaranth import *
from amaranth.lib import data, enum


class Opcode(enum.Enum, shape=5):
    """``inst[6:2]`` (``inst[1:0]`` must be ``0b11``: no compressed instructions)."""
    LOAD     = 0b00000
    MISC_MEM = 0b00011
    OP_IMM   = 0b00100
    AUIPC    = 0b00101
    STORE    = 0b01000
    OP       = 0b01100
    LUI      = 0b01101
    BRANCH   = 0b11000
    JALR     = 0b11001
    JAL      = 0b11011
    SYSTEM   = 0b11100


class Instruction(data.Struct):
    """The fixed fields every 32-bit instruction format shares."""
    quadrant: 2
    opcode:   Opcode
    rd:       5
    funct3:   3
    rs1:      5
    rs2:      5
    funct7:   7


class Cause(enum.IntEnum):
    """mcause exception codes (interrupt bit clear)."""
    FETCH_MISALIGNED = 0
    FETCH_FAULT      = 1
    ILLEGAL          = 2
    BREAKPOINT       = 3
    LOAD_MISALIGNED  = 4
    LOAD_FAULT       = 5
    STORE_MISALIGNED = 6
    STORE_FAULT      = 7
    ECALL_U          = 8
    ECALL_M          = 11


class Irq(enum.IntEnum):
    """mcause interrupt codes (interrupt bit set) and their mip/mie bit numbers."""
    M_SOFT  = 3
    M_TIMER = 7
    M_EXT   = 11
    LOCAL0  = 16          # platform-specific local interrupts 16..31


class Csr(enum.IntEnum):
    MSTATUS   = 0x300
    MISA      = 0x301
    MIE       = 0x304
    MTVEC     = 0x305
    MCOUNTEREN = 0x306
    MSTATUSH  = 0x310
    MSCRATCH  = 0x340
    MEPC      = 0x341
    MCAUSE    = 0x342
    MTVAL     = 0x343
    MIP       = 0x344
    MCYCLE    = 0xB00
    MINSTRET  = 0xB02
    MCYCLEH   = 0xB80
    MINSTRETH = 0xB82
    CYCLE     = 0xC00
    TIME      = 0xC01
    INSTRET   = 0xC02
    CYCLEH    = 0xC80
    TIMEH     = 0xC81
    INSTRETH  = 0xC82
    MVENDORID = 0xF11
    MARCHID   = 0xF12
    MIMPID    = 0xF13
    MHARTID   = 0xF14
    MCONFIGPTR = 0xF15
