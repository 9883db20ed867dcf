"""Wishbone B4 pipelined helpers for amaranth.sim test benches: a RAM model (one request per
cycle, answered the next cycle), shared by the DMA, hash and matrix tests; and single reads and
writes from an initiator (``wb_read``/``wb_write``), for the register-bank blocks' tests.

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


async def wb_access(ctx, bus, adr, *, we=False, data=0, sel=0xF, timeout=20):
    """One Wishbone request from an ``add_testbench`` process: byte address ``adr``. Returns
    ``(ack, err, dat_r, latency)``, latency in cycles from the request being taken to the
    response. Leaves the bus idle."""
    for sig, v in ((bus.cyc, 1), (bus.stb, 1), (bus.adr, adr >> 2), (bus.we, we),
                   (bus.dat_w, data), (bus.sel, sel)):
        ctx.set(sig, v)
    while ctx.get(bus.stall):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.stb, 0)
    for latency in range(1, timeout):
        ack, err = ctx.get(bus.ack), ctx.get(bus.err)
        if ack or err:
            dat = ctx.get(bus.dat_r)
            await ctx.tick()
            ctx.set(bus.cyc, 0)
            return ack, err, dat, latency
        await ctx.tick()
    raise AssertionError(f"no response to {adr:#x} in {timeout} cycles")


async def wb_read(ctx, bus, adr):
    """Read one word; an error response fails the test."""
    ack, err, dat, _ = await wb_access(ctx, bus, adr)
    assert ack and not err, f"read {adr:#x}: bus error"
    return dat


async def wb_write(ctx, bus, adr, data, sel=0xF):
    ack, err, _, _ = await wb_access(ctx, bus, adr, we=True, data=data, sel=sel)
    assert ack and not err, f"write {adr:#x}: bus error"
