"""RAM with the pipelined core's write buffer (``RAM(write_buffer=True)``, hdl/ram.py) against a
Python model under random traffic: a core write reaches the array in the cycle after its
request (the answer still one cycle after the request), the core reads nothing in that cycle
(as the pipelined core guarantees: a load right behind a store waits), the DMA port is stalled
while the core requests or a buffered write is made, the fetch port reads the array as it is. With ``claim=True`` (the pipelined SoCs) the shared
port's owner is the ``claim`` input, a register: a core request only in claimed cycles, the
DMA port served only in the others, and nothing written by a claimed cycle without a request
(a misaligned load or store: its address and data on the bus, no strobe), and nothing written
by a request ``cancel`` drops in the next cycle (a store the pipelined core's ``W`` refuses).
On the pipelined SoC, a U-mode load or store PMP refuses leaves RAM and the register
unchanged."""

import random

import pytest
from amaranth.sim import Simulator

from asmprog import TRAP_RECORDER as HANDLER, run_asm, assemble, symbol

from gluon.hdl.ram import RAM

SIZE = 256                                      # bytes: 64 words


def _merge(old, new, sel):
    mask = sum(0xFF << (8 * b) for b in range(4) if sel >> b & 1)
    return (old & ~mask) | (new & mask)



def _check_answers(ctx, cycle, ports):
    """Each port's acknowledge in the cycle after its request, with the model's read data
    (``pending``: (expected word or None for a write,) or None for no request)."""
    for bus, pending, who in ports:
        assert ctx.get(bus.ack) == (pending is not None), f"cycle {cycle}: {who} ack"
        if pending is not None and pending[0] is not None:
            got = ctx.get(bus.dat_r)
            assert got == pending[0], f"cycle {cycle}: {who} read {got:#x}, want {pending[0]:#x}"


def _drive(ctx, bus, req, shown):
    """A request (``req``: (adr, we, dat, sel) or None) with ``shown``'s address and data."""
    ctx.set(bus.cyc, req is not None)
    ctx.set(bus.stb, req is not None)
    if shown is not None:
        adr, we, dat, sel = shown
        ctx.set(bus.adr, adr)
        ctx.set(bus.we, we)
        ctx.set(bus.dat_w, dat)
        ctx.set(bus.sel, sel)


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()

