"""The simulation model's stopped clocks (hdl/simgate.py) change nothing observable: a
program that aborts every coprocessor at many points and runs each one after every abort
gives the same UART output and the same statistics (cycles, retired instructions, per-slot
busy and DMA cycles) on the gated ``full`` model as on the ungated one, whose logic is the
synthesised design's. The default run builds the second (ungated) ``full`` model and runs 2
rounds; ``pytest -m slow`` runs 12."""

import json
import random

import pytest
from amaranth import *
from amaranth.back import rtlil
from amaranth.sim import Simulator

from gluon.firmware.cc import compile
from gluon.hdl.config import get_config
from gluon.hdl.simgate import sim_gated_block
from gluon.sim.verilator import run


PROGRAM = r"""
/* gated vs ungated model check: aborts at many points, then normal operations */
#include <stdint.h>
#include <stdio.h>
#include "gluon/hash.h"
#include "gluon/matmul.h"
#include "gluon/modmul.h"
#include "gluon/regs.h"
static uint8_t msg[4096];
static struct { int8_t a[64*64]; int8_t b[64*64]; int32_t bias[64]; int8_t c[64*64]; } __attribute__((aligned(16))) mm;
static uint32_t n_[8], x_[8], e_[8], r_[8];
static void spin(int d) { for (volatile int i = 0; i < d; i++) ; }
int main(void)
{
    gluon_hash_window(0, (void *)0x80000000u, 128 * 1024); gluon_modmul_init(2);
    gluon_matmul_window(0, (void *)0x80000000u, 128 * 1024);   /* windows are per slot */

    uint32_t x = 0x5EED;
    for (int i = 0; i < 4096; i++) { x = 1664525u * x + 1013904223u; msg[i] = x >> 24; }
    for (int i = 0; i < 64*64; i++) { x = 1664525u * x + 1013904223u; mm.a[i] = x >> 24; mm.b[i] = x >> 16; }
    for (int i = 0; i < 8; i++) { x = 1664525u * x + 1013904223u; n_[i] = x; x_[i] = x * 7; e_[i] = x * 13; }
    n_[0] |= 1; n_[7] |= 0x80000000u; x_[7] &= 0x7FFFFFFFu;
    static uint8_t d[64];
    gluon_requant rq = {1 << 30, 10, -5, 1, mm.bias};
    for (int k = 0; k < ROUNDS; k++) {
        int dl = k * 13;
        /* hash: start SHA3-256 of 4 KiB by registers, abort after a delay */
        GLUON_HASH_CTRL = 2; GLUON_HASH_SRC = (uint32_t)msg; GLUON_HASH_LEN = 4096; GLUON_HASH_DST = (uint32_t)d;
        GLUON_HASH_START = 1; spin(dl); GLUON_HASH_ABORT = 1;
        while (GLUON_HASH_STATUS & 1) ;
        printf("h%d %08x %u\n", k, (unsigned)GLUON_HASH_STATUS, (unsigned)GLUON_HASH_CYCLES);
        GLUON_HASH_STATUS = 6;
        sha256(msg, 1000 + k, d); printf("s %02x%02x%02x%02x\n", d[0], d[1], d[2], d[3]);
        /* matmul: start, abort */
        gluon_matmul_start_i8(64, 64, 64, mm.a, 64, mm.b, 64, mm.c, 64, &rq);
        spin(dl * 3); GLUON_MATMUL_ABORT = 1;
        while (GLUON_MATMUL_STATUS & 1) ;
        printf("m%d %08x %d\n", k, (unsigned)GLUON_MATMUL_STATUS, gluon_matmul_wait());
        int rc = gluon_matmul_i8(16 + k, 16, 32, mm.a, 64, mm.b, 64, mm.c, 64, &rq);
        uint32_t h = 0; for (int i = 0; i < 64*64; i++) h = h * 31 + (uint8_t)mm.c[i];
        printf("mm %d %08x %u\n", rc, (unsigned)h, (unsigned)gluon_matmul_last_cycles());
        /* modmul: setmod + modexp, abort in the middle of one, then a full one */
        gluon_modmul_init(2);
        gluon_modmul_setmod(n_, 8);
        GLUON_MODMUL_ABORT = 1; spin(dl);
        rc = gluon_modmul_modexp(r_, x_, e_, 8);
        printf("x %d %08x %08x %u\n", rc, (unsigned)r_[0], (unsigned)r_[7], (unsigned)GLUON_MODMUL_CYCLES);
    }
    return 0;
}
"""


