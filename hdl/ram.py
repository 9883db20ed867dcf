"""On-chip RAM: one block-RAM array with three ports.

* ``fetch``: the core's instruction port, a synchronous read port (one instruction per cycle);
* ``cbus``: the core's data port (Wishbone B4 pipelined target), never stalls;
* ``dbus``: the DMA port (Wishbone B4 pipelined target), shares the array's second port with
  ``cbus`` and **always loses**: it is stalled in every cycle the core makes a request, so the
  core's load/store latency (one cycle) never depends on DMA traffic; DMA uses free cycles.

Both data ports answer exactly one cycle after a request is taken.

``write_buffer=True`` (the pipelined core's SoC): a ``cbus`` write is taken into registers
(address, data, byte enables) and written to the array in the next cycle, so the array's write
enables come from flip-flops instead of from the core's request (its PMP verdict, computed in
the same cycle, gated the write enables across the die). The answer still comes one cycle
after the request. In the cycle the buffered write is made the shared port cannot also read:
the core never reads ``cbus`` in the cycle after a write (it waits a cycle for a load right
behind a store, whatever their addresses), and the DMA port is stalled then.

``claim=True`` (with ``write_buffer``; the pipelined SoCs): the shared port's owner comes from
registers. The input ``claim`` says that the core side may make a request in this cycle (the
pipelined core drives it from a flip-flop: its ``X`` stage holds a load or store,
``Core.dbus_claim``); it must be high in every cycle ``cbus`` makes a request. The port then
serves, in order: a buffered core write; the core's address (``cbus.adr``, requesting or not)
while ``claim`` is high; the DMA side otherwise. Every select of the address, data and write
enable multiplexers is ``claim`` or the buffer's valid bit, so the core's request (its PMP
verdict, the decoder's strobe) ends at the write buffer's and the acknowledge's flip-flops
instead of selecting the address of every block RAM of the array, and the DMA side's request
only gates its own write enables. The DMA side waits in every claimed cycle, also when the
core's load or store then goes elsewhere (MMIO), is refused, or waits in ``X``.

With ``claim`` the input ``cancel`` drops the buffered write: the pipelined core makes its
request from ``X`` before its PMP verdict is known and raises ``cancel`` in the next cycle (the
cycle the buffer writes the array) when ``W`` refuses that access. The array's write enables
are then the buffer's byte enables gated by ``cancel``: flip-flops and the core's ``W``
verdict (its match flip-flops and the entries' priority), nothing from ``X``. A refused load
reads the array (reads have no side effect); its data reach ``cbus.dat_r`` and the core drops
them (docs/security.md). ``cancel`` must be low in every cycle that does not follow a core
request taken on ``cbus``.
"""

from amaranth import *
from amaranth.lib import wiring, memory
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, FetchSignature


__all__ = ["RAM"]


