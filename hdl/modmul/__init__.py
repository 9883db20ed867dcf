"""The modular-arithmetic coprocessor (slot 1, register map ``MODMUL``), modelled on EVM-MAX.

Model: EIP-6690 "EVM Modular Arithmetic Extensions" (a modulus set once, a file of values in
Montgomery-friendly storage, ADDMODX/SUBMODX/MULMODX on value indices). Datapath:
:mod:`gluon.hdl.modmul.montgomery` (Montgomery, "Modular multiplication without trial division", 1985).

The block holds a *value store* (``slots`` values of up to ``max_limbs`` 32-bit limbs, in
block RAM) and runs *programs*: lists of 32-bit :class:`OpWord` words, fetched by DMA from RAM
(``PROG_ADDR``/``PROG_LEN``, then ``START.OP = PROG``) or pushed one by one through ``CMD`` and
run with ``START.OP = QUEUE``. Operations (``d``, ``a``, ``b``: value slots; ``imm``: a word offset from
``DATA_BASE``; ``R = 2^(32·L)``):

=========== ==================================================================================
SETMOD imm  N ← L words at DATA_BASE + 4·imm (L = the LIMBS register). N must be odd and ≥ 3.
            Clears every slot, then derives N' = -N^-1 mod R (Newton's iteration on the
            datapath's low-half products) and R² mod N (33·L modular doublings of 1, then five
            Montgomery squarings).
LOAD d,imm  slot d ← L words at DATA_BASE + 4·imm; a value ≥ N is rejected (slot unchanged)
STORE a,imm L words at DATA_BASE + 4·imm ← slot a
COPY d,a    d ← a
ADD d,a,b   d ← a + b mod N
SUB d,a,b   d ← a - b mod N
MUL d,a,b   d ← a·b·R^-1 mod N (Montgomery product)
TOMONT d,a  d ← a·R mod N
FROMMONT d,a d ← a·R^-1 mod N
=========== ==================================================================================

Every operation's duration depends only on its opcode and L (and, for the DMA operations, on
how busy the bus is), never on the values. Misuse ends the program with ``STATUS.ERROR`` and a
``CAUSE`` (see :class:`Cause`) and ``STATE.PC`` pointing at the failing op; nothing hangs.
The slot follows the coprocessor contract (:mod:`gluon.hdl.coproctl`); a wipe returns every
register to reset and every memory word to zero (:attr:`ModMulCoprocessor.wipe_cycles`).
See docs/modmul.md.

Blocks, one per file: ``coprocessor.py`` :class:`ModMulCoprocessor` (registers, XIN/XOUT,
program sequencer), ``montgomery.py`` :class:`MontgomeryUnit` (the datapath),
``value_store.py`` :class:`ValueStore`, ``program.py`` :class:`ProgramMemory`,
``transfer.py`` :class:`ValueTransfer` (values in and out by DMA or XIN/XOUT),
``setmod.py`` :class:`SetModSequencer` (SETMOD's microcode), ``registers.py`` (register map,
op words, cause codes).
"""

from amaranth import *
from amaranth.lib import wiring, data, enum
from amaranth.lib.memory import Memory

from .registers import (VERSION, XIN_WAIT, OpCode, OpTail, OpWord, encode, Op, OP_DOC, Cause,
                        CAUSE_DOC, xfifo_depth)
from .montgomery import MontgomeryUnit, MontMode, LIMB_BITS, blocks_for
from .value_store import ValueStore
from .program import ProgramMemory
from .setmod import SetModSequencer
from .transfer import ValueTransfer
from .coprocessor import ModMulCoprocessor


__all__ = ["VERSION", "XIN_WAIT", "OpCode", "OpTail", "OpWord", "encode", "Op", "OP_DOC", "Cause",
           "CAUSE_DOC",
           "xfifo_depth", "MontgomeryUnit", "MontMode", "LIMB_BITS", "blocks_for", "ValueStore",
           "ProgramMemory", "SetModSequencer", "ValueTransfer", "ModMulCoprocessor"]
