"""Gluon's bus layer: Wishbone B4 *pipelined* signatures, an address decoder and an arbiter.

Reference: Wishbone B4 specification (OpenCores, 2010), chapter 5 "Pipelined" mode.

Protocol as used everywhere in Gluon (32-bit data, 8-bit granularity):

* a request is *transferred* in a cycle where ``cyc & stb & ~stall``;
* every transferred request gets exactly one response (``ack`` or ``err``) in a later cycle,
  responses come back in request order; ``dat_r`` is valid with ``ack``;
* an initiator keeps ``cyc`` high while it has requests outstanding;
* ``adr`` is a *word* address (byte address >> 2); ``sel`` holds the byte enables.

The project does not use amaranth-soc (PyPI only carries a placeholder), so this is a small
layer written in its spirit: a :class:`Signature` per bus, a :class:`Decoder` that rejects
overlapping windows and answers unmapped addresses with a bus error, an :class:`Arbiter`, and
a :class:`RequestRegister` (a target's request from flip-flops, with per-initiator drop).
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["FetchSignature", "WishboneSignature", "Decoder", "Arbiter", "ErrorTarget", "Window",
           "RequestRegister"]


class FetchSignature(wiring.Signature):
    """The core's instruction port, seen from the core: a synchronous read port of RAM.

    ``adr``  Out(30) word address of the next instruction, presented in the cycle before it
             executes; ``en`` Out(1) read enable (low: the port keeps its output);
    ``data`` In(32) the instruction at the address presented in the previous enabled cycle.
    """

    def __init__(self):
        super().__init__({"adr": Out(30), "en": Out(1), "data": In(32)})


class WishboneSignature(wiring.Signature):
    """Wishbone B4 pipelined bus, seen from the initiator.

    Members (Wishbone names of the initiator in brackets):

    ``cyc``   Out(1)           [CYC_O]   a bus cycle is in progress
    ``stb``   Out(1)           [STB_O]   a request is presented this cycle
    ``we``    Out(1)           [WE_O]    the request is a write
    ``adr``   Out(addr_width)  [ADR_O]   word address
    ``dat_w`` Out(32)          [DAT_O]   write data
    ``sel``   Out(4)           [SEL_O]   byte enables (bit *i* covers ``dat[8*i+7:8*i]``)
    ``dat_r`` In(32)           [DAT_I]   read data, valid with ``ack``
    ``ack``   In(1)            [ACK_I]   normal end of one request
    ``err``   In(1)            [ERR_I]   erroneous end of one request (unmapped, refused)
    ``stall`` In(1)            [STALL_I] the target cannot take a request this cycle
    """

    def __init__(self, *, addr_width=30):
        if not isinstance(addr_width, int) or not 0 <= addr_width <= 30:
            raise TypeError(f"addr_width must be an integer in 0..30, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "cyc":   Out(1),
            "stb":   Out(1),
            "we":    Out(1),
            "adr":   Out(addr_width),
            "dat_w": Out(32),
            "sel":   Out(4),
            "dat_r": In(32),
            "ack":   In(1),
            "err":   In(1),
            "stall": In(1),
        })

    def __eq__(self, other):
        return isinstance(other, WishboneSignature) and self.addr_width == other.addr_width

    def __repr__(self):
        return f"WishboneSignature(addr_width={self.addr_width})"


class Window:
    """One decoded address window: ``name`` at byte address ``base``, ``size`` bytes."""

    def __init__(self, name, base, size, bus, info=None, registered=False):
        self.name, self.base, self.size, self.bus, self.info = name, base, size, bus, info
        self.registered = registered

    @property
    def end(self):
        return self.base + self.size

    def __repr__(self):
        return f"Window({self.name!r}, base={self.base:#010x}, size={self.size:#x})"


class ErrorTarget(wiring.Component):
    """A target that answers every request with ``err`` one cycle later. Never stalls."""

    bus: In(WishboneSignature(addr_width=0))

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.bus.err.eq(self.bus.cyc & self.bus.stb)
        return m


class Decoder(wiring.Component):
    """Routes one initiator to several targets by address.

    Windows are added with :meth:`add` before elaboration; each is a power of two in size and
    aligned to its size. A target whose bus is narrower than its window decodes only the
    low part; the rest of the window answers with a bus error. Overlapping windows raise :class:`ValueError` when added. A request to
    an address no window covers is answered with ``err`` (the core turns it into an access
    fault); it never hangs.

    Requests may be pipelined to one target; a request to a *different* target than the one
    with responses outstanding is stalled until those responses are back, so responses can
    never be reordered.

    A window added with ``registered=True`` gets its requests one cycle late, from registers
    (one copy of address, data, byte enables and direction shared by all such windows): the
    decoder's address compare and stall logic then end at flip-flops instead of running on
    into the target's own decode and write enables. It costs every access to that window one
    cycle, always the same. Only for targets that never stall (register banks): the request
    has already been taken from the initiator when the target sees it.

    ``single_request=True``: for an initiator that never presents a request while a response
    is outstanding, except in the cycle that response comes back (both cores' data ports:
    ``tests/formal/miters.py``, ``CoreBusCheck``, "no request while unanswered"). Responses
    can then never be reordered, so the decoder has no ordering logic: its ``stall`` is only
    the addressed target's, not a function of the window hit and the pending responses, and
    for targets that never stall it is the constant 0 (the initiator's address no longer
    reaches its own progress decision through the decoder). Same cycles as without it for
    such an initiator.

    ``cancel=True`` adds an input ``cancel``: high in the cycle after a request was taken for a
    registered window, it drops that request at the decoder's register (the target never sees
    it, and no response is expected). The pipelined core's SoC uses it to make MMIO requests
    only once the core's ``W`` stage has judged them (docs/security.md). ``cancel`` must be low
    in every cycle that does not follow a request taken from the initiator.
    """

    def __init__(self, *, addr_width=30, max_outstanding=7, single_request=False, cancel=False):
        self._windows = []
        self._max_outstanding = 1 if single_request else max_outstanding
        self._single = bool(single_request)
        self._cancel = bool(cancel)
        ports = {"bus": In(WishboneSignature(addr_width=addr_width))}
        if self._cancel:
            ports["cancel"] = In(1)
        super().__init__(ports)

    @property
    def windows(self):
        return list(self._windows)

    def add(self, bus, *, name, base, size, info=None, registered=False):
        """Map target interface ``bus`` (a flipped-side :class:`WishboneSignature` interface)
        at byte address ``base``, ``size`` bytes; ``registered``: see the class. Returns the
        :class:`Window`."""
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Window name must be an identifier, not {name!r}")
        if size < 4 or size & (size - 1):
            raise ValueError(f"Window {name!r}: size {size:#x} is not a power of two >= 4")
        if base % size:
            raise ValueError(f"Window {name!r}: base {base:#010x} is not aligned to its size {size:#x}")
        if base + size > 1 << (self.bus.signature.addr_width + 2):
            raise ValueError(f"Window {name!r} lies outside the decoder's address space")
        need = (size // 4 - 1).bit_length()
        if bus.signature.addr_width > need:
            raise ValueError(f"Window {name!r}: target bus has {bus.signature.addr_width} address "
                             f"bits, more than the window's {need}")
        for w in self._windows:
            if w.name == name:
                raise ValueError(f"Window name {name!r} is used twice")
            if base < w.end and w.base < base + size:
                raise ValueError(f"Window {name!r} [{base:#010x}, {base + size:#010x}) overlaps "
                                 f"{w.name!r} [{w.base:#010x}, {w.end:#010x})")
        win = Window(name, base, size, bus, info, registered)
        self._windows.append(win)
        return win

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        n = len(self._windows)

        m.submodules.unmapped = unmapped = ErrorTarget()
        targets = [w.bus for w in self._windows] + [unmapped.bus]

        # Which target this request addresses, one-hot (the windows do not overlap); the last
        # bit: no window (unmapped). One-hot throughout, so the target selection, the
        # "same target as the pending responses" test and the response multiplexer are each
        # an AND-OR of a few LUTs, not a chain of comparisons and 2:1 multiplexers.
        hits = []
        for i, w in enumerate(self._windows):
            # A target narrower than its window sees only the low address bits; the offsets
            # above its range are unmapped (bus error), not aliases.
            bits = w.bus.signature.addr_width
            h = Signal(name=f"hit_{w.name}")
            m.d.comb += h.eq((bus.adr >> bits) == (w.base >> (bits + 2)))
            hits.append(h)
        hit = Signal(n + 1)
        m.d.comb += hit.eq(Cat(*hits, ~Cat(*hits).any()) if n else 1)

        outstanding = Signal(range(self._max_outstanding + 1))
        resp_sel = Signal(n + 1, init=1 << n)          # one-hot: target whose responses are pending
        done = Signal()
        # Responses still pending after this cycle's (if any): a request to another target may
        # go out in the very cycle the last response of the previous one comes back.
        pending = Signal()
        if not self._single:
            m.d.comb += pending.eq((outstanding != 0) & ~((outstanding == 1) & done))
        full = Signal()
        if self._single:
            # the initiator never asks while a response is pending (class docstring)
            m.d.comb += [pending.eq(0), full.eq(0)]
        else:
            m.d.comb += full.eq(outstanding == self._max_outstanding)
        blocked = pending & ~(hit & resp_sel).any() | full

        stalls, acks, errs, dats, taken, dropped = [], [], [], [], [], []
        regd = [w.registered for w in self._windows] + [False]
        if any(regd):
            aw = max(t.signature.addr_width for t, r in zip(targets, regd) if r)
            r_adr, r_dat_w = Signal(aw), Signal(32)
            r_sel, r_we = Signal(4), Signal()
            m.d.sync += [r_adr.eq(bus.adr[:aw]), r_dat_w.eq(bus.dat_w), r_sel.eq(bus.sel),
                         r_we.eq(bus.we)]
        for i, t in enumerate(targets):
            cyc = bus.cyc & (hit[i] | resp_sel[i] & (outstanding != 0))
            # = bus.cyc & bus.stb & hit[i] & ~blocked, written with what hit[i] implies (the
            # same target as the pending responses iff resp_sel[i]) so that a target's strobe
            # does not wait for every other window's address compare
            stb = bus.cyc & bus.stb & hit[i] & (~pending | resp_sel[i]) & ~full
            if regd[i]:
                r_cyc = Signal(name=f"r_cyc_{i}")
                r_stb = Signal(name=f"r_stb_{i}")
                m.d.sync += [r_cyc.eq(cyc), r_stb.eq(stb)]
                if self._cancel:
                    dropped.append(r_stb & self.cancel)
                    r_cyc = r_cyc & ~self.cancel
                    r_stb = r_stb & ~self.cancel
                m.d.comb += [
                    t.adr.eq(r_adr),
                    t.dat_w.eq(r_dat_w),
                    t.sel.eq(r_sel),
                    t.we.eq(r_we),
                    t.cyc.eq(r_cyc | r_stb),
                    t.stb.eq(r_stb),
                ]
                taken.append(stb)                       # never stalls
            else:
                m.d.comb += [
                    t.adr.eq(bus.adr),
                    t.dat_w.eq(bus.dat_w),
                    t.sel.eq(bus.sel),
                    t.we.eq(bus.we),
                    t.cyc.eq(cyc),
                    t.stb.eq(stb),
                ]
                stalls.append(hit[i] & t.stall)
                taken.append(stb & ~t.stall)
            acks.append(resp_sel[i] & t.ack)
            errs.append(resp_sel[i] & t.err)
            dats.append(t.dat_r & resp_sel[i].replicate(32))
        m.d.comb += [
            bus.ack.eq(Cat(*acks).any()),
            bus.err.eq(Cat(*errs).any()),
            bus.dat_r.eq(_or(dats)),
            done.eq(bus.ack | bus.err),
            bus.stall.eq(blocked | Cat(*stalls).any()),
        ]

        # the request is taken (= bus.cyc & bus.stb & ~bus.stall), per target: one-hot
        taken_v = Cat(*taken)
        issued = taken_v.any()
        if dropped:
            # a dropped request gets no response
            m.d.sync += outstanding.eq(outstanding + issued - done - Cat(*dropped).any())
        else:
            m.d.sync += outstanding.eq(outstanding + issued - done)
        with m.If(issued):
            m.d.sync += resp_sel.eq(taken_v)
        return m


def _or(values):
    """Bitwise OR of a list of values, as a balanced tree."""
    while len(values) > 1:
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


class Arbiter(wiring.Component):
    """Shares one target bus between several initiators, fixed priority (index 0 first).

    The grant moves only when the granted initiator has dropped ``cyc`` and has no responses
    outstanding, so a burst is never split and responses reach the initiator that asked.
    """

    def __init__(self, *, addr_width=30, n):
        if n < 1:
            raise ValueError("An arbiter needs at least one initiator")
        self._n = n
        super().__init__({
            "initiators": In(WishboneSignature(addr_width=addr_width)).array(n),
            "bus": Out(WishboneSignature(addr_width=addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._n
        grant = Signal(range(n))
        outstanding = Signal(4)
        busy = Signal()

        issued = self.bus.cyc & self.bus.stb & ~self.bus.stall
        done = self.bus.ack | self.bus.err
        m.d.sync += outstanding.eq(outstanding + issued - done)

        cur_cyc = Signal()
        for i in range(n):
            with m.If(grant == i):
                m.d.comb += cur_cyc.eq(self.initiators[i].cyc)
        m.d.comb += busy.eq(cur_cyc | (outstanding != 0))
        with m.If(~busy):
            for i in reversed(range(n)):
                with m.If(self.initiators[i].cyc):
                    m.d.sync += grant.eq(i)

        for i, ini in enumerate(self.initiators):
            with m.If(grant == i):
                m.d.comb += [
                    self.bus.cyc.eq(ini.cyc),
                    self.bus.stb.eq(ini.stb),
                    self.bus.we.eq(ini.we),
                    self.bus.adr.eq(ini.adr),
                    self.bus.dat_w.eq(ini.dat_w),
                    self.bus.sel.eq(ini.sel),
                    ini.ack.eq(self.bus.ack),
                    ini.err.eq(self.bus.err),
                    ini.stall.eq(self.bus.stall),
                ]
            with m.Else():
                m.d.comb += ini.stall.eq(1)
            m.d.comb += ini.dat_r.eq(self.bus.dat_r)
        return m


class RequestRegister(wiring.Component):
    """One request register between an initiator side (``bus``) and a target (``out``) that
    answers every request exactly one cycle after taking it (RAM's DMA port, hdl/ram.py).

    The target's address, data, byte enables, direction and strobe all come from flip-flops:
    a request taken on ``bus`` in cycle *t* is presented on ``out`` from *t* + 1 and answered
    from *t* + 2 if ``out`` takes it at once (one cycle more than without the register, always
    the same). ``bus.stall`` is ``out.stall`` while a request is held, so a stalled request
    waits here and the next one waits upstream: one request per cycle while ``out`` does not
    stall. Responses pass straight through (``ack``, ``err``, ``dat_r``), in order.

    ``tag`` (``tags`` bits, one-hot or zero) says which initiator the request taken in this
    cycle comes from; it is stored with the request. ``drop`` (``tags`` bits): a held request
    whose tag bit is high in ``drop`` is never presented to ``out``; it is answered with
    ``err`` in the next cycle (the cycle the target would have answered it, so responses stay
    in order: the target takes nothing in the cycle of a drop). The SoC drops a DMA engine's
    beat when the engine is revoked or wiped (docs/coprocessor-contract.md, "Revocation").
    """

    def __init__(self, *, addr_width=30, tags=1):
        if not isinstance(tags, int) or tags < 1:
            raise TypeError(f"tags must be a positive integer, not {tags!r}")
        self._tags = tags
        super().__init__({
            "bus": In(WishboneSignature(addr_width=addr_width)),
            "out": Out(WishboneSignature(addr_width=addr_width)),
            "tag": In(tags),
            "drop": In(tags),
        })

    def elaborate(self, platform):
        m = Module()
        bus, out = self.bus, self.out
        valid = Signal()                    # a request is held
        r_tag = Signal(self._tags)
        dropping = Signal()
        dropped = Signal()                  # a request was dropped last cycle: answer it
        pending = Signal()                  # ``out`` took a request last cycle (answers now)
        m.d.comb += [
            dropping.eq(valid & (r_tag & self.drop).any()),
            out.stb.eq(valid & ~dropping),
            out.cyc.eq(valid & ~dropping | pending),
            bus.stall.eq(valid & out.stall),
            bus.ack.eq(out.ack),
            bus.err.eq(out.err | dropped),
            bus.dat_r.eq(out.dat_r),
        ]
        taken_out = out.stb & ~out.stall
        take = bus.cyc & bus.stb & ~bus.stall
        m.d.sync += [pending.eq(taken_out), dropped.eq(dropping)]
        with m.If(take):
            m.d.sync += [valid.eq(1), r_tag.eq(self.tag), out.adr.eq(bus.adr),
                         out.dat_w.eq(bus.dat_w), out.sel.eq(bus.sel), out.we.eq(bus.we)]
        with m.Elif(taken_out | dropping):
            m.d.sync += valid.eq(0)
        return m
