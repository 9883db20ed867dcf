"""The bus layer (hdl/bus.py, Wishbone B4 pipelined): the decoder rejects overlapping and
misaligned windows, routes a random pipelined request stream in order with errors for unmapped
addresses, and adds exactly one cycle to registered windows; the arbiter never splits a burst
and hands responses to the initiator that asked."""

import random
from collections import deque

import pytest
from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.bus import Arbiter, Decoder, WishboneSignature
from gluon.hdl.regs import Field, Register, RegisterMap, RegisterBank


def _drive_request(ctx, bus, req, *, busy):
    """The initiator's side of one cycle: ``req`` = (byte address, write, data) or None;
    CYC stays up while ``busy`` (responses outstanding)."""
    ctx.set(bus.cyc, 1 if (req is not None or busy) else 0)
    ctx.set(bus.stb, 1 if req is not None else 0)
    if req is not None:
        ctx.set(bus.adr, req[0] >> 2)
        ctx.set(bus.we, req[1])
        ctx.set(bus.dat_w, req[2])
        ctx.set(bus.sel, 0xF)


def test_decoder_rejects_overlap_and_misalignment():
    dec = Decoder()
    dec.add(WishboneSignature(addr_width=10).flip().create(), name="a", base=0x1000_0000, size=0x1000)
    with pytest.raises(ValueError, match="overlaps"):
        dec.add(WishboneSignature(addr_width=10).flip().create(), name="b", base=0x1000_0000, size=0x2000)
    with pytest.raises(ValueError, match="aligned"):
        dec.add(WishboneSignature(addr_width=10).flip().create(), name="c", base=0x1000_1800, size=0x1000)


