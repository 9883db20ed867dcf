"""The one DMA engine design every coprocessor reuses.

Each coprocessor owns one :class:`DMAEngine` instance (one per coprocessor slot, all of the
same design) and talks to it through a :class:`DMAChannelSignature`: it hands the engine a
*descriptor* (:class:`DMACommand`: address, word count, direction) and then consumes or
produces a stream of 32-bit words. The engine moves at most one word per cycle over its own
Wishbone initiator port.

Confinement: a descriptor is accepted only if its whole byte range lies inside one of the
:data:`N_WINDOWS` windows of the engine's ``windows`` input (its own slot's windows, set by
M-mode in the slot's section of the control page, :mod:`gluon.hdl.coproctl`) (base/limit pairs with read and
write permission). Anything else is refused with ``error`` (in the cycle after the engine took
the descriptor, from a register) and *no* bus transaction is made.
Descriptors must be word aligned and move at least one word. Every beat is checked again, in
the cycle it is issued, against the windows of that cycle: a beat outside them is never issued
and ends the descriptor with ``error``. So a window update written at a clock edge governs
every request from that edge on, whatever descriptor is in flight.

Revocation and wipe (:class:`DMAControlSignature`, driven by the slot's control component,
:mod:`gluon.hdl.coproctl`): ``flush`` (a window or the owner changed) ends the descriptor in
flight with ``error``: no beat is issued from that cycle on, and the words waiting in the read
and write FIFOs are discarded, never delivered or written. ``wipe`` additionally returns every
flip-flop of the engine to its reset value and every FIFO word to zero
(:attr:`DMAEngine.wipe_cycles`: 11 cycles for the default 8-word FIFO, 12 behind the pipelined
SoC's request register), then raises ``wipe_done``.

On the coprocessor's side, a :class:`DMAMover` carries the descriptor handshake (offer a
descriptor, wait while its words move, report done or error) for every block that issues
descriptors, so that no coprocessor writes that state machine again.

Priority: the DMA engines reach RAM through RAM's second data port, which the core's data
port always wins (see :mod:`gluon.hdl.ram`): DMA uses only the cycles the core leaves free,
so the core's load/store timing never depends on DMA activity.
"""

from amaranth import *
from amaranth.lib import wiring, data, stream, fifo
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature


__all__ = ["N_WINDOWS", "DMACommand", "DMAChannelSignature", "DMARequestSignature",
           "WindowSignature", "DMAControlSignature", "DMAEngine", "DMAMover",
           "in_windows"]


N_WINDOWS = 4


class DMACommand(data.Struct):
    """A DMA descriptor.

    ``addr``  byte address in memory, must be word aligned
    ``words`` number of 32-bit words to move, 1..65535
    ``write`` 0: memory → coprocessor (``rd`` stream); 1: coprocessor → memory (``wr`` stream)
    """
    addr: 32
    words: 16
    write: 1


class DMAChannelSignature(wiring.Signature):
    """The link between a coprocessor and its DMA engine, seen from the coprocessor.

    ``cmd``   Out(stream of :class:`DMACommand`)  a descriptor; accepted only while idle
    ``rd``    In(stream of 32-bit words)          words read from memory, in address order
    ``wr``    Out(stream of 32-bit words)         words to write to memory, in address order
    ``abort`` Out(1)   stop the current transfer; the engine drains its bus responses and
                       discards unread words, then goes idle (neither ``done`` nor ``error``)
    ``busy``  In(1)    a descriptor is being carried out
    ``done``  In(1)    one-cycle pulse: the descriptor completed (a read: every word was
                       delivered on ``rd``; a write: every word was acknowledged by memory)
    ``error`` In(1)    one-cycle pulse instead of ``done``: the descriptor was refused
                       (outside the windows, no permission, misaligned, zero words: in
                       the cycle after ``cmd`` was taken) or a bus error ended it
    """

    def __init__(self):
        super().__init__({
            "cmd":   Out(stream.Signature(DMACommand)),
            "rd":    In(stream.Signature(32)),
            "wr":    Out(stream.Signature(32)),
            "abort": Out(1),
            "busy":  In(1),
            "done":  In(1),
            "error": In(1),
        })


