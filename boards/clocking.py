"""Clock and reset generation for the board tops: a PLL (or the board clock as is) driving the
``sync`` domain, held in reset until the PLL locks, released through a reset synchronizer.

The SoC never defines clock domains; these blocks do, at the top of a board design.

References: Lattice FPGA-TN-02200 "ECP5 and ECP5-5G sysCLOCK PLL/DLL Design and User Guide"
(EHXPLLL: PFD 3.125–400 MHz, VCO 400–800 MHz); Lattice "iCE40 sysCLOCK PLL Design and Usage
Guide" TN1251 (SB_PLL40_PAD, SIMPLE feedback: PFD 10–133 MHz, VCO 533–1066 MHz). The divider
searches follow Project Trellis' ``ecppll`` and IceStorm's ``icepll``.
"""

from dataclasses import dataclass

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out


__all__ = ["pll_hz", "ECP5PLLParams", "ICE40PLLParams", "ecp5_pll_params", "ice40_pll_params",
           "ECP5ClockReset", "ICE40ClockReset"]


@dataclass(frozen=True)
class ECP5PLLParams:
    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: float
    f_out: float                   # what the PLL really produces (Hz)

    @property
    def f_vco(self):
        return self.f_out * self.clkop_div


@dataclass(frozen=True)
class ICE40PLLParams:
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: float
    f_out: float


