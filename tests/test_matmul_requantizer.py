"""The matrix coprocessor's requantizer (hdl/matmul/requantizer.py) alone, against gemmlowp's
definitions as written in the numpy reference (gluon.sim.quantize_mlp)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from gluon.hdl.matmul import Requantizer
from gluon.sim.quantize_mlp import requantize, srdhm, INT32_MIN, INT32_MAX


def requant_vectors(rng, qmul, shift):
    """Inputs for one parameter set: extremes, exact ties of both roundings, random."""
    xs = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, INT32_MAX - 1, 1 << 30, -(1 << 30)]
    if qmul == 1 << 30:
        # SRDHM(x, 2**30) = x/2 rounded: odd x are its ties. 2·y with y = ±(2k+1)·2**(s-1)
        # are exact ties of RoundingDivideByPOT.
        xs += [2 * k + 1 for k in range(-6, 6)]
        if shift:
            for k in range(0, 5):
                y = (2 * k + 1) << (shift - 1)
                xs += [2 * y, -2 * y, 2 * y + 2, -2 * y - 2, 2 * y - 2, -2 * y + 2]
    xs += list(rng.integers(INT32_MIN, INT32_MAX, size=40, endpoint=True))
    xs += list(rng.integers(-(1 << 16), 1 << 16, size=40))
    return [int(x) for x in xs if INT32_MIN <= x <= INT32_MAX]


@pytest.mark.parametrize("dsp", [False, True])
def test_requantizer_rounding_edges(dsp):
    """The requantizer alone, one value per cycle, against gemmlowp's definitions; with the
    product as a tree of LUT adders and as one DSP multiplication."""
    rng = np.random.default_rng(6)
    # multiplier, shift, zero point, relu
    sets = [(1 << 30, 0, 0, False), (1 << 30, 1, 0, False), (1 << 30, 3, -7, False),
            (1 << 30, 31, 0, False), (1 << 30, 5, 100, True), (INT32_MIN, 0, 0, False),
            (INT32_MIN, 4, -128, True), (INT32_MAX, 0, 127, False), (INT32_MAX, 20, 3, True),
            (0, 3, -20, False), (1, 0, 0, False), (-1, 0, 0, False),
            (-(1 << 30), 2, 10, False)]
    sets += [(int(rng.integers(INT32_MIN, INT32_MAX)), int(rng.integers(0, 32)),
              int(rng.integers(-128, 128)), bool(rng.integers(0, 2))) for _ in range(6)]
    dut = Requantizer(tag_width=8, dsp=dsp)
    assert dut.latency == (6 if dsp else 10)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for qmul, shift, zp, relu in sets:
            ctx.set(dut.multiplier, qmul)
            ctx.set(dut.shift, shift)
            ctx.set(dut.zero_point, zp)
            ctx.set(dut.relu, relu)
            await ctx.tick().repeat(2)                       # derived parameters settle
            xs = requant_vectors(rng, qmul, shift)
            want = requantize(np.array(xs), qmul, shift, zp, relu)
            got = []
            for cycle in range(len(xs) + dut.latency):
                if cycle < len(xs):
                    ctx.set(dut.i.valid, 1)
                    ctx.set(dut.i.payload.value, xs[cycle])
                    ctx.set(dut.i.payload.tag, cycle & 0xFF)
                else:
                    ctx.set(dut.i.valid, 0)
                if ctx.get(dut.o.valid):
                    assert ctx.get(dut.o.payload.tag) == len(got) & 0xFF
                    assert ctx.get(dut.o.payload.raw) == xs[len(got)]
                    got.append(ctx.get(dut.o.payload.value))
                await ctx.tick()
            assert len(got) == len(xs)
            for x, g, w in zip(xs, got, want):
                assert g == w, (f"x={x} qmul={qmul} shift={shift} zp={zp} relu={relu}: "
                                f"got {g}, want {w} (srdhm={int(srdhm(x, qmul))})")
    sim.add_testbench(bench)
    sim.run()


def test_srdhm_shortcut_equals_gemmlowp():
    """The hardware computes SRDHM as floor((a·b + 2**30) / 2**31), saturated; docs/matmul.md
    claims that equals gemmlowp's nudge-and-truncate definition. Check it on many pairs."""
    rng = np.random.default_rng(7)
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, size=20000, endpoint=True),
                        [INT32_MIN, INT32_MAX, 0, -1, 1, 1 << 15, -(1 << 15)]])
    for b in [INT32_MIN, INT32_MAX, 1 << 30, -(1 << 30), 1, -1, 0, 3, 12345678,
              *rng.integers(INT32_MIN, INT32_MAX, size=20)]:
        ab = a.astype(object) * int(b)
        short = np.array([min((v + (1 << 30)) >> 31, INT32_MAX) for v in ab], dtype=np.int64)
        assert np.array_equal(short, srdhm(a, int(b))), b
