"""The pipelined core: F/D/X/W with a registered fetch address (``Core(pipeline=True)``).

References: The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA (20191213) and
Volume II: Privileged Architecture (20211203).

``F``  a PC register (``f_pc``) drives RAM's synchronous instruction port; the word is there
       the next cycle. ``f_pc`` is loaded with PC + 4, a pc-relative target computed in ``D``
       (JAL, branches), or a target from ``X`` (JALR, MRET, FENCE.I, traps): always from a
       register, never from the RAM's output in the same cycle. The port reads in every cycle
       (its enable is constant), so no pipeline decision reaches the RAM's pins.
``D``  decode (:class:`~gluon.hdl.decoder.Decoder`), register read (transparent to ``W``'s
       write), the pc-relative target; all registered into ``X``. ``D`` keeps its word in a
       register of its own while it holds.
``X``  ALU, branch resolution, CSR access, exceptions and interrupts, and the one Wishbone
       request of a load or store (only when nothing older can trap; not waiting for the
       PMP / M-only verdict, which ``X`` makes beside it and registers in three bits: ``W``
       cancels a refused request, ``dbus_cancel``). Operands come from ``X``'s registers or
       the bypass from ``W``'s ALU result. A load right behind a store waits a cycle (RAM
       writes the store from its write buffer in that cycle).
``W``  write-back, acting on ``X``'s verdict; a load waits for its response (one cycle on
       RAM); a refused (its request cancelled, its data dropped), misaligned or
       erroring load/store, and a taken branch or JALR to a misaligned target, trap from here.
       The exceptions ``X`` raises are all decided in ``D`` and registered.

Control flow, every cost a function of the instruction stream only (docs/core.md):
a JAL in ``D`` loads its target into ``f_pc`` (the word fetched behind it is dropped): 2 cycles.
A branch in ``D`` does the same; while the branch resolves in ``X`` the target is fetched and
the sequential word behind the branch is kept in ``d_save``. Taken, ``D`` gets the target's
word; not taken, the saved word: either way the next instruction reaches ``X`` two cycles after
the branch (a not-taken branch waits the same cycle a taken one does). JALR, MRET, FENCE.I and
traps load ``f_pc`` from ``X``: 3 cycles. Nothing after a branch executes in ``X`` before the
branch is resolved; the words fetched at PC + 4 and at a direct target depend on instruction
bits only.

``Core(fetch_reg=True)``: the fetched word registered before ``D``. The port's output goes
only into flip-flops: ``P`` (the word on the port, read at the address of the cycle before) is
loaded into ``D``'s register ``d_word_r``, or kept in ``p_word_r`` while ``D`` holds; ``D``
decodes its register. The port's address is ``f_pc``, or ``D``'s direct target while ``D``
holds a JAL, or a branch whose next word ``P`` holds (the select decoded from ``D``'s
registers; no stall, branch outcome or ``X`` target reaches the address pins). A JAL: 2 cycles
(its target is read in ``D``'s cycle). A branch leaves ``D`` with the word behind it in ``P``
(kept in ``d_save``) while its target is read; resolved in ``X``, ``D`` gets the target's word
(``P``) or the saved one and holds it a cycle while ``P`` fetches its successor: 3 cycles,
taken or not. JALR, MRET, FENCE.I, traps: 4 (``f_pc``, the port, ``P``'s register, ``D``).
"""

from amaranth import *
from amaranth.lib import wiring

from .alu import ALU
from .lsu import LoadStoreUnit
from .decoder import Decoder, Decoded
from .regfile import RegisterFile
from .divider import Divider
from .multiplier import Multiplier
from .branch import BranchUnit
from .pmp import PMP
from .csr import CsrFile
from .isa import Instruction, Cause, Csr
from .triggers import Triggers
from .debug.hart import HartDebug


__all__ = ["elaborate_pipelined"]


class WKind:
    NONE, ALU, LOAD, STORE = range(4)


