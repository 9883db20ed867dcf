"""The control component every coprocessor slot instantiates: one contract for all of them.

Two register sets, one component (docs/coprocessor-contract.md, docs/security.md):

*The slot page* (:func:`slot_registers`, offsets 0x00-0x1C of every coprocessor's 4 KiB slot,
what the slot's owner may use, M-mode or a U task the slot is lent to)::

    0x00 ID      r   VERSION[15:0], KIND[31:16] (two ASCII characters)
    0x04 STATUS  rw* BUSY r, DONE w1c, ERROR w1c (clears CAUSE), CAUSE[8+] r (the block's Cause)
    0x08 START   w   OP (the block's Op enum): start an operation
    0x0C ABORT   w   stop the running operation (it ends with ERROR, CAUSE = ABORTED)
    0x10 CYCLES  r   clock cycles of the last (or the running) operation, START to its end

Block registers start at 0x20.

*The slot's section of the control page* (:data:`CONTROL_REGS`, M-mode only: the SoC maps one
4 KiB page holding slot *k*'s section at *k* · :data:`CONTROL_STRIDE`)::

    0x00 OWNER   rw* U: 0 = M-mode, 1 = lent to U-mode
    0x04 CTRL    rw* IRQ_EN (rw), WIPE (write 1: start a wipe; reads 0)
    0x08 STATUS  r   WIPING, GRANT_REFUSED
    0x10 + 16i   WINi_BASE / WINi_LIMIT / WINi_CTRL (R, W, LOCK): this engine's own windows

Rules the hardware enforces, so no firmware mistake can break them:

* **Locks bind to M.** A window with LOCK set cannot change until reset. Setting OWNER to U on
  a slot with any locked window is refused (STATUS.GRANT_REFUSED, owner stays M, nothing else
  happens), and LOCK cannot be set while U owns the slot: a window M locked for its own use is
  never lent.
* **Every write to OWNER** (accepted; either value, even the same one) aborts the operation
  and the descriptor in flight, clears DONE, ERROR, CAUSE and CYCLES, *closes every window*
  (BASE, LIMIT, R, W to 0: the new owner starts with no memory at all, so windows left open
  over the previous owner's buffers are never inherited), and starts a wipe.
* **Wipe** (on an OWNER write, CTRL.WIPE, and after every reset, because block RAM keeps its
  contents across a reset): ``wipe`` is held to the block and to its DMA engine until both
  report ``wipe_done``; the block returns every flip-flop to its reset value and every memory
  word to zero. While it runs the slot page answers as always, STATUS.BUSY reads 1 and a
  START is refused with ERROR, CAUSE = WIPING.
* **Revocation.** The window registers (and OWNER) change at the clock edge at which the bank
  acknowledges the store, and a write to a window register or to OWNER pulses the DMA
  engine's ``flush``, from a register, in that same cycle (the acknowledge's): the descriptor
  in flight ends with ERROR, nothing is issued from that cycle on, and the words in the
  engine's FIFOs are dropped. The engine checks every beat against the windows of its own
  cycle (:class:`gluon.hdl.dma.DMAEngine`), so in the store's own cycle the old windows
  govern, and from the acknowledge on no access outside the new windows happens and no word
  read before it reaches the block.
* **Interrupts are M's.** ``irq`` = STATUS.DONE & CTRL.IRQ_EN & (OWNER = M): a U owner can
  neither raise, hold nor mask M's interrupt line, and an owner change clears pending DONE.

The block sees none of the registers: it gets ``start`` (with ``op``), ``abort`` and
``wipe`` and reports ``busy``, ``done``, ``error`` (with ``cause``) and ``wipe_done``
(:class:`ControlSignature`).
"""

import functools
import operator

from amaranth import *
from amaranth.lib import wiring, enum
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature
from .dma import N_WINDOWS, WindowSignature, DMAControlSignature
from .regs import Field, Register, RegisterMap, RegisterBank, RegisterSignature


__all__ = ["COMMON_CAUSES", "CONTROL_REGS", "CONTROL_STRIDE", "SLOT_REGS_END",
           "slot_registers", "ControlSignature", "CoprocessorControl", "ControlPage"]


#: Causes every block's ``Cause`` enum must have (its own values and descriptions); the
#: component reports them itself: NONE (value 0), START while busy, START while a wipe runs,
#: an operation ended by ABORT.
COMMON_CAUSES = ("NONE", "BUSY", "WIPING", "ABORTED")

#: Bytes between two slots' sections in the control page.
CONTROL_STRIDE = 0x100

