"""The Gluon SoC: core, RAM, peripherals, coprocessors, one Wishbone bus. Board-independent.

The address map is one table, :data:`ADDRESS_MAP`: each row says a block's name, base, size,
whether the decoder registers its requests, whether only M-mode may access it, its local
interrupt line and which configurations have it. The decoder, :meth:`GluonSoC.memory_map`
(and from it the C header and docs/registers.md), the core's M-only regions, SYSINFO, the
reference emulator's devices (sim/refsim.py) and the README's table derive from it or are
checked against it (tests/test_addrmap.py).

==============  ========  ==============================================
0x0200_0000     64 KiB    CLINT (msip, mtimecmp at +0x4000, mtime at +0xBFF8)
0x1000_0000     4 KiB     UART (TXDATA at +0)
0x1000_1000     4 KiB     SYSINFO (what this SoC contains)
0x1000_2000     4 KiB     SIMCTRL (end a simulation; M-mode only)
0x1000_3000     4 KiB     COPROCTL coprocessor control (M-mode only; slot k's section at k·0x100)
0x1000_4000     4 KiB     PERF (performance counters; M-mode only)
0x1000_5000     4 KiB     DEBUG lock (M-mode only; configurations with the Debug Module)
0x2000_0000     4 KiB ×n  coprocessor slots (slot *k* at 0x2000_0000 + k·0x1000)
0x8000_0000     ram_size  RAM (reset vector)
==============  ========  ==============================================

Anything else answers with a bus error. Interrupt lines: ``local_irq[0]`` UART receive,
``local_irq[1 + slot]`` coprocessor *slot* done (mip/mie bit 16 + line).
"""

from dataclasses import dataclass
from typing import Callable

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, Decoder, Arbiter, RequestRegister
from .core import Core, TraceSignature
from .ram import RAM
from .clint import CLINT
from .uart import UART
from .sysinfo import SysInfo, SimCtrl
from .dma import DMAEngine
from .coproctl import CONTROL_REGS, CONTROL_STRIDE, ControlPage
from .perf import PerfCounters, N_SLOTS as PERF_SLOTS
from .config import SocConfig, coprocessor_class
from .debug import DebugModule, DebugLock, BusShare, DmiSignature


__all__ = ["GluonSoC", "Device", "Region", "ADDRESS_MAP", "address_map", "m_only_regions",
           "RAM_BASE", "COPRO_BASE", "SLOT_SIZE", "MAX_SLOTS", "IRQ_MIP_BASE", "CONTRACT_PORTS"]


RAM_BASE = 0x8000_0000
COPRO_BASE = 0x2000_0000
SLOT_SIZE = 0x1000
MAX_SLOTS = 16
#: The ports every coprocessor must have (docs/coprocessor-contract.md).
CONTRACT_PORTS = ("bus", "ctl_bus", "dma", "dma_windows", "dma_ctl", "irq", "busy")
IRQ_MIP_BASE = 16           # local interrupt line i is mip/mie bit 16 + i (docs/core.md)


@dataclass(frozen=True)
class Device:
    """One row of :data:`ADDRESS_MAP`: a block the SoC builds from the table.

    ``make(soc)`` builds the block (its Wishbone target is ``.bus``); ``submodule`` is its name
    in the design hierarchy; ``hold``: the SoC's ``hold`` input keeps it in reset;
    ``registered``: the decoder hands it requests from registers (one cycle more per access;
    only for register banks, which never stall); ``m_only``: only M-mode may access it, whatever
    PMP says (the core's fixed rule in configurations with PMP, docs/security.md); ``irq``: its
    local interrupt line, or None; ``present(config)``: whether a configuration has it;
    ``stride``: ``regs`` repeat once per coprocessor slot, slot *k*'s copy at ``k * stride``
    (None: one copy at offset 0)."""
    name: str
    base: int
    size: int
    regs: object
    make: Callable
    submodule: str
    hold: bool = True
    registered: bool = True
    m_only: bool = False
    irq: int | None = None
    present: Callable = lambda config: True
    stride: int | None = None


@dataclass(frozen=True)
class Region:
    """One window of a configuration's address map (:func:`address_map`): ``regs`` is the
    block's RegisterMap (None for RAM), ``slot`` the coprocessor slot or None, ``stride`` as
    in :class:`Device`."""
    name: str
    base: int
    size: int
    regs: object
    registered: bool = False
    m_only: bool = False
    irq: int | None = None
    slot: int | None = None
    stride: int | None = None

    @property
    def end(self):
        return self.base + self.size