class DMARequestSignature(wiring.Signature):
    """The descriptor side of a DMA channel, seen from whoever issues descriptors on it (a
    :class:`DMAMover`); the words travel on the channel's ``rd``/``wr`` streams.

    ``cmd``   Out(stream of :class:`DMACommand`)  the descriptor
    ``done``  In(1)    the descriptor completed (the channel's ``done``)
    ``error`` In(1)    the descriptor was refused or failed (the channel's ``error``)
    """

    def __init__(self):
        super().__init__({
            "cmd":   Out(stream.Signature(DMACommand)),
            "done":  In(1),
            "error": In(1),
        })


class WindowLayout(data.Struct):
    base: 32       # first byte address inside the window
    limit: 32      # first byte address past the window
    r: 1
    w: 1


class WindowSignature(wiring.Signature):
    """One engine's window set, from its slot's control component
    (:class:`gluon.hdl.coproctl.CoprocessorControl`) to the engine."""

    def __init__(self):
        super().__init__({"win": Out(data.ArrayLayout(WindowLayout, N_WINDOWS))})


class DMAControlSignature(wiring.Signature):
    """Revocation and wipe of one DMA engine, seen from the slot's control component.

    ``flush``     Out(1)  a window or the owner changed this cycle: end the descriptor in flight
                          with ``error``, issue nothing from this cycle on, discard the words in
                          the read and write FIFOs
    ``wipe``      Out(1)  level, held until ``wipe_done``: stop (as ``flush``), wait for the
                          outstanding bus responses, then zero every FIFO word and return every
                          flip-flop to its reset value
    ``wipe_done`` In(1)   the wipe has finished; stays high while ``wipe`` is held
    """

    def __init__(self):
        super().__init__({
            "flush": Out(1),
            "wipe": Out(1),
            "wipe_done": In(1),
        })


def in_windows(windows, byte_addr, end, write):
    """1 if bytes ``byte_addr`` .. ``end`` - 1 lie inside one window of ``windows`` (an array of
    :class:`WindowLayout`) that grants the access (``write``: W, else R)."""
    hits = []
    for w in windows:
        perm = Mux(write, w.w, w.r)
        hits.append(perm & (byte_addr >= w.base) & (end <= w.limit) & (w.base < w.limit))
    return Cat(*hits).any()


