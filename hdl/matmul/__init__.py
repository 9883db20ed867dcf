"""The int8 matrix coprocessor (slot 2, register map ``MATMUL``).

Computes ``C = A·B`` or ``C += A·B`` for row-major signed int8 matrices A (M×K) and B (K×N)
with int32 accumulation, and stores C either requantized to int8 or as raw int32.
The multiply-accumulates run on a :class:`~.systolic.SystolicArray`; data moves only
through the coprocessor's DMA channel (:mod:`gluon.hdl.dma`).

Requantization follows gemmlowp / TensorFlow Lite integer-only inference (B. Jacob et al.,
"Quantization and training of neural networks for efficient integer-arithmetic-only
inference", CVPR 2018; gemmlowp ``fixedpoint.h``)::

    x   = acc + bias[n]                          (int32, wraps modulo 2**32)
    y   = SaturatingRoundingDoublingHighMul(x, QMUL)
    q   = RoundingDivideByPOT(y, QSHIFT)
    out = clamp(q + QZP, QZP if RELU else -128, 127)

docs/matmul.md gives the exact definitions, the error codes, cycle counts and resources.

Blocks, one per file:

* ``coprocessor.py`` :class:`MatMulCoprocessor` — the contract's component: register bank,
  parameter checks, START/ABORT/STATUS/IRQ. It holds the engine in reset whenever no
  operation runs, so an aborted operation leaves nothing in flight.
* ``engine.py`` :class:`MatMulEngine` — the buffers (B double-buffered by K chunk, A
  double-buffered by unit, bias), the phases of an operation, the DMA arbitration, and:
* ``loader.py`` :class:`Loader` — DMA reads into the A, B and bias buffers;
* ``sequencer.py`` :class:`Sequencer` — the slots of passes that feed the array;
* ``systolic.py`` :class:`SystolicArray` — the P×P int8 multiply-accumulate array;
* ``accumulators.py`` :class:`Accumulators` — int32 accumulators in two banks, read-modify-write;
* ``store.py`` :class:`StoreUnit` — the output stage (bias, four requantizer lanes, DMA writes),
  which runs while the array computes;
* ``requantizer.py`` :class:`Requantizer` — the int32 → int8 pipeline, one value per cycle;
* ``registers.py`` — the register map, cause codes and the operation's layouts;
* ``geometry.py`` :class:`Geometry` — the buffer sizes a build's parameters give.

Schedule. K is cut into chunks of ``k_chunk`` and M into groups of G = 2P rows; a *unit*
(c, g) is chunk c of the rows of group g. Chunk c of B stays in buffer half c mod 2 for all
groups; the A unit of the next group is loaded while the array works on the current one.
Within a unit the array runs *passes* (K block kb outer, column block nb inner): the P×P
block of B is the array's weights and the group's rows stream through, one per cycle, each
producing P partial sums that are added to the accumulators. A pass occupies a *slot* of
exactly 2P cycles; during slot p the weights of pass p+1 are written into the other weight
bank, so consecutive passes follow without a gap. When the last chunk's passes of group g
are done, its accumulators (bank g mod 2) are requantized and stored, one word of C per
cycle, while the array works on group g+1 (bank (g+1) mod 2). Every count and every wait
depends only on M, N, K, the strides' contiguity and the operation, never on data.
"""

from .registers import VERSION, MAX_K, Cause, Store, Op, Mode, Job
from .requantizer import Requantizer
from .systolic import SystolicArray
from .engine import MatMulEngine
from .coprocessor import MatMulCoprocessor


__all__ = ["VERSION", "MAX_K", "Cause", "Store", "Op", "Mode", "Job", "Requantizer", "SystolicArray",
           "MatMulEngine", "MatMulCoprocessor"]
