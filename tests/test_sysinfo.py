"""SYSINFO (hdl/sysinfo.py): read-only values as declared, writes and holes refused with a
bus error; SIMCTRL: a write to EXIT strobes the exit code for one cycle, reads give 0."""

import pytest
from amaranth.sim import Simulator

from gluon.hdl.sysinfo import SimCtrl, SysInfo, SYSINFO_ID
from wbmodel import wb_access, wb_read, wb_write


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("coprocs", [0b000, 0b101])
def test_sysinfo_values_and_refusals(coprocs):
    values = dict(clk_hz=25_125_000, ram_base=0x8000_0000, ram_size=64 * 1024,
                  coprocs_mask=coprocs, version=0x0002_0003)
    dut = SysInfo(**values)
    regs = SysInfo.REGS

    async def tb(ctx):
        want = {"ID": SYSINFO_ID, "CLK_HZ": values["clk_hz"], "RAM_BASE": values["ram_base"],
                "RAM_SIZE": values["ram_size"], "COPROCS": coprocs, "VERSION": 0x0002_0003}
        for name, v in want.items():
            assert await wb_read(ctx, dut.bus, regs[name].offset) == v, name
        # read-only: a write is refused and changes nothing
        ack, err, _, _ = await wb_access(ctx, dut.bus, regs["CLK_HZ"].offset, we=True, data=1)
        assert (ack, err) == (0, 1)
        assert await wb_read(ctx, dut.bus, regs["CLK_HZ"].offset) == values["clk_hz"]
        ack, err, _, _ = await wb_access(ctx, dut.bus, 0x18)          # no register there
        assert (ack, err) == (0, 1)
        # COPROCS fields name the slots
        fields = {f.name: f.offset for f in regs["COPROCS"].fields}
        assert fields == {"HASH": 0, "MODMUL": 1, "MATMUL": 2}
    _run(dut, tb)


def test_simctrl_exit_strobe():
    dut = SimCtrl()

    async def tb(ctx):
        seen = []
        for code in (1, (7 << 1) | 1):
            ctx.set(dut.bus.cyc, 1)
            ctx.set(dut.bus.stb, 1)
            ctx.set(dut.bus.we, 1)
            ctx.set(dut.bus.adr, 0)
            ctx.set(dut.bus.dat_w, code)
            ctx.set(dut.bus.sel, 0xF)
            for cycle in range(4):
                if ctx.get(dut.exit_stb):
                    seen.append((cycle, ctx.get(dut.exit_code)))
                await ctx.tick()
                ctx.set(dut.bus.stb, 0)
            ctx.set(dut.bus.cyc, 0)
        assert seen == [(0, 1), (0, 15)], seen          # one pulse per write, with the value
        assert await wb_read(ctx, dut.bus, 0) == 0      # write-only: reads 0
        assert not ctx.get(dut.exit_stb)                # a read does not end anything
    _run(dut, tb)
