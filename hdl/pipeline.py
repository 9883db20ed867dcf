"""The pipelined core: F/D/X/W with a registered fetch address (``Core(pipeline=True)``).

References: The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA (20191213) and
Volume II: Privileged Architecture (20211203).

``F``  a PC register (``f_pc``) drives RAM's synchronous instruction port; the word is there
       the next cycle. ``f_pc`` is loaded with PC + 4, a pc-relative target computed in ``D``
       (JAL, branches), or a target from ``X`` (JALR, MRET, FENCE.I, traps): always from a
       register, never from the RAM's output in the same cycle.
``D``  decode (:class:`~gluon.hdl.decoder.Decoder`), register read (transparent to ``W``'s
       write), the pc-relative target; all registered into ``X``.
``X``  ALU, branch resolution, CSR access, exceptions and interrupts, and the one Wishbone
       request of a load or store (exactly as the unpipelined core: only when nothing older can
       trap and only if PMP allows it). Operands come from ``X``'s registers or the bypass from
       ``W``'s ALU result.
``W``  write-back; a load waits for its response (one cycle on RAM); a refused, misaligned or
       erroring load/store traps from here.

Control flow, every cost a function of the instruction stream only (docs/core.md):
a JAL in ``D`` loads its target into ``f_pc`` (the word fetched behind it is dropped): 2 cycles.
A branch in ``D`` does the same; while the branch resolves in ``X`` the target is fetched and
the sequential word behind the branch is kept in ``d_save``. Taken, ``D`` gets the target's
word; not taken, the saved word: either way the next instruction reaches ``X`` two cycles after
the branch (a not-taken branch waits the same cycle a taken one does). JALR, MRET, FENCE.I and
traps load ``f_pc`` from ``X``: 3 cycles. Nothing after a branch executes in ``X`` before the
branch is resolved; the words fetched at PC + 4 and at a direct target depend on instruction
bits only.
"""

from amaranth import *

from .alu import ALU
from .decoder import Decoder, Decoded
from .regfile import RegisterFile
from .divider import Divider
from .multiplier import Multiplier
from .branch import BranchUnit
from .pmp import PMP
from .isa import Instruction, Cause, Irq, Csr


__all__ = ["elaborate_pipelined"]


class WKind:
    NONE, ALU, LOAD, STORE = range(4)


