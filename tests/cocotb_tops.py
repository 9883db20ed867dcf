"""The blocks the cocotb benches drive, each wrapped so that its Verilog has plain ports.

``BusBenchTop``: two initiators through the :class:`Arbiter` into a :class:`Decoder` with a
registered target window, a direct (stalling) one, a narrow one (a target bus with fewer
address bits than its window: the rest of the window answers ERR) and unmapped space. The
targets are ports: the bench serves them with its own models.

``DMABenchTop``: one :class:`DMAEngine` with its channel, bus, windows and control ports.

``CoproBenchTop``: a coprocessor on the slot contract with its own :class:`DMAEngine`, as the
SoC connects them: ports ``bus`` (the slot page), ``ctl_bus`` (its control section), ``mem``
(the engine's initiator port), ``irq`` and ``busy``.

The address map of the bus bench is :data:`BUS_WINDOWS`, read by the bench (cocotb_bus.py) too.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from gluon.hdl.bus import Arbiter, Decoder, WishboneSignature
from gluon.hdl.dma import DMAEngine, DMAChannelSignature, WindowSignature, DMAControlSignature


# name: (byte base, window size, target address bits, registered)
BUS_WINDOWS = {
    "regs":   (0x0000_0000, 0x100, 6, True),     # a register bank: one cycle late, never stalls
    "mem":    (0x0000_1000, 0x1000, 10, False),  # memory: stalls, variable latency
    "narrow": (0x0000_4000, 0x1000, 4, False),   # 64 bytes decoded; the rest of the window: ERR
}
N_INITIATORS = 2


class BusBenchTop(wiring.Component):
    def __init__(self):
        ports = {f"i{i}": In(WishboneSignature()) for i in range(N_INITIATORS)}
        for name, (_base, _size, bits, _reg) in BUS_WINDOWS.items():
            ports[f"t_{name}"] = Out(WishboneSignature(addr_width=bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.arbiter = arb = Arbiter(n=N_INITIATORS)
        m.submodules.decoder = dec = Decoder()
        for i in range(N_INITIATORS):
            wiring.connect(m, wiring.flipped(getattr(self, f"i{i}")), arb.initiators[i])
        wiring.connect(m, arb.bus, dec.bus)
        for name, (base, size, _bits, registered) in BUS_WINDOWS.items():
            dec.add(getattr(self, f"t_{name}"), name=name, base=base, size=size,
                    registered=registered)
        return m


class DMABenchTop(wiring.Component):
    def __init__(self, *, fifo_depth=8):
        self.fifo_depth = fifo_depth
        super().__init__({
            "chan": In(DMAChannelSignature()),
            "bus": Out(WishboneSignature(addr_width=30)),
            "windows": In(WindowSignature()),
            "ctl": In(DMAControlSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = DMAEngine(fifo_depth=self.fifo_depth)
        wiring.connect(m, wiring.flipped(self.chan), eng.chan)
        wiring.connect(m, eng.bus, wiring.flipped(self.bus))
        wiring.connect(m, wiring.flipped(self.windows), eng.windows)
        wiring.connect(m, wiring.flipped(self.ctl), eng.ctl)
        return m


class CoproBenchTop(wiring.Component):
    def __init__(self, block):
        self.block = block
        super().__init__({
            "bus": In(WishboneSignature(addr_width=10)),
            "ctl_bus": In(WishboneSignature(addr_width=6)),
            "mem": Out(WishboneSignature(addr_width=30)),
            "irq": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = b = self.block
        m.submodules.dma = eng = DMAEngine()
        wiring.connect(m, wiring.flipped(self.bus), b.bus)
        wiring.connect(m, wiring.flipped(self.ctl_bus), b.ctl_bus)
        wiring.connect(m, b.dma, eng.chan)
        wiring.connect(m, b.dma_windows, eng.windows)
        wiring.connect(m, b.dma_ctl, eng.ctl)
        wiring.connect(m, eng.bus, wiring.flipped(self.mem))
        m.d.comb += [self.irq.eq(b.irq), self.busy.eq(b.busy)]
        return m