#: First offset of a block's own registers in its slot page.
SLOT_REGS_END = 0x20


def _check_enum(name, enum_cls, max_width):
    if not (isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum)):
        raise TypeError(f"{name} must be an amaranth.lib.enum.Enum with a shape, not {enum_cls!r}")
    width = Shape.cast(enum_cls).width
    if not 1 <= width <= max_width:
        raise ValueError(f"{name}: shape must be 1..{max_width} bits wide, not {width}")
    return width


def _check_causes(cause):
    _check_enum("cause", cause, 8)
    for n in COMMON_CAUSES:
        if n not in cause.__members__:
            raise ValueError(f"cause enum {cause.__name__} lacks the common cause {n}")
    if cause.NONE.value != 0:
        raise ValueError(f"{cause.__name__}.NONE must be 0, not {cause.NONE.value}")


def slot_registers(*, kind, version, op, cause, op_doc=None, cause_doc=None):
    """The common registers of a slot page (offsets 0x00-0x1C), to put first in the block's
    :class:`RegisterMap`. ``kind``: two ASCII characters; ``op``, ``cause``: the block's enums
    (``cause`` must have the members in :data:`COMMON_CAUSES`); ``*_doc``: {member: text}."""
    if not (isinstance(kind, str) and len(kind) == 2 and kind.isascii()):
        raise ValueError(f"kind must be two ASCII characters, not {kind!r}")
    if not (isinstance(version, int) and 0 <= version < 1 << 16):
        raise ValueError(f"version must be an integer in 0..65535, not {version!r}")
    op_width = _check_enum("op", op, 16)
    _check_causes(cause)
    return [
        Register("ID", 0x00, "r", [
            Field("VERSION", 16, desc="Register interface version"),
            Field("KIND", 16, desc=f'ASCII "{kind}" (0x{ord(kind[0]) << 8 | ord(kind[1]):04X})'),
        ], desc="Identifies the coprocessor."),
        Register("STATUS", 0x04, "ext", [
            Field("BUSY", 1, desc="An operation runs, its DMA drains, or a wipe runs"),
            Field("DONE", 1, desc="The last operation ended (check ERROR). Write 1 to clear"),
            Field("ERROR", 1, desc="The last operation failed, or a START was refused. "
                                   "Write 1 to clear (clears CAUSE too)"),
            Field("CAUSE", Shape.cast(cause).width, offset=8, desc="Why ERROR is set",
                  enum=cause, enum_doc=cause_doc),
        ], desc="State of the slot. An accepted START clears DONE, ERROR and CAUSE."),
        Register("START", 0x08, "w", [
            Field("OP", op_width, desc="Operation", enum=op, enum_doc=op_doc),
        ], desc="Starts operation OP. Refused (ERROR, CAUSE = BUSY or WIPING) while one runs "
                "or a wipe runs; the running operation is not disturbed."),
        Register("ABORT", 0x0C, "w", desc="Any write stops the running operation: its DMA is "
                 "drained, then DONE and ERROR are set with CAUSE = ABORTED. No effect when idle."),
        Register("CYCLES", 0x10, "r", desc="Clock cycles of the last operation, from START to "
                 "the end (counting while it runs; a refused START does not change it)."),
    ]


def _control_regs():
    regs = [
        Register("OWNER", 0x00, "ext", [
            Field("U", 1, desc="0: M-mode owns the slot; 1: lent to U-mode"),
        ], desc="Owner of the slot. Every accepted write aborts, closes all windows and wipes. "
                "U is refused (STATUS.GRANT_REFUSED) while any window is locked."),
        Register("CTRL", 0x04, "ext", [
            Field("IRQ_EN", 1, desc="Raise the slot's interrupt line while STATUS.DONE is set "
                                    "and M-mode owns the slot"),
            Field("WIPE", 1, desc="Write 1: start a wipe (reads 0)"),
        ], desc="Interrupt enable and wipe."),
        Register("STATUS", 0x08, "r", [
            Field("WIPING", 1, desc="A wipe runs (the slot refuses START)"),
            Field("GRANT_REFUSED", 1, desc="The last write of OWNER = U was refused because a "
                                           "window is locked"),
        ], desc="Wipe and grant state."),
    ]
    for i in range(N_WINDOWS):
        o = 0x10 + 16 * i
        regs += [
            Register(f"WIN{i}_BASE", o + 0, "ext",
                     desc=f"Window {i}: first byte address (word aligned). Ignores writes when locked."),
            Register(f"WIN{i}_LIMIT", o + 4, "ext",
                     desc=f"Window {i}: first byte address past the window. Ignores writes when locked."),
            Register(f"WIN{i}_CTRL", o + 8, "ext", [
                Field("R", 1, desc="The engine may read memory in this window"),
                Field("W", 1, desc="The engine may write memory in this window"),
                Field("LOCK", 1, desc="Freeze this window (BASE, LIMIT, CTRL) until reset; "
                                      "refused while U owns the slot"),
            ], desc=f"Window {i}: permissions and lock."),
        ]
    return RegisterMap("COPROCTL", regs, desc=(
        "Coprocessor control page (M-mode only): slot k's section at k * 0x100. Owner, "
        "interrupt enable, wipe, and the slot's own DMA windows: the only memory its DMA "
        "engine may touch. All windows are closed after reset and after an owner change."))


