"""Physical memory protection: 8 entries, OFF/TOR/NA4/NAPOT, R/W/X, lock.

Reference: RISC-V Privileged Architecture 20211203, section 3.7 "Physical Memory Protection".

* 8 entries: ``pmpcfg0``–``pmpcfg1`` (four 8-bit fields each) and ``pmpaddr0``–``pmpaddr7``;
  the CSRs of entries 8–63 exist and read as zero (WARL), as the spec allows.
* Granularity 4 bytes (G = 0). Gluon traps misaligned accesses, so every access lies in one
  word and one word-granular check covers it.
* The lowest-numbered matching entry decides. M-mode is checked only against locked entries;
  U-mode needs a matching entry with the permission (no match: denied).
* A locked entry (L) ignores writes to its ``pmpcfg`` field and ``pmpaddr`` until reset, and
  so does ``pmpaddr[i-1]`` when entry *i* is a locked TOR entry.
* R = 0, W = 1 is reserved: such a write stores W = 0.

The checks are pure combinational logic in parallel with the access: they never add latency,
so the core's timing does not depend on the PMP configuration or on addresses.
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
    (read, or write when ``d_write``); ``*_m`` says the access is made with M privilege."""

    csr_addr:  In(12)
    csr_we:    In(1)
    csr_wdata: In(32)
    csr_rdata: Out(32)
    csr_hit:   Out(1)
    i_addr:    In(32)
    i_m:       In(1)
    i_ok:      Out(1)
    d_addr:    In(32)
    d_m:       In(1)
    d_write:   In(1)
    d_ok:      Out(1)

    def elaborate(self, platform):
        m = Module()
        cfg = [Signal(PmpCfg, name=f"pmpcfg{i}") for i in range(N_ENTRIES)]
        addr = [Signal(32, name=f"pmpaddr{i}") for i in range(N_ENTRIES)]

        # ---- CSR access
        a = self.csr_addr
        is_cfg = (a[4:] == 0x3A)               # 0x3A0-0x3AF
        is_addr = (a >= 0x3B0) & (a <= 0x3EF)  # 0x3B0-0x3EF
        m.d.comb += self.csr_hit.eq(is_cfg | is_addr)
        with m.Switch(a):
            for reg in range(N_ENTRIES // 4):
                with m.Case(0x3A0 + reg):
                    m.d.comb += self.csr_rdata.eq(Cat(*cfg[4 * reg:4 * reg + 4]))
            for i in range(N_ENTRIES):
                with m.Case(0x3B0 + i):
                    m.d.comb += self.csr_rdata.eq(addr[i])

        with m.If(self.csr_we):
            for reg in range(N_ENTRIES // 4):
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
            for i in range(N_ENTRIES):
                locked = cfg[i].l
                if i + 1 < N_ENTRIES:
                    locked = locked | cfg[i + 1].l & (cfg[i + 1].a == TOR)
                with m.If((a == 0x3B0 + i) & ~locked):
                    m.d.sync += addr[i].eq(self.csr_wdata)

        # ---- checks
        def check(adr, priv_m, need):
            """need: function cfg -> permission bit. Returns the 'allowed' signal."""
            w = adr[2:]                                     # word address (30 bits)
            matches = []
            for i in range(N_ENTRIES):
                lo = addr[i - 1] if i else C(0, 32)
                tor = (w >= lo) & (w < addr[i])
                na4 = (w == addr[i])
                mask = Signal(32, name=f"napot_mask{i}_{id(adr) % 1000}")
                m.d.comb += mask.eq(addr[i] ^ (addr[i] + 1))
                napot = ((w ^ addr[i]) & ~mask) == 0
                hit = Signal(name=f"pmp_hit{i}_{id(adr) % 1000}")
                with m.Switch(cfg[i].a):
                    with m.Case(TOR):
                        m.d.comb += hit.eq(tor)
                    with m.Case(NA4):
                        m.d.comb += hit.eq(na4)
                    with m.Case(NAPOT):
                        m.d.comb += hit.eq(napot)
                matches.append(hit)
            ok = Signal()
            m.d.comb += ok.eq(priv_m)                       # no match: M yes, U no
            for i in reversed(range(N_ENTRIES)):            # lowest index wins (last If)
                with m.If(matches[i]):
                    m.d.comb += ok.eq(need(cfg[i]) | priv_m & ~cfg[i].l)
            return ok

        m.d.comb += [
            self.i_ok.eq(check(self.i_addr, self.i_m, lambda c: c.x)),
            self.d_ok.eq(check(self.d_addr, self.d_m,
                               lambda c: Mux(self.d_write, c.w, c.r))),
        ]
        return m