ADDRESS_MAP = (
    Device("CLINT", 0x0200_0000, 0x1_0000, CLINT.REGS, lambda soc: CLINT(), "clint"),
    Device("UART", 0x1000_0000, SLOT_SIZE, UART.REGS,
           lambda soc: UART(divisor=soc.config.divisor), "uart", irq=0),
    Device("SYSINFO", 0x1000_1000, SLOT_SIZE, SysInfo.REGS,
           lambda soc: SysInfo(clk_hz=soc.config.clk_hz, ram_base=RAM_BASE,
                               ram_size=soc.config.ram_size, coprocs_mask=soc.coprocs_mask),
           "sysinfo", hold=False),
    # M-mode only: a U-mode task must not be able to end a simulation.
    Device("SIMCTRL", 0x1000_2000, SLOT_SIZE, SimCtrl.REGS, lambda soc: SimCtrl(), "simctrl",
           hold=False, m_only=True),
    # M-mode only: each slot's owner, interrupt enable, wipe and its DMA engine's windows
    # (hdl/coproctl.py). Without coprocessors the page is unmapped: an access faults on the
    # bus error instead, the same trap.
    Device("COPROCTL", 0x1000_3000, SLOT_SIZE, CONTROL_REGS,
           lambda soc: ControlPage(slots=soc.controlled_slots), "coproctl",
           m_only=True, present=lambda config: bool(config.coprocessors), stride=CONTROL_STRIDE),
    # M-mode only: the per-slot busy and DMA counts reveal M-mode's coprocessor activity.
    Device("PERF", 0x1000_4000, SLOT_SIZE, PerfCounters.REGS, lambda soc: PerfCounters(), "perf",
           m_only=True, present=lambda config: config.perf),
    # M-mode only: the Debug Module's lock (hdl/debug/lock.py). Outside hold: no reset but
    # power-on clears it.
    Device("DEBUG", 0x1000_5000, SLOT_SIZE, DebugLock.REGS, lambda soc: DebugLock(), "debug_lock",
           hold=False, m_only=True, present=lambda config: config.debug),
)
"""The SoC's own blocks. Coprocessors follow in slot order (slot *k* at ``COPRO_BASE + k *
SLOT_SIZE``, local interrupt line ``1 + k``, decoded directly), then RAM (decoded directly)."""


def address_map(config, coprocessors=None):
    """The address map of ``config`` as [:class:`Region`] in address order. ``coprocessors``:
    the coprocessor instances (their register maps may depend on parameters); by default the
    configuration's coprocessor classes."""
    if coprocessors is None:
        coprocessors = [coprocessor_class(name) for name in config.coprocessors]
    regions = [Region(d.name, d.base, d.size, d.regs, registered=d.registered, m_only=d.m_only,
                      irq=d.irq, stride=d.stride)
               for d in ADDRESS_MAP if d.present(config)]
    for c in sorted(coprocessors, key=lambda c: c.SLOT):
        if not 0 <= c.SLOT < MAX_SLOTS:
            raise ValueError(f"Coprocessor {c.NAME}: slot {c.SLOT} is not in 0..{MAX_SLOTS - 1}")
        regions.append(Region(c.NAME, COPRO_BASE + c.SLOT * SLOT_SIZE, SLOT_SIZE, c.REGS,
                              irq=1 + c.SLOT, slot=c.SLOT))
    regions.append(Region("RAM", RAM_BASE, config.ram_size, None))
    return regions


def m_only_regions(regions):
    """The (base, size) pairs of the M-only regions, with two halves of an aligned block
    merged into one (SIMCTRL and the COPROCTL page share one compare in the core)."""
    spans = sorted((r.base, r.size) for r in regions if r.m_only)
    merged = True
    while merged:
        merged = False
        for i in range(len(spans) - 1):
            (b0, s0), (b1, s1) = spans[i], spans[i + 1]
            if s0 == s1 and b1 == b0 + s0 and b0 % (2 * s0) == 0:
                spans[i:i + 2] = [(b0, 2 * s0)]
                merged = True
                break
    return spans


