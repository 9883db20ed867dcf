"""A Wishbone B4 pipelined RAM model for amaranth.sim test benches (one request per cycle,
answered the next cycle), shared by the DMA, hash and matrix tests.

``load(byte_addr)`` returns the word, or None for a bus error; ``store(byte_addr, data)``
returns False for a bus error. ``stall(cycle)`` (optional) says whether the target stalls in
that cycle; a request counts only if it was presented while not stalled (the sampled STALL).
"""


def wishbone_ram(bus, load, store, *, stall=None, on_request=None):
    """Returns the process to pass to ``Simulator.add_process``."""
    async def process(ctx):
        cycle = 0
        ctx.set(bus.stall, bool(stall and stall(0)))
        async for _clk, _rst, cyc, stb, we, adr, dat, stalled in ctx.tick().sample(
                bus.cyc, bus.stb, bus.we, bus.adr, bus.dat_w, bus.stall):
            cycle += 1
            ctx.set(bus.stall, bool(stall and stall(cycle)))
            ctx.set(bus.ack, 0)
            ctx.set(bus.err, 0)
            if cyc and stb and not stalled:
                if on_request:
                    on_request()
                byte = adr << 2
                if we:
                    ok = store(byte, dat)
                else:
                    word = load(byte)
                    ok = word is not None
                    if ok:
                        ctx.set(bus.dat_r, word)
                ctx.set(bus.ack if ok else bus.err, 1)
    return process
