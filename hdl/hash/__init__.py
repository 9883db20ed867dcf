"""The hash coprocessor (slot 0, register map ``HASH``): SHA-256, SHA3-256, SHA3-512,
Keccak-256, SHAKE128 and SHAKE256, with padding, sponge and DMA in hardware.

Specifications: NIST FIPS 180-4 (SHA-256, padding 5.1.1), NIST FIPS 202 (SHA-3 and SHAKE,
padding pad10*1 in 5.1 and domain bits in 6.1/6.2); Keccak-256 is the original Keccak
submission's padding (domain byte 0x01) as used by Ethereum.

How an operation runs (see docs/hash.md for the firmware's view):

1. The slot's owner writes CTRL (mode, MORE), SRC, LEN, DST, OUTLEN, then START with OP HASH
   (a new message) or CONT (the next chunk of the message the engine holds). The common slot
   registers (ID, STATUS, START, ABORT, CYCLES), the owner, the interrupt enable, the wipe and
   the DMA windows belong to the slot's control component (hdl/coproctl.py).
2. CHECK rejects misuse with a cause code before anything moves (and, for a non-final
   chunk, a 32-cycle serial remainder check of LEN against the block size).
3. ABSORB: a *reader* issues DMA read descriptors for ceil(LEN/4) words; a *filler* turns
   the word stream into blocks in the block buffer, masking the bytes past LEN and inserting
   the padding; a full buffer is handed to the engine as soon as the engine is free, and the
   filler immediately fills the next block (double buffering: the engine holds the current
   block, the buffer the next one).
4. SQUEEZE/WRITE (final chunk only): the digest (or SHAKE output, one rate-sized block at a
   time, the next permutation running while the previous block is written) is copied into
   the buffer and shifted out on a DMA write descriptor.

Timing depends only on the mode, the flags and the lengths (and on how busy the bus is),
never on the data: the filler waits only for DMA words, the engines have fixed latency.

Blocks, one per file: ``coprocessor.py`` :class:`HashCoprocessor` (registers, checks, the
operation's sequence), ``buffer.py`` :class:`BlockBuffer` (block buffer, filler and padding),
``splitter.py`` :class:`DescriptorSplitter` (long transfers as several DMA descriptors),
``sha256.py`` :class:`SHA256Engine`, ``keccak.py`` :class:`KeccakF1600`, ``registers.py``
(register map, modes, cause codes).
"""

from .registers import (VERSION, MAX_DESCRIPTOR_WORDS, Mode, Op, Cause, OP_DOC, CAUSE_DOC,
                        MODE_DOC, MODE_PARAMS)
from .sha256 import SHA256Engine
from .keccak import KeccakF1600, ABSORB_WORDS
from .buffer import BlockBuffer
from .splitter import DescriptorSplitter
from .coprocessor import HashCoprocessor


__all__ = ["VERSION", "MAX_DESCRIPTOR_WORDS", "Mode", "Op", "Cause", "OP_DOC", "CAUSE_DOC", "MODE_DOC",
           "MODE_PARAMS", "SHA256Engine", "KeccakF1600", "ABSORB_WORDS", "BlockBuffer",
           "DescriptorSplitter", "HashCoprocessor"]
