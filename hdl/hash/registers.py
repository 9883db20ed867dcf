"""The hash coprocessor's register map, modes (with what the datapath needs to know about each)
and cause codes."""

from amaranth.lib import enum

from ..regs import Field, Register, RegisterMap


__all__ = ["VERSION", "HASH_SETTLE", "MAX_DESCRIPTOR_WORDS", "Mode", "Cause", "CAUSE_DOC",
           "MODE_DOC", "ModeParams", "MODE_PARAMS", "hash_regs"]


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


def hash_regs():
    return RegisterMap("HASH", [
        Register("ID", 0x00, "r", [
            Field("VERSION", 16, desc="Register interface version"),
            Field("KIND", 16, desc='ASCII "HS" (0x4853)'),
        ], desc="Identifies the hash coprocessor."),
        Register("CTRL", 0x04, "rw", [
            Field("MODE", 4, desc="Algorithm", enum=Mode, enum_doc=MODE_DOC),
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
                  enum=Cause, enum_doc=CAUSE_DOC),
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



HASH_SETTLE = 16               # simulation model: idle cycles until the block is still (simgate)