@pytest.mark.parametrize("rounds", [2, pytest.param(12, marks=pytest.mark.slow)])
def test_gated_model_matches_ungated(tmp_path, rounds):
    src = tmp_path / "gate_check.c"
    src.write_text(f"#define ROUNDS {rounds}\n" + PROGRAM)
    elf = compile([src], tmp_path / "gate_check.elf")
    full = get_config("full")
    results = [run(elf, full, sim_gating=gating) for gating in (True, False)]
    for res in results:
        assert res.passed, res.reason
    gated, ungated = (r.as_dict() for r in results)
    for d in (gated, ungated):
        for k in ("seconds", "cycles_per_second", "cpu_seconds", "cycles_per_cpu_second"):
            d.pop(k)
    assert results[0].output == results[1].output
    assert results[0].output.count(b"\n") == 5 * rounds     # 5 lines a round
    assert json.dumps(gated, sort_keys=True) == json.dumps(ungated, sort_keys=True)
    assert results[0].counts == results[1].counts
    # Every coprocessor did work (aborted and whole operations).
    assert all(n > 0 for n in gated["busy_per_slot"][:3])


class _Toy(Elaboratable):
    """A block whose next-state logic reads ``sync`` signals (inputs ``go``, ``x``, and a reset
    ``wipe`` from outside, as the coprocessors' wipe), a value computed from them (``x1``) and
    one computed from its own registers only (``twice``), with a combinational output."""

    def __init__(self, gated):
        self.gated = gated
        self.go, self.wipe, self.x = Signal(name="go"), Signal(name="wipe"), Signal(8, name="x")
        self.cnt, self.acc = Signal(16, name="cnt"), Signal(16, name="acc")
        self.out = Signal(16, name="out")

    def _body(self, platform):
        m, inner = Module(), Module()
        x1, twice = Signal(9, name="x1"), Signal(17, name="twice")
        inner.d.comb += [x1.eq(self.x + 1), twice.eq(self.cnt * 2)]
        with inner.If(self.go):
            inner.d.sync += [self.cnt.eq(self.cnt + x1), self.acc.eq(twice + self.acc)]
        m.submodules.inner = ResetInserter(self.wipe)(inner)
        m.d.comb += self.out.eq(self.cnt + self.x)
        return m

    def elaborate(self, platform):
        m = Module()
        if self.gated:
            sim_gated_block(m, "toy", self.go | self.wipe, 2, self._body)
        else:
            m.submodules.body = self._body(platform)
        return m


def _toy_trace(gated, seed):
    rnd = random.Random(seed)
    toy = _Toy(gated)
    sim = Simulator(toy)
    sim.add_clock(1e-6)
    trace = []

    async def bench(ctx):
        for i in range(400):
            # idle for the first edges, as the SoC is in its power-on reset then: the gated
            # clock's enable is first sampled on a falling edge
            busy = i >= 2
            ctx.set(toy.go, busy and rnd.random() < 0.3)
            ctx.set(toy.wipe, busy and rnd.random() < 0.05)
            ctx.set(toy.x, rnd.randrange(256))
            await ctx.tick()
            trace.append((i, ctx.get(toy.cnt), ctx.get(toy.acc), ctx.get(toy.out)))

    sim.add_testbench(bench)
    sim.run()
    return trace


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampled_inputs_match_ungated(seed):
    """The gated block's next-state logic reads copies of the signals that follow ``sync``
    (hdl/simgate.py, _SampledInputs): cycle by cycle the same registers and output as the
    same block on ``sync`` (Amaranth's simulator, random stimulus with stopped stretches)."""
    gated, ungated = _toy_trace(True, seed), _toy_trace(False, seed)
    assert any(acc for _, _, acc, _ in ungated)
    for g, u in zip(gated, ungated):
        assert g == u, f"cycle {g[0]}: gated (cnt, acc, out) {g[1:]}, ungated {u[1:]}"


def test_sampled_inputs_are_the_sync_ones():
    """Copied: what follows ``sync`` (the inputs, the reset, a value computed from an input);
    not copied: the block's registers and what is computed from them alone."""
    text = rtlil.convert(_Toy(True), ports=[])
    for name in ("toy_in_go", "toy_in_x1", "toy_in_wipe"):
        assert f"\\{name} " in text or f"\\{name}\n" in text, name
    for name in ("toy_in_twice", "toy_in_cnt", "toy_in_acc"):
        assert name not in text, name
