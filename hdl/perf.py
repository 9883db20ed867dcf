"""Performance counters: where the cycles of a measured region go (glue vs. coprocessors).

Firmware marks the measured region by setting CTRL.ENABLE at its start and clearing it at its
end (CTRL.CLEAR zeroes every counter). The counters only *observe* signals that exist anyway
(the core's retire strobe and data-bus handshake, each coprocessor's ``busy``, each DMA
engine's bus handshake), so they never change the design's timing. ``core_bus`` is counted a
cycle late, from a register (see ``elaborate``). The simulator reads the same
``enable`` and ``busy`` signals, so `gluon sim --profile` and firmware agree.

Definitions (shared with `gluon bench`): a cycle is *coprocessor-busy* when any coprocessor
computes or a DMA engine moves data for one; *glue* cycles are the rest of the region; glue
share = 1 - busy share.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank


__all__ = ["PerfCounters", "N_SLOTS"]


N_SLOTS = 4          # coprocessor slots observed (0..3)


def _regs():
    regs = [
        Register("CTRL", 0x00, "ext", [
            Field("ENABLE", 1, desc="count while 1 (the measured region)"),
            Field("CLEAR", 1, desc="write 1: zero every counter (reads 0)"),
        ], desc="Start/stop the measured region."),
        Register("CYCLES", 0x04, "r", desc="Cycles in the measured region."),
        Register("INSTRET", 0x08, "r", desc="Instructions retired in the region."),
        Register("BUSY", 0x0C, "r", desc="Region cycles in which any coprocessor (or its DMA) was busy."),
        Register("CORE_BUS", 0x10, "r", desc="Region cycles in which the core's data bus took a request."),
    ]
    for i in range(N_SLOTS):
        regs.append(Register(f"BUSY{i}", 0x20 + 8 * i, "r",
                             desc=f"Region cycles in which the coprocessor in slot {i} was busy."))
        regs.append(Register(f"DMA{i}", 0x24 + 8 * i, "r",
                             desc=f"Region cycles in which slot {i}'s DMA engine took a bus request."))
    return RegisterMap("PERF", regs, desc="Performance counters for cycle attribution (glue vs. coprocessors).")


class PerfCounters(wiring.Component):
    REGS = _regs()

    def __init__(self):
        super().__init__({
            "bus": In(WishboneSignature(addr_width=10)),
            "retire": In(1),
            "core_bus": In(1),
            "busy": In(N_SLOTS),
            "dma": In(N_SLOTS),
            "enable": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        enable = Signal()
        clear = regs.ctrl.w_stb & regs.ctrl.w_data.clear
        m.d.comb += [regs.ctrl.r_data.enable.eq(enable), self.enable.eq(enable)]
        with m.If(regs.ctrl.w_stb):
            m.d.sync += enable.eq(regs.ctrl.w_data.enable)

        def counter(reg, cond):
            c = Signal(32, name=f"perf_{reg}")
            with m.If(clear):
                m.d.sync += c.eq(0)
            with m.Elif(enable & cond):
                m.d.sync += c.eq(c + 1)
            m.d.comb += getattr(regs, reg).r_data.as_value().eq(c)

        counter("cycles", 1)
        counter("instret", self.retire)
        counter("busy", self.busy != 0)
        # the core's request is counted from a flip-flop, a cycle after it is made: the counter's
        # enable then starts at a register instead of at the end of the core's request logic
        # (its worst path on the pipelined SoC ended here). The counts are the same in every
        # SoC: ENABLE changes two cycles after the core's own CTRL write is taken (a registered
        # window) and the core makes no request in between (it waits for that write's answer).
        core_bus = Signal()
        m.d.sync += core_bus.eq(self.core_bus)
        counter("core_bus", core_bus)
        for i in range(N_SLOTS):
            counter(f"busy{i}", self.busy[i])
            counter(f"dma{i}", self.dma[i])
        return m
