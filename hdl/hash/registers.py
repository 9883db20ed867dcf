"""The hash coprocessor's register map, modes (with what the datapath needs to know about each)
and cause codes."""

from amaranth.lib import enum

from ..regs import Field, Register, RegisterMap
from ..coproctl import slot_registers


__all__ = ["VERSION", "HASH_SETTLE", "MAX_DESCRIPTOR_WORDS", "Mode", "Op", "Cause", "OP_DOC",
           "CAUSE_DOC", "MODE_DOC", "ModeParams", "MODE_PARAMS", "hash_regs"]


#: Register interface version: 2 is the coprocessor contract (common slot registers at
#: 0x00-0x10, operations through START.OP, the interrupt enable in the control page).
VERSION = 2


class Mode(enum.Enum, shape=4):
    NONE      = 0
    SHA256    = 1
    SHA3_256  = 2
    SHA3_512  = 3
    KECCAK256 = 4
    SHAKE128  = 5
    SHAKE256  = 6


class Op(enum.Enum, shape=2):
    NONE = 0
    HASH = 1
    CONT = 2


class Cause(enum.Enum, shape=4):
    NONE    = 0
    BUSY    = 1
    WIPING  = 2
    ABORTED = 3
    MODE    = 4
    SEQ     = 5
    ALIGN   = 6
    LEN     = 7
    OUTLEN  = 8
    DMA     = 9
    OP      = 10


OP_DOC = {
    Op.NONE: "none (fails with cause OP)",
    Op.HASH: "hash a new message (chunk) as CTRL, SRC, LEN, DST, OUTLEN describe",
    Op.CONT: "continue the unfinished message the engine holds (same MODE) with this chunk",
}

CAUSE_DOC = {
    Cause.NONE:    "no error",
    Cause.BUSY:    "START while an operation was running; the START was ignored, the running "
                   "operation goes on and sets DONE when it ends",
    Cause.WIPING:  "START while the slot was being wiped; the START was ignored",
    Cause.ABORTED: "ABORT was written while the operation ran",
    Cause.MODE:    "MODE is 0 (none) or not a known mode",
    Cause.SEQ:     "CONT but the engine holds no unfinished message of this MODE (none after a "
                   "wipe or an owner change)",
    Cause.ALIGN:   "SRC (with LEN > 0) or DST (final chunk) is not word aligned",
    Cause.LEN:     "SRC + LEN wraps past 4 GiB, or a non-final chunk (MORE) whose LEN is not "
                   "a non-zero multiple of the block size",
    Cause.OUTLEN:  "SHAKE: OUTLEN is 0, not a multiple of 4, or DST + OUTLEN wraps past 4 GiB",
    Cause.DMA:     "the DMA engine refused a descriptor (buffer outside the slot's DMA windows "
                   "or without permission), a window change stopped it, or a bus error ended it",
    Cause.OP:      "START.OP is not a known operation",
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


def hash_regs():
    return RegisterMap("HASH", slot_registers(
        kind="HS", version=VERSION, op=Op, cause=Cause, op_doc=OP_DOC, cause_doc=CAUSE_DOC) + [
        Register("CTRL", 0x20, "rw", [
            Field("MODE", 4, desc="Algorithm", enum=Mode, enum_doc=MODE_DOC),
            Field("MORE", 1, offset=5, desc="More chunks follow: LEN must be a non-zero "
                  "multiple of the block size; no padding, no output, the state is kept"),
        ], desc="Operation setup, read when START is written."),
        Register("SRC", 0x24, "rw", desc="Message address (word aligned). The engine reads whole "
                 "words: the buffer must be readable up to the next word boundary after LEN bytes."),
        Register("LEN", 0x28, "rw", desc="Message (chunk) length in bytes."),
        Register("DST", 0x2C, "rw", desc="Digest address (word aligned), written by DMA."),
        Register("OUTLEN", 0x30, "rw", desc="SHAKE output length in bytes (a non-zero multiple "
                 "of 4). Ignored by the fixed-length modes."),
    ], desc="Hash coprocessor: SHA-256, SHA3-256/512, Keccak-256, SHAKE128/256 with padding and "
            "DMA in hardware. See docs/hash.md.")


HASH_SETTLE = 16               # simulation model: idle cycles until the block is still (simgate)
