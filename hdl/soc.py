"""The Gluon SoC: core, RAM, peripherals, coprocessors, one Wishbone bus. Board-independent.

Memory map (byte addresses; each block's registers come from its ``REGS`` declaration):

==============  ========  ==============================================
0x0200_0000     64 KiB    CLINT (msip, mtimecmp at +0x4000, mtime at +0xBFF8)
0x1000_0000     4 KiB     UART (TXDATA at +0)
0x1000_1000     4 KiB     SYSINFO (what this SoC contains)
0x1000_2000     4 KiB     SIMCTRL (end a simulation)
0x1000_3000     4 KiB     DMA windows (M-mode only)
0x1000_4000     4 KiB     PERF (M-mode only)
0x2000_0000     4 KiB ×n  coprocessor slots (slot *k* at 0x2000_0000 + k·0x1000)
0x8000_0000     ram_size  RAM (reset vector)
==============  ========  ==============================================

Anything else answers with a bus error. Interrupt lines: ``local_irq[0]`` UART receive,
``local_irq[1 + slot]`` coprocessor *slot* done (mip/mie bit 16 + line).
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, Decoder, Arbiter
from .core import Core, TraceSignature
from .ram import RAM
from .clint import CLINT
from .uart import UART
from .sysinfo import SysInfo, SimCtrl
from .dma import DMAWindows, DMAEngine
from .perf import PerfCounters, N_SLOTS as PERF_SLOTS
from .config import SocConfig, coprocessor_class


__all__ = ["GluonSoC", "RAM_BASE", "COPRO_BASE", "SLOT_SIZE", "MAX_SLOTS"]


RAM_BASE = 0x8000_0000
COPRO_BASE = 0x2000_0000
SLOT_SIZE = 0x1000
MAX_SLOTS = 16
DMA_BASE = 0x1000_3000
PERF_BASE = 0x1000_4000


class GluonSoC(wiring.Component):
    """Ports: ``uart_tx``/``uart_rx`` pins; ``hold`` keeps the core and devices in reset (RAM
    keeps its contents); ``debug``: an extra DMA-side initiator into RAM (used by the simulator
    to load programs; tie off on boards); observation outputs for simulation and counters."""

    def __init__(self, config, *, ram_init=()):
        if not isinstance(config, SocConfig):
            raise TypeError(f"config must be a SocConfig, not {config!r}")
        self.config = config
        if config.coprocessors and not config.dma_windows:
            raise ValueError("coprocessors need the DMA window registers (dma_windows=True)")
        self.ram_init = ram_init
        # The DMA window registers are M-mode only whatever PMP says (docs/security.md). Without
        # them (config small) the slot is unmapped: an access faults on the bus error instead,
        # the same trap, and the core's address path has no region compare. PERF too: its
        # per-slot busy and DMA counts reveal M-mode's coprocessor activity to whoever reads it.
        m_only = [(DMA_BASE, SLOT_SIZE)] if config.dma_windows else []
        if config.perf:
            m_only.append((PERF_BASE, SLOT_SIZE))
        self.core = Core(reset_vector=RAM_BASE, fetch_base=RAM_BASE, fetch_size=config.ram_size,
                         m_only=m_only, pmp_entries=config.pmp_entries,
                         regfile_bram=config.regfile_bram)
        self.coprocessors = [coprocessor_class(name)(**config.params(name))
                             for name in config.coprocessors]
        slots = [c.SLOT for c in self.coprocessors]
        if len(set(slots)) != len(slots):
            raise ValueError(f"Two coprocessors claim the same slot: {slots}")
        super().__init__({
            "uart_tx": Out(1),
            "uart_rx": In(1, init=1),
            "hold": In(1),
            "debug": In(WishboneSignature(addr_width=30)),
            "uart_tx_stb": Out(1),
            "uart_tx_byte": Out(8),
            "exit_stb": Out(1),
            "exit_code": Out(32),
            "trace": Out(TraceSignature()),
            "copro_busy": Out(MAX_SLOTS),
            "dma_req": Out(MAX_SLOTS),
            "perf_enable": Out(1),
        })

    @property
    def core_dbus(self):
        """The core's data bus (for simulation probes; valid after elaboration)."""
        return self.core.dbus

    @property
    def coprocs_mask(self):
        mask = 0
        for c in self.coprocessors:
            mask |= 1 << c.SLOT
        return mask

    def memory_map(self):
        """[(name, base, size, RegisterMap or None)] in address order: the one address map the
        C header and the docs are generated from."""
        cfg = self.config
        entries = [
            ("CLINT", 0x0200_0000, 0x10000, CLINT.REGS),
            ("UART", 0x1000_0000, 0x1000, UART.REGS),
            ("SYSINFO", 0x1000_1000, 0x1000, SysInfo.REGS),
            ("SIMCTRL", 0x1000_2000, 0x1000, SimCtrl.REGS),
        ]
        if cfg.dma_windows:
            entries.append(("DMA", DMA_BASE, SLOT_SIZE, DMAWindows.REGS))
        if cfg.perf:
            entries.append(("PERF", PERF_BASE, SLOT_SIZE, PerfCounters.REGS))
        for c in self.coprocessors:
            entries.append((c.NAME, COPRO_BASE + c.SLOT * SLOT_SIZE, SLOT_SIZE, c.REGS))
        entries.append(("RAM", RAM_BASE, cfg.ram_size, None))
        return entries

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        hold = ResetInserter(self.hold)

        core = self.core
        m.submodules.core = hold(core)
        m.submodules.ram = ram = RAM(size=cfg.ram_size, init=self.ram_init)
        m.submodules.clint = clint = hold(CLINT())
        m.submodules.uart = uart = hold(UART(divisor=cfg.divisor))
        m.submodules.sysinfo = sysinfo = SysInfo(clk_hz=cfg.clk_hz, ram_base=RAM_BASE,
                                                 ram_size=cfg.ram_size, coprocs_mask=self.coprocs_mask)
        m.submodules.simctrl = simctrl = SimCtrl()
        if cfg.dma_windows:
            m.submodules.dma_windows = windows = hold(DMAWindows())
        if cfg.perf:
            m.submodules.perf = perf = hold(PerfCounters())

        # The core's data bus: one decoder, built from the memory map.
        m.submodules.decoder = dec = Decoder(addr_width=30)
        targets = {"CLINT": clint.bus, "UART": uart.bus, "SYSINFO": sysinfo.bus,
                   "SIMCTRL": simctrl.bus, "RAM": ram.cbus}
        if cfg.dma_windows:
            targets["DMA"] = windows.bus
        if cfg.perf:
            targets["PERF"] = perf.bus
        for c in self.coprocessors:
            targets[c.NAME] = c.bus
        # The SoC's own register banks (never stalling) take their requests from the decoder's
        # request register: one cycle more per access, so the address decode ends at flip-flops
        # (docs/architecture.md). RAM and the coprocessors are decoded directly.
        slow = {"CLINT", "UART", "SYSINFO", "SIMCTRL", "DMA", "PERF"}
        for name, base, size, _regs in self.memory_map():
            dec.add(targets[name], name=name.lower(), base=base, size=size,
                    registered=name in slow)
        wiring.connect(m, core.dbus, dec.bus)
        wiring.connect(m, core.ibus, ram.fetch)

        # DMA side: one engine per coprocessor, plus the debug port, into RAM's second port.
        n_init = len(self.coprocessors) + 1
        m.submodules.dma_arbiter = arb = Arbiter(addr_width=30, n=n_init)
        m.submodules.dma_decoder = ddec = Decoder(addr_width=30)
        ddec.add(ram.dbus, name="ram", base=RAM_BASE, size=cfg.ram_size)
        wiring.connect(m, arb.bus, ddec.bus)
        local_irq = [uart.irq]
        busy = []
        for i, c in enumerate(self.coprocessors):
            name = c.NAME.lower()
            copro = hold(c)
            m.submodules[name] = copro
            engine = hold(DMAEngine())
            m.submodules[f"{name}_dma"] = engine
            wiring.connect(m, c.dma, engine.chan)
            wiring.connect(m, engine.bus, arb.initiators[i])
            m.d.comb += [engine.windows.win.eq(windows.cfg.win), engine.ctl.flush.eq(windows.flush)]
            busy.append((c.SLOT, c.busy))
            m.d.comb += self.dma_req[c.SLOT].eq(engine.bus.cyc & engine.bus.stb & ~engine.bus.stall)
        wiring.connect(m, wiring.flipped(self.debug), arb.initiators[n_init - 1])

        irq_lines = [Const(0, 1)] * 16
        irq_lines[0] = uart.irq
        for c in self.coprocessors:
            irq_lines[1 + c.SLOT] = c.irq
        m.d.comb += [
            core.mtime.eq(clint.mtime),
            core.timer_irq.eq(clint.timer_irq),
            core.soft_irq.eq(clint.soft_irq),
            core.local_irq.eq(Cat(*irq_lines)),
            self.uart_tx.eq(uart.tx),
            uart.rx.eq(self.uart_rx),
            self.uart_tx_stb.eq(uart.tx_stb),
            self.uart_tx_byte.eq(uart.tx_byte),
            self.exit_stb.eq(simctrl.exit_stb),
            self.exit_code.eq(simctrl.exit_code),
        ]
        wiring.connect(m, core.trace, wiring.flipped(self.trace))
        for slot, b in busy:
            m.d.comb += self.copro_busy[slot].eq(b)
        dbus = core.dbus
        if cfg.perf:
            m.d.comb += [
                perf.retire.eq(core.trace.valid),
                perf.core_bus.eq(dbus.cyc & dbus.stb & ~dbus.stall),
                perf.busy.eq(self.copro_busy[:PERF_SLOTS]),
                perf.dma.eq(self.dma_req[:PERF_SLOTS]),
                self.perf_enable.eq(perf.enable),
            ]
        return m
