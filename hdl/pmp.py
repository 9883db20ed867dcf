"""Physical memory protection: N entries (8 by default), OFF/TOR/NA4/NAPOT, R/W/X, lock.

Reference: RISC-V Privileged Architecture 20211203, section 3.7 "Physical Memory Protection".

* ``n_entries`` entries (a multiple of 4, 0–16; 8 by default): ``pmpcfg0``… (four 8-bit fields
  each) and ``pmpaddr0``…; the CSRs of the other entries up to 63 exist and read as zero
  (WARL), as the spec allows. With 0 entries every PMP CSR reads zero and every check passes
  (the core without memory protection: see ``Core(pmp_entries=0)``).
* Granularity 4 bytes (G = 0). Gluon traps misaligned accesses, so every access lies in one
  word and one word-granular check covers it.
* The lowest-numbered matching entry decides. M-mode is checked only against locked entries;
  U-mode needs a matching entry with the permission (no match: denied).
* A locked entry (L) ignores writes to its ``pmpcfg`` field and ``pmpaddr`` until reset, and
  so does ``pmpaddr[i-1]`` when entry *i* is a locked TOR entry.
* R = 0, W = 1 is reserved: such a write stores W = 0.

The checks are pure combinational logic on the access's address: they never add latency to a
permitted access, so the core's timing does not depend on the PMP configuration or on
addresses. The default core acts on a data-side verdict one cycle later (a denied load or
store makes no bus request and traps from ``W``, as a bus error does), which keeps the PMP off
the next-fetch-address path; the pipelined core registers the verdict in parts (``groups``)
and acts on it in ``W``; see docs/core.md and docs/security.md.
"""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out


__all__ = ["PMP", "N_ENTRIES", "PmpCfg"]


N_ENTRIES = 8

OFF, TOR, NA4, NAPOT = range(4)


class PmpCfg(data.Struct):
    r: 1
    w: 1
    x: 1
    a: 2
    _zero: 2
    l: 1


