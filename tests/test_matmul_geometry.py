"""Geometry (hdl/matmul/geometry.py): the per-operation sizes the engine registers at SETUP,
against the same quantities computed in Python from M, N, K (chunks, K blocks, groups, words)."""

import random

from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.matmul import Job, Store
from gluon.hdl.matmul.geometry import Geometry


class Setup(Elaboratable):
    def __init__(self, geo):
        self.geo, self.job, self.sizes = geo, Signal(Job), Signal(geo.sizes)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.geo.setup(m, self.sizes, self.job)
        return m


def expected(P, Kc, M, N, K, int8):
    G = 2 * P
    chunks = -(-K // Kc)
    k_last = K - (chunks - 1) * Kc
    return {
        "n_chunks": chunks, "last_c": chunks - 1, "k_last": k_last,
        "kb_last": -(-k_last // P), "rem_last": (K - 1) % P, "a_words_last": -(-k_last // 4),
        "b_words": -(-N // 4), "nb_cnt": -(-N // P), "last_g": (M - 1) // G,
        "mg_last": M - ((M - 1) // G) * G, "st_words": -(-N // 4) if int8 else N,
    }


def test_sizes_against_python():
    rng = random.Random(9)
    for dim, max_m, max_n, k_chunk in [(4, 64, 64, 32), (8, 64, 64, 32), (4, 16, 8, 4)]:
        geo = Geometry(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk)
        dut = Setup(geo)
        sim = Simulator(dut)
        sim.add_clock(1e-6)
        cases = [(1, 1, 1), (max_m, max_n, (1 << 17) - 1), (2 * dim, dim, k_chunk),
                 (2 * dim + 1, dim + 1, k_chunk + 1)]
        cases += [(rng.randint(1, max_m), rng.randint(1, max_n), rng.randint(1, 3000))
                  for _ in range(20)]

        async def bench(ctx):
            for M, N, K in cases:
                for store in (Store.INT8, Store.INT32):
                    ctx.set(dut.job.m, M); ctx.set(dut.job.n, N); ctx.set(dut.job.k, K)
                    ctx.set(dut.job.op.store, store)
                    await ctx.tick()
                    want = expected(dim, k_chunk, M, N, K, store == Store.INT8)
                    got = {f: ctx.get(getattr(dut.sizes, f)) for f in want}
                    assert got == want, (dim, M, N, K, store)
        sim.add_testbench(bench)
        sim.run()