def test_write_buffer_random_traffic_against_a_model():
    rng = random.Random(18)
    init = [rng.getrandbits(32) for _ in range(SIZE // 4)]
    dut = RAM(size=SIZE, init=init, write_buffer=True)
    mem = list(init)
    stats = {"dma_done": 0, "dma_stalled_by_buffer": 0, "store_store": 0, "read_after": 0,
             "fetch_rdw": 0}

    async def tb(ctx):
        c, d, f = dut.cbus, dut.dbus, dut.fetch
        ctx.set(f.en, 1)
        c_pending = d_pending = None             # expected read data (or None) one cycle later
        f_expect = None
        d_req = None                             # the DMA request, held until taken
        buffered = None                          # the core write made in this cycle
        for cycle in range(3000):
            _check_answers(ctx, cycle, ((c, c_pending, "core"), (d, d_pending, "DMA")))
            if f_expect is not None:
                assert ctx.get(f.data) == f_expect, f"cycle {cycle}: fetch"
            # this cycle's requests; no core read in a cycle its buffered write is made
            c_req = None
            if rng.random() < 0.6:
                we = buffered is not None or rng.random() < 0.5
                sel = 0xF if rng.random() < 0.6 else rng.randrange(1, 16)
                c_req = (rng.randrange(SIZE // 4), we, rng.getrandbits(32), sel)
                stats["store_store"] += buffered is not None
            if d_req is None and rng.random() < 0.5:
                d_req = (rng.randrange(SIZE // 4), rng.random() < 0.4, rng.getrandbits(32),
                         rng.randrange(1, 16))
            for bus, req in ((c, c_req), (d, d_req)):
                _drive(ctx, bus, req, req)
            f_adr = buffered[0] if buffered is not None and rng.random() < 0.5 \
                else rng.randrange(SIZE // 4)
            stats["fetch_rdw"] += buffered is not None and f_adr == buffered[0]
            ctx.set(f.adr, f_adr)
            assert not ctx.get(c.stall)
            if d_req is not None:
                want = c_req is not None or buffered is not None
                assert ctx.get(d.stall) == want, f"cycle {cycle}: DMA stall"
                stats["dma_stalled_by_buffer"] += c_req is None and buffered is not None
            # the model: reads see the array before this cycle's write
            f_expect = mem[f_adr]
            c_pending = d_pending = None
            if c_req is not None:
                adr, we, dat, sel = c_req
                c_pending = (None if we else mem[adr],)
            elif buffered is None and d_req is not None:
                adr, we, dat, sel = d_req
                d_pending = (None if we else mem[adr],)
                if we:
                    mem[adr] = _merge(mem[adr], dat, sel)
                d_req = None
                stats["dma_done"] += 1
            if buffered is not None:
                adr, dat, sel = buffered
                mem[adr] = _merge(mem[adr], dat, sel)
                if c_req is not None and not c_req[1]:
                    raise AssertionError("the generator made a read behind a write")
            if c_req is not None and not c_req[1] and c_pending is not None:
                stats["read_after"] += 1
            buffered = (c_req[0], c_req[2], c_req[3]) if c_req is not None and c_req[1] else None
            await ctx.tick()
        assert all(v > 100 for v in stats.values()), stats

    _run(dut, tb)


def test_write_then_read_two_cycles_later_sees_the_new_word():
    dut = RAM(size=SIZE, init=[0x1111_1111], write_buffer=True)

    async def tb(ctx):
        c, f = dut.cbus, dut.fetch
        ctx.set(f.en, 1)
        for s, v in ((c.cyc, 1), (c.stb, 1), (c.we, 1), (c.adr, 0), (c.dat_w, 0xAABB_CCDD),
                     (c.sel, 0b0101)):
            ctx.set(s, v)
        await ctx.tick()                               # request taken, answered now
        assert ctx.get(c.ack)
        ctx.set(c.stb, 0)
        ctx.set(c.cyc, 0)
        await ctx.tick()                               # the buffered write is made
        ctx.set(c.cyc, 1)
        ctx.set(c.stb, 1)
        ctx.set(c.we, 0)
        assert ctx.get(f.data) == 0x1111_1111          # fetched while the write was made: old
        await ctx.tick()
        assert ctx.get(c.ack) and ctx.get(c.dat_r) == 0x11BB_11DD
        assert ctx.get(f.data) == 0x11BB_11DD          # then the new word, bytes 0 and 2 only

    _run(dut, tb)


def test_claim_needs_the_write_buffer():
    with pytest.raises(ValueError, match="write_buffer"):
        RAM(size=SIZE, claim=True)
    assert "claim" not in RAM(size=SIZE, write_buffer=True).signature.members


def test_claimed_port_random_traffic_against_a_model():
    rng = random.Random(1818)
    init = [rng.getrandbits(32) for _ in range(SIZE // 4)]
    dut = RAM(size=SIZE, init=init, write_buffer=True, claim=True)
    mem = list(init)
    stats = {"dma_done": 0, "dma_lost_to_claim": 0, "dma_lost_to_buffer": 0,
             "claimed_idle": 0, "core_read": 0, "core_write": 0, "dma_idle_we": 0,
             "cancelled_write": 0, "cancelled_read": 0}

    def rnd_req():
        return (rng.randrange(SIZE // 4), rng.random() < 0.5, rng.getrandbits(32),
                rng.randrange(1, 16))

    async def tb(ctx):
        c, d, f = dut.cbus, dut.dbus, dut.fetch
        ctx.set(f.en, 1)
        c_pending = d_pending = None             # (expected read data or None,) one cycle later
        d_req = None                             # the DMA request, held until taken
        buffered = None                          # the core write made in this cycle
        p_req = None                             # the core request taken in the cycle before
        for cycle in range(4000):
            _check_answers(ctx, cycle, ((c, c_pending, "core"), (d, d_pending, "DMA")))
            # W refuses the access whose request was taken in the cycle before (only then)
            cancel = p_req is not None and rng.random() < 0.3
            ctx.set(dut.cancel, cancel)
            if cancel:
                stats["cancelled_write" if p_req[1] else "cancelled_read"] += 1
            # the core claims the port (its X holds a load or store) and then requests or not
            # (refused, or an MMIO access); never a read in the cycle a buffered write is made
            claim = rng.random() < 0.5
            c_req = None
            bus_c = rnd_req()
            if claim and rng.random() < 0.7:
                c_req = (bus_c[0], bus_c[1] or buffered is not None) + bus_c[2:]
                bus_c = c_req
            stats["claimed_idle"] += claim and c_req is None
            if d_req is None and rng.random() < 0.5:
                d_req = rnd_req()
            bus_d = d_req if d_req is not None else rnd_req()
            stats["dma_idle_we"] += d_req is None and bus_d[1]
            ctx.set(dut.claim, claim)
            for bus, req, shown in ((c, c_req, bus_c), (d, d_req, bus_d)):
                _drive(ctx, bus, req, shown)     # address, data, direction even without a request
            f_adr = rng.randrange(SIZE // 4)
            ctx.set(f.adr, f_adr)
            assert not ctx.get(c.stall)
            d_own = not claim and buffered is None
            assert ctx.get(d.stall) == (not d_own), f"cycle {cycle}: DMA stall"
            if d_req is not None and not d_own:
                stats["dma_lost_to_claim" if claim else "dma_lost_to_buffer"] += 1
            # the model: reads see the array before this cycle's write
            c_pending = d_pending = None
            if c_req is not None:
                adr, we, dat, sel = c_req
                c_pending = (None if we else mem[adr],)
                stats["core_write" if we else "core_read"] += 1
            if d_own and d_req is not None:
                adr, we, dat, sel = d_req
                d_pending = (None if we else mem[adr],)
                if we:
                    mem[adr] = _merge(mem[adr], dat, sel)
                d_req = None
                stats["dma_done"] += 1
            if buffered is not None and not cancel:
                adr, dat, sel = buffered
                mem[adr] = _merge(mem[adr], dat, sel)
            buffered = (c_req[0], c_req[2], c_req[3]) if c_req is not None and c_req[1] else None
            p_req = c_req
            await ctx.tick()
        # the array as the model says: read it back through the fetch port, once the last
        # buffered write is made
        for bus in (c, d):
            ctx.set(bus.cyc, 0)
            ctx.set(bus.stb, 0)
        ctx.set(dut.claim, 0)
        ctx.set(dut.cancel, 0)
        await ctx.tick()
        if buffered is not None:
            adr, dat, sel = buffered
            mem[adr] = _merge(mem[adr], dat, sel)
        for adr in range(SIZE // 4):
            ctx.set(f.adr, adr)
            await ctx.tick()
            assert ctx.get(f.data) == mem[adr], f"word {adr}: {ctx.get(f.data):#x} != {mem[adr]:#x}"
        assert all(v > 100 for v in stats.values()), stats

    _run(dut, tb)




def test_refused_accesses_change_nothing_on_the_pipelined_soc():
    # The pipelined SoC's RAM gives its port to X's load or store whatever PMP decides (the
    # claim is made before the verdict): a refused store must still write nothing, also right
    # behind or before a permitted access to the neighbouring word, and a refused load must
    # leave its destination register as it was.
    napot_ram = (0x8000_0000 >> 2) | ((128 * 1024 >> 3) - 1)
    body = HANDLER + f"""
    la t0, key
    srli t0, t0, 2
    csrw pmpaddr0, t0             # entry 0: NA4 over the key word, no permission
    li t0, {napot_ram:#x}
    csrw pmpaddr1, t0             # entry 1: all of RAM, RWX
    li t0, 0x1F10                 # A=NAPOT RWX (entry 1), A=NA4 --- (entry 0)
    csrw pmpcfg0, t0
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    la s0, key
    li a1, 0x1234
    li s5, 0xBAD0BAD
    mret
.align 2
user:
u0: lw a1, 0(s0)                  # refused load: a1 keeps 0x1234
    lw a2, 4(s0)                  # the next word: allowed
u1: sw s5, 0(s0)                  # refused store
    lw a3, 4(s0)                  # a load right behind it (the store -> load wait)
    sw s5, 4(s0)                  # an allowed store right before a refused one
u2: sw a2, 0(s0)                  # refused store
u3: lw a1, 0(s0)                  # refused load right behind a store
    lw a4, 4(s0)
    sw a1, 0(gp)
    sw a2, 4(gp)
    sw a3, 8(gp)
    sw a4, 12(gp)
    addi gp, gp, 16
    li a0, 0xDEAD
    ecall
finished:
    lw t0, 0(s0)                  # M-mode: the key is unchanged
    sw t0, 0(gp)
    PASS
.section .data
.align 4
key: .word 0x5EC2E7
next: .word 0x7777
.section .text
"""
    res, w = run_asm(body, config="pipelined")
    assert res.passed, res
    elf = assemble(body)
    lab = {n: symbol(elf, n) for n in ("u0", "u1", "u2", "u3", "key")}
    traps = [(5, "u0"), (7, "u1"), (7, "u2"), (5, "u3")]
    for i, (cause, where) in enumerate(traps):
        rec = w[4 * i:4 * i + 3]
        assert rec == [cause, lab[where], lab["key"]], f"{where}: mcause/mepc/mtval {rec}"
    a1, a2, a3, a4 = w[16:20]
    assert a1 == 0x1234, f"a refused load wrote {a1:#x} to its register"
    assert (a2, a3, a4) == (0x7777, 0x7777, 0xBAD0BAD), (hex(a2), hex(a3), hex(a4))
    assert w[20] == 0x5EC2E7, f"a refused store changed RAM: {w[20]:#x}"