class PMP(wiring.Component):
    """CSR side: ``csr_addr``/``csr_we``/``csr_wdata`` → ``csr_rdata``, ``csr_hit`` (the address
    is a PMP CSR). Check side: instruction port ``i_*`` (execute) and data port ``d_*``
    (read, or write when ``d_write``); ``*_m`` says the access is made with M privilege.

    ``d_sum=True``: the data address comes as its two addends, ``d_base`` + ``d_offset`` (mod
    2**32; the register and the immediate of a load or store), instead of ``d_addr``. The
    verdicts are the same; the TOR comparators compare the sum without waiting for it
    (:func:`_below_sum`), so the check is one carry chain deep after the operands instead of
    two (the address adder, then the comparator).

    ``groups=G`` (the pipelined core, which registers them): the data verdict's priority cut
    in ``G`` groups of consecutive entries, as well as ``d_ok``: ``d_group_hit[g]``, an entry of
    group ``g`` matches; ``d_group_ok[g]``, the lowest-numbered matching entry of the group
    permits the access. ``d_ok`` is the first group with a hit's ``d_group_ok``, else ``d_m``;
    a user that registers the groups' bits picks among them in the next cycle with a few
    inputs instead of the whole priority."""

    def __init__(self, n_entries=N_ENTRIES, *, d_sum=False, groups=0):
        if n_entries % 4 or not 0 <= n_entries <= 16:
            raise ValueError(f"PMP entries must be a multiple of 4 in 0..16, not {n_entries!r}")
        if not isinstance(groups, int) or groups < 0 or groups and n_entries % groups:
            raise ValueError(f"PMP groups must divide the {n_entries} entries, not {groups!r}")
        self.n_entries = n_entries
        self.d_sum = bool(d_sum)
        self.groups = groups
        ports = {
            "csr_addr": In(12), "csr_we": In(1), "csr_wdata": In(32),
            "csr_rdata": Out(32), "csr_hit": Out(1),
            "i_addr": In(32), "i_m": In(1), "i_ok": Out(1),
        }
        ports.update({"d_m": In(1), "d_write": In(1), "d_ok": Out(1)})
        if self.groups:
            ports.update({"d_group_hit": Out(self.groups), "d_group_ok": Out(self.groups)})
        if self.d_sum:
            ports.update({"d_base": In(32), "d_offset": In(32)})
        else:
            ports["d_addr"] = In(32)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        N = self.n_entries
        cfg = [Signal(PmpCfg, name=f"pmpcfg{i}") for i in range(N)]
        addr = [Signal(32, name=f"pmpaddr{i}") for i in range(N)]

        # ---- CSR access
        a = self.csr_addr
        is_cfg = (a[4:] == 0x3A)               # 0x3A0-0x3AF
        is_addr = (a >= 0x3B0) & (a <= 0x3EF)  # 0x3B0-0x3EF
        m.d.comb += self.csr_hit.eq(is_cfg | is_addr)
        with m.Switch(a):
            for reg in range(N // 4):
                with m.Case(0x3A0 + reg):
                    m.d.comb += self.csr_rdata.eq(Cat(*cfg[4 * reg:4 * reg + 4]))
            for i in range(N):
                with m.Case(0x3B0 + i):
                    m.d.comb += self.csr_rdata.eq(addr[i])

        with m.If(self.csr_we):
            for reg in range(N // 4):
                with m.If(a == 0x3A0 + reg):
                    for j in range(4):
                        i = 4 * reg + j
                        new = PmpCfg(self.csr_wdata[8 * j:8 * j + 8])
                        with m.If(~cfg[i].l):
                            m.d.sync += [
                                cfg[i].r.eq(new.r),
                                cfg[i].w.eq(new.w & new.r),
                                cfg[i].x.eq(new.x),
                                cfg[i].a.eq(new.a),
                                cfg[i].l.eq(new.l),
                            ]
            for i in range(N):
                locked = cfg[i].l
                if i + 1 < N:
                    locked = locked | cfg[i + 1].l & (cfg[i + 1].a == TOR)
                with m.If((a == 0x3B0 + i) & ~locked):
                    m.d.sync += addr[i].eq(self.csr_wdata)

        # ---- checks
        # NAPOT mask of each entry, addr ^ (addr + 1) (the trailing ones and the zero above
        # them), shared by both checks.
        masks = []
        for i in range(N):
            mask = Signal(32, name=f"napot_mask{i}")
            m.d.comb += mask.eq(addr[i] ^ (addr[i] + 1))
            masks.append(mask)

        def match(adr, tag, addends=None):
            """Each entry's address match. ``addends``: (base, offset) whose sum is ``adr``,
            for the TOR comparators."""
            w = adr[2:]                                     # word address (30 bits)
            # one comparator per entry: TOR i is [addr[i-1], addr[i]) = below[i] & ~below[i-1]
            if addends is None:
                below = [w < addr[i] for i in range(N)]
            else:
                carry = Signal(name=f"pmp_{tag}_carry")     # the sum wraps around 2**32
                m.d.comb += carry.eq((addends[0] + addends[1])[32])
                below = [_below_sum(m, *addends, carry, addr[i], f"pmp_{tag}_t{i}")
                         for i in range(N)]
            matches = []
            for i in range(N):
                tor = below[i] & (~below[i - 1] if i else C(1, 1))
                na4 = (w == addr[i])
                napot = ((w ^ addr[i]) & ~masks[i]) == 0
                hit = Signal(name=f"pmp_{tag}_hit{i}")
                with m.Switch(cfg[i].a):
                    with m.Case(TOR):
                        m.d.comb += hit.eq(tor)
                    with m.Case(NA4):
                        m.d.comb += hit.eq(na4)
                    with m.Case(NAPOT):
                        m.d.comb += hit.eq(napot)
                matches.append(hit)
            return matches

        def priority(entries, matches, priv_m, need):
            """Over ``entries`` (indices, lowest first): (an entry matches, the lowest-numbered
            matching one permits). need: function cfg -> permission bit."""
            # the lowest-numbered matching entry decides: flat AND-OR, no priority mux chain
            terms = []
            earlier = C(0, 1)
            for i in entries:
                terms.append(matches[i] & ~earlier & (need(cfg[i]) | priv_m & ~cfg[i].l))
                earlier = earlier | matches[i]
            return earlier, Cat(*terms).any()

        def verdict(matches, priv_m, need, tag):
            """need: function cfg -> permission bit. Returns the 'allowed' signal."""
            earlier, permits = priority(range(N), matches, priv_m, need)
            ok = Signal(name=f"pmp_{tag}_ok")
            # no match: M yes; U no, unless no entry is implemented (spec 3.7.1)
            m.d.comb += ok.eq(permits | ~earlier & priv_m if N else 1)
            return ok

        if self.d_sum:
            d_addr = Signal(32)
            m.d.comb += d_addr.eq(self.d_base + self.d_offset)
            addends = (self.d_base, self.d_offset)
        else:
            d_addr, addends = self.d_addr, None
        m.d.comb += self.i_ok.eq(verdict(match(self.i_addr, "i"), self.i_m, lambda c: c.x, "i"))
        d_matches = match(d_addr, "d", addends)
        d_need = lambda c: Mux(self.d_write, c.w, c.r)
        m.d.comb += self.d_ok.eq(verdict(d_matches, self.d_m, d_need, "d"))
        # the verdict's priority cut in groups of consecutive entries, for a user that registers
        # them: per group, an entry matches, and the lowest-numbered matching one permits
        size = N // self.groups if self.groups else 0
        for g in range(self.groups):
            hit, permits = priority(range(g * size, (g + 1) * size), d_matches, self.d_m, d_need)
            m.d.comb += [self.d_group_hit[g].eq(hit), self.d_group_ok[g].eq(permits)]
        return m


def _below_sum(m, a, b, carry, bound, name):
    """``((a + b) mod 2**32) >> 2 < bound`` (``bound`` a pmpaddr: bits 33:2 of an address),
    without the sum: t = a + b - 4 * bound in 35 bits (two's complement, no overflow), from a
    carry-save step (a ^ b ^ n and the majority carries, n = ~(4 * bound)) and one adder.
    Without wrap-around (``carry``, a + b's bit 32, clear) the address is below iff t < 0;
    with it the address is a + b - 2**32, below iff t < 2**32."""
    A = Cat(a, C(0, 3))
    B = Cat(b, C(0, 3))
    n = Signal(35, name=f"{name}_n")
    m.d.comb += n.eq(~Cat(C(0, 2), bound, C(0, 1)))
    s = A ^ B ^ n
    c = Cat(C(1, 1), ((A & B) | (A & n) | (B & n))[:34])   # shifted left; bit 0: the + 1
    t = Signal(35, name=name)
    m.d.comb += t.eq(s + c)
    return Mux(carry, t[34] | ~t[32:34].any(), t[34])
