"""The CSR file and trap state (Zicsr; machine and user mode), for both cores.

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
from .triggers import TriggerCsr


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

    Options (each adds ports; all off is the pipelined core's file):

    * ``decode_port`` (the pipelined core's): ``d_addr``/``d_writes`` → the access verdict for
      the instruction in ``D`` in two parts: ``d_illegal`` (whatever the privilege) and
      ``d_illegal_u`` (in U-mode only): the access is illegal if
      ``d_illegal | ~priv_m & d_illegal_u``.
    * ``registered`` (the default core with the block-RAM register file): the wide paths start
      and end at registers, for the iCE40's clock. The CSR is read in the instruction's first
      ``X`` cycle and ``rdata`` is that value registered (``wdata`` is computed from it in the
      second); a CSR write (``we``, address, data) and a trap's ``mepc``/``mcause``/``mtval``
      land one cycle after their decision, from registers; mstatus and the privilege still
      change in the trap's or MRET's cycle. ``mip & mie`` and its cause are sampled one cycle
      early (with ``mie`` as it will be after this cycle's write). A read of ``minstret``
      returns the counter itself, not including the instruction retiring in ``W`` (the core
      reads it after the older instructions have left ``W``).
    * ``triggers``: the Sdtrig CSRs of :class:`~gluon.hdl.triggers.Triggers` are read here
      (``tselect``, ``tdata1``, ``tdata2``, ``tinfo``, ``tcontrol`` in; writes go to the
      trigger module directly).
    * ``debug``: the Debug Module's CSR access while the hart is halted (``dbg_halted``):
      ``dbg_addr`` → ``dbg_rdata``/``dbg_exists`` (registered: valid the cycle after the
      address), ``dbg_we``/``dbg_wdata`` write.
    """

    def __init__(self, *, fetch_base, fetch_size, mimpid, decode_port=True, registered=False,
                 triggers=False, debug=False):
        self.fetch_base = fetch_base
        self.fetch_size = fetch_size
        self.mimpid = mimpid
        self.decode_port = bool(decode_port)
        self.registered = bool(registered)
        self.has_triggers = bool(triggers)
        self.has_debug = bool(debug)
        ports = {}
        if decode_port:
            ports.update({"d_addr": In(12), "d_writes": In(1), "d_illegal": Out(1),
                          "d_illegal_u": Out(1)})
        if triggers:
            ports.update({name: In(32) for name in ("tselect", "tdata1", "tdata2", "tinfo",
                                                    "tcontrol")})
        if debug:
            ports.update({"dbg_halted": In(1), "dbg_addr": In(12), "dbg_rdata": Out(32),
                          "dbg_exists": Out(1), "dbg_we": In(1), "dbg_wdata": In(32)})
        super().__init__({
            "addr": In(12), "funct3": In(3), "src": In(32), "writes": In(1), "we": In(1),
            "rdata": Out(32), "wdata": Out(32), "illegal": Out(1),
            **ports,
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
        # by (the one in W retires in the same cycle), and the counter's next value. The
        # increment comes from registers and the late retire decision only selects it (as a
        # carry-in it ran through the 64-bit carry chain: the iCEBreaker's critical path).
        minstret_inc = Signal(64)
        minstret_now = Signal(64)
        m.d.comb += [minstret_inc.eq(minstret + 1),
                     minstret_now.eq(Mux(self.retire & ~self.noinc, minstret_inc, minstret))]
        minstret_rd = minstret if self.registered else minstret_now
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
            Csr.MCYCLE: mcycle[:32], Csr.MCYCLEH: mcycle[32:], Csr.MINSTRET: minstret_rd[:32],
            Csr.MINSTRETH: minstret_rd[32:], Csr.CYCLE: mcycle[:32], Csr.CYCLEH: mcycle[32:],
            Csr.TIME: self.mtime[:32], Csr.TIMEH: self.mtime[32:], Csr.INSTRET: minstret_rd[:32],
            Csr.INSTRETH: minstret_rd[32:], Csr.MVENDORID: C(0, 32), Csr.MARCHID: C(0, 32),
            Csr.MIMPID: C(self.mimpid, 32), Csr.MHARTID: C(0, 32),
            Csr.MCOUNTEREN: mcounteren, Csr.MCONFIGPTR: C(0, 32),
        }
        if self.has_triggers:
            table.update({
                TriggerCsr.TSELECT: self.tselect, TriggerCsr.TDATA1: self.tdata1,
                TriggerCsr.TDATA2: self.tdata2, TriggerCsr.TDATA3: C(0, 32),
                TriggerCsr.TINFO: self.tinfo, TriggerCsr.TCONTROL: self.tcontrol,
            })
        rdata = Signal(32)
        with m.Switch(addr):
            for a, val in table.items():
                with m.Case(int(a)):
                    m.d.comb += rdata.eq(val)
            with m.Default():
                m.d.comb += rdata.eq(self.pmp_rdata)
        if self.registered:
            # read in the instruction's first X cycle, returned (and modified) in its second;
            # nothing else commits in between (the counters are read one cycle earlier, at a
            # fixed offset)
            m.d.sync += self.rdata.eq(rdata)
        else:
            m.d.comb += self.rdata.eq(rdata)
        if self.has_debug:
            # the debugger's reads: the same table, its own multiplexer (PMP CSRs excluded),
            # registered and updated only while halted (an abstract command sets the address a
            # cycle before it reads; the Verilator model then skips the multiplexer while the
            # hart runs)
            with m.If(self.dbg_halted):
                m.d.sync += [self.dbg_rdata.eq(0), self.dbg_exists.eq(0)]
                with m.Switch(self.dbg_addr):
                    for a, val in table.items():
                        with m.Case(int(a)):
                            m.d.sync += [self.dbg_rdata.eq(val), self.dbg_exists.eq(1)]

        def access(addr):
            # PMP CSRs: 0x3A0-0x3EF (without PMP entries they exist and read zero, WARL)
            exists = Signal()
            m.d.comb += exists.eq((addr[4:] == 0x3A) | (addr >= 0x3B0) & (addr <= 0x3EF))
            with m.Switch(addr):
                for a in table:
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
            return exists, readonly, (addr[8:10] == 0) & counter_bit

        def illegal(addr, writes):
            exists, readonly, user_ok = access(addr)
            priv_ok = priv_m | user_ok
            return ~exists | writes & readonly | ~priv_ok

        m.d.comb += self.illegal.eq(illegal(addr, self.writes))
        if self.decode_port:
            # the verdict for D's instruction in two parts, which the pipeline registers and
            # combines with the privilege in X (the privilege changes only with a trap or MRET,
            # which empty D, and mcounteren matters only in U-mode, where it cannot be written)
            exists, readonly, user_ok = access(self.d_addr)
            m.d.comb += [self.d_illegal.eq(~exists | self.d_writes & readonly),
                         self.d_illegal_u.eq(~user_ok)]
        with m.Switch(self.funct3[:2]):
            with m.Case(1):
                m.d.comb += self.wdata.eq(self.src)
            with m.Case(2):
                m.d.comb += self.wdata.eq(self.rdata | self.src)
            with m.Default():
                m.d.comb += self.wdata.eq(self.rdata & ~self.src)

        # ---- interrupts: MEI > MSI > MTI > local lines (lowest first)
        def priority(pend):
            cause = Signal(5)
            with m.If(pend[16:] != 0):
                for i in reversed(range(16)):
                    with m.If(pend[16 + i]):
                        m.d.comb += cause.eq(16 + i)
            for bit in [Irq.M_TIMER, Irq.M_SOFT, Irq.M_EXT]:       # later If wins
                with m.If(pend[bit]):
                    m.d.comb += cause.eq(bit)
            return cause

        pend = Signal(32)
        if self.registered:
            # From registers: the OR over the lines and the priority encoder are not in front
            # of X's commit/trap decision. One more cycle of interrupt latency; an instruction
            # that disables a source in mie is never followed by that source's interrupt (its
            # successor's D cycle takes no interrupt, and the sample after the write sees the
            # new mie).
            mie_next = Signal(32)                 # mie after this cycle's (delayed) write
            irq_pending = Signal()
            m.d.sync += [pend.eq(mip & mie_next), irq_pending.eq((mip & mie_next) != 0)]
            m.d.comb += self.irq_pending.eq(irq_pending)
        else:
            m.d.comb += [pend.eq(mip & mie), self.irq_pending.eq(pend != 0)]
        # M-level interrupts are always enabled while the hart runs in U-mode
        m.d.comb += [self.irq_cause.eq(priority(pend)),
                     self.irq_enabled.eq(mstatus_mie | ~priv_m)]

        # ---- updates
        m.d.sync += [mcycle.eq(mcycle + 1), minstret.eq(minstret_now)]

        def write(addr, data):
            with m.Switch(addr):
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

        def trap_entry():
            m.d.sync += [mstatus_mpie.eq(mstatus_mie), mstatus_mie.eq(0),
                         mstatus_mpp_m.eq(self.trap_prev_m), priv_m.eq(1)]

        def mret_update():
            m.d.sync += [mstatus_mie.eq(mstatus_mpie), mstatus_mpie.eq(1),
                         priv_m.eq(mstatus_mpp_m), mstatus_mpp_m.eq(0)]
            with m.If(~mstatus_mpp_m):
                m.d.sync += mstatus_mprv.eq(0)

        if self.registered:
            # The wide updates one cycle after their decision, from registers, so that the
            # commit/trap decision (late: it waits for the bus's ack/err) does not fan out to
            # ~100 clock enables. Nothing can read or write them in between: the cycle after a
            # commit or a trap is the next instruction's D cycle, and W then holds no load/store.
            w_we, w_addr, w_data = Signal(), Signal(12), Signal(32)
            m.d.sync += [w_we.eq(self.we), w_addr.eq(addr), w_data.eq(self.wdata)]
            # mie's next value for the interrupt sample, from a register of its own
            w_mie = Signal()
            m.d.sync += w_mie.eq(self.we & (addr == Csr.MIE))
            m.d.comb += mie_next.eq(Mux(w_mie, w_data & mie_mask, mie))
            t_r, t_epc, t_tval, t_irq, t_code = (Signal(), Signal(32), Signal(32), Signal(),
                                                 Signal(5))
            m.d.sync += [t_r.eq(self.trap), t_epc.eq(self.trap_epc), t_tval.eq(self.trap_tval),
                         t_irq.eq(self.trap_irq), t_code.eq(self.trap_code)]
            with m.If(self.trap):
                trap_entry()
            with m.Elif(self.mret):
                mret_update()
            with m.If(t_r):
                m.d.sync += [mepc.eq(t_epc), mcause_irq.eq(t_irq), mcause_code.eq(t_code),
                             mtval.eq(t_tval)]
            with m.Elif(w_we):
                write(w_addr, w_data)
        else:
            with m.If(self.trap):
                m.d.sync += [mepc.eq(self.trap_epc), mcause_irq.eq(self.trap_irq),
                             mcause_code.eq(self.trap_code), mtval.eq(self.trap_tval)]
                trap_entry()
            with m.Elif(self.mret):
                mret_update()
            with m.Elif(self.we):
                write(addr, self.wdata)
            if self.has_debug:
                with m.Elif(self.dbg_we):             # halted: nothing else writes CSRs
                    write(self.dbg_addr, self.dbg_wdata)
        return m
