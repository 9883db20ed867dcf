"""The register layer: declarations are checked, the bank answers as documented, the address
map rejects overlaps, and the generated C header and docs are up to date."""

import pytest
from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.bus import Decoder, WishboneSignature
from gluon.hdl.regs import Field, Register, RegisterMap, RegisterBank
from gluon.hdl import regsgen


def test_generated_files_are_current():
    assert regsgen.main(["--check"]) == 0, "run `python -m gluon.hdl.regsgen`"


def test_declaration_errors():
    with pytest.raises(ValueError, match="share offset"):
        RegisterMap("X", [Register("A", 0, "r"), Register("B", 0, "r")])
    with pytest.raises(ValueError, match="word-aligned"):
        Register("A", 2, "r")
    with pytest.raises(ValueError, match="access"):
        Register("A", 0, "rx")
    with pytest.raises(ValueError, match="exceed 32 bits"):
        Register("A", 0, "rw", [Field("X", 20), Field("Y", 20)])
    with pytest.raises(TypeError):
        RegisterBank("not a map")


def test_decoder_rejects_overlap_and_misalignment():
    dec = Decoder()
    dec.add(WishboneSignature(addr_width=10).flip().create(), name="a", base=0x1000_0000, size=0x1000)
    with pytest.raises(ValueError, match="overlaps"):
        dec.add(WishboneSignature(addr_width=10).flip().create(), name="b", base=0x1000_0000, size=0x2000)
    with pytest.raises(ValueError, match="aligned"):
        dec.add(WishboneSignature(addr_width=10).flip().create(), name="c", base=0x1000_1800, size=0x1000)


def test_bank_access_rules():
    rm = RegisterMap("DEMO", [
        Register("ID", 0, "r"),
        Register("CTRL", 4, "rw", [Field("EN", 1, init=1), Field("MODE", 3)]),
        Register("GO", 8, "w"),
    ])
    bank = RegisterBank(rm)
    m = Module()
    m.submodules.bank = bank
    m.d.comb += bank.id.r_data.eq(0x1234)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    log = []

    async def tb(ctx):
        async def xfer(adr, we=0, d=0, sel=0xF):
            for s, v in ((bank.bus.cyc, 1), (bank.bus.stb, 1), (bank.bus.adr, adr),
                         (bank.bus.we, we), (bank.bus.dat_w, d), (bank.bus.sel, sel)):
                ctx.set(s, v)
            go = ctx.get(bank.go.w_stb)
            await ctx.tick()
            ctx.set(bank.bus.stb, 0)
            return ctx.get(bank.bus.ack), ctx.get(bank.bus.err), ctx.get(bank.bus.dat_r), go
        assert (await xfer(0))[:3] == (1, 0, 0x1234)
        assert (await xfer(1))[:3] == (1, 0, 1)                  # reset value EN=1
        await xfer(1, 1, 0xB, sel=0x1)
        assert (await xfer(1))[:3] == (1, 0, 0xB)
        assert (await xfer(0, 1, 5))[:2] == (0, 1)                # write to read-only: error
        assert (await xfer(3))[:2] == (0, 1)                      # no register: error
        assert (await xfer(2, 1, 7))[3] == 1                      # action strobe
        assert (await xfer(2))[:3] == (1, 0, 0)                   # write-only reads 0
    sim.add_testbench(tb)
    sim.run()


def test_decoder_routes_pipelines_and_errors():
    """A random request stream through a Decoder to four targets (1-cycle; 3-cycle pipelined
    with random stalls and a bus narrower than its window; 9-cycle pipelined, beyond the
    decoder's outstanding limit; a 1-cycle one behind the decoder's request register) and
    unmapped addresses. Every request gets exactly one
    response, in order, with the right target's data, ``err`` for unmapped addresses and the
    narrow target's upper window; requests to another target wait until the pending
    responses are back (no two targets ever have responses outstanding); nothing hangs."""
    import random
    from collections import deque
    from gluon.hdl.bus import Decoder, WishboneSignature

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
            ctx.set(bus.cyc, 1 if (req is not None or expected) else 0)
            ctx.set(bus.stb, 1 if req is not None else 0)
            if req is not None:
                ctx.set(bus.adr, req[0] >> 2)
                ctx.set(bus.we, req[1])
                ctx.set(bus.dat_w, req[2])
                ctx.set(bus.sel, 0xF)
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


def test_enum_field_gives_c_constants_and_doc_rows():
    from amaranth.lib import enum
    from gluon.hdl.regs import Field, Register, RegisterMap
    from gluon.hdl.regsgen import header_text, doc_text

    class Kind(enum.Enum, shape=2):
        APPLE = 0
        PEAR = 3

    regs = RegisterMap("FRUIT", [Register("SEL", 0x0, "rw", [
        Field("KIND", 2, enum=Kind, enum_doc={Kind.PEAR: "a pear"})])])
    mmap = [("FRUIT", 0x1000_0000, 0x1000, regs)]
    h = header_text(mmap)
    assert "#define GLUON_FRUIT_SEL_KIND_APPLE 0u" in h
    assert "#define GLUON_FRUIT_SEL_KIND_PEAR 3u" in h
    assert "- 3: PEAR: a pear" in doc_text(mmap)
    with pytest.raises(ValueError, match="wider"):
        Field("KIND", 1, enum=Kind)


def test_clear_returns_rw_storage_to_reset():
    from gluon.hdl.regs import Field, Register, RegisterMap, RegisterBank
    regs = RegisterMap("T", [Register("A", 0x0, "rw", [Field("X", 8, init=5)]),
                             Register("B", 0x4, "rw")])
    dut = RegisterBank(regs)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for adr, v in ((0, 0x77), (1, 0x1234)):
            ctx.set(dut.bus.cyc, 1); ctx.set(dut.bus.stb, 1); ctx.set(dut.bus.we, 1)
            ctx.set(dut.bus.sel, 0xF); ctx.set(dut.bus.adr, adr); ctx.set(dut.bus.dat_w, v)
            await ctx.tick()
        ctx.set(dut.bus.stb, 0)
        assert ctx.get(dut.a.data.x) == 0x77 and ctx.get(dut.b.data.value) == 0x1234
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert ctx.get(dut.a.data.x) == 5 and ctx.get(dut.b.data.value) == 0
    sim.add_testbench(bench)
    sim.run()