def ecp5_pll_params(f_in, f_out):
    """EHXPLLL dividers for ``f_out`` Hz from ``f_in`` Hz (CLKOP fed back): the closest
    frequency, on ties the VCO nearest 600 MHz (as ``ecppll`` chooses). The result's ``f_out`` is the real
    frequency: constrain timing and set the SoC's ``clk_hz`` from it."""
    if not 8e6 <= f_in <= 400e6:
        raise ValueError(f"ECP5 PLL input {f_in / 1e6:g} MHz is outside 8–400 MHz")
    if not 3.125e6 <= f_out <= 400e6:
        raise ValueError(f"ECP5 PLL output {f_out / 1e6:g} MHz is outside 3.125–400 MHz")
    best = None
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if f_pfd < 3.125e6:
            break
        if f_pfd > 400e6:
            continue
        for clkfb_div in range(1, 81):
            f = f_pfd * clkfb_div
            if f > 2 * f_out:
                break
            for clkop_div in range(1, 129):
                f_vco = f * clkop_div
                if f_vco > 800e6:
                    break
                if f_vco < 400e6:
                    continue
                key = (round(abs(f_out - f), 3), abs(f_vco - 600e6))
                if best is None or key < best[0]:
                    best = (key, ECP5PLLParams(clki_div, clkfb_div, clkop_div, f_in, f))
    if best is None:
        raise ValueError(f"No ECP5 PLL setting gives {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    return best[1]


def ice40_pll_params(f_in, f_out):
    """SB_PLL40 dividers (SIMPLE feedback) for the frequency closest to ``f_out`` (e.g. 25.125 MHz
    for 25 MHz from 12 MHz: the VCO step is 12 MHz / 2**DIVQ)."""
    if not 10e6 <= f_in <= 133e6:
        raise ValueError(f"iCE40 PLL input {f_in / 1e6:g} MHz is outside 10–133 MHz")
    if not 16e6 <= f_out <= 275e6:
        raise ValueError(f"iCE40 PLL output {f_out / 1e6:g} MHz is outside 16–275 MHz")
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f = f_vco / (1 << divq)
                key = (round(abs(f_out - f), 3), -f_vco)
                if best is None or key < best[0]:
                    best = (key, (divr, divf, divq, f_pfd, f))
    if best is None:
        raise ValueError(f"No iCE40 PLL setting gives {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    divr, divf, divq, f_pfd, f = best[1]
    # icepll's loop filter choice by PFD frequency
    filter_range = 1 + sum(f_pfd >= limit for limit in (17e6, 26e6, 44e6, 66e6, 101e6))
    return ICE40PLLParams(divr, divf, divq, filter_range, f_in, f)


def pll_hz(family, f_in, f_out):
    """The frequency (integer Hz) the ``family``'s PLL really makes when asked for ``f_out``
    from ``f_in`` (``f_in`` itself when they are equal: no PLL)."""
    if f_out == f_in:
        return round(f_in)
    if family == "ecp5":
        return round(ecp5_pll_params(f_in, f_out).f_out)
    if family == "ice40":
        return round(ice40_pll_params(f_in, f_out).f_out)
    raise ValueError(f"Unknown FPGA family {family!r}")


class _ClockReset(wiring.Component):
    """Drives the ``sync`` domain its parent defines. ``sync`` is held in reset while ``ext_rst`` is high or the PLL is not locked;
    the release is synchronized to the new clock."""

    ext_rst: In(1)
    locked: Out(1)

    global_reset = False            # ECP5: the synchronized reset through a global buffer

    def _domain(self, m, platform, clk, locked, f_out):
        # The domain itself is defined by the top (its owner); this block drives it.
        m.d.comb += [ClockSignal("sync").eq(clk), self.locked.eq(locked)]
        if not self.global_reset:
            m.submodules.reset_sync = ResetSynchronizer(~locked | self.ext_rst, domain="sync")
        else:
            # The synchronized reset onto a global network (a DCCA, one of the 8 globals that
            # may drive logic) instead of general routing: one flip-flop drives every
            # flip-flop of the SoC that has a reset, across the die; on the global each sink is
            # the same spine and branch away (docs/fpga.md, "The board's reset").
            m.domains.crg_rst = ClockDomain("crg_rst", local=True)
            m.d.comb += ClockSignal("crg_rst").eq(clk)
            m.submodules.reset_sync = ResetSynchronizer(~locked | self.ext_rst, domain="crg_rst")
            rst_glb = Signal(name="rst_glb")
            m.submodules.reset_gbuf = Instance("DCCA", i_CLKI=ResetSignal("crg_rst"),
                                               i_CE=Const(1), o_CLKO=rst_glb)
            m.d.comb += ResetSignal("sync").eq(rst_glb)
        if platform is not None:
            platform.add_clock_constraint(clk, f_out)


class ECP5ClockReset(_ClockReset):
    """``sync`` at ``f_out`` Hz from the board clock ``clk_in`` (``f_in`` Hz) through an EHXPLLL,
    or straight from the board clock when the two frequencies are equal. ``global_reset``: the
    synchronized reset reaches the flip-flops through a global buffer (DCCA)."""

    clk_in: In(1)

    def __init__(self, *, f_in, f_out, global_reset=False):
        self.f_in = f_in
        self.global_reset = global_reset
        self.pll = None if round(f_out) == round(f_in) else ecp5_pll_params(f_in, f_out)
        self.f_out = f_in if self.pll is None else self.pll.f_out
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self.pll is None:
            self._domain(m, platform, self.clk_in, Const(1), self.f_out)
            return m
        p = self.pll
        clk = Signal(name="pll_clk")
        locked = Signal(name="pll_locked")
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{self.f_in / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{p.f_out / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p.clki_div, p_CLKFB_DIV=p.clkfb_div,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=(p.clkop_div - 1) // 2, p_CLKOP_FPHASE=0,   # as ecppll
            p_FEEDBK_PATH="CLKOP",
            i_CLKI=self.clk_in, i_CLKFB=clk, o_CLKOP=clk,
            i_RST=0, i_STDBY=0,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_LOCK=locked,
        )
        self._domain(m, platform, clk, locked, p.f_out)
        return m


class ICE40ClockReset(_ClockReset):
    """``sync`` at ``f_out`` Hz from the board clock pad ``pad`` (an I/O port requested with
    ``dir="-"``: SB_PLL40_PAD takes the pin itself) of ``f_in`` Hz."""

    def __init__(self, *, pad, f_in, f_out):
        self.pad = pad
        self.f_in = f_in
        self.pll = None if round(f_out) == round(f_in) else ice40_pll_params(f_in, f_out)
        self.f_out = f_in if self.pll is None else self.pll.f_out
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self.pll is None:
            clk = Signal(name="board_clk")
            m.submodules.clk_buf = Instance("SB_GB_IO", p_PIN_TYPE=0b000001,
                                            io_PACKAGE_PIN=self.pad.io,
                                            o_GLOBAL_BUFFER_OUTPUT=clk)
            self._domain(m, platform, clk, Const(1), self.f_out)
            return m
        p = self.pll
        clk = Signal(name="pll_clk")
        locked = Signal(name="pll_locked")
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=p.divr, p_DIVF=p.divf, p_DIVQ=p.divq, p_FILTER_RANGE=p.filter_range,
            i_PACKAGEPIN=self.pad.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk, o_LOCK=locked,
        )
        self._domain(m, platform, clk, locked, p.f_out)
        return m