CONTROL_REGS = _control_regs()


class ControlSignature(wiring.Signature):
    """Between the control component and its block, seen from the control component.

    ``start``     Out(1)        one-cycle pulse: start operation ``op`` (never while busy/wiping)
    ``op``        Out(op enum)  the operation, valid with ``start``
    ``abort``     Out(1)        one-cycle pulse: stop the running operation (drain the DMA),
                                then end it with ``error`` (any cause: ABORTED is reported)
    ``wipe``      Out(1)        level, held until ``wipe_done``: stop whatever runs and return
                                every flip-flop to reset and every memory word to zero
    ``busy``      In(1)         an operation runs
    ``done``      In(1)         one-cycle pulse: the operation ended well
    ``error``     In(1)         one-cycle pulse instead of ``done``: it failed with ``cause``
    ``cause``     In(cause enum)
    ``wipe_done`` In(1)         the block's wipe has finished; held while ``wipe`` is
    """

    def __init__(self, op, cause):
        super().__init__({
            "start": Out(1),
            "op": Out(op),
            "abort": Out(1),
            "wipe": Out(1),
            "busy": In(1),
            "done": In(1),
            "error": In(1),
            "cause": In(cause),
            "wipe_done": In(1),
        })


class CoprocessorControl(wiring.Component):
    """The slot's control component (see the module docstring).

    Ports:

    ``slot``      the slot page's common registers: connect them with :meth:`connect_slot` to
                  the block's :class:`RegisterBank` (which holds :func:`slot_registers`)
    ``ctl_bus``   In(WishboneSignature(addr_width=6)): this slot's section of the control page
    ``block``     Out(:class:`ControlSignature`) to the block's engine
    ``dma_windows`` Out(WindowSignature()), ``dma_ctl`` Out(DMAControlSignature()): to the
                  slot's DMA engine
    ``irq``       Out(1) the slot's interrupt line
    ``owner_u``   Out(1) the slot is lent to U-mode (for observation)

    :attr:`retained` lists the flip-flops a wipe keeps by design (M-mode's configuration of
    the slot, not state an operation leaves behind).
    """

    def __init__(self, *, kind, version, op, cause):
        self._slot_regs = RegisterMap("SLOT", slot_registers(kind=kind, version=version,
                                                             op=op, cause=cause))
        self.kind, self.version, self.op_enum, self.cause_enum = kind, version, op, cause
        slot_members = {r.name.lower(): In(RegisterSignature(r)) for r in self._slot_regs}
        super().__init__({
            "slot": Out(wiring.Signature(slot_members)),
            "ctl_bus": In(WishboneSignature(addr_width=6)),
            "block": Out(ControlSignature(op, cause)),
            "dma_windows": Out(WindowSignature()),
            "dma_ctl": Out(DMAControlSignature()),
            "irq": Out(1),
            "owner_u": Out(1),
        })
        self.irq_en = Signal(name="irq_en")
        self.locks = Signal(N_WINDOWS, name="win_lock")
        self.grant_refused = Signal(name="grant_refused")
        self.booted = Signal(name="booted")   # 0 only until the wipe that follows a reset

    @property
    def retained(self):
        """Flip-flops a wipe leaves as they are, by design."""
        return [self.owner_u, self.irq_en, self.locks, self.grant_refused, self.booted,
                Value.cast(self.dma_windows.win)]

    def connect_slot(self, m, bank):
        """Connect the common registers of ``bank`` (the block's RegisterBank) to ``slot``."""
        for r in self._slot_regs:
            wiring.connect(m, getattr(bank, r.name.lower()), getattr(self.slot, r.name.lower()))

    def connect_block(self, m, block, bank):
        """The wiring every block on the contract does: ``bank``'s common registers to
        ``slot``, and ``block``'s own ``ctl_bus``, ``dma_windows`` and ``dma_ctl`` ports
        (seen from inside ``block``) to this component."""
        self.connect_slot(m, bank)
        wiring.connect(m, wiring.flipped(block.ctl_bus), self.ctl_bus)
        wiring.connect(m, self.dma_windows, wiring.flipped(block.dma_windows))
        wiring.connect(m, self.dma_ctl, wiring.flipped(block.dma_ctl))

    def elaborate(self, platform):
        m = Module()
        slot, blk, win = self.slot, self.block, self.dma_windows.win
        m.submodules.ctl_regs = regs = RegisterBank(CONTROL_REGS, addr_width=6)
        wiring.connect(m, wiring.flipped(self.ctl_bus), regs.bus)

        owner_u, locks = self.owner_u, self.locks
        running = Signal()          # between an accepted START and the block's end
        aborting = Signal()         # ABORT was written while running
        done = Signal()
        error = Signal()
        cause = Signal(self.cause_enum)
        cycles = Signal(32)
        wiping = Signal()
        wipe_start = Signal()
        # The wipe after a reset starts in the first cycle; it counts as running from then.
        wipe_busy = wiping | ~self.booted

        # ---- the slot page ----
        kind = ord(self.kind[0]) << 8 | ord(self.kind[1])
        m.d.comb += [
            slot.id.r_data.version.eq(self.version),
            slot.id.r_data.kind.eq(kind),
            slot.status.r_data.busy.eq(running | blk.busy | wipe_busy),
            slot.status.r_data.done.eq(done),
            slot.status.r_data.error.eq(error),
            slot.status.r_data.cause.eq(cause),
            slot.cycles.r_data.eq(cycles),
        ]
        with m.If(slot.status.w_stb):
            with m.If(slot.status.w_data.done):
                m.d.sync += done.eq(0)
            with m.If(slot.status.w_data.error):
                m.d.sync += [error.eq(0), cause.eq(self.cause_enum.NONE)]
        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(slot.start.w_stb):
            with m.If(wipe_busy | wipe_start | running | blk.busy):
                m.d.sync += [error.eq(1),
                             cause.eq(Mux(wipe_busy | wipe_start, self.cause_enum.WIPING,
                                       self.cause_enum.BUSY))]
            with m.Else():
                m.d.comb += [blk.start.eq(1), blk.op.eq(slot.start.w_data.op)]
                m.d.sync += [running.eq(1), aborting.eq(0), cycles.eq(0),
                             done.eq(0), error.eq(0), cause.eq(self.cause_enum.NONE)]
        with m.If(slot.abort.w_stb & running & ~wiping):
            m.d.comb += blk.abort.eq(1)
            m.d.sync += aborting.eq(1)
        with m.If(running & (blk.done | blk.error)):
            m.d.sync += [running.eq(0), done.eq(1)]
            with m.If(blk.error | aborting):
                m.d.sync += [error.eq(1),
                             cause.eq(Mux(aborting, self.cause_enum.ABORTED, blk.cause))]

        # ---- the control page: owner, interrupt enable, wipe ----
        m.d.comb += [
            regs.owner.r_data.u.eq(owner_u),
            regs.ctrl.r_data.irq_en.eq(self.irq_en),
            regs.status.r_data.wiping.eq(wipe_busy),
            regs.status.r_data.grant_refused.eq(self.grant_refused),
            self.irq.eq(done & self.irq_en & ~owner_u),
        ]
        with m.If(regs.ctrl.w_stb):
            m.d.sync += self.irq_en.eq(regs.ctrl.w_data.irq_en)
            with m.If(regs.ctrl.w_data.wipe):
                m.d.comb += wipe_start.eq(1)
        owner_write = Signal()
        with m.If(regs.owner.w_stb):
            with m.If(regs.owner.w_data.u & (locks != 0)):
                m.d.sync += self.grant_refused.eq(1)
            with m.Else():
                m.d.comb += [owner_write.eq(1), wipe_start.eq(1)]
                m.d.sync += [owner_u.eq(regs.owner.w_data.u), self.grant_refused.eq(0)]
        with m.If(~self.booted):
            m.d.comb += wipe_start.eq(1)
            m.d.sync += self.booted.eq(1)

        # ---- this engine's windows ----
        flush = Signal()
        for i in range(N_WINDOWS):
            base, limit, ctrl = (getattr(regs, f"win{i}_{n}") for n in ("base", "limit", "ctrl"))
            m.d.comb += [
                base.r_data.eq(win[i].base),
                limit.r_data.eq(win[i].limit),
                ctrl.r_data.r.eq(win[i].r),
                ctrl.r_data.w.eq(win[i].w),
                ctrl.r_data.lock.eq(locks[i]),
            ]
            with m.If(~locks[i]):
                with m.If(base.w_stb | limit.w_stb | ctrl.w_stb):
                    m.d.comb += flush.eq(1)
                with m.If(base.w_stb):
                    m.d.sync += win[i].base.eq(base.w_data.as_value() & ~3)
                with m.If(limit.w_stb):
                    m.d.sync += win[i].limit.eq(limit.w_data.as_value() & ~3)
                with m.If(ctrl.w_stb):
                    m.d.sync += [win[i].r.eq(ctrl.w_data.r), win[i].w.eq(ctrl.w_data.w),
                                 locks[i].eq(ctrl.w_data.lock & ~owner_u)]
            with m.If(owner_write):
                # Locked windows cannot be present here (the grant was checked), and a
                # revocation (U -> M) finds none since U-owned slots cannot lock.
                m.d.sync += win[i].eq(0)
        # ``flush`` leaves from a flip-flop, in the cycle after the bank sees the write: the
        # cycle the window registers (and OWNER) hold their new values. The engine withholds
        # its words and requests from exactly the cycle the windows change, and the bus
        # decode of the store ends here instead of running on through every engine's FIFO
        # and ``rd.valid`` into its coprocessor's word path (docs/fpga.md). In the store's own
        # cycle the old windows still govern every beat (checked against that cycle's windows).
        m.d.sync += self.dma_ctl.flush.eq(flush | owner_write)

        # ---- wipe: abort, forget, hold ``wipe`` until block and engine are clean ----
        m.d.comb += [blk.wipe.eq(wiping), self.dma_ctl.wipe.eq(wiping)]
        with m.If(wiping & blk.wipe_done & self.dma_ctl.wipe_done):
            m.d.sync += wiping.eq(0)
        with m.If(wipe_start):
            m.d.sync += [wiping.eq(1), running.eq(0), aborting.eq(0), cycles.eq(0),
                         done.eq(0), error.eq(0), cause.eq(self.cause_enum.NONE)]
        return m


