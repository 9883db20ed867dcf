"""The matrix engine's int32 accumulators: one row (P values) per accumulator entry, in two
banks when more than one group of rows fits (groups alternate between them, so the store reads
one bank while the array updates the other)."""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


__all__ = ["Accumulators"]


class Accumulators(wiring.Component):
    """Adds the array's column sums into the accumulators, one row (P int32) per cycle.

    ``latency`` and ``sum_width`` are the array's. ``meta`` (:meth:`~.geometry.Geometry.meta`) describes the row read for the array in this
    cycle: it travels beside the array for ``latency + 1`` cycles, to
    meet that row's ``sums``. Then the entry is read, added to (or, with ``first``,
    overwritten by) the sums and written back; an entry is revisited only a slot (2P cycles)
    later, long after its write. ``final`` pulses when the last row of a group is written.

    ``rd_addr``/``rd_data``: the store's read port, one bank each in ``rd_data`` (data one
    cycle after the address); the update's reads take the port in the cycles they need it,
    and they never need the bank the store reads.

    ``wipe``: write zero at ``wipe_addr`` (modulo the bank depth) into every bank, overriding
    the update (the engine holds it only while idle).
    """

    def __init__(self, geo, *, latency, sum_width):
        self._geo = geo
        self._latency = latency
        self.banks = 2 if geo.two_banks else 1
        super().__init__({
            "meta": In(geo.meta),
            "sums": In(data.ArrayLayout(signed(sum_width), geo.P)),
            "final": Out(1),
            "rd_addr": In(range(geo.bank_rows * geo.b_epr)),
            "rd_data": Out(data.ArrayLayout(32 * geo.P, self.banks)),
            "wipe": In(1),
            "wipe_addr": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        geo, P = self._geo, self._geo.P
        acc_w, acc_r = [], []
        for bk in range(self.banks):
            mem = Memory(shape=32 * P, depth=geo.bank_rows * geo.b_epr, init=[])
            m.submodules[f"bank{bk}"] = mem
            acc_w.append(mem.write_port())
            acc_r.append(mem.read_port())

        meta = self.meta
        for d in range(self._latency + 1):
            meta_d = Signal(geo.meta, name=f"meta_{d}")
            m.d.sync += meta_d.valid.eq(meta.valid)
            with m.If(meta.valid):              # (the rest only matters when valid)
                m.d.sync += [meta_d.first.eq(meta.first), meta_d.final.eq(meta.final),
                             meta_d.bank.eq(meta.bank), meta_d.addr.eq(meta.addr)]
            meta = meta_d

        for bk, rp in enumerate(acc_r):
            # The array's bank and the store's bank never coincide.
            with m.If(meta.valid & (meta.bank == bk)):
                m.d.comb += rp.addr.eq(meta.addr)
            with m.Else():
                m.d.comb += rp.addr.eq(self.rd_addr)
            m.d.comb += self.rd_data[bk].eq(rp.data)

        sums_d = Signal.like(self.sums)
        rmw = Signal(geo.meta)
        m.d.sync += rmw.valid.eq(meta.valid)
        with m.If(meta.valid):
            m.d.sync += [sums_d.eq(self.sums), rmw.first.eq(meta.first),
                         rmw.final.eq(meta.final), rmw.bank.eq(meta.bank),
                         rmw.addr.eq(meta.addr)]
        rmw_old = Mux(rmw.bank, acc_r[-1].data, acc_r[0].data)
        rmw_data = Signal(32 * P)
        with m.If(rmw.valid):
            new = []
            for j in range(P):
                old = rmw_old[32 * j:32 * j + 32].as_signed()
                new.append((Mux(rmw.first, 0, old) + sums_d[j])[:32])
            m.d.comb += rmw_data.eq(Cat(new))
        for bk, wp in enumerate(acc_w):
            m.d.comb += [
                wp.addr.eq(rmw.addr),
                wp.data.eq(rmw_data),
                wp.en.eq(rmw.valid & (rmw.bank == bk)),
            ]
            with m.If(self.wipe):
                m.d.comb += [wp.addr.eq(self.wipe_addr[:len(wp.addr)]), wp.data.eq(0),
                             wp.en.eq(1)]
        m.d.comb += self.final.eq(rmw.valid & rmw.final)
        return m
