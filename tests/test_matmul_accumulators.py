"""Accumulators (hdl/matmul/accumulators.py): the read-modify-write of accumulator rows against
a Python model (first: overwrite, else add modulo 2**32), in both banks, with the sums arriving
``latency + 1`` cycles after their row's meta; the store's read port; the final pulses."""

import random

from amaranth.sim import Simulator

from gluon.hdl.matmul.geometry import Geometry
from gluon.hdl.matmul.accumulators import Accumulators

LATENCY, SUM_WIDTH = 3, 17


def to_s32(v):
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v


def test_read_modify_write_against_a_model():
    geo = Geometry(dim=4, max_m=16, max_n=8, k_chunk=4)
    assert geo.two_banks
    depth = geo.bank_rows * geo.b_epr
    dut = Accumulators(geo, latency=LATENCY, sum_width=SUM_WIDTH)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rng = random.Random(5)
    P = geo.P
    # Rows: (first, final, bank, addr, sums); an entry is revisited only later (as the
    # sequencer guarantees: a slot of 2P cycles), here at least 8 cycles apart.
    rows = []
    addrs = rng.sample(range(depth), 8)
    for rnd in range(6):
        for addr in addrs:
            rows.append((rnd == 0, rnd == 5 and addr == addrs[-1], rng.randrange(2), addr,
                         [rng.randrange(-(1 << (SUM_WIDTH - 1)), 1 << (SUM_WIDTH - 1))
                          for _ in range(P)]))
    model = {}

    async def bench(ctx):
        finals = 0
        pending = {}                               # cycle -> sums to present
        cycle = 0
        for row in rows + [None] * (LATENCY + 4):
            ctx.set(dut.meta.valid, row is not None)
            if row:
                first, final, bank, addr, sums = row
                ctx.set(dut.meta.first, first); ctx.set(dut.meta.final, final)
                ctx.set(dut.meta.bank, bank); ctx.set(dut.meta.addr, addr)
                pending[cycle + LATENCY + 1] = sums
                key = (bank, addr)
                old = model.get(key, [0] * P) if not first else [0] * P
                model[key] = [to_s32(o + s) for o, s in zip(old, sums)]
            for j, s in enumerate(pending.pop(cycle, [0] * P)):
                ctx.set(dut.sums[j], s)
            finals += ctx.get(dut.final)
            await ctx.tick()
            cycle += 1
        for _ in range(3):
            finals += ctx.get(dut.final)
            await ctx.tick()
        assert finals == sum(1 for r in rows if r[1])
        ctx.set(dut.meta.valid, 0)
        for (bank, addr), want in sorted(model.items()):
            ctx.set(dut.rd_addr, addr)
            await ctx.tick()
            word = ctx.get(dut.rd_data[bank])
            got = [to_s32(word >> (32 * j)) for j in range(P)]
            assert got == want, (bank, addr)
    sim.add_testbench(bench)
    sim.run()
