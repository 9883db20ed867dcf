"""On-chip RAM: one block-RAM array with three ports.

* ``fetch``: the core's instruction port, a synchronous read port (one instruction per cycle);
* ``cbus``: the core's data port (Wishbone B4 pipelined target), never stalls;
* ``dbus``: the DMA port (Wishbone B4 pipelined target), shares the array's second port with
  ``cbus`` and **always loses**: it is stalled in every cycle the core makes a request, so the
  core's load/store latency (one cycle) never depends on DMA traffic; DMA uses free cycles.

Both data ports answer exactly one cycle after a request is taken.
"""

from amaranth import *
from amaranth.lib import wiring, memory
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, FetchSignature


__all__ = ["RAM"]


class RAM(wiring.Component):
    def __init__(self, *, size, init=()):
        if size < 4 or size & (size - 1):
            raise ValueError(f"RAM size must be a power of two, not {size!r}")
        self.size = size
        self.init = list(init)
        if len(self.init) > size // 4:
            raise ValueError(f"RAM init has {len(self.init)} words, the RAM holds {size // 4}")
        aw = (size // 4 - 1).bit_length()
        super().__init__({
            "fetch": In(FetchSignature()),
            "cbus": In(WishboneSignature(addr_width=aw)),
            "dbus": In(WishboneSignature(addr_width=aw)),
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
