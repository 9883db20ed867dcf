"""The register layer: declarations are checked, the bank answers as documented, and the
generated C header and docs are up to date. (The decoder: tests/test_bus.py.)"""

import pytest
from amaranth import *
from amaranth.sim import Simulator

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


def test_enum_field_gives_c_constants_and_doc_rows():
    from amaranth.lib import enum
    from gluon.hdl.regs import Field, Register, RegisterMap
    from gluon.hdl.regsgen import header_text, doc_text

    class Kind(enum.Enum, shape=2):
        APPLE = 0
        PEAR = 3

    regs = RegisterMap("FRUIT", [Register("SEL", 0x0, "rw", [
        Field("KIND", 2, enum=Kind, enum_doc={Kind.PEAR: "a pear"})])])
    from gluon.hdl.soc import Region
    mmap = [Region("FRUIT", 0x1000_0000, 0x1000, regs)]
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
