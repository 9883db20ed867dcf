"""The pipelined core's CSR file and trap state (Zicsr; machine and user mode).

Reference: The RISC-V Instruction Set Manual, Volume II: Privileged Architecture (20211203):
mstatus (3.1.6), mtvec (3.1.7, direct mode), mip/mie (3.1.9), the counters (3.1.10-11),
mcounteren (3.1.11), mscratch/mepc/mcause/mtval (3.1.14-17); Volume I chapter 9 (Zicsr).

The core's ``X`` stage presents one CSR instruction (address, funct3, source operand) and gets
the old value and the access verdict in the same cycle; ``we`` (its commit) writes. A trap or
an MRET updates the trap state in its own cycle. The PMP's CSRs live in :class:`~gluon.hdl.pmp.PMP`:
their read value comes in through ``pmp_rdata``; this file decides whether the address exists.

WARL/WLRL choices (docs/core.md): ``mtvec`` direct mode, BASE word aligned and inside the
instruction window (its upper bits read as ``fetch_base``'s); ``mcause`` holds the interrupt bit
and a 5-bit code; ``mstatus.MPP`` is U or M. A write to ``mcycle[h]``/``minstret[h]`` replaces
that cycle's (that instruction's) increment on the whole 64-bit counter.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Irq, Csr


__all__ = ["CsrFile"]


class CsrFile(wiring.Component):
    """CSR access: ``addr``, ``funct3``, ``src`` (rs1's value or the 5-bit immediate),
    ``writes`` (the instruction writes: CSRRW[I] always, CSRRS/C[I] unless the source is x0/0)
    → ``rdata`` (the old value), ``wdata`` (the value written), ``illegal``; ``we`` commits the
    write. ``retire``/``noinc``: an instruction retires this cycle / it wrote minstret[h].
    Trap entry: ``trap`` with ``trap_irq``, ``trap_code``, ``trap_epc``, ``trap_tval`` and
    ``trap_prev_m`` (the privilege the trap was taken from); ``mret``. Outputs for the
    pipeline: the privilege and the mstatus bits it acts on, ``mtvec``, ``mepc``, and the
    interrupt decision (``irq_pending``: ``mip & mie`` non-zero; ``irq_enabled``; ``irq_cause``).

    ``ext_csrs``: addresses of CSRs kept outside this file (the triggers'): they exist for the
    access check and read ``ext_rdata``; their writes are the owner's. ``debug``: the Debug
    Module's register access while halted (``dbg_*``): a read of the table registered while
    ``dbg_halted`` (the address is set a cycle before it is read), ``dbg_exists``, and a write
    (``dbg_we``) through the same write logic as an instruction's."""

    def __init__(self, *, fetch_base, fetch_size, mimpid, ext_csrs=(), debug=False):
        self.fetch_base = fetch_base
        self.fetch_size = fetch_size
        self.mimpid = mimpid
        self.ext_csrs = tuple(int(a) for a in ext_csrs)
        self.debug = bool(debug)
        ports = {}
        if self.ext_csrs:
            ports["ext_rdata"] = In(32)
        if self.debug:
            ports.update(dbg_halted=In(1), dbg_addr=In(12), dbg_we=In(1), dbg_wdata=In(32),
                         dbg_rdata=Out(32), dbg_exists=Out(1))
        super().__init__({
            **ports,
            "addr": In(12), "funct3": In(3), "src": In(32), "writes": In(1), "we": In(1),
            "rdata": Out(32), "wdata": Out(32), "illegal": Out(1),
            "d_addr": In(12), "d_writes": In(1), "d_illegal": Out(1),
            "pmp_rdata": In(32),
            "retire": In(1), "noinc": In(1),
            "mtime": In(64), "soft_irq": In(1), "timer_irq": In(1), "local_irq": In(16),
            "trap": In(1), "trap_irq": In(1), "trap_code": In(5), "trap_epc": In(32),
            "trap_tval": In(32), "trap_prev_m": In(1), "mret": In(1),
            "priv_m": Out(1), "mprv": Out(1), "mpp_m": Out(1), "tw": Out(1),
            "mtvec": Out(32), "mepc": Out(32),
            "irq_pending": Out(1), "irq_enabled": Out(1), "irq_cause": Out(5),
        })

    def elaborate(self, platform):
        m = Module()
        fetch_bits = (self.fetch_size - 1).bit_length()
        priv_m = Signal(init=1)
        mstatus_mie = Signal()
        mstatus_mpie = Signal()
        mstatus_mpp_m = Signal(init=1)
        mstatus_mprv = Signal()
        mstatus_tw = Signal()
        mcounteren = Signal(3)                    # CY, TM, IR
        mie = Signal(32)
        mtvec_lo = Signal(fetch_bits)
        mtvec = Cat(mtvec_lo, C(self.fetch_base >> fetch_bits, 32 - fetch_bits))
        mscratch = Signal(32)
        mepc = Signal(32)
        mcause_irq = Signal()
        mcause_code = Signal(5)
        mcause = Cat(mcause_code, C(0, 26), mcause_irq)
        mtval = Signal(32)
        mcycle = Signal(64)
        minstret = Signal(64)
        # minstret after this cycle's retirement: what the instruction in X has been preceded
        # by (the one in W retires in the same cycle), and the counter's next value
        minstret_now = Signal(64)
        m.d.comb += minstret_now.eq(minstret + (self.retire & ~self.noinc))
        mip = Signal(32)
        m.d.comb += mip.eq(Cat(C(0, 3), self.soft_irq, C(0, 3), self.timer_irq,
                               C(0, 8), self.local_irq))
        mie_mask = (1 << Irq.M_SOFT) | (1 << Irq.M_TIMER) | (1 << Irq.M_EXT) | 0xFFFF_0000
        m.d.comb += [self.priv_m.eq(priv_m), self.mprv.eq(mstatus_mprv),
                     self.mpp_m.eq(mstatus_mpp_m), self.tw.eq(mstatus_tw),
                     self.mtvec.eq(mtvec), self.mepc.eq(mepc)]

        # ---- read
        addr = self.addr
        mstatus_val = Cat(C(0, 3), mstatus_mie, C(0, 3), mstatus_mpie, C(0, 3),
                          mstatus_mpp_m.replicate(2), C(0, 4), mstatus_mprv, C(0, 3), mstatus_tw)
        misa_val = (1 << 30) | (1 << 8) | (1 << 12) | (1 << 20)      # RV32 I M U
        table = {
            Csr.MSTATUS: mstatus_val, Csr.MISA: C(misa_val, 32), Csr.MIE: mie,
            Csr.MTVEC: mtvec, Csr.MSTATUSH: C(0, 32), Csr.MSCRATCH: mscratch, Csr.MEPC: mepc,
            Csr.MCAUSE: mcause, Csr.MTVAL: mtval, Csr.MIP: mip,
            Csr.MCYCLE: mcycle[:32], Csr.MCYCLEH: mcycle[32:], Csr.MINSTRET: minstret_now[:32],
            Csr.MINSTRETH: minstret_now[32:], Csr.CYCLE: mcycle[:32], Csr.CYCLEH: mcycle[32:],
            Csr.TIME: self.mtime[:32], Csr.TIMEH: self.mtime[32:], Csr.INSTRET: minstret_now[:32],
            Csr.INSTRETH: minstret_now[32:], Csr.MVENDORID: C(0, 32), Csr.MARCHID: C(0, 32),
            Csr.MIMPID: C(self.mimpid, 32), Csr.MHARTID: C(0, 32),
            Csr.MCOUNTEREN: mcounteren, Csr.MCONFIGPTR: C(0, 32),
        }
        with m.Switch(addr):
            for a, val in table.items():
                with m.Case(int(a)):
                    m.d.comb += self.rdata.eq(val)
            for a in self.ext_csrs:
                with m.Case(a):
                    m.d.comb += self.rdata.eq(self.ext_rdata)
            with m.Default():
                m.d.comb += self.rdata.eq(self.pmp_rdata)

        def illegal(addr, writes):
            # PMP CSRs: 0x3A0-0x3EF (without PMP entries they exist and read zero, WARL)
            exists = Signal()
            m.d.comb += exists.eq((addr[4:] == 0x3A) | (addr >= 0x3B0) & (addr <= 0x3EF))
            with m.Switch(addr):
                for a in (*table, *self.ext_csrs):
                    with m.Case(int(a)):
                        m.d.comb += exists.eq(1)
            readonly = addr[10:12] == 0b11
            # U-mode: only user CSRs (addr[9:8] == 0), the counters where mcounteren allows
            counter_bit = Signal()
            with m.Switch(addr):
                for a, b in ((Csr.CYCLE, 0), (Csr.CYCLEH, 0), (Csr.TIME, 1), (Csr.TIMEH, 1),
                             (Csr.INSTRET, 2), (Csr.INSTRETH, 2)):
                    with m.Case(int(a)):
                        m.d.comb += counter_bit.eq(mcounteren[b])
            priv_ok = priv_m | (addr[8:10] == 0) & counter_bit
            return ~exists | writes & readonly | ~priv_ok

        # the verdict for X's instruction, and for D's (the pipeline registers it into X: the
        # privilege changes only with a trap or MRET, which empty D, and mcounteren matters
        # only in U-mode, where it cannot be written)
        m.d.comb += [self.illegal.eq(illegal(addr, self.writes)),
                     self.d_illegal.eq(illegal(self.d_addr, self.d_writes))]
        with m.Switch(self.funct3[:2]):
            with m.Case(1):
                m.d.comb += self.wdata.eq(self.src)
            with m.Case(2):
                m.d.comb += self.wdata.eq(self.rdata | self.src)
            with m.Default():
                m.d.comb += self.wdata.eq(self.rdata & ~self.src)

        # ---- interrupts: MEI > MSI > MTI > local lines (lowest first)
        pend = Signal(32)
        m.d.comb += pend.eq(mip & mie)
        with m.If(pend[16:] != 0):
            for i in reversed(range(16)):
                with m.If(pend[16 + i]):
                    m.d.comb += self.irq_cause.eq(16 + i)
        for bit in [Irq.M_TIMER, Irq.M_SOFT, Irq.M_EXT]:       # later If wins
            with m.If(pend[bit]):
                m.d.comb += self.irq_cause.eq(bit)
        # M-level interrupts are always enabled while the hart runs in U-mode
        m.d.comb += [self.irq_pending.eq(pend != 0),
                     self.irq_enabled.eq(mstatus_mie | ~priv_m)]

        # ---- updates
        m.d.sync += [mcycle.eq(mcycle + 1), minstret.eq(minstret_now)]
        data, waddr, we = self.wdata, addr, self.we
        if self.debug:
            # the Debug Module's access (halted: no instruction is in X, none writes)
            with m.If(self.dbg_halted):
                m.d.sync += [self.dbg_rdata.eq(0), self.dbg_exists.eq(0)]
                with m.Switch(self.dbg_addr):
                    for a, val in table.items():
                        with m.Case(int(a)):
                            m.d.sync += [self.dbg_rdata.eq(val), self.dbg_exists.eq(1)]
            data = Mux(self.dbg_we, self.dbg_wdata, data)
            waddr = Mux(self.dbg_we, self.dbg_addr, addr)
            we = we | self.dbg_we
        with m.If(self.trap):
            m.d.sync += [mepc.eq(self.trap_epc), mcause_irq.eq(self.trap_irq),
                         mcause_code.eq(self.trap_code), mtval.eq(self.trap_tval),
                         mstatus_mpie.eq(mstatus_mie), mstatus_mie.eq(0),
                         mstatus_mpp_m.eq(self.trap_prev_m), priv_m.eq(1)]
        with m.Elif(self.mret):
            m.d.sync += [mstatus_mie.eq(mstatus_mpie), mstatus_mpie.eq(1),
                         priv_m.eq(mstatus_mpp_m), mstatus_mpp_m.eq(0)]
            with m.If(~mstatus_mpp_m):
                m.d.sync += mstatus_mprv.eq(0)
        with m.Elif(we):
            with m.Switch(waddr):
                with m.Case(Csr.MSTATUS):
                    m.d.sync += [mstatus_mie.eq(data[3]), mstatus_mpie.eq(data[7]),
                                 mstatus_mpp_m.eq(data[11:13] != 0),   # WARL: U or M
                                 mstatus_mprv.eq(data[17]), mstatus_tw.eq(data[21])]
                with m.Case(Csr.MCOUNTEREN):
                    m.d.sync += mcounteren.eq(data[:3])
                with m.Case(Csr.MIE):
                    m.d.sync += mie.eq(data & mie_mask)
                with m.Case(Csr.MTVEC):
                    m.d.sync += mtvec_lo[2:].eq(data[2:fetch_bits])
                with m.Case(Csr.MSCRATCH):
                    m.d.sync += mscratch.eq(data)
                with m.Case(Csr.MEPC):
                    m.d.sync += mepc.eq(Cat(C(0, 2), data[2:]))
                with m.Case(Csr.MCAUSE):
                    m.d.sync += [mcause_irq.eq(data[31]), mcause_code.eq(data[:5])]
                with m.Case(Csr.MTVAL):
                    m.d.sync += mtval.eq(data)
                # a counter write replaces the increment on the whole counter (no carry into
                # or out of the written half)
                with m.Case(Csr.MCYCLE):
                    m.d.sync += mcycle.eq(Cat(data, mcycle[32:]))
                with m.Case(Csr.MCYCLEH):
                    m.d.sync += mcycle.eq(Cat(mcycle[:32], data))
                with m.Case(Csr.MINSTRET):
                    m.d.sync += minstret.eq(Cat(data, minstret_now[32:]))
                with m.Case(Csr.MINSTRETH):
                    m.d.sync += minstret.eq(Cat(minstret_now[:32], data))
        return m
