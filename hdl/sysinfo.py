"""SoC information block (what this SoC contains) and the simulation-control register."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank


__all__ = ["SysInfo", "SimCtrl", "SYSINFO_ID"]


SYSINFO_ID = 0x474C554E        # "GLUN"


class SysInfo(wiring.Component):
    REGS = RegisterMap("SYSINFO", [
        Register("ID", 0x00, "r", desc='Reads 0x474C554E ("GLUN").'),
        Register("CLK_HZ", 0x04, "r", desc="Clock frequency in Hz (also the mtime rate)."),
        Register("RAM_BASE", 0x08, "r", desc="RAM byte address."),
        Register("RAM_SIZE", 0x0C, "r", desc="RAM size in bytes."),
        Register("COPROCS", 0x10, "r", [
            Field("HASH", 1, desc="hash coprocessor present (slot 0)"),
            Field("MODMUL", 1, desc="modular-arithmetic coprocessor present (slot 1)"),
            Field("MATMUL", 1, desc="matrix coprocessor present (slot 2)"),
        ], desc="Which coprocessors this configuration has: firmware picks the accelerated or "
                "the software path from this."),
        Register("VERSION", 0x14, "r", desc="SoC version: major << 16 | minor."),
    ], desc="Read-only description of this SoC.")

    def __init__(self, *, clk_hz, ram_base, ram_size, coprocs_mask, version=0x0001_0000):
        self.values = dict(id=SYSINFO_ID, clk_hz=clk_hz, ram_base=ram_base, ram_size=ram_size,
                           coprocs=coprocs_mask, version=version)
        super().__init__({"bus": In(WishboneSignature(addr_width=10))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        for name, value in self.values.items():
            m.d.comb += getattr(regs, name).r_data.as_value().eq(value)
        return m


class SimCtrl(wiring.Component):
    REGS = RegisterMap("SIMCTRL", [
        Register("EXIT", 0x00, "w", desc="Ends a simulation with this value, as a store to `tohost` "
                 "would (1 = pass, odd v = fail with code v >> 1). No effect on hardware."),
    ], desc="Simulation control, for firmware without a `tohost` symbol.")

    def __init__(self):
        super().__init__({
            "bus": In(WishboneSignature(addr_width=10)),
            "exit_stb": Out(1),
            "exit_code": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        m.d.comb += [self.exit_stb.eq(regs.exit.w_stb), self.exit_code.eq(regs.exit.w_data)]
        return m
