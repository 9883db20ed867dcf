"""The systolic MAC array alone against numpy: latency, bank switching, extreme values."""
import gc

import numpy as np
import pytest
from amaranth.sim import Simulator

from gluon.hdl.matmul.systolic import SystolicArray


def simulate(dut, schedule, cycles):
    """Drive the array cycle by cycle.

    ``schedule(cycle)`` returns ``(row, weight)``: ``row`` is None or ``(a_vector, bank)``,
    ``weight`` is None or ``(index, bank, w_vector)``. Returns {cycle: sums} for every cycle
    in which ``sums.valid`` was high.
    """
    dim = dut.dim
    out = {}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for cycle in range(cycles):
            row, weight = schedule(cycle)
            ctx.set(dut.rows.valid, row is not None)
            if row is not None:
                a, bank = row
                ctx.set(dut.rows.payload.bank, bank)
                for i in range(dim):
                    ctx.set(dut.rows.payload.a[i], int(a[i]))
            ctx.set(dut.weights.valid, weight is not None)
            if weight is not None:
                index, bank, w = weight
                ctx.set(dut.weights.payload.index, index)
                ctx.set(dut.weights.payload.bank, bank)
                for j in range(dim):
                    ctx.set(dut.weights.payload.w[j], int(w[j]))
            if ctx.get(dut.sums.valid):
                out[cycle] = [ctx.get(dut.sums.payload[j]) for j in range(dim)]
            await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    return dut, out


@pytest.mark.parametrize("dim", [1, 4, 8])
def test_rows_back_to_back_with_bank_switch(dim):
    """Passes of `slot` rows follow without a gap; each pass's weights are written into the
    idle bank during the previous pass at the offsets the coprocessor uses (dim + i)."""
    rng = np.random.default_rng(dim)
    slot = 2 * dim
    passes = 4
    W = rng.integers(-128, 128, size=(passes, dim, dim))
    A = rng.integers(-128, 128, size=(passes, slot, dim))
    start = slot                               # pass p streams during [start + p*slot, ...)

    def schedule(cycle):
        row = weight = None
        p, s = divmod(cycle - start, slot)
        if cycle >= start and p < passes:
            row = (A[p, s], p % 2)
        # Weights of pass q written during the slot before it (slot -1: the prologue).
        q, s2 = divmod(cycle - start + slot, slot)
        if 0 <= q < passes and dim <= s2 < 2 * dim and cycle >= start - slot:
            i = s2 - dim
            weight = (i, q % 2, W[q, i])
        return row, weight

    dut = SystolicArray(dim=dim)
    dut, out = simulate(dut, schedule, start + passes * slot + dut.latency + 2)
    assert len(out) == passes * slot
    for p in range(passes):
        want = A[p] @ W[p]
        for s in range(slot):
            c = start + p * slot + s + dut.latency
            assert out[c] == list(want[s]), f"pass {p} row {s} at cycle {c}: {out[c]} != {want[s]}"


def test_extremes():
    """(-128)·(-128) in every cell gives the largest column sum, dim · 2**14, exactly."""
    dim = 8

    def schedule(cycle):
        weight = (cycle, 1, [-128] * dim) if cycle < dim else None
        row = None
        if cycle == 3 * dim:
            row = ([-128] * dim, 1)
        elif cycle == 3 * dim + 1:
            row = ([127] * dim, 1)
        return row, weight
    dut, out = simulate(SystolicArray(dim=dim), schedule, 6 * dim)
    assert list(out.values()) == [[dim * 16384] * dim, [dim * 127 * -128] * dim]
    assert sorted(out) == [3 * dim + dut.latency, 3 * dim + 1 + dut.latency]
    assert dut.sum_width == 19


@pytest.mark.filterwarnings("ignore::amaranth.hdl._ir.UnusedElaboratable")
def test_init_wrong_dim():
    with pytest.raises(TypeError):
        SystolicArray(dim="8")
    with pytest.raises(ValueError):
        SystolicArray(dim=0)
    with pytest.raises(ValueError):
        SystolicArray(dim=33)
    gc.collect()                # the half-built objects warn when collected: do it here
