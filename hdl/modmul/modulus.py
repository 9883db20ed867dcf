"""The Montgomery unit's modulus registers: N, loaded limb by limb through a
:class:`~.montgomery.ModulusPortSignature`, and N' = -N^-1 mod R, written a block at a time by
the unit's final stage; both read a block at a time by the engines.

One Signal per limb: a simulator then selects a block with a small case statement, not a shift
of a wide vector."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .row_engine import LIMB_BITS


__all__ = ["ModulusPortSignature", "ModulusRegisters"]


class ModulusPortSignature(wiring.Signature):
    """Loads the modulus N into the unit, limb by limb, seen from the loader.

    ``clear`` Out(1)         zero N (all limbs) this cycle
    ``we``    Out(1)         write limb ``idx`` of N with ``data``
    ``idx``   Out(range(max_limbs))
    ``data``  Out(32)
    ``limb``  In(32)         limb ``idx`` of N as held (combinational; for range checks)
    """

    def __init__(self, *, max_limbs):
        self.max_limbs = max_limbs
        super().__init__({
            "clear": Out(1),
            "we":    Out(1),
            "idx":   Out(range(max_limbs)),
            "data":  Out(LIMB_BITS),
            "limb":  In(LIMB_BITS),
        })


class ModulusRegisters(wiring.Component):
    """``max_nb`` blocks of ``lanes`` limbs of N and of N'. ``port`` loads N;
    ``np_we`` writes ``np_data`` into block ``np_blk`` of N'. Block reads (combinational):
    ``n[i]`` is block ``n_blk[i]`` of N (two readers), ``np`` block ``np_blk_rd`` of N'."""

    def __init__(self, *, lanes, max_nb, max_limbs):
        self._P, self._max_nb = lanes, max_nb
        WB = lanes * LIMB_BITS
        super().__init__({
            "port": In(ModulusPortSignature(max_limbs=max_limbs)),
            "np_we": In(1), "np_blk": In(range(max_nb)), "np_data": In(WB),
            "np_blk_rd": In(range(max_nb)), "np": Out(WB),
            "n_blk": In(range(max_nb)).array(2), "n": Out(WB).array(2),
        })

    def elaborate(self, platform):
        m = Module()
        P, max_nb = self._P, self._max_nb
        n_limbs = [Signal(LIMB_BITS, name=f"n{i}") for i in range(max_nb * P)]
        np_limbs = [Signal(LIMB_BITS, name=f"np{i}") for i in range(max_nb * P)]
        mp = self.port
        with m.If(mp.clear):
            m.d.sync += [limb.eq(0) for limb in n_limbs]
        with m.Elif(mp.we):
            with m.Switch(mp.idx):
                for i in range(min(max_nb * P, 1 << len(mp.idx))):
                    with m.Case(i):
                        m.d.sync += n_limbs[i].eq(mp.data)
        m.d.comb += mp.limb.eq(Array(n_limbs)[mp.idx])

        def block_of(limbs, b):
            return Array(Cat(*limbs[P * i:P * (i + 1)]) for i in range(max_nb))[b]

        m.d.comb += [self.np.eq(block_of(np_limbs, self.np_blk_rd))]
        m.d.comb += [self.n[i].eq(block_of(n_limbs, self.n_blk[i])) for i in range(2)]
        with m.If(self.np_we):
            with m.Switch(self.np_blk):
                for b in range(max_nb):
                    with m.Case(b):
                        m.d.sync += [np_limbs[P * b + k].eq(
                            self.np_data[LIMB_BITS * k:LIMB_BITS * (k + 1)]) for k in range(P)]
        return m