def test_decoder_routes_pipelines_and_errors():
    """A random request stream through a Decoder to four targets (1-cycle; 3-cycle pipelined
    with random stalls and a bus narrower than its window; 9-cycle pipelined, beyond the
    decoder's outstanding limit; a 1-cycle one behind the decoder's request register) and
    unmapped addresses. Every request gets exactly one
    response, in order, with the right target's data, ``err`` for unmapped addresses and the
    narrow target's upper window; requests to another target wait until the pending
    responses are back (no two targets ever have responses outstanding); nothing hangs."""
    rng = random.Random(5)
    spec = [  # name, base, size, addr_width, latency, stall probability, registered
        ("fast", 0x1000, 0x40, 4, 1, 0.0, False),
        ("slow", 0x2000, 0x40, 2, 3, 0.3, False),
        ("deep", 0x4000, 0x100, 6, 9, 0.1, False),
        ("bank", 0x6000, 0x80, 5, 1, 0.0, True),      # a register bank behind the request register
    ]
    dec = Decoder(addr_width=16, max_outstanding=7)
    tbus = []
    for name, base, size, aw, _lat, _p, regd in spec:
        t = WishboneSignature(addr_width=aw).flip().create(path=(name,))
        dec.add(t, name=name, base=base, size=size, registered=regd)
        tbus.append(t)
    sim = Simulator(dec)
    sim.add_clock(1e-6)

    def expect(byte_adr):
        for i, (name, base, size, aw, _l, _p, _r) in enumerate(spec):
            if base <= byte_adr < base + size:
                off = (byte_adr - base) >> 2
                return ("ack", (i << 24) | (off * 0x0101)) if off < 1 << aw else ("err", None)
        return ("err", None)

    stats = {"ack": 0, "err": 0, "blocked": 0, "deep_outstanding_max": 0, "bank_requests": 0}

    async def tb(ctx):
        bus = dec.bus
        queues = [deque() for _ in spec]          # per target: (due cycle, data)
        expected = deque()
        req = None
        issued = 0
        cycle = 0
        cur = 0
        while issued < 600 or expected:
            cycle += 1
            assert cycle < 20000, "decoder hang"
            # targets' outputs for this cycle
            for (name, _b, _s, _aw, lat, p, _r), t, q in zip(spec, tbus, queues):
                due = q and q[0][0] <= cycle
                ctx.set(t.ack, 1 if due else 0)
                ctx.set(t.dat_r, q[0][1] if due else 0)
                ctx.set(t.err, 0)
                ctx.set(t.stall, 1 if rng.random() < p else 0)
            # the initiator: one request at a time, held until taken
            if req is None and issued < 600 and rng.random() < 0.85:
                if rng.random() < 0.15:           # bursts: mostly the same target as before
                    cur = rng.randrange(len(spec) + 1)
                if cur < len(spec):
                    name, base, size, *_ = spec[cur]
                    adr = base + 4 * rng.randrange(size // 4)
                else:
                    adr = rng.choice([0x0000, 0x3000, 0x8000, 0xFFFC, 0x1040])
                req = (adr, rng.random() < 0.3, rng.getrandbits(32))
            _drive_request(ctx, bus, req, busy=bool(expected))
            # what the decoder does with it
            for i, ((name, *_r), t, q) in enumerate(zip(spec, tbus, queues)):
                if ctx.get(t.stb):
                    assert ctx.get(t.cyc)
                    if spec[i][6]:
                        stats["bank_requests"] += 1
                    if not ctx.get(t.stall):
                        off = ctx.get(t.adr)
                        q.append((cycle + spec[i][4], (i << 24) | (off * 0x0101)))
                        if i == 2:
                            stats["deep_outstanding_max"] = max(stats["deep_outstanding_max"], len(q))
            ack, err = ctx.get(bus.ack), ctx.get(bus.err)
            assert not (ack and err)
            if ack or err:
                kind, data = expected.popleft()
                assert (kind == "ack") == bool(ack), (cycle, kind)
                stats[kind] += 1
                if kind == "ack":
                    assert ctx.get(bus.dat_r) == data, (cycle, hex(ctx.get(bus.dat_r)), hex(data))
            if req is not None:
                if not ctx.get(bus.stall):
                    expected.append(expect(req[0]))
                    issued += 1
                    req = None
                else:
                    stats["blocked"] += 1
            for (_n, _b, _s, _aw, _lat, _p, _r), t, q in zip(spec, tbus, queues):
                if ctx.get(t.ack):
                    q.popleft()
            busy = [i for i, q in enumerate(queues) if q]
            assert len(busy) <= 1, f"two targets with responses outstanding: {busy}"
            await ctx.tick()

    sim.add_testbench(tb)
    sim.run()
    assert stats["ack"] > 300 and stats["err"] > 40 and stats["blocked"] > 100, stats
    assert stats["deep_outstanding_max"] == 7 and stats["bank_requests"] > 100, stats


def test_decoder_registered_window_latency():
    """A register bank decoded directly answers 1 cycle after its request is taken; behind the
    decoder's request register (``registered=True``, the SoC's own banks) exactly 2, for reads
    and writes alike, back to back too; a write is visible to the next read."""
    rm = RegisterMap("L", [Register("A", 0, "rw", [Field("V", 32)]), Register("B", 4, "rw", [Field("V", 32)])])
    direct, regd = RegisterBank(rm), RegisterBank(rm)
    dec = Decoder(addr_width=16)
    dec.add(direct.bus, name="direct", base=0x1000, size=0x8)
    dec.add(regd.bus, name="regd", base=0x2000, size=0x8, registered=True)
    m = Module()
    m.submodules += [dec, direct, regd]
    sim = Simulator(m)
    sim.add_clock(1e-6)
    seen = []

    async def tb(ctx):
        bus = dec.bus
        for base, want in ((0x1000, 1), (0x2000, 2)):
            # write A, then read it back, then a pipelined pair of reads (A, B)
            for ops in ([(base, 1, 0x1234_5678)], [(base, 0, 0)], [(base, 0, 0), (base + 4, 0, 0)]):
                ctx.set(bus.cyc, 1)
                pending, cycle, results = [], 0, []
                queue = list(ops)
                while queue or pending:
                    if queue:
                        adr, we, d = queue[0]
                        for s, v in ((bus.stb, 1), (bus.adr, adr >> 2), (bus.we, we), (bus.dat_w, d),
                                     (bus.sel, 0xF)):
                            ctx.set(s, v)
                    else:
                        ctx.set(bus.stb, 0)
                    if ctx.get(bus.ack):
                        results.append((cycle - pending.pop(0), ctx.get(bus.dat_r)))
                    assert not ctx.get(bus.err)
                    if queue and not ctx.get(bus.stall):
                        queue.pop(0)
                        pending.append(cycle)
                    await ctx.tick()
                    cycle += 1
                    assert cycle < 20
                ctx.set(bus.cyc, 0)
                ctx.set(bus.stb, 0)
                await ctx.tick()
                assert [lat for lat, _ in results] == [want] * len(ops), (hex(base), results)
                seen.append(results)
        assert seen[1][0][1] == 0x1234_5678 and seen[4][0][1] == 0x1234_5678

    sim.add_testbench(tb)
    sim.run()


def _single_request_run(single_request):
    """A random stream from an initiator that asks only when no response is pending (or the
    last one comes back in that cycle), through a Decoder to a 1-cycle target, a 3-cycle one
    with random stalls, a register bank behind the request register and unmapped addresses.
    Returns [(cycle, kind, data)] of the responses and the cycles the decoder stalled while
    the addressed target did not."""
    rng = random.Random(11)
    spec = [  # name, base, size, addr_width, latency, stall probability, registered
        ("ram", 0x1000, 0x40, 4, 1, 0.0, False),
        ("slow", 0x2000, 0x40, 4, 3, 0.3, False),
        ("bank", 0x6000, 0x80, 5, 1, 0.0, True),
    ]
    dec = Decoder(addr_width=16, single_request=single_request)
    tbus = []
    for name, base, size, aw, _lat, _p, regd in spec:
        t = WishboneSignature(addr_width=aw).flip().create(path=(name,))
        dec.add(t, name=name, base=base, size=size, registered=regd)
        tbus.append(t)
    sim = Simulator(dec)
    sim.add_clock(1e-6)
    log, spurious = [], []

    def target_of(byte_adr):
        for i, (_n, base, size, *_r) in enumerate(spec):
            if base <= byte_adr < base + size:
                return i
        return None

    async def tb(ctx):
        bus = dec.bus
        queues = [deque() for _ in spec]
        req, outstanding, issued, cycle = None, 0, 0, 0
        while issued < 400 or outstanding:
            cycle += 1
            assert cycle < 10000, "decoder hang"
            stalls = [1 if rng.random() < p else 0 for (*_x, p, _r) in spec]
            for t, q, st in zip(tbus, queues, stalls):
                due = q and q[0][0] <= cycle
                ctx.set(t.ack, 1 if due else 0)
                ctx.set(t.dat_r, q[0][1] if due else 0)
                ctx.set(t.err, 0)
                ctx.set(t.stall, st)
            ack, err = ctx.get(bus.ack), ctx.get(bus.err)
            if ack or err:
                log.append((cycle, "ack" if ack else "err", ctx.get(bus.dat_r) if ack else None))
                outstanding -= 1
            if req is None and issued < 400 and outstanding == 0 and rng.random() < 0.8:
                i = rng.randrange(len(spec) + 1)
                if i < len(spec):
                    adr = spec[i][1] + 4 * rng.randrange(spec[i][2] // 4)
                else:
                    adr = rng.choice([0x0000, 0x3000, 0x8000, 0xFFFC])
                req = (adr, rng.random() < 0.3, rng.getrandbits(32))
            _drive_request(ctx, bus, req, busy=bool(outstanding))
            for i, (t, q) in enumerate(zip(tbus, queues)):
                if ctx.get(t.stb) and not ctx.get(t.stall):
                    q.append((cycle + spec[i][4], (i << 24) | (ctx.get(t.adr) * 0x0101)))
            if req is not None:
                tgt = target_of(req[0])
                if ctx.get(bus.stall):
                    if tgt is None or not stalls[tgt] or spec[tgt][6]:
                        spurious.append(cycle)
                else:
                    issued += 1
                    outstanding += 1
                    req = None
            for t, q in zip(tbus, queues):
                if ctx.get(t.ack):
                    q.popleft()
            await ctx.tick()

    sim.add_testbench(tb)
    sim.run()
    return log, spurious


def test_decoder_single_request_same_cycles_no_ordering_stall():
    """``single_request=True`` gives such an initiator the very same responses in the very same
    cycles as the ordering decoder, and stalls a request only when its own target stalls (never
    for a target that does not, a registered one or an unmapped address)."""
    ref, _ = _single_request_run(False)
    got, spurious = _single_request_run(True)
    assert spurious == [], f"stalled without the target stalling, cycles {spurious[:10]}"
    assert got == ref
    kinds = [k for _c, k, _d in got]
    assert len(got) == 400 and kinds.count("err") > 40, kinds.count("err")


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_decoder_construction_errors():
    def target(aw=2):
        return WishboneSignature(addr_width=aw).flip().create()
    dec = Decoder(addr_width=16)
    dec.add(target(), name="a", base=0x100, size=0x10)
    with pytest.raises(ValueError, match="used twice"):
        dec.add(target(), name="a", base=0x200, size=0x10)
    with pytest.raises(ValueError, match="power of two"):
        dec.add(target(), name="b", base=0x300, size=0x18)
    with pytest.raises(ValueError, match="outside"):
        dec.add(target(), name="c", base=0x4_0000, size=0x10)
    with pytest.raises(ValueError, match="address bits"):
        dec.add(target(aw=8), name="d", base=0x400, size=0x10)
    with pytest.raises(TypeError, match="identifier"):
        dec.add(target(), name="not a name", base=0x500, size=0x10)
    with pytest.raises(TypeError, match="addr_width"):
        WishboneSignature(addr_width=31)
    with pytest.raises(ValueError, match="at least one"):
        Arbiter(n=0)


def test_arbiter_bursts_priority_and_responses():
    """Three initiators issue random bursts (``cyc`` held over several pipelined requests) to
    one target answering in order after 1..3 cycles. The grant never moves inside a burst or
    while responses are outstanding; when several wait on an idle bus, the lowest index wins;
    every initiator gets exactly its own responses (the data encodes who asked and where)."""
    rng = random.Random(11)
    n = 3
    arb = Arbiter(addr_width=16, n=n)
    sim = Simulator(arb)
    sim.add_clock(1e-6)
    stats = {"grants": 0, "contended": 0}

    async def tb(ctx):
        bus = arb.bus
        todo = [0] * n                 # requests left in each initiator's current burst
        want = [deque() for _ in range(n)]
        got = [0] * n
        pend = deque()                 # the target's queue: (due cycle, data)
        owner, cycle, total = None, 0, 0
        last_low, last_taken = [0] * n, [0] * n     # last cycle with cyc low / a request taken
        prev_cyc = []                  # initiators with cyc high in the previous cycle
        while total < 300 or any(want) or any(todo):
            cycle += 1
            assert cycle < 10000, "arbiter hang"
            for i in range(n):
                if not todo[i] and not want[i] and total < 300 and rng.random() < 0.2:
                    todo[i] = rng.randint(1, 5)
                    total += todo[i]
            # target outputs
            due = bool(pend) and pend[0][0] <= cycle
            ctx.set(bus.ack, due)
            ctx.set(bus.dat_r, pend[0][1] if due else 0)
            ctx.set(bus.stall, rng.random() < 0.2)
            for i, ini in enumerate(arb.initiators):
                if not (todo[i] or want[i]):
                    last_low[i] = cycle
                ctx.set(ini.cyc, bool(todo[i] or want[i]))
                ctx.set(ini.stb, bool(todo[i]))
                ctx.set(ini.adr, (i << 12) | todo[i])
                ctx.set(ini.we, 0)
                ctx.set(ini.sel, 0xF)
            # who has the bus this cycle
            active = [i for i, ini in enumerate(arb.initiators) if not ctx.get(ini.stall)]
            if ctx.get(bus.cyc) and ctx.get(bus.stb):
                g = ctx.get(bus.adr) >> 12
                if owner is not None and owner != g:
                    assert last_low[owner] > last_taken[owner], \
                        f"cycle {cycle}: grant moved from {owner} to {g} inside a burst"
                if owner != g:
                    stats["grants"] += 1
                    assert g == min(prev_cyc), f"cycle {cycle}: {g} granted, {prev_cyc} waited"
                    if len(prev_cyc) > 1:
                        stats["contended"] += 1
                owner = g
            for i, ini in enumerate(arb.initiators):
                if ctx.get(ini.ack):
                    assert want[i], f"cycle {cycle}: initiator {i} got a response it did not ask for"
                    assert ctx.get(ini.dat_r) == want[i].popleft(), (cycle, i)
                    got[i] += 1
            taken = ctx.get(bus.cyc) and ctx.get(bus.stb) and not ctx.get(bus.stall)
            if taken:
                a = ctx.get(bus.adr)
                g = a >> 12
                assert g in active
                data = 0xA5000000 | a
                pend.append((cycle + rng.randint(1, 3), data))
                want[g].append(data)
                todo[g] -= 1
                last_taken[g] = cycle
            if due:
                pend.popleft()
            prev_cyc = [i for i in range(n) if ctx.get(arb.initiators[i].cyc)]
            await ctx.tick()
        assert sum(got) == total

    sim.add_testbench(tb)
    sim.run()
    assert stats["grants"] > 30 and stats["contended"] > 5, stats


def test_decoder_cancel_drops_a_registered_request():
    """``Decoder(cancel=True)`` (the pipelined SoCs): ``cancel`` in the cycle after a request to a
    registered window was taken drops it at the decoder's register: the target never sees it,
    no answer comes, nothing stays outstanding (the next request, to any window, is taken and
    answered as usual); an uncancelled one is made and answered in 2 cycles."""
    rm = RegisterMap("L", [Register("A", 0, "rw", [Field("V", 32)])])
    direct, regd = RegisterBank(rm), RegisterBank(rm)
    dec = Decoder(addr_width=16, single_request=True, cancel=True)
    dec.add(direct.bus, name="direct", base=0x1000, size=0x4)
    dec.add(regd.bus, name="regd", base=0x2000, size=0x4, registered=True)
    m = Module()
    m.submodules += [dec, direct, regd]
    sim = Simulator(m)
    sim.add_clock(1e-6)
    log = {"target_stb": 0}

    async def access(ctx, adr, we, dat, cancel):
        """One request; returns (cycles to its answer or None, data); ``cancel`` in the cycle
        after it is taken."""
        bus = dec.bus
        for s, v in ((bus.cyc, 1), (bus.stb, 1), (bus.adr, adr >> 2), (bus.we, we),
                     (bus.dat_w, dat), (bus.sel, 0xF)):
            ctx.set(s, v)
        assert not ctx.get(bus.stall)
        await ctx.tick()
        ctx.set(bus.stb, 0)
        ctx.set(dec.cancel, cancel)
        for cycle in range(1, 6):
            log["target_stb"] += ctx.get(regd.bus.stb)
            if ctx.get(bus.ack) or ctx.get(bus.err):
                assert not cancel or adr < 0x2000, f"a cancelled request answered ({adr:#x})"
                res = (cycle, ctx.get(bus.dat_r))
                break
            await ctx.tick()
            ctx.set(dec.cancel, 0)
        else:
            res = (None, None)
        ctx.set(dec.cancel, 0)
        ctx.set(bus.cyc, 0)
        await ctx.tick()
        return res

    async def tb(ctx):
        assert await access(ctx, 0x2000, 1, 0xDEAD_BEEF, cancel=True) == (None, None)
        assert log["target_stb"] == 0, "the registered window saw a cancelled request"
        assert await access(ctx, 0x2000, 0, 0, cancel=False) == (2, 0)     # not written
        assert (await access(ctx, 0x2000, 1, 0x1234_5678, cancel=False))[0] == 2
        assert await access(ctx, 0x2000, 0, 0, cancel=True) == (None, None)
        assert await access(ctx, 0x1000, 0, 0, cancel=False) == (1, 0)     # nothing outstanding
        assert await access(ctx, 0x2000, 0, 0, cancel=False) == (2, 0x1234_5678)
        assert log["target_stb"] == 3

    sim.add_testbench(tb)
    sim.run()