class RAM(wiring.Component):
    def __init__(self, *, size, init=(), write_buffer=False, claim=False):
        if size < 4 or size & (size - 1):
            raise ValueError(f"RAM size must be a power of two, not {size!r}")
        if claim and not write_buffer:
            raise ValueError("RAM claim=True needs write_buffer=True (a core write's enables "
                             "would otherwise still come from its request)")
        self.size = size
        self.write_buffer = bool(write_buffer)
        self.claim_port = bool(claim)
        self.init = list(init)
        if len(self.init) > size // 4:
            raise ValueError(f"RAM init has {len(self.init)} words, the RAM holds {size // 4}")
        aw = (size // 4 - 1).bit_length()
        ports = {"claim": In(1), "cancel": In(1)} if self.claim_port else {}
        super().__init__({
            "fetch": In(FetchSignature()),
            "cbus": In(WishboneSignature(addr_width=aw)),
            "dbus": In(WishboneSignature(addr_width=aw)),
            **ports,
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.size // 4
        m.submodules.mem = mem = memory.Memory(shape=32, depth=depth, init=self.init)
        fport = mem.read_port()
        rport = mem.read_port(transparent_for=())
        wport = mem.write_port(granularity=8)

        aw = (depth - 1).bit_length()
        m.d.comb += [fport.addr.eq(self.fetch.adr[:aw]), fport.en.eq(self.fetch.en),
                     self.fetch.data.eq(fport.data)]

        if self.write_buffer:
            return self._elaborate_write_buffer(m, rport, wport)
        c, d = self.cbus, self.dbus
        c_req = c.cyc & c.stb
        d_req = d.cyc & d.stb & ~c_req
        m.d.comb += [c.stall.eq(0), d.stall.eq(c_req)]
        # The port's address and data follow the DMA side only while it makes a request (the
        # core's side otherwise, requesting or not), so without a DMA initiator (d_req constant
        # 0) they come straight from the core's registers, not through the decoder's strobe.
        with m.If(d_req):
            m.d.comb += [rport.addr.eq(d.adr), wport.addr.eq(d.adr), wport.data.eq(d.dat_w),
                         wport.en.eq(Mux(d.we, d.sel, 0))]
        with m.Else():
            m.d.comb += [rport.addr.eq(c.adr), wport.addr.eq(c.adr), wport.data.eq(c.dat_w),
                         wport.en.eq(Mux(c_req & c.we, c.sel, 0))]
        m.d.sync += [c.ack.eq(c_req), d.ack.eq(d_req)]
        m.d.comb += [c.dat_r.eq(rport.data), d.dat_r.eq(rport.data)]
        return m

    def _elaborate_write_buffer(self, m, rport, wport):
        c, d = self.cbus, self.dbus
        c_req = c.cyc & c.stb
        b_valid = Signal()                         # a core write waits in the buffer
        b_adr = Signal.like(wport.addr)
        b_dat = Signal(32)
        b_sel = Signal(4)
        m.d.sync += [b_valid.eq(c_req & c.we), b_adr.eq(c.adr), b_dat.eq(c.dat_w),
                     b_sel.eq(c.sel)]
        if self.claim_port:
            return self._elaborate_claim(m, rport, wport, b_valid, b_adr, b_dat, b_sel)
        # DMA: only in cycles the core neither requests nor has a write in the buffer; its
        # writes go straight to the array (the buffer is empty then). The read and the write
        # port share one address (one port of the block RAM): the buffered write's while it
        # is made (the core reads nothing then), else the requesting side's.
        d_req = d.cyc & d.stb & ~c_req & ~b_valid
        m.d.comb += [c.stall.eq(0), d.stall.eq(c_req | b_valid)]
        with m.If(d_req):
            m.d.comb += [rport.addr.eq(d.adr), wport.addr.eq(d.adr), wport.data.eq(d.dat_w),
                         wport.en.eq(Mux(d.we, d.sel, 0))]
        with m.Elif(b_valid):
            m.d.comb += [rport.addr.eq(b_adr), wport.addr.eq(b_adr), wport.data.eq(b_dat),
                         wport.en.eq(b_sel)]
        with m.Else():
            m.d.comb += [rport.addr.eq(c.adr), wport.addr.eq(c.adr)]
        m.d.sync += [c.ack.eq(c_req), d.ack.eq(d_req)]
        m.d.comb += [c.dat_r.eq(rport.data), d.dat_r.eq(rport.data)]
        return m

    def _elaborate_claim(self, m, rport, wport, b_valid, b_adr, b_dat, b_sel):
        # The owner from registers (the class docstring): the buffered write, else the core
        # while it claims the port, else the DMA side.
        c, d = self.cbus, self.dbus
        c_req = c.cyc & c.stb
        d_own = Signal()
        m.d.comb += d_own.eq(~self.claim & ~b_valid)
        d_req = d.cyc & d.stb & d_own
        m.d.comb += [c.stall.eq(0), d.stall.eq(~d_own)]
        with m.If(b_valid):
            m.d.comb += [rport.addr.eq(b_adr), wport.addr.eq(b_adr), wport.data.eq(b_dat),
                         wport.en.eq(Mux(self.cancel, 0, b_sel))]
        with m.Elif(self.claim):
            m.d.comb += [rport.addr.eq(c.adr), wport.addr.eq(c.adr)]
        with m.Else():
            m.d.comb += [rport.addr.eq(d.adr), wport.addr.eq(d.adr), wport.data.eq(d.dat_w),
                         wport.en.eq(Mux(d.cyc & d.stb & d.we, d.sel, 0))]
        m.d.sync += [c.ack.eq(c_req), d.ack.eq(d_req)]
        m.d.comb += [c.dat_r.eq(rport.data), d.dat_r.eq(rport.data)]
        return m