def elaborate_pipelined(core, platform):
    """The elaboration of :class:`~gluon.hdl.core.Core` with ``pipeline=True``."""
    m = Module()
    fetch_bits = (core.fetch_size - 1).bit_length()
    fetch_hi = core.fetch_base >> fetch_bits

    m.submodules.decoder = decoder = Decoder()
    m.submodules.regfile = regfile = RegisterFile()
    m.submodules.alu = alu = ALU()
    m.submodules.divider = divider = Divider()
    m.submodules.multiplier = multiplier = Multiplier(stages=1)
    m.submodules.branch = branch = BranchUnit()
    pmp = None
    if core.pmp_entries:
        m.submodules.pmp = pmp = PMP(core.pmp_entries)
    bus = core.dbus

    # ------------------------------------------------------------------ F and D state
    f_pc = Signal(32, init=core.reset_vector)     # the address on the instruction port
    d_valid = Signal()
    d_pc = Signal(32)
    d_from_save = Signal()                        # D's word is d_save, not the port's
    d_save = Signal(32)                           # the word behind a branch in X

    # ------------------------------------------------------------------ X state
    x_valid = Signal()
    x_fresh = Signal()                            # X's first cycle for its instruction
    x_pc = Signal(32)
    x_word = Signal(32)
    x_dec = Signal(Decoded)
    x_target = Signal(32)                         # pc + imm (branches, JAL, AUIPC), from D
    x_ffault = Signal()                           # the fetch of x_pc was outside RAM
    x_rs1v = Signal(32)
    x_rs2v = Signal(32)
    # the pc of the next instruction to commit (X's when X holds one): mepc of an interrupt
    # taken while X holds no instruction (after a jump or a branch), so the entry latency does
    # not depend on where in the code the interrupt lands
    arch_pc = Signal(32, init=core.reset_vector)

    # ------------------------------------------------------------------ W state
    w_valid = Signal()
    w_kind = Signal(range(4))
    w_rd = Signal(5)
    w_result = Signal(32)
    w_pc = Signal(32)
    w_insn = Signal(32)
    w_addr = Signal(32)
    w_f3 = Signal(3)
    w_priv_m = Signal()
    w_denied = Signal()
    w_misaligned = Signal()
    w_noinc = Signal()                            # a CSR write to minstret[h]: no increment

    # ------------------------------------------------------------------ CSR state
    priv_m = Signal(init=1)
    mstatus_mie = Signal()
    mstatus_mpie = Signal()
    mstatus_mpp_m = Signal(init=1)
    mstatus_mprv = Signal()
    mstatus_tw = Signal()
    mcounteren = Signal(3)
    mie = Signal(32)
    mtvec_lo = Signal(fetch_bits)
    mtvec = Cat(mtvec_lo, C(fetch_hi, 32 - fetch_bits))
    mscratch = Signal(32)
    mepc = Signal(32)
    mcause_irq = Signal()
    mcause_code = Signal(5)
    mcause = Cat(mcause_code, C(0, 26), mcause_irq)
    mtval = Signal(32)
    mcycle = Signal(64)
    minstret = Signal(64)
    instret_inc = Signal()
    minstret_now = Signal(64)
    m.d.comb += minstret_now.eq(minstret + instret_inc)
    mip = Signal(32)
    m.d.comb += mip.eq(Cat(C(0, 3), core.soft_irq, C(0, 3), core.timer_irq,
                           C(0, 8), core.local_irq))
    mie_mask = (1 << Irq.M_SOFT) | (1 << Irq.M_TIMER) | (1 << Irq.M_EXT) | 0xFFFF_0000

    # ------------------------------------------------------------------ D: decode, read
    d_word = Signal(32)
    m.d.comb += d_word.eq(Mux(d_from_save, d_save, core.ibus.data))
    d_inst = Signal(Instruction)
    m.d.comb += [d_inst.eq(d_word), decoder.word.eq(d_word)]
    d_dec = decoder.dec
    m.d.comb += [regfile.raddr1.eq(d_inst.rs1), regfile.raddr2.eq(d_inst.rs2)]
    d_target = Signal(32)
    m.d.comb += d_target.eq(d_pc + d_dec.imm)

    # ------------------------------------------------------------------ X: operands
    x_inst = Signal(Instruction)
    m.d.comb += x_inst.eq(x_word)
    f3 = x_inst.funct3
    f7 = x_inst.funct7
    dec = x_dec
    is_muldiv = dec.mul | dec.div
    is_system_other = ~dec.csr & (dec.ecall | dec.ebreak | dec.mret | dec.wfi)
    w_late = w_valid & (w_kind == WKind.LOAD)
    w_fwd = w_valid & (w_kind == WKind.ALU) & (w_rd != 0)
    rs1 = Signal(32)
    rs2 = Signal(32)
    m.d.comb += [
        rs1.eq(Mux(w_fwd & (w_rd == x_inst.rs1), w_result, x_rs1v)),
        rs2.eq(Mux(w_fwd & (w_rd == x_inst.rs2), w_result, x_rs2v)),
    ]
    # load-use: the load's data reaches X's operand register when it is written (below), X
    # waits that cycle; a property of the code, never of data
    hazard = Signal()
    m.d.comb += hazard.eq(w_late & (w_rd != 0) & (dec.uses_rs1 & (x_inst.rs1 == w_rd)
                                                  | dec.uses_rs2 & (x_inst.rs2 == w_rd)))

    # ------------------------------------------------------------------ X: ALU, branch
    alt = f7[5]
    opb = Mux(dec.op | dec.branch, rs2, dec.imm)
    m.d.comb += [alu.a.eq(rs1), alu.b.eq(opb), alu.funct3.eq(f3),
                 alu.sub.eq(dec.op & alt), alu.arith.eq(alt)]
    m.d.comb += [branch.a.eq(rs1), branch.b.eq(rs2), branch.funct3.eq(f3)]
    taken = branch.taken
    pc4 = Signal(32)
    m.d.comb += pc4.eq(x_pc + 4)
    jalr_target = Cat(C(0, 1), alu.sum[1:32])
    jump_mis = Signal()
    jump_tval = Signal(32)
    with m.If(dec.jal | dec.branch & taken):
        m.d.comb += [jump_mis.eq(x_target[1]), jump_tval.eq(x_target)]
    with m.Elif(dec.jalr):
        m.d.comb += [jump_mis.eq(jalr_target[1]), jump_tval.eq(jalr_target)]

    # ------------------------------------------------------------------ X: memory access
    mem_addr = alu.sum
    size = f3[:2]
    misaligned = (size == 1) & mem_addr[0] | (size == 2) & (mem_addr[:2] != 0)
    x_mem = dec.load | dec.store
    sel = Signal(4)
    with m.Switch(size):
        with m.Case(0):
            m.d.comb += sel.eq(1 << mem_addr[:2])
        with m.Case(1):
            m.d.comb += sel.eq(Mux(mem_addr[1], 0b1100, 0b0011))
        with m.Default():
            m.d.comb += sel.eq(0b1111)
    store_data = Signal(32)
    with m.Switch(size):
        with m.Case(0):
            m.d.comb += store_data.eq(rs2[:8].replicate(4))
        with m.Case(1):
            m.d.comb += store_data.eq(rs2[:16].replicate(2))
        with m.Default():
            m.d.comb += store_data.eq(rs2)

    # ------------------------------------------------------------------ X: CSRs
    csr_addr = x_word[20:32]
    csr_src = Mux(f3[2], x_inst.rs1, rs1)
    csr_writes = (f3[:2] == 1) | (x_inst.rs1 != 0)
    csr_rdata = Signal(32)
    csr_exists = Signal()
    mstatus_val = Cat(C(0, 3), mstatus_mie, C(0, 3), mstatus_mpie, C(0, 3),
                      mstatus_mpp_m.replicate(2), C(0, 4), mstatus_mprv, C(0, 3), mstatus_tw)
    misa_val = (1 << 30) | (1 << 8) | (1 << 12) | (1 << 20)      # RV32 I M U
    csr_table = {
        Csr.MSTATUS: mstatus_val, Csr.MISA: C(misa_val, 32), Csr.MIE: mie,
        Csr.MTVEC: mtvec, Csr.MSTATUSH: C(0, 32), Csr.MSCRATCH: mscratch, Csr.MEPC: mepc,
        Csr.MCAUSE: mcause, Csr.MTVAL: mtval, Csr.MIP: mip,
        Csr.MCYCLE: mcycle[:32], Csr.MCYCLEH: mcycle[32:], Csr.MINSTRET: minstret_now[:32],
        Csr.MINSTRETH: minstret_now[32:], Csr.CYCLE: mcycle[:32], Csr.CYCLEH: mcycle[32:],
        Csr.TIME: core.mtime[:32], Csr.TIMEH: core.mtime[32:], Csr.INSTRET: minstret_now[:32],
        Csr.INSTRETH: minstret_now[32:], Csr.MVENDORID: C(0, 32), Csr.MARCHID: C(0, 32),
        Csr.MIMPID: C(core.mimpid, 32), Csr.MHARTID: C(0, 32),
        Csr.MCOUNTEREN: mcounteren, Csr.MCONFIGPTR: C(0, 32),
    }
    pmp_csr = (csr_addr[4:] == 0x3A) | (csr_addr >= 0x3B0) & (csr_addr <= 0x3EF)
    if pmp is not None:
        m.d.comb += pmp.csr_addr.eq(csr_addr)
    with m.Switch(csr_addr):
        for addr, val in csr_table.items():
            with m.Case(int(addr)):
                m.d.comb += [csr_rdata.eq(val), csr_exists.eq(1)]
        with m.Default():
            m.d.comb += [csr_rdata.eq(pmp.csr_rdata if pmp is not None else 0),
                         csr_exists.eq(pmp_csr)]
    csr_readonly = csr_addr[10:12] == 0b11
    counter_bit = Signal()
    with m.Switch(csr_addr):
        for a, b in ((Csr.CYCLE, 0), (Csr.CYCLEH, 0), (Csr.TIME, 1), (Csr.TIMEH, 1),
                     (Csr.INSTRET, 2), (Csr.INSTRETH, 2)):
            with m.Case(int(a)):
                m.d.comb += counter_bit.eq(mcounteren[b])
    csr_priv_ok = priv_m | (csr_addr[8:10] == 0) & counter_bit
    csr_illegal = ~csr_exists | csr_writes & csr_readonly | ~csr_priv_ok
    csr_wdata = Signal(32)
    with m.Switch(f3[:2]):
        with m.Case(1):
            m.d.comb += csr_wdata.eq(csr_src)
        with m.Case(2):
            m.d.comb += csr_wdata.eq(csr_rdata | csr_src)
        with m.Default():
            m.d.comb += csr_wdata.eq(csr_rdata & ~csr_src)

    # ------------------------------------------------------------------ X: exceptions
    exc = Signal()
    exc_cause = Signal(4)
    exc_tval = Signal(32)
    d_priv_m = Mux(mstatus_mprv, mstatus_mpp_m, priv_m)
    m_only_hit = Signal()
    for base, size_ in core.m_only:
        bits = (size_ - 1).bit_length()
        with m.If(mem_addr[bits:] == (base >> bits)):
            m.d.comb += m_only_hit.eq(1)
    if pmp is not None:
        m.d.comb += [
            pmp.i_addr.eq(x_pc), pmp.i_m.eq(priv_m),
            pmp.d_addr.eq(mem_addr), pmp.d_m.eq(d_priv_m), pmp.d_write.eq(dec.store),
        ]
        i_ok, d_ok = pmp.i_ok, pmp.d_ok
    else:
        i_ok, d_ok = C(1), C(1)
    d_denied = Signal()
    m.d.comb += [d_denied.eq(~d_ok | m_only_hit & ~d_priv_m),
                 core.mem_denied.eq(x_valid & x_mem & (d_denied | misaligned))]
    priv_illegal = ~priv_m & (dec.mret | dec.wfi & mstatus_tw)
    with m.If(x_ffault | ~i_ok):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_FAULT), exc_tval.eq(x_pc)]
    with m.Elif(~dec.legal | dec.csr & csr_illegal | priv_illegal):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.ILLEGAL), exc_tval.eq(x_word)]
    with m.Elif(dec.ecall):
        m.d.comb += [exc.eq(1), exc_cause.eq(Mux(priv_m, Cause.ECALL_M, Cause.ECALL_U))]
    with m.Elif(dec.ebreak):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(x_pc)]
    with m.Elif(jump_mis):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_MISALIGNED), exc_tval.eq(jump_tval)]

    irq_pending = Signal()
    irq_cause = Signal(5)
    pend = Signal(32)
    m.d.comb += pend.eq(mip & mie)
    with m.If(pend[16:] != 0):
        for i in reversed(range(16)):
            with m.If(pend[16 + i]):
                m.d.comb += irq_cause.eq(16 + i)
    for bit in [Irq.M_TIMER, Irq.M_SOFT, Irq.M_EXT]:       # later If wins: MEI > MSI > MTI
        with m.If(pend[bit]):
            m.d.comb += irq_cause.eq(bit)
    m.d.comb += irq_pending.eq(pend != 0)
    irq_take = (mstatus_mie | ~priv_m) & irq_pending & ~(x_valid & dec.wfi)

    # ------------------------------------------------------------------ W: completion
    w_mem = w_valid & ((w_kind == WKind.LOAD) | (w_kind == WKind.STORE))
    w_bus = w_mem & ~w_denied & ~w_misaligned
    w_hold = w_bus & ~(bus.ack | bus.err)
    w_trap = w_mem & (bus.err | w_denied | w_misaligned)

    # ------------------------------------------------------------------ X: progress
    div_started = Signal()
    div_wait = dec.div & ~(divider.done & div_started)
    mul_started = Signal()
    mul_wait = dec.mul & ~(multiplier.valid & mul_started)
    wfi_wait = dec.wfi & ~irq_pending
    x_bus_wait = x_mem & bus.stall
    stall = Signal()
    m.d.comb += stall.eq(w_hold | hazard |
                         ~exc & ~irq_take & (div_wait | mul_wait | wfi_wait | x_bus_wait))
    x_go = Signal()
    m.d.comb += x_go.eq(x_valid & ~stall & ~w_trap)
    x_trap = Signal()
    x_commit = Signal()
    m.d.comb += [x_trap.eq(x_go & (exc | irq_take)), x_commit.eq(x_go & ~exc & ~irq_take)]
    # an interrupt taken while X holds no instruction (W completing without a trap)
    b_trap = Signal()
    m.d.comb += b_trap.eq(~x_valid & irq_take & ~w_hold & ~w_trap)

    unit_ok = x_valid & ~hazard & ~w_hold & ~w_trap & ~exc & ~irq_take
    m.d.comb += [
        divider.start.eq(unit_ok & dec.div & ~div_started),
        multiplier.load.eq(unit_ok & dec.mul & ~mul_started),
        multiplier.a.eq(rs1), multiplier.b.eq(rs2), multiplier.funct.eq(f3[:2]),
        divider.a.eq(rs1), divider.b.eq(rs2),
        divider.signed.eq(~f3[0]), divider.rem.eq(f3[1]),
    ]
    with m.If(x_go | ~x_valid):
        m.d.sync += [div_started.eq(0), mul_started.eq(0)]
    with m.Else():
        with m.If(divider.start):
            m.d.sync += div_started.eq(1)
        with m.If(multiplier.load):
            m.d.sync += mul_started.eq(1)

    # the data request: only when nothing older can still trap, and only if PMP allows it
    x_req = x_valid & x_mem & ~exc & ~irq_take & ~hazard & ~w_hold & ~w_trap & ~d_denied & ~misaligned
    m.d.comb += [
        bus.cyc.eq(w_bus | x_req),
        bus.stb.eq(x_req),
        bus.we.eq(dec.store),
        bus.adr.eq(mem_addr[2:]),
        bus.sel.eq(sel),
        bus.dat_w.eq(store_data),
    ]

    # ------------------------------------------------------------------ redirects and fetch
    trap_pc = Cat(C(0, 2), mtvec[2:])
    x_redirect = Signal()
    redirect_pc = Signal(32)
    with m.If(w_trap | x_trap | b_trap):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(trap_pc)]
    with m.Elif(x_commit & dec.jalr):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(jalr_target)]
    with m.Elif(x_commit & dec.mret):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(mepc)]
    with m.Elif(x_commit & dec.fence_i):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(pc4)]
    x_not_taken = x_commit & dec.branch & ~taken
    with m.If(x_redirect):
        m.d.sync += arch_pc.eq(redirect_pc)
    with m.Elif(x_commit):
        m.d.sync += arch_pc.eq(Mux(dec.jal | dec.branch & taken, x_target, pc4))

    # D moves to X when X is free, nothing redirects, and X holds no unresolved branch
    x_free = ~x_valid | x_go
    d_go = Signal()
    m.d.comb += d_go.eq(d_valid & x_free & ~x_redirect & ~(x_valid & dec.branch))
    d_load = ~d_valid | d_go                      # D takes the port's next word
    m.d.comb += [core.ibus.adr.eq(f_pc[2:]), core.ibus.en.eq(d_load | x_fresh & dec.branch)]

    with m.If(d_load):
        m.d.sync += [d_valid.eq(1), d_pc.eq(f_pc), d_from_save.eq(0), f_pc.eq(f_pc + 4)]
    with m.If(d_go & (d_dec.jal | d_dec.branch)):
        # the word behind it (fetched now) is dropped; the target is fetched next
        m.d.sync += [f_pc.eq(d_target), d_valid.eq(0)]
    with m.If(x_valid & x_fresh & dec.branch):
        m.d.sync += d_save.eq(core.ibus.data)
    with m.If(x_not_taken):
        m.d.sync += [d_valid.eq(1), d_from_save.eq(1), d_pc.eq(pc4), f_pc.eq(x_pc + 8)]
    with m.If(x_redirect):
        m.d.sync += [f_pc.eq(redirect_pc), d_valid.eq(0), d_from_save.eq(0)]

    # X's registers
    with m.If(d_go):
        m.d.sync += [
            x_valid.eq(1), x_fresh.eq(1), x_pc.eq(d_pc), x_word.eq(d_word), x_dec.eq(d_dec),
            x_target.eq(d_target), x_ffault.eq(d_pc[fetch_bits:] != fetch_hi),
            x_rs1v.eq(regfile.rdata1), x_rs2v.eq(regfile.rdata2),
        ]
    with m.Else():
        m.d.sync += x_fresh.eq(0)
        with m.If(x_go | w_trap):
            m.d.sync += x_valid.eq(0)
        # a register written while X waits reaches X's operand registers (load-use)
        with m.If(regfile.we & (regfile.waddr != 0) & (regfile.waddr == x_inst.rs1)):
            m.d.sync += x_rs1v.eq(regfile.wdata)
        with m.If(regfile.we & (regfile.waddr != 0) & (regfile.waddr == x_inst.rs2)):
            m.d.sync += x_rs2v.eq(regfile.wdata)

    # ------------------------------------------------------------------ W update
    result = Signal(32)
    with m.If(dec.lui):
        m.d.comb += result.eq(dec.imm)
    with m.Elif(dec.auipc):
        m.d.comb += result.eq(x_target)
    with m.Elif(dec.jal | dec.jalr):
        m.d.comb += result.eq(pc4)
    with m.Elif(dec.csr):
        m.d.comb += result.eq(csr_rdata)
    with m.Elif(dec.div):
        m.d.comb += result.eq(divider.result)
    with m.Elif(dec.mul):
        m.d.comb += result.eq(multiplier.result)
    with m.Else():
        m.d.comb += result.eq(alu.result)

    with m.If(x_commit):
        kind = Mux(dec.load, WKind.LOAD, Mux(dec.store, WKind.STORE, WKind.ALU))
        m.d.sync += [
            w_valid.eq(1),
            w_kind.eq(kind),
            w_rd.eq(Mux(dec.writes_rd, x_inst.rd, 0)),
            w_result.eq(result),
            w_pc.eq(x_pc),
            w_insn.eq(x_word),
            w_addr.eq(mem_addr),
            w_f3.eq(f3),
            w_priv_m.eq(priv_m),
            w_noinc.eq(dec.csr & csr_writes & ((csr_addr == Csr.MINSTRET)
                                               | (csr_addr == Csr.MINSTRETH))),
            w_denied.eq(x_mem & d_denied),
            w_misaligned.eq(x_mem & misaligned),
        ]
    with m.Elif(~w_hold):
        m.d.sync += w_valid.eq(0)

    shifted = Signal(32)
    m.d.comb += shifted.eq(bus.dat_r >> Cat(C(0, 3), w_addr[:2]))
    load_result = Signal(32)
    with m.Switch(w_f3):
        with m.Case(0):
            m.d.comb += load_result.eq(shifted[:8].as_signed())
        with m.Case(1):
            m.d.comb += load_result.eq(shifted[:16].as_signed())
        with m.Case(4):
            m.d.comb += load_result.eq(shifted[:8])
        with m.Case(5):
            m.d.comb += load_result.eq(shifted[:16])
        with m.Default():
            m.d.comb += load_result.eq(shifted)
    w_data = Signal(32)
    m.d.comb += w_data.eq(Mux(w_kind == WKind.LOAD, load_result, w_result))
    w_retire = w_valid & ~w_hold & ~w_trap
    m.d.comb += [
        regfile.waddr.eq(w_rd),
        regfile.wdata.eq(w_data),
        regfile.we.eq(w_retire & (w_rd != 0)),
        core.trace.valid.eq(w_retire),
        core.trace.pc.eq(w_pc),
        core.trace.insn.eq(w_insn),
        core.trace.rd_we.eq(w_rd != 0),
        core.trace.rd.eq(w_rd),
        core.trace.rd_data.eq(w_data),
    ]

    # ------------------------------------------------------------------ CSR and trap updates
    m.d.sync += [mcycle.eq(mcycle + 1), minstret.eq(minstret_now)]
    m.d.comb += instret_inc.eq(w_retire & ~w_noinc)
    if pmp is not None:
        m.d.comb += [pmp.csr_we.eq(x_commit & dec.csr & csr_writes & pmp.csr_hit),
                     pmp.csr_wdata.eq(csr_wdata)]
    w_code = Mux(w_misaligned,
                 Mux(w_kind == WKind.STORE, Cause.STORE_MISALIGNED, Cause.LOAD_MISALIGNED),
                 Mux(w_kind == WKind.STORE, Cause.STORE_FAULT, Cause.LOAD_FAULT))

    def trap_entry(prev_priv_m):
        m.d.sync += [mstatus_mpie.eq(mstatus_mie), mstatus_mie.eq(0),
                     mstatus_mpp_m.eq(prev_priv_m), priv_m.eq(1)]

    with m.If(w_trap):
        m.d.sync += [mepc.eq(w_pc), mcause_irq.eq(0), mcause_code.eq(w_code),
                     mtval.eq(w_addr)]
        trap_entry(w_priv_m)
    with m.Elif(x_trap | b_trap):
        with m.If(x_trap & exc):
            m.d.sync += [mcause_irq.eq(0), mcause_code.eq(exc_cause), mtval.eq(exc_tval)]
        with m.Else():
            m.d.sync += [mcause_irq.eq(1), mcause_code.eq(irq_cause), mtval.eq(0)]
        m.d.sync += mepc.eq(Mux(x_valid, x_pc, arch_pc))
        trap_entry(priv_m)
    with m.Elif(x_commit & dec.mret):
        m.d.sync += [mstatus_mie.eq(mstatus_mpie), mstatus_mpie.eq(1),
                     priv_m.eq(mstatus_mpp_m), mstatus_mpp_m.eq(0)]
        with m.If(~mstatus_mpp_m):
            m.d.sync += mstatus_mprv.eq(0)
    with m.Elif(x_commit & dec.csr & csr_writes):
        data_ = csr_wdata
        with m.Switch(csr_addr):
            with m.Case(Csr.MSTATUS):
                m.d.sync += [mstatus_mie.eq(data_[3]), mstatus_mpie.eq(data_[7]),
                             mstatus_mpp_m.eq(data_[11:13] != 0),
                             mstatus_mprv.eq(data_[17]), mstatus_tw.eq(data_[21])]
            with m.Case(Csr.MCOUNTEREN):
                m.d.sync += mcounteren.eq(data_[:3])
            with m.Case(Csr.MIE):
                m.d.sync += mie.eq(data_ & mie_mask)
            with m.Case(Csr.MTVEC):
                m.d.sync += mtvec_lo[2:].eq(data_[2:fetch_bits])
            with m.Case(Csr.MSCRATCH):
                m.d.sync += mscratch.eq(data_)
            with m.Case(Csr.MEPC):
                m.d.sync += mepc.eq(Cat(C(0, 2), data_[2:]))
            with m.Case(Csr.MCAUSE):
                m.d.sync += [mcause_irq.eq(data_[31]), mcause_code.eq(data_[:5])]
            with m.Case(Csr.MTVAL):
                m.d.sync += mtval.eq(data_)
            # a counter write replaces the cycle's increment on the whole counter
            with m.Case(Csr.MCYCLE):
                m.d.sync += mcycle.eq(Cat(data_, mcycle[32:]))
            with m.Case(Csr.MCYCLEH):
                m.d.sync += mcycle.eq(Cat(mcycle[:32], data_))
            with m.Case(Csr.MINSTRET):
                m.d.sync += minstret.eq(Cat(data_, minstret_now[32:]))
            with m.Case(Csr.MINSTRETH):
                m.d.sync += minstret.eq(Cat(minstret_now[:32], data_))
    return m