class DMAEngine(wiring.Component):
    """One DMA engine: carries out descriptors from ``chan`` on its ``bus`` initiator port.

    Parameters: ``fifo_depth`` words of read buffering (reads are issued only when the buffer
    has room, so the engine never blocks the bus on a slow consumer). ``latency``: 1 where
    the engine's beats go straight to RAM's DMA port (answered in the cycle after they are
    issued), 2 behind the pipelined SoC's request register
    (:class:`gluon.hdl.bus.RequestRegister`: a beat waits there a cycle, more while the core
    claims RAM, and one it still holds when the engine's ``flush`` or ``wipe`` rises is
    dropped and answered in the next cycle). Either way every response still due when
    ``wipe`` rises comes within ``latency`` - 1 cycles of it; the wipe always waits that
    long, so its length is fixed (:attr:`wipe_cycles`).

    Ports: ``chan`` (from the coprocessor), ``bus`` (Wishbone initiator), ``windows`` (this
    engine's window set), ``ctl`` (revocation and wipe, from the slot's control component).
    """

    def __init__(self, *, fifo_depth=8, latency=1):
        if fifo_depth < 2:
            raise ValueError("fifo_depth must be at least 2")
        if latency not in (1, 2):
            raise ValueError(f"latency must be 1 or 2, not {latency!r}")
        self._depth = fifo_depth
        self._latency = latency
        super().__init__({
            "chan": In(DMAChannelSignature()),
            "bus": Out(WishboneSignature(addr_width=30)),
            "windows": In(WindowSignature()),
            "ctl": In(DMAControlSignature()),
        })

    @property
    def wipe_cycles(self):
        """Cycles from ``wipe`` rising to ``wipe_done``, whatever is in flight: ``latency``
        (see the class) to stop and take the responses still due, one to clear the FIFO
        pointers, ``fifo_depth`` writing zeros, one to clear everything."""
        return self._depth + 2 + self._latency

    def _beat_allowed(self, adr, write):
        """The window check of one beat at word address ``adr`` (a method so the formal
        check's mutant can drop it, tests/formal/miters.py)."""
        byte = Cat(C(0, 2), adr)
        return in_windows(self.windows.win, byte, byte + 4, write)

    def elaborate(self, platform):
        m = Module()
        chan, bus = self.chan, self.bus

        # ``fifo_clear`` returns the FIFOs' pointers and output register to reset (their
        # memories keep words: the wipe overwrites those with zeros first).
        fifo_clear = Signal()
        m.submodules.rfifo = rfifo = ResetInserter(fifo_clear)(
            fifo.SyncFIFOBuffered(width=32, depth=self._depth))
        # Words to write wait one cycle in a two-word FIFO, so ``wr.ready`` does not depend on
        # the bus: without it, RAM's arbitration (the core's data port wins, decided late
        # in the core's cycle) reached every coprocessor's output logic through ``wr.ready``
        # in the same cycle (the ULX3S-85F's critical path). Still one word per cycle.
        m.submodules.wfifo = wfifo = ResetInserter(fifo_clear)(fifo.SyncFIFO(width=32, depth=2))

        adr = Signal(30)
        to_issue = Signal(17)
        to_recv = Signal(17)
        to_accept = Signal(17)    # words still to take from ``wr`` (a write descriptor)
        is_write = Signal()
        outstanding = Signal(range(self._depth + 2))
        failed = Signal()
        wipe_count = Signal(range(self._depth + 1))
        # A refused descriptor's ``error`` leaves from this register, in the cycle after the
        # engine took the descriptor: the window check then ends in the engine's own
        # registers, never in the coprocessor's reaction to ``error`` (a path through both
        # blocks, across the die in the SoC).
        refused_cmd = Signal()
        state_regs = [adr, to_issue, to_recv, to_accept, is_write, failed, wipe_count,
                      refused_cmd]

        flush = self.ctl.flush | self.ctl.wipe

        # Descriptor check: aligned, non-empty, fully inside one permitted window.
        cmd = chan.cmd.payload
        end = Signal(34)
        m.d.comb += end.eq(cmd.addr + (cmd.words << 2))
        allowed = in_windows(self.windows.win, cmd.addr, end, cmd.write)
        ok = allowed & (cmd.addr[:2] == 0) & (cmd.words != 0)

        # Beat check: the word at ``adr`` against the windows of *this* cycle, so a window
        # change takes effect on the very next request whatever descriptor is in flight.
        beat_ok = Signal()
        m.d.comb += beat_ok.eq(self._beat_allowed(adr, is_write))

        issued = bus.cyc & bus.stb & ~bus.stall
        resp = bus.ack | bus.err
        m.d.sync += outstanding.eq(outstanding + issued - resp)

        m.d.comb += [
            bus.adr.eq(adr),
            bus.sel.eq(0xF),
            bus.we.eq(is_write),
            bus.dat_w.eq(wfifo.r_data),
            wfifo.w_data.eq(chan.wr.payload),
            wfifo.w_en.eq(chan.wr.valid & chan.wr.ready),
            wfifo.r_en.eq(bus.cyc & bus.stb & ~bus.stall & is_write),
            rfifo.w_data.eq(bus.dat_r),
            chan.rd.payload.eq(rfifo.r_data),
            chan.rd.valid.eq(rfifo.r_rdy & ~flush),
            rfifo.r_en.eq(chan.rd.ready & ~flush),
        ]

        m.d.sync += refused_cmd.eq(0)
        with m.If(refused_cmd):
            m.d.comb += chan.error.eq(1)

        with m.FSM(name="dma"):
            with m.State("IDLE"):
                m.d.comb += chan.cmd.ready.eq(1)
                with m.If(self.ctl.wipe):
                    m.next = "WIPE_DRAIN"
                with m.Elif(chan.cmd.valid):
                    # The descriptor's registers load whether or not it is accepted (they act
                    # only in RUN; a wipe clears them): only the state and ``refused_cmd``
                    # wait for the window check, so the check's result drives three
                    # flip-flops, not the enables of the ~85 the descriptor loads.
                    m.d.sync += [
                        adr.eq(cmd.addr[2:]),
                        to_issue.eq(cmd.words),
                        to_recv.eq(cmd.words),
                        to_accept.eq(cmd.words),
                        is_write.eq(cmd.write),
                        failed.eq(0),
                    ]
                    with m.If(ok & ~flush):
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += refused_cmd.eq(1)
                with m.If(flush):
                    m.d.comb += fifo_clear.eq(1)
            with m.State("RUN"):
                m.d.comb += chan.busy.eq(1)
                stop = Signal()
                m.d.comb += stop.eq(chan.abort | failed | flush)
                room = (rfifo.level + outstanding) < self._depth
                can_issue = (to_issue != 0) & ~stop & ~(bus.err)
                # A beat the current windows do not allow is never presented: it fails the
                # descriptor instead (``failed`` below).
                refused = Signal()
                with m.If(is_write):
                    m.d.comb += [
                        refused.eq(can_issue & wfifo.r_rdy & ~beat_ok),
                        bus.cyc.eq(can_issue & wfifo.r_rdy & beat_ok | (outstanding != 0)),
                        bus.stb.eq(can_issue & wfifo.r_rdy & beat_ok),
                        chan.wr.ready.eq((to_accept != 0) & wfifo.w_rdy & ~stop),
                    ]
                    with m.If(chan.wr.valid & chan.wr.ready):
                        m.d.sync += to_accept.eq(to_accept - 1)
                with m.Else():
                    m.d.comb += [
                        refused.eq(can_issue & room & ~beat_ok),
                        bus.cyc.eq(can_issue & room & beat_ok | (outstanding != 0)),
                        bus.stb.eq(can_issue & room & beat_ok),
                        rfifo.w_en.eq(bus.ack & ~stop),
                    ]
                with m.If(issued):
                    m.d.sync += [adr.eq(adr + 1), to_issue.eq(to_issue - 1)]
                with m.If(resp):
                    m.d.sync += to_recv.eq(to_recv - 1)
                with m.If(bus.err | refused | self.ctl.flush):
                    m.d.sync += failed.eq(1)
                with m.If(self.ctl.wipe):
                    m.next = "WIPE_DRAIN"
                with m.Elif(self.ctl.flush):
                    # Revoked: the buffered words go now, the responses still due are dropped
                    # (``stop`` above), then the descriptor ends with ``error``.
                    m.d.comb += fifo_clear.eq(1)
                    m.next = "DRAIN_ERR"
                with m.Elif(chan.abort):
                    m.next = "DRAIN"
                with m.Elif((failed | bus.err) & (outstanding - resp == 0)):
                    m.d.comb += chan.error.eq(1)
                    m.next = "FLUSH"
                with m.Elif(failed | bus.err):
                    m.next = "DRAIN_ERR"
                with m.Elif((to_recv == 0) & (rfifo.level == 0) & ~is_write):
                    m.d.comb += chan.done.eq(1)
                    m.next = "IDLE"
                with m.Elif((to_recv == 1) & bus.ack & is_write):
                    m.d.comb += chan.done.eq(1)
                    m.next = "IDLE"
            with m.State("DRAIN_ERR"):
                m.d.comb += [chan.busy.eq(1), bus.cyc.eq(outstanding != 0)]
                with m.If(flush):
                    m.d.comb += fifo_clear.eq(1)
                with m.If(self.ctl.wipe):
                    m.next = "WIPE_DRAIN"
                with m.Elif(outstanding - resp == 0):
                    m.d.comb += chan.error.eq(1)
                    m.next = "FLUSH"
            with m.State("DRAIN"):
                m.d.comb += [chan.busy.eq(1), bus.cyc.eq(outstanding != 0)]
                with m.If(flush):
                    m.d.comb += fifo_clear.eq(1)
                with m.If(self.ctl.wipe):
                    m.next = "WIPE_DRAIN"
                with m.Elif(outstanding - resp == 0):
                    m.next = "FLUSH"
            with m.State("FLUSH"):
                # Discard words nobody will read or write so the next descriptor starts clean.
                m.d.comb += [chan.busy.eq(1), rfifo.r_en.eq(1), chan.rd.valid.eq(0),
                             wfifo.r_en.eq(1)]
                with m.If(self.ctl.wipe):
                    m.next = "WIPE_DRAIN"
                with m.Elif((rfifo.level == 0) & ~wfifo.r_rdy):
                    m.next = "IDLE"
            # Wipe: let the bus responses still due arrive (dropped), clear the FIFO pointers,
            # write zeros into every FIFO word (the read FIFO's output register included), then
            # return every register to its reset value.
            with m.State("WIPE_DRAIN"):
                m.d.comb += [chan.busy.eq(1), bus.cyc.eq(outstanding != 0)]
                drained = outstanding - resp == 0
                if self._latency > 1:
                    # a fixed ``latency`` cycles here (``wipe_count`` is 0 on entry): the
                    # responses of beats in flight come within that, whatever was running
                    m.d.sync += wipe_count.eq(wipe_count + 1)
                    drained = drained & (wipe_count >= self._latency - 1)
                with m.If(drained):
                    m.d.comb += fifo_clear.eq(1)
                    m.d.sync += wipe_count.eq(0)
                    m.next = "WIPE_FILL"
            with m.State("WIPE_FILL"):
                m.d.comb += [
                    chan.busy.eq(1), chan.rd.valid.eq(0),
                    rfifo.w_data.eq(0), rfifo.w_en.eq(1), rfifo.r_en.eq(0),
                    wfifo.w_data.eq(0), wfifo.w_en.eq(1), wfifo.r_en.eq(0),
                ]
                m.d.sync += wipe_count.eq(wipe_count + 1)
                with m.If(wipe_count == self._depth - 1):
                    m.next = "WIPE_CLEAR"
            with m.State("WIPE_CLEAR"):
                m.d.comb += [chan.busy.eq(1), fifo_clear.eq(1)]
                m.d.sync += [r.eq(r.init) for r in state_regs]
                m.next = "WIPED"
            with m.State("WIPED"):
                m.d.comb += [chan.busy.eq(1), self.ctl.wipe_done.eq(1)]
                with m.If(~self.ctl.wipe):
                    m.next = "IDLE"
        return m