def elaborate_pipelined(core, platform):
    """The elaboration of :class:`~gluon.hdl.core.Core` with ``pipeline=True``."""
    m = Module()
    fetch_bits = (core.fetch_size - 1).bit_length()
    fetch_hi = core.fetch_base >> fetch_bits

    m.submodules.decoder = decoder = Decoder(split_legal=True)
    m.submodules.regfile = regfile = RegisterFile()
    m.submodules.alu = alu = ALU(shared_adder=True)
    m.submodules.lsu = lsu = LoadStoreUnit()
    m.submodules.divider = divider = Divider()
    m.submodules.multiplier = multiplier = Multiplier(stages=1, split=True)
    m.submodules.branch = branch = BranchUnit()
    pmp = None
    if core.pmp_entries:
        m.submodules.pmp = pmp = PMP(core.pmp_entries, d_sum=True, groups=2)
    bus = core.dbus

    # ------------------------------------------------------------------ F and D state
    f_pc = Signal(32, init=core.reset_vector)     # the address on the instruction port
    d_valid = Signal()
    d_pc = Signal(32)
    # The instruction port reads f_pc in every cycle (no pipeline decision reaches the RAM's
    # read enable): D's word is on the port only in the cycle after D was loaded from it
    # (d_fresh); D keeps it in d_word_r for the cycles it holds.
    d_fresh = Signal()                            # D's word is the port's output
    d_word_r = Signal(32)                         # D's word otherwise
    d_save = Signal(32)                           # the word behind a branch in X
    fr = core.fetch_reg
    if fr:
        # Core(fetch_reg=True): the port's output goes only into flip-flops. P is the word on
        # the port (read at the address of the cycle before); D loads it into d_word_r (its
        # only source of a word), or P keeps it in p_word_r while D holds.
        p_valid = Signal()
        p_pc = Signal(32)
        p_fresh = Signal()                        # P's word is the port's output
        p_word_r = Signal(32)                     # P's word otherwise
        d_wait = Signal()                         # D's word chosen by a branch: a cycle in D

    # ------------------------------------------------------------------ X state
    x_valid = Signal()
    x_fresh = Signal()                            # X's first cycle for its instruction
    x_pc = Signal(32)
    x_word = Signal(32)
    x_dec = Signal(Decoded)
    x_target = Signal(32)                         # pc + imm (branches, JAL, AUIPC), from D
    x_ffault = Signal()                           # the fetch of x_pc was outside RAM
    x_iok = Signal()                              # PMP allows executing x_pc (checked in D)
    # the illegal-instruction verdict, in parts registered from D (each a few LUT levels after
    # the instruction RAM's output) and combined with the privilege in X
    x_bad_op = Signal()                           # not an instruction by opcode/funct fields
    x_bad_sys = Signal()                          # SYSTEM, funct3 0, none of ECALL/EBREAK/MRET/WFI
    x_bad_csr = Signal()                          # a CSR access illegal whatever the privilege
    x_bad_u = Signal()                            # illegal in U-mode (CSR access, MRET, WFI/TW)
    x_jal_mis = Signal()                          # a JAL to a misaligned target (from D)
    x_alu_sub = Signal()                          # the ALU's adder subtracts (SUB, SLT[I][U])
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
    w_denied = Signal()                           # W's PMP / M-only verdict: refused
    # the verdict as X registered it: refused if the first group of PMP entries decides
    # (w_deny_a, also for an M-only region), else as the others decide (w_deny_b); w_cancel_*
    # the same for an access whose request was taken from X, and only in W's first cycle
    w_first = Signal()                            # an entry of the first group matched
    w_deny_a = Signal()
    w_deny_b = Signal()
    w_cancel_a = Signal()
    w_cancel_b = Signal()
    w_sent = Signal()                             # the access's request was taken from X
    w_misaligned = Signal()
    w_noinc = Signal()                            # a CSR write to minstret[h]: no increment
    w_jmis = Signal()                             # a branch/JALR to a misaligned target

    # ------------------------------------------------------------------ CSRs and trap state
    m.submodules.csr = csr = CsrFile(fetch_base=core.fetch_base, fetch_size=core.fetch_size,
                                     mimpid=core.mimpid, debug=core.has_debug,
                                     triggers=bool(core.triggers))
    m.d.comb += [csr.mtime.eq(core.mtime), csr.soft_irq.eq(core.soft_irq),
                 csr.timer_irq.eq(core.timer_irq), csr.local_irq.eq(core.local_irq)]
    priv_m = csr.priv_m

    # ------------------------------------------------------------------ debug mode, triggers
    # Debug mode (hdl/debug/hart.py) and Sdtrig triggers (hdl/triggers.py); docs/core.md,
    # "Debug mode and triggers on the pipelined core". Without them the names below are
    # constants and the netlist is the plain pipeline's.
    hdbg = trig = None
    dbg_halt = dbg_halted = dbg_irq_off = C(0, 1)
    if core.has_debug:
        m.submodules.debug = hdbg = HartDebug()
        wiring.connect(m, wiring.flipped(core.debug), hdbg.dm)
        # dbg_halt: X's instruction enters debug mode instead of executing (taken like an
        # interrupt); no interrupt while halted, nor while stepping with dcsr.stepie clear
        dbg_halt, dbg_halted = hdbg.halt, hdbg.halted
        dbg_irq_off = hdbg.irq_mask | hdbg.halted
    t_block = C(0, 1)                             # a trigger matches X's load/store
    w_trig = w_trig_halt = C(0, 1)                # ... W's (no request; it traps or halts)
    if core.triggers:
        m.submodules.triggers = trig = Triggers(core.triggers, early_execute=True)
        t_block = trig.ldst_exc | trig.ldst_halt
        w_trig = Signal()
        w_trig_halt = Signal()
    # entering debug mode from W (an action-1 load/store trigger): X's instruction is dropped
    w_dhalt = C(0, 1)
    if hdbg is not None and trig is not None:
        w_dhalt = Signal()
        m.d.comb += w_dhalt.eq(w_valid & w_trig_halt)

    # ------------------------------------------------------------------ D: decode, read
    d_word = Signal(32)
    if fr:
        m.d.comb += d_word.eq(d_word_r)
    else:
        m.d.comb += d_word.eq(Mux(d_fresh, core.ibus.data, d_word_r))
    d_inst = Signal(Instruction)
    m.d.comb += [d_inst.eq(d_word), decoder.word.eq(d_word)]
    d_dec = decoder.dec
    m.d.comb += [regfile.raddr1.eq(d_inst.rs1), regfile.raddr2.eq(d_inst.rs2)]
    d_target = Signal(32)
    m.d.comb += d_target.eq(d_pc + decoder.pc_imm)
    m.d.comb += [csr.d_addr.eq(d_word[20:32]),
                 csr.d_writes.eq((d_inst.funct3[:2] == 1) | (d_inst.rs1 != 0))]

    # ------------------------------------------------------------------ X: operands
    x_inst = Signal(Instruction)
    m.d.comb += x_inst.eq(x_word)
    f3 = x_inst.funct3
    f7 = x_inst.funct7
    dec = x_dec
    is_muldiv = dec.mul | dec.div
    is_system_other = ~dec.csr & (dec.ecall | dec.ebreak | dec.mret | dec.wfi)
    w_late = w_valid & (w_kind == WKind.LOAD)
    # The bypass from W, chosen in D: the instruction in X when this one leaves D is the one in
    # W when this one is in X (it leaves X in the same cycle, committing: D moves only then),
    # so the register match is made a cycle early. The bypass holds for X's first cycle only:
    # W's ALU result is written in that cycle (an ALU result never waits in W) and reaches X's
    # operand register (below), so x_byp1/x_byp2 clear when X holds and the operand
    # multiplexers' select is a flip-flop.
    x_byp1 = Signal()
    x_byp2 = Signal()
    x_alu_rd = x_valid & dec.writes_rd & ~dec.load & (x_inst.rd != 0)
    rs1 = Signal(32)
    rs2 = Signal(32)
    m.d.comb += [
        rs1.eq(Mux(x_byp1, w_result, x_rs1v)),
        rs2.eq(Mux(x_byp2, w_result, x_rs2v)),
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
                 alu.sub.eq(x_alu_sub), alu.arith.eq(alt)]
    m.d.comb += [branch.a.eq(rs1), branch.b.eq(rs2), branch.funct3.eq(f3)]
    taken = branch.taken
    pc4 = Signal(32)
    m.d.comb += pc4.eq(x_pc + 4)
    jalr_target = Cat(C(0, 1), alu.sum[1:32])
    # a taken branch or JALR to a misaligned target traps from W (the comparator and the
    # JALR adder then decide no trap in X); a JAL's target is known in D
    jump_mis = Mux(dec.jalr, jalr_target[1], dec.branch & taken & x_target[1])

    # ------------------------------------------------------------------ X: memory access
    mem_addr = alu.sum
    m.d.comb += [lsu.addr.eq(mem_addr), lsu.funct3.eq(f3), lsu.store.eq(rs2)]
    misaligned = lsu.misaligned
    x_mem = dec.load | dec.store
    sel = lsu.sel
    store_data = lsu.wdata

    # ------------------------------------------------------------------ X: CSRs
    csr_addr = x_word[20:32]
    csr_writes = (f3[:2] == 1) | (x_inst.rs1 != 0)     # csrrw[i] always; rs/rc if rs1 != 0
    m.d.comb += [csr.addr.eq(csr_addr), csr.funct3.eq(f3), csr.writes.eq(csr_writes),
                 csr.src.eq(Mux(f3[2], x_inst.rs1, rs1))]
    if pmp is not None:
        m.d.comb += [pmp.csr_addr.eq(csr_addr), csr.pmp_rdata.eq(pmp.csr_rdata)]
    csr_illegal = csr.illegal
    # a PMP CSR write: the instruction behind it was checked in D against the old entries, so
    # it is fetched again (as after FENCE.I: 3 cycles)
    pmp_write = Signal()
    m.d.comb += pmp_write.eq(dec.csr & csr_writes & ((csr_addr[4:] == 0x3A)
                                                   | (csr_addr >= 0x3B0) & (csr_addr <= 0x3EF)))

    # ------------------------------------------------------------------ X: exceptions
    exc = Signal()
    exc_cause = Signal(4)
    exc_tval = Signal(32)
    d_priv_m = Mux(csr.mprv, csr.mpp_m, priv_m)
    m_only_hit = Signal()
    for base, size_ in core.m_only:
        bits = (size_ - 1).bit_length()
        with m.If(mem_addr[bits:] == (base >> bits)):
            m.d.comb += m_only_hit.eq(1)
    if pmp is not None:
        m.d.comb += [
            pmp.i_addr.eq(d_pc), pmp.i_m.eq(priv_m),
            # the address's addends (a load's or store's operand b is its immediate): the TOR
            # comparators do not wait for the address adder (hdl/pmp.py)
            pmp.d_base.eq(rs1), pmp.d_offset.eq(dec.imm),
            # X judges: the access's privilege and direction are X's
            pmp.d_m.eq(d_priv_m), pmp.d_write.eq(dec.store),
        ]
    i_ok = x_iok
    x_illegal = Signal()
    m.d.comb += x_illegal.eq(x_bad_op | x_bad_sys | x_bad_csr | ~priv_m & x_bad_u)
    # the data request (made from X) is made with M privilege (MPRV applied), for cores that
    # report it (Core.dbus_m)
    if hasattr(core, "dbus_m"):
        m.d.comb += core.dbus_m.eq(d_priv_m)
    # The PMP / M-only verdict is made in X, beside the request, and registered (below): the
    # request (RAM's read and write buffer, the decoder's register) does not wait for it. W
    # cancels a refused access's request (dbus_cancel, one LUT of flip-flops): RAM drops the
    # buffered write, the decoder the registered MMIO request; a refused load's data are
    # dropped (W traps instead of writing back). docs/security.md, "Refused accesses".
    # The entries' priority is cut in two groups (PMP(groups=2)): X registers the first
    # group's verdict, whether one of its entries matched (then it decides), and the verdict
    # of the rest (no match at all: M yes, U no); W picks (w_denied, dbus_cancel), one LUT.
    # The whole priority in X makes X's path one LUT level longer (16.69 ns against 15.71 ns
    # for the core alone, docs/core.md).
    x_monly = m_only_hit & ~d_priv_m              # M-only region, not M privilege
    if pmp is None:
        x_deny_a, x_first, x_deny_b = x_monly, C(1, 1), C(0, 1)
    else:
        x_first = pmp.d_group_hit[0]
        x_deny_a = ~pmp.d_group_ok[0] & x_first | x_monly
        x_deny_b = ~(pmp.d_group_ok[1] | ~pmp.d_group_hit[1] & d_priv_m) | x_monly
    m.d.comb += [w_denied.eq(w_deny_a | ~w_first & w_deny_b),
                 core.mem_denied.eq(x_valid & x_mem & misaligned | core.dbus_cancel)]
    # every exception in X is decided from registers (from D: the fetch checks, the decode,
    # the CSR access verdict, a JAL's target)
    with m.If(x_ffault | ~i_ok):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_FAULT), exc_tval.eq(x_pc)]
    with m.Elif(x_illegal):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.ILLEGAL), exc_tval.eq(x_word)]
    with m.Elif(dec.ecall):
        m.d.comb += [exc.eq(1), exc_cause.eq(Mux(priv_m, Cause.ECALL_M, Cause.ECALL_U))]
    with m.Elif(dec.ebreak):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(x_pc)]
    with m.Elif(x_jal_mis):
        m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_MISALIGNED), exc_tval.eq(x_target)]

    irq_pending = csr.irq_pending
    irq_take = csr.irq_enabled & irq_pending & ~(x_valid & dec.wfi) & ~dbg_irq_off

    # ------------------------------------------------------------------ W: completion
    w_mem = w_valid & ((w_kind == WKind.LOAD) | (w_kind == WKind.STORE))
    w_bus = w_mem & w_sent & ~w_denied
    m.d.comb += core.dbus_cancel.eq(w_cancel_a | ~w_first & w_cancel_b)
    w_hold = w_bus & ~(bus.ack | bus.err)
    w_trap = (w_mem & (bus.err | w_denied | w_misaligned | w_trig & ~w_trig_halt)
              | w_valid & w_jmis)

    # ------------------------------------------------------------------ X: progress
    div_started = Signal()
    div_wait = dec.div & ~(divider.done & div_started)
    mul_started = Signal()
    mul_wait = dec.mul & ~(multiplier.valid & mul_started)
    wfi_wait = dec.wfi & ~irq_pending
    x_bus_wait = x_mem & bus.stall
    # a load right behind a store waits a cycle, whatever their addresses: RAM makes a store's
    # write in the cycle after its request, from its write buffer (hdl/ram.py), on the port
    # the load would read
    sl_wait = Signal()
    m.d.comb += sl_wait.eq(dec.load & w_valid & (w_kind == WKind.STORE))
    stall = Signal()
    m.d.comb += stall.eq(w_hold | hazard |
                         ~exc & ~irq_take & (div_wait | mul_wait | wfi_wait | x_bus_wait
                                             | sl_wait))
    x_go = Signal()
    m.d.comb += x_go.eq(x_valid & ~stall & ~w_trap)
    x_trap = Signal()
    x_commit = Signal()
    # The progress of an instruction that waits on nothing of its own (a trap, a CSR access,
    # MRET: no MUL/DIV/WFI/bus/store->load wait), the same as x_go for it, written without
    # those waits so that the CSRs' and the trap state's write enables do not wait for the bus
    # stall or the MUL/DIV logic.
    x_plain_go = Signal()
    m.d.comb += x_plain_go.eq(x_valid & ~w_hold & ~hazard & ~w_trap)
    m.d.comb += [x_trap.eq(x_plain_go & (exc | irq_take)), x_commit.eq(x_go & ~exc & ~irq_take)]
    x_plain_commit = Signal()
    m.d.comb += x_plain_commit.eq(x_plain_go & ~exc & ~irq_take)
    # an interrupt taken while X holds no instruction (W completing without a trap)
    b_trap = Signal()
    m.d.comb += [b_trap.eq(~x_valid & irq_take & ~w_hold & ~w_trap),
                 core.trap.eq(w_trap | x_trap | b_trap)]

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

    # the data request: only when nothing older can still trap; not for a misaligned access
    # (or one a trigger matches); PMP's verdict comes in W, which cancels a refused request
    x_req = (x_valid & x_mem & ~exc & ~irq_take & ~hazard & ~sl_wait & ~w_hold & ~w_trap
             & ~misaligned & ~t_block & ~dbg_halt & ~w_dhalt)
    m.d.comb += [
        bus.cyc.eq(w_bus | x_req),
        bus.stb.eq(x_req),
        bus.we.eq(dec.store),
        bus.adr.eq(mem_addr[2:]),
        bus.sel.eq(sel),
        bus.dat_w.eq(store_data),
    ]

    # ------------------------------------------------------------------ redirects and fetch
    trap_pc = Cat(C(0, 2), csr.mtvec[2:])
    x_redirect = Signal()
    redirect_pc = Signal(32)
    with m.If(w_trap | x_trap | b_trap):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(trap_pc)]
    with m.Elif(x_commit & dec.jalr):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(jalr_target)]
    with m.Elif(x_commit & dec.mret):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(csr.mepc)]
    with m.Elif(x_commit & (dec.fence_i | pmp_write)):
        m.d.comb += [x_redirect.eq(1), redirect_pc.eq(pc4)]
    x_not_taken = x_commit & dec.branch & ~taken
    with m.If(x_redirect):
        m.d.sync += arch_pc.eq(redirect_pc)
    with m.Elif(x_commit):
        m.d.sync += arch_pc.eq(Mux(dec.jal | dec.branch & taken, x_target, pc4))

    x_free = ~x_valid | x_go
    d_go = Signal()
    if fr:
        # The fetched word registered (Core(fetch_reg=True)): F puts an address on the port, P
        # is the word on the port in the next cycle (into p_word_r or D's register, nothing
        # else), D decodes its own register. The port's address is f_pc, or D's direct target
        # while D holds a JAL (or a branch whose next word P holds): a flip-flop -> the
        # decoder's pc_imm -> D's adder -> one multiplexer, whose select is decoded from D's
        # registers; no stall, no branch outcome, no X target reaches the address pins.
        d_jump = Signal()                         # D's target is on the port's address
        m.d.comb += [
            d_jump.eq(d_valid & (d_dec.jal | d_dec.branch & p_valid)),
            # a branch leaves D only with the word behind it in P (saved in d_save), and a
            # word chosen by a branch waits a cycle in D, both outcomes alike
            d_go.eq(d_valid & x_free & ~x_redirect & ~(x_valid & dec.branch) & ~d_wait
                    & ~(d_dec.branch & ~p_valid)),
        ]
        f_adr = Mux(d_jump, d_target, f_pc)
        m.d.comb += [core.ibus.adr.eq(f_adr[2:]), core.ibus.en.eq(1)]
        p_word = Mux(p_fresh, core.ibus.data, p_word_r)
        # D takes P's word when it is empty or moving, except while X holds an unresolved branch
        # (the branch chooses between P's word, its target, and d_save)
        d_load = (~d_valid | d_go) & ~(x_valid & dec.branch)
        m.d.sync += [p_word_r.eq(p_word), p_fresh.eq(0), d_wait.eq(0)]
        with m.If(d_load):
            m.d.sync += [d_valid.eq(p_valid), d_pc.eq(p_pc), d_word_r.eq(p_word)]
        with m.If(~d_jump & (~p_valid | d_load)):
            m.d.sync += [p_valid.eq(1), p_pc.eq(f_pc), p_fresh.eq(1), f_pc.eq(f_pc + 4)]
        with m.If(x_commit & dec.branch):
            # both outcomes: D gets the chosen word (the target's, in P; the one behind the
            # branch, in d_save) and holds it a cycle while P fetches the next; the target's
            # successor, fetched already when taken, is fetched again (as the not-taken one is)
            m.d.sync += [d_valid.eq(1), d_wait.eq(1), p_valid.eq(0),
                         d_pc.eq(Mux(taken, x_target, pc4)),
                         d_word_r.eq(Mux(taken, p_word, d_save))]
            with m.If(~taken):                    # taken: f_pc is the target + 4 already
                m.d.sync += f_pc.eq(x_pc + 8)
        with m.If(x_redirect):
            m.d.sync += [f_pc.eq(redirect_pc), d_valid.eq(0), p_valid.eq(0)]
        # a JAL or branch leaving D (never with a redirect or a branch in X): P's word is
        # dropped (kept in d_save behind a branch); the target, on the port now, is P's next
        with m.If(d_go & (d_dec.jal | d_dec.branch)):
            m.d.sync += [d_valid.eq(0), p_valid.eq(1), p_pc.eq(d_target), p_fresh.eq(1),
                         f_pc.eq(d_target + 4)]
        with m.If(d_go & d_dec.branch):
            m.d.sync += d_save.eq(p_word)
    else:
        # D moves to X when X is free, nothing redirects, and X holds no unresolved branch
        m.d.comb += d_go.eq(d_valid & x_free & ~x_redirect & ~(x_valid & dec.branch))
        d_load = ~d_valid | d_go                      # D takes the port's next word
        m.d.comb += [core.ibus.adr.eq(f_pc[2:]), core.ibus.en.eq(1)]

        m.d.sync += [d_word_r.eq(d_word), d_fresh.eq(0)]
        with m.If(d_load):
            m.d.sync += [d_valid.eq(1), d_pc.eq(f_pc), d_fresh.eq(1), f_pc.eq(f_pc + 4)]
        with m.If(x_valid & x_fresh & dec.branch):
            m.d.sync += d_save.eq(core.ibus.data)
        with m.If(x_not_taken):
            # the word behind the branch: on the port in the branch's first cycle in X, kept in
            # d_save after it
            m.d.sync += [d_valid.eq(1), d_fresh.eq(0), d_pc.eq(pc4), f_pc.eq(x_pc + 8),
                         d_word_r.eq(Mux(x_fresh, core.ibus.data, d_save))]
        with m.If(x_redirect):
            m.d.sync += [f_pc.eq(redirect_pc), d_valid.eq(0), d_fresh.eq(0)]
        # a JAL or branch leaving D (never with a redirect or a branch in X, the two above): the
        # word behind it (fetched now) is dropped, the target is fetched next. Written last, so
        # that D's target adder meets f_pc's other sources in the last multiplexer.
        with m.If(d_go & (d_dec.jal | d_dec.branch)):
            m.d.sync += [f_pc.eq(d_target), d_valid.eq(0)]

    # dbus_claim: a copy of x_valid & (load | store), in a flip-flop of its own for RAM's port
    # owner (hdl/ram.py): set and cleared as x_valid is (w_dhalt clears it in debug mode)
    x_claim = Signal()
    with m.If(d_go):
        m.d.sync += x_claim.eq(d_dec.load | d_dec.store)
    with m.Elif(x_go | w_trap | w_dhalt):
        m.d.sync += x_claim.eq(0)
    m.d.comb += core.dbus_claim.eq(x_claim)

    # X's registers
    with m.If(d_go):
        m.d.sync += [
            x_valid.eq(1), x_fresh.eq(1), x_pc.eq(d_pc), x_word.eq(d_word), x_dec.eq(d_dec),
            x_target.eq(d_target), x_ffault.eq(d_pc[fetch_bits:] != fetch_hi),
            x_iok.eq(pmp.i_ok if pmp is not None else 1),
            x_bad_op.eq(decoder.bad_op), x_bad_sys.eq(decoder.bad_sys),
            x_bad_csr.eq(d_dec.csr & csr.d_illegal),
            x_bad_u.eq(d_dec.csr & csr.d_illegal_u | d_dec.mret | d_dec.wfi & csr.tw),
            x_jal_mis.eq(d_dec.jal & d_target[1]),
            x_alu_sub.eq(d_dec.op & d_inst.funct7[5] & (d_inst.funct3 == 0)
                         | (d_dec.op | d_dec.opimm) & (d_inst.funct3[1:] == 0b01)),
            x_byp1.eq(x_alu_rd & (x_inst.rd == d_inst.rs1)),
            x_byp2.eq(x_alu_rd & (x_inst.rd == d_inst.rs2)),
            x_rs1v.eq(regfile.rdata1), x_rs2v.eq(regfile.rdata2),
        ]
    with m.Else():
        m.d.sync += [x_fresh.eq(0), x_byp1.eq(0), x_byp2.eq(0)]
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
        m.d.comb += result.eq(csr.rdata)
    with m.Elif(dec.div):
        m.d.comb += result.eq(divider.result)
    with m.Elif(dec.mul):
        m.d.comb += result.eq(multiplier.result)
    with m.Else():
        m.d.comb += result.eq(alu.result)

    # a load/store that commits made its request unless misaligned or matched by a trigger
    # (x_req: every other term of it is in x_commit); its cancel is W's first cycle only
    # (a refused access never holds W)
    x_sent = x_mem & ~misaligned & ~t_block
    m.d.sync += [w_cancel_a.eq(x_commit & x_sent & x_deny_a),
                 w_cancel_b.eq(x_commit & x_sent & x_deny_b)]
    with m.If(x_commit):
        kind = Mux(dec.load, WKind.LOAD, Mux(dec.store, WKind.STORE, WKind.ALU))
        m.d.sync += [
            w_valid.eq(1),
            w_kind.eq(kind),
            w_rd.eq(Mux(dec.writes_rd, x_inst.rd, 0)),
            w_result.eq(result),
            w_pc.eq(x_pc),
            w_insn.eq(x_word),
            w_addr.eq(Mux(dec.branch, x_target, Mux(dec.jalr, jalr_target, mem_addr))),
            w_jmis.eq(jump_mis),
            w_f3.eq(f3),
            w_priv_m.eq(priv_m),
            w_noinc.eq(dec.csr & csr_writes & ((csr_addr == Csr.MINSTRET)
                                               | (csr_addr == Csr.MINSTRETH))),
            w_first.eq(x_first), w_deny_a.eq(x_deny_a), w_deny_b.eq(x_deny_b),
            w_sent.eq(x_sent),
            w_misaligned.eq(x_mem & misaligned),
        ]
    with m.Elif(~w_hold):
        m.d.sync += w_valid.eq(0)

    m.d.comb += [lsu.r_addr.eq(w_addr[:2]), lsu.r_funct3.eq(w_f3), lsu.rdata.eq(bus.dat_r)]
    load_result = lsu.result
    w_data = Signal(32)
    m.d.comb += w_data.eq(Mux(w_kind == WKind.LOAD, load_result, w_result))
    w_retire = w_valid & ~w_hold & ~w_trap & ~w_dhalt
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
    m.d.comb += [csr.retire.eq(w_retire), csr.noinc.eq(w_noinc),
                 csr.we.eq(x_plain_commit & dec.csr & csr_writes),
                 csr.mret.eq(x_plain_commit & dec.mret)]
    if pmp is not None:
        m.d.comb += [pmp.csr_we.eq(x_plain_commit & dec.csr & csr_writes & pmp.csr_hit),
                     pmp.csr_wdata.eq(csr.wdata)]
    w_code = Mux(w_jmis, Cause.FETCH_MISALIGNED, Mux(w_misaligned,
                 Mux(w_kind == WKind.STORE, Cause.STORE_MISALIGNED, Cause.LOAD_MISALIGNED),
                 Mux(w_kind == WKind.STORE, Cause.STORE_FAULT, Cause.LOAD_FAULT)))
    if trig is not None:
        # an address breakpoint comes before misalignment and access faults (3.7)
        w_code = Mux(w_trig, Cause.BREAKPOINT, w_code)
    m.d.comb += csr.trap.eq(w_trap | x_trap | b_trap)
    with m.If(w_trap):
        m.d.comb += [csr.trap_epc.eq(w_pc), csr.trap_code.eq(w_code), csr.trap_tval.eq(w_addr),
                     csr.trap_prev_m.eq(w_priv_m)]
    with m.Elif(x_trap & exc):
        m.d.comb += [csr.trap_epc.eq(x_pc), csr.trap_code.eq(exc_cause),
                     csr.trap_tval.eq(exc_tval), csr.trap_prev_m.eq(priv_m)]
    with m.Else():                                # an interrupt
        m.d.comb += [csr.trap_epc.eq(Mux(x_valid, x_pc, arch_pc)), csr.trap_irq.eq(1),
                     csr.trap_code.eq(csr.irq_cause), csr.trap_prev_m.eq(priv_m)]

    # ------------------------------------------------------------------ triggers
    # The execute match is made in D on d_pc, beside the PMP's fetch verdict, and registered
    # into X (an exception decided in D, like the others X raises); the load/store match on
    # X's address, beside the PMP's data verdict: a matched access makes no request and
    # traps (cause 3) or enters debug mode from W. No wait is added anywhere.
    if trig is not None:
        m.d.comb += [csr.tselect.eq(trig.tselect), csr.tdata1.eq(trig.tdata1),
                     csr.tdata2.eq(trig.tdata2), csr.tinfo.eq(trig.tinfo),
                     csr.tcontrol.eq(trig.tcontrol)]
        m.d.comb += [
            trig.priv_m.eq(priv_m), trig.x_pc.eq(d_pc), trig.x_enter.eq(d_go),
            trig.d_addr.eq(mem_addr), trig.d_load.eq(dec.load), trig.d_store.eq(dec.store),
            trig.csr_we.eq(x_commit & dec.csr & csr_writes), trig.csr_addr.eq(csr_addr),
            trig.csr_wdata.eq(csr.wdata),
            trig.trap.eq(w_trap | x_trap | b_trap), trig.mret.eq(x_commit & dec.mret),
            trig.x_fire.eq(x_go & (trig.exec_halt | trig.exec_exc & ~dbg_halt)),
            trig.x_commit.eq(x_commit), trig.w_fire.eq(w_valid & w_trig),
        ]
        if hdbg is not None:
            m.d.comb += trig.debug_ok.eq(core.debug.enable)
        with m.If(x_commit):
            m.d.sync += [w_trig.eq(x_mem & t_block), w_trig_halt.eq(x_mem & trig.ldst_halt)]
        # an execute breakpoint: the first exception in priority (Privileged Architecture 3.7)
        with m.If(trig.exec_exc):
            m.d.comb += [exc.eq(1), exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(x_pc)]
        with m.If(t_block):
            m.d.comb += core.mem_denied.eq(x_valid & x_mem)
        # a trigger CSR write: the instruction behind it had its execute match made in D
        # against the old triggers, so it is fetched again (as after a PMP CSR write)
        with m.If(x_commit & dec.csr & csr_writes & (csr_addr[4:] == 0x7A)):
            m.d.comb += [x_redirect.eq(1), redirect_pc.eq(pc4)]

    # ------------------------------------------------------------------ debug mode
    # dbg_halt is taken like an interrupt in X: it ends X's waits (not W's, nor a load-use
    # wait), and X's instruction neither commits nor traps nor starts a unit nor makes a
    # request; when X goes it is dropped and dpc takes its pc. D is emptied and nothing
    # enters X while halted; a resume restarts the fetch at dpc. Abstract register access
    # (once W has drained): D's first register-file read port and the write port, the CSR
    # file's debug port, the trigger CSRs.
    if hdbg is not None:
        with m.If(dbg_halt):
            m.d.comb += [stall.eq(w_hold | hazard), x_trap.eq(0), x_commit.eq(0),
                         x_plain_commit.eq(0), divider.start.eq(0), multiplier.load.eq(0)]
        with m.If(w_dhalt):
            # x_plain_go too: X's trap and the CSRs' write enables come from it
            m.d.comb += [x_go.eq(0), x_plain_go.eq(0), divider.start.eq(0),
                         multiplier.load.eq(0), b_trap.eq(0)]
            m.d.sync += x_valid.eq(0)
        with m.If(dbg_halt | w_dhalt | dbg_halted):
            m.d.comb += d_go.eq(0)
        with m.If(x_go & dbg_halt | w_dhalt | dbg_halted):
            m.d.sync += [d_valid.eq(0), d_fresh.eq(0)]
            if fr:
                m.d.sync += [p_valid.eq(0), d_wait.eq(0)]
        with m.If(hdbg.resume):
            m.d.sync += [f_pc.eq(hdbg.dpc), arch_pc.eq(hdbg.dpc)]
        m.d.comb += [
            hdbg.x_valid.eq(x_valid), hdbg.x_pc.eq(x_pc), hdbg.x_ebreak.eq(dec.ebreak),
            hdbg.priv_m.eq(priv_m), hdbg.take.eq(x_go & dbg_halt),
            hdbg.x_left.eq(x_go & ~dbg_halt), hdbg.w_idle.eq(~w_valid),
            hdbg.w_take.eq(w_dhalt), hdbg.w_pc.eq(w_pc), hdbg.w_priv_m.eq(w_priv_m),
        ]
        if trig is not None:
            m.d.comb += hdbg.trig_halt.eq(trig.exec_halt)
        # registers: halted, W empty (nothing else reads or writes the register file)
        with m.If(dbg_halted):
            m.d.comb += regfile.raddr1.eq(hdbg.gpr_addr)
        m.d.comb += hdbg.gpr_rdata.eq(regfile.rdata1)
        with m.If(hdbg.gpr_we):
            m.d.comb += [regfile.waddr.eq(hdbg.gpr_addr), regfile.wdata.eq(hdbg.wdata),
                         regfile.we.eq(1)]
        # CSRs: the CSR file's table (PMP CSRs excluded, as on the default core; the trigger
        # CSRs included), read into registers while halted
        m.d.comb += [csr.dbg_halted.eq(dbg_halted), csr.dbg_addr.eq(hdbg.csr_addr),
                     csr.dbg_we.eq(hdbg.csr_we), csr.dbg_wdata.eq(hdbg.wdata),
                     hdbg.csr_readonly.eq(hdbg.csr_addr[10:12] == 0b11)]
        m.d.comb += [hdbg.csr_rdata.eq(csr.dbg_rdata), hdbg.csr_exists.eq(csr.dbg_exists)]
        if trig is not None:
            with m.If(hdbg.csr_we):
                m.d.comb += [trig.csr_we.eq(1), trig.csr_addr.eq(hdbg.csr_addr),
                             trig.csr_wdata.eq(hdbg.wdata), trig.csr_debug.eq(1)]
    return m