class ControlPage(wiring.Component):
    """The SoC's M-only control page (4 KiB): slot *k*'s section (:data:`CONTROL_REGS`) at
    *k* · :data:`CONTROL_STRIDE`, decoded to the ``ctl_bus`` of the coprocessor in slot *k*.

    ``slots``: the slot numbers present. Port ``bus`` In(WishboneSignature(addr_width=10)), one
    port ``slot<k>`` Out(WishboneSignature(addr_width=6)) per present slot. Each section is a
    :class:`RegisterBank` (answers one cycle later, never stalls), so the page never stalls
    either; a section no coprocessor occupies answers with a bus error one cycle later.
    """

    def __init__(self, *, slots):
        slots = list(slots)
        n = 0x1000 // CONTROL_STRIDE
        for k in slots:
            if not isinstance(k, int) or not 0 <= k < n:
                raise ValueError(f"slot must be an integer in 0..{n - 1}, not {k!r}")
        if len(set(slots)) != len(slots):
            raise ValueError(f"slots listed twice: {slots}")
        self.slots = sorted(slots)
        super().__init__({
            "bus": In(WishboneSignature(addr_width=10)),
            **{f"slot{k}": Out(WishboneSignature(addr_width=6)) for k in self.slots},
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        sel = bus.adr[6:10]
        hit = Signal()
        for k in self.slots:
            sec = getattr(self, f"slot{k}")
            m.d.comb += [
                sec.adr.eq(bus.adr[:6]), sec.dat_w.eq(bus.dat_w), sec.sel.eq(bus.sel),
                sec.we.eq(bus.we), sec.cyc.eq(bus.cyc & (sel == k)),
                sec.stb.eq(bus.stb & (sel == k)),
            ]
            with m.If(sel == k):
                m.d.comb += hit.eq(1)
        # Responses: only the section that took the request answers, one cycle later.
        miss = Signal()
        m.d.sync += miss.eq(bus.cyc & bus.stb & ~hit)
        secs = [getattr(self, f"slot{k}") for k in self.slots]
        m.d.comb += [
            bus.ack.eq(Cat(C(0, 1), *(s.ack for s in secs)).any()),
            bus.err.eq(Cat(*(s.err for s in secs), miss).any()),
        ]
        # A bank's read data is 0 outside its response cycle: the OR is the answering one.
        if secs:
            m.d.comb += bus.dat_r.eq(functools.reduce(operator.or_, (s.dat_r for s in secs)))
        return m
