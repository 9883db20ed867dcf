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