class DMAMover(wiring.Component):
    """One descriptor at a time on a DMA channel, for a coprocessor's control logic.

    The caller holds ``req`` with the descriptor ``desc`` for as long as it wants the transfer;
    the mover offers ``desc`` on ``chan.cmd`` until the channel takes it (``accepted``: one
    cycle; ``error`` in the next cycle: the channel refused it), then reports ``active``
    while the words move (the caller moves them on the
    channel's ``rd``/``wr`` streams) and ``done`` when the channel completes the descriptor,
    in the same cycle as the channel. ``error`` is the channel's error (a refused descriptor
    or a bus error). After ``done``, a ``req`` still held offers the (updated) descriptor again
    from the next cycle on: a caller moving several descriptors stays in one state. Dropping
    ``req`` forgets the transfer (the caller aborts the channel itself).

    The mover adds no cycle: a descriptor is offered in the first cycle of ``req`` and in the
    cycle after the previous ``done``.
    """

    req: In(1)
    desc: In(DMACommand)
    accepted: Out(1)
    active: Out(1)
    done: Out(1)
    error: Out(1)
    chan: Out(DMARequestSignature())

    def elaborate(self, platform):
        m = Module()
        chan = self.chan
        m.d.comb += [
            chan.cmd.valid.eq(self.req & ~self.active),
            chan.cmd.payload.eq(self.desc),
            self.accepted.eq(chan.cmd.valid & chan.cmd.ready),
            self.done.eq(self.active & chan.done),
            self.error.eq(chan.error),
        ]
        with m.If(~self.req | self.done):
            m.d.sync += self.active.eq(0)
        with m.Elif(self.accepted):
            m.d.sync += self.active.eq(1)
        return m