class GluonSoC(wiring.Component):
    """Ports: ``uart_tx``/``uart_rx`` pins; ``hold`` keeps the core and devices in reset (RAM
    keeps its contents); ``debug``: an extra DMA-side initiator into RAM (used by the simulator
    to load programs; tie off on boards); observation outputs for simulation and counters."""

    def __init__(self, config, *, ram_init=()):
        if not isinstance(config, SocConfig):
            raise TypeError(f"config must be a SocConfig, not {config!r}")
        self.config = config
        self.ram_init = ram_init
        self.coprocessors = [coprocessor_class(name)(**config.params(name))
                             for name in config.coprocessors]
        slots = [c.SLOT for c in self.coprocessors]
        if len(set(slots)) != len(slots):
            raise ValueError(f"Two coprocessors claim the same slot: {slots}")
        for c in self.coprocessors:
            missing = [p for p in CONTRACT_PORTS if p not in c.signature.members]
            if missing:
                raise TypeError(f"Coprocessor {c.NAME} lacks the contract's ports {missing} "
                                f"(docs/coprocessor-contract.md): its DMA could not be confined")
        # The core enforces the M-only regions beside PMP. Without PMP (config small) U-mode
        # memory accesses are unrestricted (docs/security.md), and the core's address path has
        # no region compare either (with one for SIMCTRL, `gluon build --board icebreaker`
        # reached 24.26 MHz, short of its 25.125 MHz clock).
        m_only = m_only_regions(self.memory_map()) if config.pmp_entries else []
        self.core = Core(reset_vector=RAM_BASE, fetch_base=RAM_BASE, fetch_size=config.ram_size,
                         m_only=m_only, pmp_entries=config.pmp_entries,
                         regfile_bram=config.regfile_bram, pipeline=config.pipeline,
                         fetch_reg=config.fetch_reg, debug=config.debug)
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
            # the Debug Module Interface (configurations with ``debug``; else never answers)
            "dmi": In(DmiSignature()),
            "halted": Out(1),
        })

    @property
    def core_dbus(self):
        """The core's data bus (for simulation probes; valid after elaboration)."""
        return self.core.dbus

    @property
    def controlled_slots(self):
        """The slots with a coprocessor, each with its section of the control page."""
        return [c.SLOT for c in self.coprocessors]

    @property
    def coprocs_mask(self):
        mask = 0
        for c in self.coprocessors:
            mask |= 1 << c.SLOT
        return mask

    def memory_map(self):
        """This SoC's address map, [:class:`Region`] in address order: what the decoder is
        built from and the C header and the docs are generated from."""
        return address_map(self.config, self.coprocessors)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        if cfg.debug:
            # The Debug Module is outside ``hold``: ndmreset resets the core and the devices
            # through it (RAM keeps its contents).
            m.submodules.dm = dm = DebugModule()
            wiring.connect(m, wiring.flipped(self.dmi), dm.dmi)
            m.d.comb += self.halted.eq(dm.hart.halted)
            hold = ResetInserter(self.hold | dm.ndmreset)
        else:
            hold = ResetInserter(self.hold)

        core = self.core
        m.submodules.core = hold(core)
        # The pipelined core's SoC: RAM's shared port goes to the core in the cycles it claims
        # (from a flip-flop), to the DMA side otherwise (hdl/ram.py, docs/architecture.md)
        m.submodules.ram = ram = RAM(size=cfg.ram_size, init=self.ram_init,
                                     write_buffer=cfg.pipeline, claim=cfg.pipeline)
        # The blocks of the address map, and the Wishbone target each region decodes to.
        blocks = {}
        for d in ADDRESS_MAP:
            if d.present(cfg):
                blocks[d.name] = block = d.make(self)
                m.submodules[d.submodule] = hold(block) if d.hold else block
        for c in self.coprocessors:
            blocks[c.NAME] = c
        targets = {name: block.bus for name, block in blocks.items()}
        targets["RAM"] = ram.cbus

        # The core's data bus: one decoder, built from the memory map. Registered windows (the
        # SoC's own register banks) take their requests from the decoder's request register:
        # one cycle more per access, so the address decode ends at flip-flops
        # (docs/architecture.md). RAM and the coprocessors are decoded directly.
        # The pipelined core never asks while a response is pending: the decoder needs no
        # ordering logic, and its stall no longer depends on the window hit (hdl/bus.py).
        # The pipelined core's requests are judged by PMP in W, a cycle after they are taken:
        # every MMIO window (the coprocessors too) takes its requests from the decoder's
        # register, in W's cycle, where the core's ``dbus_cancel`` drops a refused one; RAM
        # drops a refused store's buffered write (docs/security.md, "Refused accesses").
        m.submodules.decoder = dec = Decoder(addr_width=30,
                                             single_request=cfg.pipeline and not cfg.debug,
                                             cancel=cfg.pipeline)
        regions = self.memory_map()
        for r in regions:
            dec.add(targets[r.name], name=r.name.lower(), base=r.base, size=r.size,
                    registered=r.registered or cfg.pipeline and r.name != "RAM")
        if cfg.debug:
            # system bus access enters with the core's data bus (hdl/debug/sba.py): RAM and MMIO
            wiring.connect(m, dm.hart, core.debug)
            m.d.comb += dm.locked.eq(blocks["DEBUG"].locked)
            m.submodules.sba_share = share = BusShare(addr_width=30)
            wiring.connect(m, core.dbus, share.core)
            wiring.connect(m, dm.sba, share.dm)
            wiring.connect(m, share.bus, dec.bus)
        else:
            wiring.connect(m, core.dbus, dec.bus)
        if cfg.pipeline:
            # RAM's core side may be asked by the core's X stage, or by the Debug Module's
            # system bus access (its cyc: a state of its access machine)
            m.d.comb += ram.claim.eq(core.dbus_claim | (dm.sba.cyc if cfg.debug else 0))
            # high only in the cycle after the core's own request was taken (never the system
            # bus access's: the core's X waits while that holds the bus)
            m.d.comb += [ram.cancel.eq(core.dbus_cancel), dec.cancel.eq(core.dbus_cancel)]
        wiring.connect(m, core.ibus, ram.fetch)

        # DMA side: one engine per coprocessor, plus the debug port, into RAM's second port.
        n_init = len(self.coprocessors) + 1
        m.submodules.dma_arbiter = arb = Arbiter(addr_width=30, n=n_init)
        m.submodules.dma_decoder = ddec = Decoder(addr_width=30)
        if cfg.pipeline:
            # RAM's DMA port takes its requests from a register (hdl/bus.py, RequestRegister):
            # the beat's window check, the arbiter and the decoder end at flip-flops instead of
            # at the block RAMs' write enables. One cycle more per beat; a revoked or wiped
            # engine's beat still held there is dropped (docs/coprocessor-contract.md). One tag
            # bit per engine; the debug port's (the last) stays 0: never dropped.
            m.submodules.dma_request = dreq = RequestRegister(
                addr_width=ram.dbus.signature.addr_width, tags=len(self.coprocessors) + 1)
            ddec.add(dreq.bus, name="ram", base=RAM_BASE, size=cfg.ram_size)
            wiring.connect(m, dreq.out, ram.dbus)
        else:
            ddec.add(ram.dbus, name="ram", base=RAM_BASE, size=cfg.ram_size)
        wiring.connect(m, arb.bus, ddec.bus)
        for i, c in enumerate(self.coprocessors):
            name = c.NAME.lower()
            m.submodules[name] = hold(c)
            engine = hold(DMAEngine(latency=2 if cfg.pipeline else 1))
            m.submodules[f"{name}_dma"] = engine
            wiring.connect(m, c.dma, engine.chan)
            wiring.connect(m, engine.bus, arb.initiators[i])
            # The contract (docs/coprocessor-contract.md): the slot's control section, its
            # engine's windows and revocation/wipe come from its own control component.
            wiring.connect(m, getattr(blocks["COPROCTL"], f"slot{c.SLOT}"), c.ctl_bus)
            wiring.connect(m, c.dma_windows, engine.windows)
            wiring.connect(m, c.dma_ctl, engine.ctl)
            m.d.comb += self.dma_req[c.SLOT].eq(engine.bus.cyc & engine.bus.stb & ~engine.bus.stall)
            if cfg.pipeline:
                # the beat taken from this engine, and its revocation/wipe (both from flip-flops)
                m.d.comb += [dreq.tag[i].eq(self.dma_req[c.SLOT]),
                             dreq.drop[i].eq(engine.ctl.flush | engine.ctl.wipe)]
        wiring.connect(m, wiring.flipped(self.debug), arb.initiators[n_init - 1])

        irq_lines = [Const(0, 1)] * 16
        for r in regions:
            if r.irq is not None:
                irq_lines[r.irq] = blocks[r.name].irq
        clint, uart, simctrl = blocks["CLINT"], blocks["UART"], blocks["SIMCTRL"]
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
        for c in self.coprocessors:
            m.d.comb += self.copro_busy[c.SLOT].eq(c.busy)
        dbus = core.dbus
        if cfg.perf:
            perf = blocks["PERF"]
            m.d.comb += [
                perf.retire.eq(core.trace.valid),
                perf.core_bus.eq(dbus.cyc & dbus.stb & ~dbus.stall),
                perf.busy.eq(self.copro_busy[:PERF_SLOTS]),
                perf.dma.eq(self.dma_req[:PERF_SLOTS]),
                self.perf_enable.eq(perf.enable),
            ]
        return m
