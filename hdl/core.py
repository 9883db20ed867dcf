"""The Gluon glue core: RV32IM + Zicsr, machine mode, in order, no speculation.

References: The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA (20191213) and
Volume II: Privileged Architecture (20211203).

Pipeline (see docs/core.md for the cycle table and the no-speculation rule):

``F`` fetch: the address of the next instruction is computed *in the cycle the current one
executes* (branches and jumps are resolved there) and presented straight to RAM's synchronous
instruction port, so the instruction arrives at the start of the next cycle. Nothing is ever
fetched from a predicted address; the only fetch ever discarded is the sequential successor of
a load or store that faults (bus error, or refused by PMP).

``X`` execute: decode, register read (with a bypass from ``W``), ALU, branch resolution, CSR
access, traps, and the issue of the one data-bus request of a load or store. A data request is
issued only when every older instruction is known not to trap. MUL* and DIV* wait in ``X``
for their fixed-latency unit (1 and 33 extra cycles).

``W`` write back: ALU results are written; a load waits for its bus response (one cycle on RAM)
and its data is written to the register file. An instruction in ``X`` that reads the register
a load in ``W`` is about to write waits one cycle (load-use interlock). A load or store PMP
refused makes no bus request and traps from ``W``, as a bus error does.

Every latency is a function of the instruction stream, never of data values: branches take one
cycle taken or not, MUL* two cycles, DIV/REM a fixed :data:`~gluon.hdl.divider.LATENCY` + 1
cycles, loads and stores on RAM one cycle (+1 if the next instruction reads the loaded
register).
"""

from amaranth import *
from amaranth.lib import wiring, data, memory
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, FetchSignature
from .divider import Divider
from .multiplier import Multiplier
from .branch import BranchUnit
from .pmp import PMP, N_ENTRIES as PMP_ENTRIES
from .isa import Opcode, Instruction, Cause, Irq, Csr
from .pipeline import elaborate_pipelined
from .debug.hart import HartDebug, DebugHartSignature
from .triggers import Triggers, TriggerCsr


__all__ = ["FetchSignature", "TraceSignature", "Core"]


class TraceSignature(wiring.Signature):
    """One retired instruction per cycle at most (for the instruction trace and counters).

    ``valid`` an instruction retired this cycle; ``pc``, ``insn``; ``rd_we``, ``rd``,
    ``rd_data``: the register it wrote.
    """

    def __init__(self):
        super().__init__({
            "valid": Out(1), "pc": Out(32), "insn": Out(32),
            "rd_we": Out(1), "rd": Out(5), "rd_data": Out(32),
        })


def _reverse(v):
    return Cat(*[v[len(v) - 1 - i] for i in range(len(v))])


class WKind:
    NONE, ALU, LOAD, STORE = range(4)


class Core(wiring.Component):
    """The core. Parameters: ``reset_vector``; ``fetch_base``/``fetch_size``: the byte range the
    instruction port reaches (RAM); a fetch outside it raises an instruction access fault.

    ``regfile_bram``: the register file's two read ports are synchronous (transparent to its
    write port), so that it fits FPGA block RAM (iCE40 has no LUT RAM). Each instruction then
    spends one decode cycle (``D``) before ``X``: the register file is read with the rs1/rs2
    fields of the word coming out of the instruction port and the decoder's outputs are
    registered; ``X`` works from registers. For the clock: branches, JALR and CSR instructions
    take a second cycle in ``X``, loads and stores make their request from ``W``. Latencies stay
    functions of the instruction stream only (docs/core.md, "The block-RAM register file").

    ``triggers``: how many Sdtrig address-match triggers (hdl/triggers.py); default 2 on this
    core and the pipelined one, 0 (and only 0) with ``regfile_bram``."""

    def __init__(self, *, reset_vector=0x8000_0000, fetch_base=0x8000_0000, fetch_size=128 * 1024,
                 mimpid=1, m_only=(), pmp_entries=PMP_ENTRIES, regfile_bram=False,
                 pipeline=False, debug=False, triggers=None):
        if reset_vector % 4:
            raise ValueError(f"reset_vector {reset_vector:#x} is not word aligned")
        if fetch_size & (fetch_size - 1) or fetch_base % fetch_size:
            raise ValueError("fetch_size must be a power of two and fetch_base aligned to it")
        if pmp_entries % 4 or not 0 <= pmp_entries <= 16:
            raise ValueError(f"pmp_entries must be a multiple of 4 in 0..16, not {pmp_entries!r}")
        if debug and regfile_bram:
            raise ValueError("debug mode is not implemented for the block-RAM register file")
        self.has_debug = bool(debug)
        # Sdtrig address-match triggers (hdl/triggers.py): 2 unless told; none on the
        # block-RAM register file core (its netlist unchanged)
        if triggers is None:
            triggers = 0 if regfile_bram else 2
        if not isinstance(triggers, int) or not 0 <= triggers <= 16:
            raise ValueError(f"triggers must be an integer in 0..16, not {triggers!r}")
        if triggers and regfile_bram:
            raise ValueError("triggers are not implemented for the block-RAM register file")
        self.triggers = triggers
        self.pmp_entries = pmp_entries
        self.regfile_bram = bool(regfile_bram)
        if pipeline and regfile_bram:
            raise ValueError("pipeline=True has no block-RAM register file variant")
        # the F/D/X/W pipeline with a registered fetch address (hdl/pipeline.py)
        self.pipeline = bool(pipeline)
        self.reset_vector = reset_vector
        self.fetch_base = fetch_base
        self.fetch_size = fetch_size
        self.mimpid = mimpid
        # [(base, size)]: regions only M-mode may touch, whatever PMP says (e.g. DMA windows)
        self.m_only = list(m_only)
        ports = {}
        if self.has_debug:
            # the Debug Module's port (hdl/debug/hart.py): halt/resume, abstract register access
            ports["debug"] = In(DebugHartSignature())
        super().__init__({
            **ports,
            "ibus": Out(FetchSignature()),
            "dbus": Out(WishboneSignature(addr_width=30)),
            "mtime": In(64),
            "timer_irq": In(1),
            "soft_irq": In(1),
            "local_irq": In(16),
            "trace": Out(TraceSignature()),
            # the load/store in X is misaligned or refused by PMP or an M-only region (it will
            # make no request and trap from W): observation for formal checks, unused in the SoC
            "mem_denied": Out(1),
            # the effective privilege (mstatus.MPRV counts) of the data request on dbus is M,
            # valid while dbus.cyc & dbus.stb: for observers that give M's stores a meaning
            # the same address has not for U (the simulator's end-of-run store to tohost)
            "dbus_m": Out(1),
            # a trap is taken this cycle (an exception, an interrupt, or a load/store fault from
            # W): observation for formal checks, unused in the SoC
            "trap": Out(1),
        })

    def elaborate(self, platform):
        if self.pipeline:
            return elaborate_pipelined(self, platform)
        m = Module()

        # ------------------------------------------------------------------ register file
        m.submodules.regfile = regfile = memory.Memory(shape=32, depth=32, init=[])
        if self.regfile_bram:
            # Synchronous, transparent read ports, addressed every cycle with the rs fields of
            # the word on the instruction port (held there while X waits): the data a cycle
            # later is the register file after that cycle's write, as a combinational read
            # would see it at the start of the next cycle (so no bypass from W is needed).
            wp = regfile.write_port()
            rp1 = regfile.read_port(transparent_for=(wp,))
            rp2 = regfile.read_port(transparent_for=(wp,))
        else:
            rp1 = regfile.read_port(domain="comb")
            rp2 = regfile.read_port(domain="comb")
            wp = regfile.write_port()

        m.submodules.divider = divider = Divider()
        # regfile_bram: the product registered (MUL* one cycle longer; iCE40's partial-product
        # carry chains then end at a register)
        m.submodules.multiplier = multiplier = Multiplier(stages=3 if self.regfile_bram else 1)
        m.submodules.branch = branch = BranchUnit()
        if self.pmp_entries:
            m.submodules.pmp = pmp = PMP(self.pmp_entries)
        else:
            pmp = None
        # Debug mode (hdl/debug/hart.py): ``dbg_halt`` means X's instruction enters debug mode
        # instead of executing, taken exactly like an interrupt; constant 0 without a Debug Module.
        if self.has_debug:
            m.submodules.debug = hdbg = HartDebug()
            wiring.connect(m, wiring.flipped(self.debug), hdbg.dm)
            dbg_halt, dbg_halted, dbg_irq_mask = hdbg.halt, hdbg.halted, hdbg.irq_mask
            rp_dbg = regfile.read_port(domain="comb")      # the debugger's own read port
        else:
            hdbg = None
            dbg_halt = dbg_halted = dbg_irq_mask = C(0, 1)
        # Triggers: an execute match is decided on X's pc (beside the PMP's fetch verdict), a
        # load/store match on the computed address (beside the PMP's data verdict); a matched
        # load/store makes no request and traps, or enters debug mode, from W.
        if self.triggers:
            m.submodules.triggers = trig = Triggers(self.triggers)
        else:
            trig = None

        # ------------------------------------------------------------------ X stage state
        x_valid = Signal()
        x_pc = Signal(32, init=self.reset_vector)
        x_ffault = Signal()                       # the fetch of x_pc was outside RAM
        # regfile_bram: the instruction in X has had its registers read (its D cycle is over)
        x_dec = Signal() if self.regfile_bram else C(1, 1)

        inst = Signal(Instruction)
        m.d.comb += inst.eq(self.ibus.data)
        raw = self.ibus.data
        op = inst.opcode
        f3 = inst.funct3
        f7 = inst.funct7

        # ------------------------------------------------------------------ W stage state
        w_valid = Signal()
        w_kind = Signal(range(4))
        w_rd = Signal(5)
        w_result = Signal(32)
        w_pc = Signal(32)
        w_insn = Signal(32)
        w_addr = Signal(32)
        w_f3 = Signal(3)
        w_priv_m = Signal()
        w_denied = Signal()                       # a load/store refused by PMP/M-only: no request
        w_misaligned = Signal()                   # a misaligned load/store: no request
        w_dpriv_m = Signal()                      # its effective data privilege is M

        # ------------------------------------------------------------------ CSR state
        priv_m = Signal(init=1)                   # current privilege: 1 = M, 0 = U
        mstatus_mie = Signal()
        mstatus_mpie = Signal()
        mstatus_mpp_m = Signal(init=1)            # MPP: 1 = M (0b11), 0 = U (0b00)
        mstatus_mprv = Signal()
        mstatus_tw = Signal()
        mcounteren = Signal(3)                    # CY, TM, IR
        mie = Signal(32)
        # mtvec (WARL, Privileged Architecture 3.1.7): direct mode, BASE word aligned and inside
        # the instruction window (RAM): the bits above it read as fetch_base's, so a trap never
        # fetches outside RAM. Resets to fetch_base.
        fetch_bits = (self.fetch_size - 1).bit_length()
        mtvec_lo = Signal(fetch_bits)
        mtvec = Cat(mtvec_lo, C(self.fetch_base >> fetch_bits, 32 - fetch_bits))
        mscratch = Signal(32)
        mepc = Signal(32)
        # mcause is WLRL (Privileged Architecture 3.1.15): it holds the codes this core raises,
        # the interrupt bit and a 5-bit code (0-11 exceptions, 3/7/11/16-31 interrupts)
        mcause_irq = Signal()
        mcause_code = Signal(5)
        mcause = Cat(mcause_code, C(0, 26), mcause_irq)
        mtval = Signal(32)
        mcycle = Signal(64)
        minstret = Signal(64)
        # minstret after this cycle's retirement: what an instruction in X has been preceded by
        # (the one in W retires in the same cycle), and the counter's next value. A CSR write to
        # minstret/minstreth replaces the writing instruction's own increment on all 64 bits
        # (Zicsr; riscv-tests rv32mi instret_overflow): w_noinc marks it in W.
        w_noinc = Signal()
        instret_inc = Signal()
        minstret_now = Signal(64)
        # the increment from registers, the late retire decision only selecting it (as a carry-in
        # it ran through the 64-bit carry chain: the iCEBreaker's critical path)
        minstret_inc = Signal(64)
        m.d.comb += [minstret_inc.eq(minstret + 1),
                     minstret_now.eq(Mux(instret_inc, minstret_inc, minstret))]
        # What a CSR read of minstret returns. regfile_bram: the read happens after the older
        # instructions have left W (the D cycle), so the counter itself; a 64-bit increment on
        # the CSR read path would cost the iCE40 its clock.
        minstret_rd = minstret if self.regfile_bram else minstret_now
        mip = Signal(32)
        m.d.comb += mip.eq(Cat(C(0, 3), self.soft_irq, C(0, 3), self.timer_irq,
                               C(0, 8), self.local_irq))
        mie_mask = (1 << Irq.M_SOFT) | (1 << Irq.M_TIMER) | (1 << Irq.M_EXT) | 0xFFFF_0000

        # ------------------------------------------------------------------ decode
        imm_i = Signal(32)
        imm_s = Signal(32)
        imm_b = Signal(32)
        imm_u = Signal(32)
        imm_j = Signal(32)
        m.d.comb += [
            imm_i.eq(raw[20:32].as_signed()),
            imm_s.eq(Cat(raw[7:12], raw[25:32]).as_signed()),
            imm_b.eq(Cat(C(0, 1), raw[8:12], raw[25:31], raw[7], raw[31]).as_signed()),
            imm_u.eq(Cat(C(0, 12), raw[12:32])),
            imm_j.eq(Cat(C(0, 1), raw[21:31], raw[20], raw[12:20], raw[31]).as_signed()),
        ]

        is_load = (op == Opcode.LOAD)
        is_store = (op == Opcode.STORE)
        is_opimm = (op == Opcode.OP_IMM)
        is_op = (op == Opcode.OP)
        is_muldiv = is_op & (f7 == 0b0000001)
        is_mul = is_muldiv & ~f3[2]
        is_div = is_muldiv & f3[2]
        is_branch = (op == Opcode.BRANCH)
        is_jal = (op == Opcode.JAL)
        is_jalr = (op == Opcode.JALR)
        is_lui = (op == Opcode.LUI)
        is_auipc = (op == Opcode.AUIPC)
        is_system = (op == Opcode.SYSTEM)
        is_csr = is_system & (f3 != 0) & (f3 != 4)
        is_misc = (op == Opcode.MISC_MEM)
        is_ecall = raw == 0x0000_0073
        is_ebreak = raw == 0x0010_0073
        is_mret = raw == 0x3020_0073
        is_wfi = raw == 0x1050_0073

        legal = Signal()
        with m.If(inst.quadrant == 0b11):
            with m.Switch(op):
                with m.Case(Opcode.LOAD):
                    m.d.comb += legal.eq((f3 != 3) & (f3 != 6) & (f3 != 7))
                with m.Case(Opcode.STORE):
                    m.d.comb += legal.eq(f3 < 3)
                with m.Case(Opcode.OP_IMM):
                    with m.If(f3 == 1):
                        m.d.comb += legal.eq(f7 == 0)
                    with m.Elif(f3 == 5):
                        m.d.comb += legal.eq((f7 == 0) | (f7 == 0b0100000))
                    with m.Else():
                        m.d.comb += legal.eq(1)
                with m.Case(Opcode.OP):
                    m.d.comb += legal.eq((f7 == 0) | (f7 == 1) |
                                         (f7 == 0b0100000) & ((f3 == 0) | (f3 == 5)))
                with m.Case(Opcode.LUI, Opcode.AUIPC, Opcode.JAL):
                    m.d.comb += legal.eq(1)
                with m.Case(Opcode.JALR):
                    m.d.comb += legal.eq(f3 == 0)
                with m.Case(Opcode.BRANCH):
                    m.d.comb += legal.eq((f3 != 2) & (f3 != 3))
                with m.Case(Opcode.MISC_MEM):
                    m.d.comb += legal.eq(f3 < 2)
                with m.Case(Opcode.SYSTEM):
                    m.d.comb += legal.eq(is_ecall | is_ebreak | is_mret | is_wfi | is_csr)

        uses_rs1 = ~(is_lui | is_auipc | is_jal | is_misc | is_system & (f3[2] | (f3 == 0)))
        uses_rs2 = is_op | is_branch | is_store

        # The register file is read with the fields of the word on the instruction port.
        fetched = inst
        if self.regfile_bram:
            # D: the decoder above works on the word while its registers are read, and X gets
            # its outputs from flip-flops (the word stays on the port until the instruction
            # leaves X, so registering them every cycle gives X the values of its own word;
            # in D they are stale, and D acts on nothing).
            def _d(v):
                r = Signal(len(v))
                m.d.sync += r.eq(v)
                return r
            # the pc-relative sum (JAL and branch targets, AUIPC) is made in D, from x_pc
            # (already this instruction's) and the fetched word's immediate
            pc_rel_d = _d(x_pc + Mux(is_jal, imm_j, Mux(is_branch, imm_b, imm_u)))
            # the load-use register match, made on the word on the port against W's rd and
            # registered: when X is ready, W's rd has not changed since (the instruction in W
            # entered it in the cycle before this one's D cycle, or earlier)
            lu_match_d = _d((w_rd != 0) & (uses_rs1 & (inst.rs1 == w_rd) | uses_rs2 & (inst.rs2 == w_rd)))
            # the exceptions known from the word and the privilege alone, decided in D (the
            # privilege and mstatus.TW cannot change between an instruction's D and X cycles:
            # only M-mode writes TW, and an MRET to U commits before the next D cycle)
            exc_dec_d = _d(~legal | is_ecall | is_ebreak
                           | ~priv_m & ((raw == 0x3020_0073) | (raw == 0x1050_0073) & mstatus_tw))
            raw = _d(raw)
            inst = Signal(Instruction)
            m.d.comb += inst.eq(raw)
            op, f3, f7 = inst.opcode, inst.funct3, inst.funct7
            imm_i, imm_s, imm_b, imm_u, imm_j = map(_d, (imm_i, imm_s, imm_b, imm_u, imm_j))
            (is_load, is_store, is_opimm, is_op, is_muldiv, is_mul, is_div, is_branch, is_jal,
             is_jalr, is_lui, is_auipc, is_system, is_csr, is_misc, is_ecall, is_ebreak, is_mret,
             is_wfi, legal, uses_rs1, uses_rs2) = map(_d, (
                is_load, is_store, is_opimm, is_op, is_muldiv, is_mul, is_div, is_branch, is_jal,
                is_jalr, is_lui, is_auipc, is_system, is_csr, is_misc, is_ecall, is_ebreak, is_mret,
                is_wfi, legal, uses_rs1, uses_rs2))

        # ------------------------------------------------------------------ operands
        m.d.comb += [rp1.addr.eq(fetched.rs1), rp2.addr.eq(fetched.rs2)]
        # Bypass from W: ALU results only (a register; MUL and DIV results are ALU results by
        # then). Load data arrives too late in W to feed X in the same cycle: an instruction
        # that reads the register a load in W is about to write waits one cycle (interlock: a
        # property of the code, never of data), and reads it from the register file.
        w_late = w_valid & (w_kind == WKind.LOAD)
        w_fwd = w_valid & (w_kind == WKind.ALU) & (w_rd != 0)
        rs1 = Signal(32)
        rs2 = Signal(32)
        if self.regfile_bram:
            # No bypass: X follows its own D cycle, so W never holds an ALU result when X is
            # ready (W keeps an instruction past its cycle only while a load/store waits for
            # the bus); a load's data is read after the load-use wait below, like any other.
            m.d.comb += [rs1.eq(rp1.data), rs2.eq(rp2.data)]
        else:
            m.d.comb += [
                rs1.eq(Mux(w_fwd & (w_rd == inst.rs1), w_result, rp1.data)),
                rs2.eq(Mux(w_fwd & (w_rd == inst.rs2), w_result, rp2.data)),
            ]
        if self.regfile_bram:
            load_use = w_late & lu_match_d
        else:
            load_use = w_late & (w_rd != 0) & (uses_rs1 & (inst.rs1 == w_rd) | uses_rs2 & (inst.rs2 == w_rd))
        # X waits (no commit, trap, bus request, multiplier or divider start) while its operands
        # are not ready: load-use, and with regfile_bram the D cycle (x_dec low). ``hazard``
        # gates everything X does, so D acts on nothing; a trap from W still flushes it.
        if self.regfile_bram:
            hazard = Signal()
            m.d.comb += hazard.eq(load_use | ~x_dec)
        else:
            hazard = load_use
        x_ready = x_valid & x_dec

        # ------------------------------------------------------------------ ALU
        alt = f7[5]
        # One adder serves ADD/ADDI, the load/store address and the JALR target, one
        # comparator pair SLT[I][U] and the branches (the branch unit sees the same operands).
        opb = Signal(32)
        m.d.comb += opb.eq(Mux(is_op | is_branch, rs2, Mux(is_store, imm_s, imm_i)))
        add = Signal(32)
        m.d.comb += add.eq(rs1 + opb)
        shamt = opb[:5]
        # one right shifter for SLL/SRL/SRA: a left shift is a right shift of the reversed word
        shifted = Signal(32)
        sh_in = Mux(f3[2], rs1, _reverse(rs1))
        sh_fill = f3[2] & alt & rs1[31]
        # a logical right shift, and the arithmetic fill as a mask (a thermometer of shamt)
        fill_mask = Signal(32)
        m.d.comb += fill_mask.eq(~(C(0xFFFF_FFFF, 32) >> shamt))
        m.d.comb += shifted.eq((sh_in >> shamt) | (fill_mask & sh_fill.replicate(32)))
        sll_v = _reverse(shifted)
        srl_v = shifted
        if self.regfile_bram:
            # SLL/SRL/SRA take two cycles in X, always: the shifter's output is registered in
            # the first (its five levels and the fill mask do not reach W's result register in
            # the same cycle); the operands stay on the register file's ports while X waits.
            sh_r = Signal(32)
            m.d.sync += sh_r.eq(Mux(f3[2], shifted, _reverse(shifted)))
            sll_v = srl_v = sh_r
        lt = rs1.as_signed() < opb.as_signed()
        ltu = rs1 < opb
        alu = Signal(32)
        with m.Switch(f3):
            with m.Case(0):
                if self.regfile_bram:
                    pass          # ADD/SUB: OR-ed in after the result multiplexer (below)
                else:
                    m.d.comb += alu.eq(Mux(is_op & alt, rs1 - rs2, add))
            with m.Case(1):
                m.d.comb += alu.eq(sll_v)
            with m.Case(2):
                m.d.comb += alu.eq(lt)
            with m.Case(3):
                m.d.comb += alu.eq(ltu)
            with m.Case(4):
                m.d.comb += alu.eq(rs1 ^ opb)
            with m.Case(5):
                m.d.comb += alu.eq(srl_v)
            with m.Case(6):
                m.d.comb += alu.eq(rs1 | opb)
            with m.Case(7):
                m.d.comb += alu.eq(rs1 & opb)

        # branch comparison (opb is rs2 for a branch: both operands from registers)
        m.d.comb += [branch.a.eq(rs1), branch.b.eq(opb), branch.funct3.eq(f3)]
        taken = branch.taken

        pc4 = (x_pc + 4)[:32]
        # one pc-relative adder: branch and JAL targets, AUIPC
        pc_rel = Signal(32)
        if self.regfile_bram:
            m.d.comb += pc_rel.eq(pc_rel_d)
        else:
            m.d.comb += pc_rel.eq(x_pc + Mux(is_jal, imm_j, Mux(is_branch, imm_b, imm_u)))
        br_target = pc_rel
        jal_target = pc_rel
        jalr_target = Cat(C(0, 1), add[1:32])
        target = Signal(32)
        jump = Signal()
        with m.If(is_jal):
            m.d.comb += [jump.eq(1), target.eq(jal_target)]
        with m.Elif(is_jalr):
            m.d.comb += [jump.eq(1), target.eq(jalr_target)]
        with m.Elif(is_branch):
            m.d.comb += [jump.eq(taken), target.eq(br_target)]
        if self.regfile_bram:
            # Branches and JALR take two cycles in X, always: the outcome and target are found
            # in the first and registered, and the second redirects the fetch from the registers
            # (the comparator and the JALR adder do not reach the next fetch address or the trap
            # decision). JAL's target comes from D (pc_rel), so JAL takes one.
            jump_r = Signal()
            target_r = Signal(32)
            x_second = Signal()                  # X's first cycle (operands valid) is over
            jmis_r = Signal()                    # ... and whether that target is misaligned
            m.d.sync += [jump_r.eq(jump), target_r.eq(target), jmis_r.eq(jump & target[1])]
            jump_wait = (is_branch | is_jalr) & ~x_second
            jump2 = Signal()
            target2 = Signal(32)
            m.d.comb += [jump2.eq(is_jal | jump_r & x_second),
                         target2.eq(Mux(is_jal, pc_rel, target_r))]
            jump, target = jump2, target2
            # a misaligned target (bit 1; bit 0 is always 0) from registers
            jump_mis = Mux(is_jal, pc_rel[1], jmis_r & x_second)
        else:
            jump_wait = C(0, 1)
            jump_mis = jump & (target[:2] != 0)

        # ------------------------------------------------------------------ memory access
        mem_addr = Signal(32)
        m.d.comb += mem_addr.eq(add)
        size = f3[:2]
        misaligned = (size == 1) & mem_addr[0] | (size == 2) & (mem_addr[:2] != 0)
        x_mem = (is_load | is_store)
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

        # ------------------------------------------------------------------ CSRs
        csr_addr = raw[20:32]
        csr_src = Mux(f3[2], inst.rs1, rs1)
        csr_writes = (f3[:2] == 1) | (inst.rs1 != 0)          # csrrw[i] always; rs/rc if rs1!=0
        csr_rdata = Signal(32)
        csr_exists = Signal()
        mstatus_val = Cat(C(0, 3), mstatus_mie, C(0, 3), mstatus_mpie, C(0, 3),
                          mstatus_mpp_m.replicate(2), C(0, 4), mstatus_mprv, C(0, 3), mstatus_tw)
        misa_val = (1 << 30) | (1 << 8) | (1 << 12) | (1 << 20)      # RV32 I M U
        csr_table = {
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
        if trig is not None:
            csr_table.update({
                TriggerCsr.TSELECT: trig.tselect, TriggerCsr.TDATA1: trig.tdata1,
                TriggerCsr.TDATA2: trig.tdata2, TriggerCsr.TDATA3: C(0, 32),
                TriggerCsr.TINFO: trig.tinfo, TriggerCsr.TCONTROL: trig.tcontrol,
            })
        # PMP CSRs: 0x3A0-0x3EF (without PMP entries they exist and read zero, WARL)
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
        if hdbg is not None:
            # the debugger's CSR reads: the same table, its own multiplexer (PMP CSRs excluded),
            # registered and updated only while halted (an abstract command sets the address a
            # cycle before it reads; the Verilator model then skips the multiplexer while the
            # hart runs)
            with m.If(dbg_halted):
                m.d.sync += [hdbg.csr_rdata.eq(0), hdbg.csr_exists.eq(0)]
                with m.Switch(hdbg.csr_addr):
                    for addr, val in csr_table.items():
                        with m.Case(int(addr)):
                            m.d.sync += [hdbg.csr_rdata.eq(val), hdbg.csr_exists.eq(1)]
            m.d.comb += hdbg.csr_readonly.eq(hdbg.csr_addr[10:12] == 0b11)
        # U-mode: only user CSRs (addr[9:8] == 0), and the counters only where mcounteren allows
        counter_bit = Signal()
        with m.Switch(csr_addr):
            for a, b in ((Csr.CYCLE, 0), (Csr.CYCLEH, 0), (Csr.TIME, 1), (Csr.TIMEH, 1),
                         (Csr.INSTRET, 2), (Csr.INSTRETH, 2)):
                with m.Case(int(a)):
                    m.d.comb += counter_bit.eq(mcounteren[b])
        csr_priv_ok = priv_m | (csr_addr[8:10] == 0) & counter_bit
        csr_illegal = ~csr_exists | csr_writes & csr_readonly | ~csr_priv_ok
        csr_old = csr_rdata
        if self.regfile_bram:
            # the CSR is read in the instruction's first X cycle and the value registered; the
            # second cycle returns it and computes the write from it (nothing else commits in
            # between; the counters are read one cycle earlier, at a fixed offset)
            csr_old = Signal(32)
            m.d.sync += csr_old.eq(csr_rdata)
        csr_wdata = Signal(32)
        with m.Switch(f3[:2]):
            with m.Case(1):
                m.d.comb += csr_wdata.eq(csr_src)
            with m.Case(2):
                m.d.comb += csr_wdata.eq(csr_old | csr_src)
            with m.Default():
                m.d.comb += csr_wdata.eq(csr_old & ~csr_src)

        if self.regfile_bram:
            # CSR instructions take two cycles in X, always: the access check (the CSR address
            # decode, privilege, mcounteren) is made in the first and registered, so it does
            # not reach the commit decision; the CSR is read and written in the second.
            csr_illegal_c = csr_illegal
            csr_illegal = Signal()         # registered with x_second (below)
            csr_wait = is_csr & ~x_second
            shift_wait = (is_op | is_opimm) & ~is_muldiv & (f3[:2] == 0b01) & ~x_second
        else:
            csr_wait = C(0, 1)
            shift_wait = C(0, 1)

        # ------------------------------------------------------------------ exceptions
        exc = Signal()
        exc_cause = Signal(4)
        exc_tval = Signal(32)
        # PMP: instruction fetch checked on the PC in X (the word was read, never used), data on
        # the computed address, with MPRV's effective privilege; fixed M-only regions on top.
        # A denied load/store is not an exception in X: it goes to W without a bus request and
        # traps from there one cycle later, exactly as a bus error does, so that the PMP's
        # verdict on a freshly computed address is not on the next-fetch-address path.
        d_priv_m = Mux(mstatus_mprv, mstatus_mpp_m, priv_m)
        m_only_hit = Signal()
        for base, size in self.m_only:
            bits = (size - 1).bit_length()
            with m.If(mem_addr[bits:] == (base >> bits)):
                m.d.comb += m_only_hit.eq(1)
        if pmp is not None:
            m.d.comb += [
                pmp.i_addr.eq(x_pc), pmp.i_m.eq(priv_m),
                pmp.d_addr.eq(mem_addr), pmp.d_m.eq(d_priv_m), pmp.d_write.eq(is_store),
            ]
            i_ok, d_ok = pmp.i_ok, pmp.d_ok
        else:
            i_ok, d_ok = C(1), C(1)
        d_denied = Signal()
        m.d.comb += d_denied.eq(~d_ok | m_only_hit & ~d_priv_m)
        if trig is not None:
            m.d.comb += [trig.priv_m.eq(priv_m), trig.x_pc.eq(x_pc), trig.d_addr.eq(mem_addr),
                         trig.d_load.eq(is_load), trig.d_store.eq(is_store)]
            if hdbg is not None:
                m.d.comb += trig.debug_ok.eq(self.debug.enable)
            # no request for a load/store a trigger matches (it traps or halts from W)
            d_block = Signal()
            m.d.comb += d_block.eq(d_denied | trig.ldst_exc | trig.ldst_halt)
        else:
            d_block = d_denied
        m.d.comb += self.mem_denied.eq(x_ready & x_mem & (d_block | misaligned))
        priv_illegal = ~priv_m & (is_mret | is_wfi & mstatus_tw)
        if trig is not None:
            # an execute trigger: the first exception in priority (Privileged Architecture 3.7)
            with m.If(trig.exec_exc):
                m.d.comb += [exc.eq(1), exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(x_pc)]
            exc_first = m.Elif
        else:
            exc_first = m.If
        with exc_first(x_ffault | ~i_ok):
            m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_FAULT), exc_tval.eq(x_pc)]
        with m.Elif(~legal | is_csr & csr_illegal | priv_illegal):
            m.d.comb += [exc.eq(1), exc_cause.eq(Cause.ILLEGAL), exc_tval.eq(raw)]
        with m.Elif(is_ecall):
            m.d.comb += [exc.eq(1), exc_cause.eq(Mux(priv_m, Cause.ECALL_M, Cause.ECALL_U))]
        with m.Elif(is_ebreak):
            m.d.comb += [exc.eq(1), exc_cause.eq(Cause.BREAKPOINT), exc_tval.eq(x_pc)]
        with m.Elif(jump_mis):
            m.d.comb += [exc.eq(1), exc_cause.eq(Cause.FETCH_MISALIGNED), exc_tval.eq(target)]
        # A misaligned load/store is not an exception in X either: like a refused one, it makes
        # no request and traps from W (the address adder then feeds no trap decision).

        # mie's value after this cycle's write (regfile_bram: CSR writes land a cycle after
        # their commit, from registers; see below)
        mie_next = Signal(32)
        m.d.comb += mie_next.eq(mie)
        irq_pending = Signal()
        irq_cause = Signal(5)

        def _irq(mie_v, mip_v=mip):
            pend = Signal(32)
            cause = Signal(5)
            m.d.comb += pend.eq(mip_v & mie_v)
            with m.If(pend[16:] != 0):
                for i in reversed(range(16)):
                    with m.If(pend[16 + i]):
                        m.d.comb += cause.eq(16 + i)
            for bit in [Irq.M_TIMER, Irq.M_SOFT, Irq.M_EXT]:   # later If wins: MEI > MSI > MTI
                with m.If(pend[bit]):
                    m.d.comb += cause.eq(bit)
            return pend != 0, cause

        if self.regfile_bram:
            # The interrupt decision from registers: ``mip & mie`` and its cause are sampled a
            # cycle early (with mie as it will be after this cycle's CSR write), so the OR
            # over the lines and the priority encoder are not in front of X's commit/trap
            # decision. One more cycle of interrupt latency; an instruction that disables a
            # source in mie is never followed by that source's interrupt (its successor's D
            # cycle takes no interrupt, and the sample after the write sees the new mie).
            pend_vec = Signal(32)
            m.d.sync += [pend_vec.eq(mip & mie_next), irq_pending.eq((mip & mie_next) != 0)]
            _pend, cause_c = _irq(C(0xFFFF_FFFF, 32), pend_vec)
            m.d.comb += irq_cause.eq(cause_c)       # (the priority encoder after the register)
        else:
            pend_c, cause_c = _irq(mie)
            m.d.comb += [irq_pending.eq(pend_c), irq_cause.eq(cause_c)]
        # M-level interrupts are always enabled while the hart runs in U-mode.
        irq_take = (mstatus_mie | ~priv_m) & irq_pending & ~is_wfi & ~dbg_irq_mask

        # ------------------------------------------------------------------ W stage completion
        bus = self.dbus
        w_mem = w_valid & ((w_kind == WKind.LOAD) | (w_kind == WKind.STORE))
        if trig is not None:
            w_trig = Signal()                     # a trigger matched W's load/store: no request
            w_trig_halt = Signal()                # ... one that enters debug mode
            w_bus = w_mem & ~w_denied & ~w_misaligned & ~w_trig
            w_trap = w_mem & (bus.err | w_denied | w_misaligned | w_trig & ~w_trig_halt)
            # entering debug mode from W: X's instruction is dropped, dpc = W's pc
            w_dhalt = w_valid & w_trig_halt
            w_stop = w_trap | w_dhalt
        else:
            w_bus = w_mem & ~w_denied & ~w_misaligned     # a request is outstanding
            w_trap = w_mem & (bus.err | w_denied | w_misaligned)
            w_stop = w_trap
        w_hold = w_bus & ~(bus.ack | bus.err)

        div_started = Signal()                    # the divider works for the instruction in X
        div_wait = is_div & ~(divider.done & div_started)
        mul_started = Signal()                    # the multiplier holds the operands of X
        mul_wait = is_mul & ~(multiplier.valid & mul_started)
        wfi_wait = is_wfi & ~irq_pending
        # regfile_bram: a load/store's request goes out from W (below), so X never waits for
        # the bus's stall, only for W (w_hold): the memory address does not decide X's progress.
        x_bus_wait = C(0, 1) if self.regfile_bram else x_mem & bus.stall
        # The exceptions a MUL/DIV/WFI/load/store can raise in X: all but the misaligned jump
        # target, the one that depends on register values (a branch's outcome, a JALR's sum).
        # Waiting and starting a unit depend on these only, so register values never decide
        # whether X waits (for the same verdict: none of those instructions is a jump).
        # The default core uses ``exc`` itself: none of its waits is on a path where the
        # difference matters for the clock.
        if self.regfile_bram:
            exc_nojump = Signal()
            m.d.comb += exc_nojump.eq(x_ffault | ~i_ok | exc_dec_d | is_csr & csr_illegal)
        else:
            exc_nojump = exc
        stall = Signal()
        m.d.comb += stall.eq(w_hold | hazard |
                             ~exc_nojump & ~irq_take & ~dbg_halt & (div_wait | mul_wait | wfi_wait | x_bus_wait
                                                        | jump_wait | csr_wait | shift_wait))
        x_go = Signal()
        m.d.comb += x_go.eq(x_valid & ~stall & ~w_stop)
        x_trap = x_go & ~dbg_halt & (exc | irq_take)
        m.d.comb += self.trap.eq(x_trap | w_trap)
        x_commit = x_go & ~exc & ~irq_take & ~dbg_halt

        div_go = (x_valid & is_div & ~div_started & ~hazard & ~w_hold
                  & ~w_stop & ~exc_nojump & ~irq_take & ~dbg_halt)
        if self.regfile_bram:
            # the divider starts a cycle after X decides it may (from a register: the decision
            # does not fan out to the divider's ~100 flip-flop enables); the operands are still
            # on the register file's ports (X waits). DIV* one cycle longer, always.
            div_start_r = Signal()
            m.d.sync += div_start_r.eq(div_go & ~div_start_r)
            m.d.comb += divider.start.eq(div_start_r)
        else:
            m.d.comb += divider.start.eq(div_go)
        m.d.comb += [
            # MUL*: operands latched in X's first cycle, product the next (X waits one cycle)
            multiplier.load.eq(x_valid & is_mul & ~mul_started & ~hazard & ~w_hold
                               & ~w_stop & ~exc_nojump & ~irq_take & ~dbg_halt),
            multiplier.a.eq(rs1),
            multiplier.b.eq(rs2),
            multiplier.funct.eq(f3[:2]),
            divider.a.eq(rs1),
            divider.b.eq(rs2),
            divider.signed.eq(~f3[0]),
            divider.rem.eq(f3[1]),
        ]

        # The data request: only when nothing older can still trap (w_hold/w_trap clear), and
        # only if PMP allows it (a denied access waits for bus.stall like any other, then goes
        # to W with no request, and traps there).
        if self.regfile_bram:
            # From W, out of registers: the request is made in the load/store's first cycle in
            # W (everything older has retired by then: precise), held until the bus takes it,
            # and W waits for the response as before. A load's data comes a cycle later than
            # from X, which the next instruction's decode cycle hides unless it reads the loaded
            # register (then the load-use wait, one cycle).
            w_req = Signal()                      # W's request is not taken yet
            w_sel = Signal(4)
            w_wdata = Signal(32)
            with m.If(~w_hold):
                m.d.sync += [w_req.eq(x_commit & x_mem & ~d_denied & ~misaligned), w_sel.eq(sel),
                             w_wdata.eq(store_data)]
            with m.Elif(~bus.stall):
                m.d.sync += w_req.eq(0)
            m.d.comb += [
                bus.cyc.eq(w_bus),
                bus.stb.eq(w_req),
                bus.we.eq(w_kind == WKind.STORE),
                bus.adr.eq(w_addr[2:]),
                bus.sel.eq(w_sel),
                bus.dat_w.eq(w_wdata),
                self.dbus_m.eq(w_dpriv_m),
            ]
        else:
            x_req = x_valid & x_mem & ~exc & ~irq_take & ~dbg_halt & ~hazard & ~w_hold & ~w_stop & ~d_block & ~misaligned
            m.d.comb += [
                bus.cyc.eq(w_bus | x_req),
                bus.stb.eq(x_req),
                bus.we.eq(is_store),
                bus.adr.eq(mem_addr[2:]),
                bus.sel.eq(sel),
                bus.dat_w.eq(store_data),
                self.dbus_m.eq(d_priv_m),
            ]

        # ------------------------------------------------------------------ next PC and fetch
        trap_pc = Cat(C(0, 2), mtvec[2:])
        next_pc = Signal(32)
        advance = Signal()
        m.d.comb += advance.eq(~x_valid & ~dbg_halted | x_go | w_trap)
        with m.If(~x_valid):
            m.d.comb += next_pc.eq(x_pc)
        with m.Elif(w_trap | x_trap):
            m.d.comb += next_pc.eq(trap_pc)
        with m.Elif(is_mret):
            m.d.comb += next_pc.eq(mepc)
        with m.Elif(jump):
            m.d.comb += next_pc.eq(target)
        with m.Else():
            m.d.comb += next_pc.eq(pc4)

        fetch_bits = (self.fetch_size - 1).bit_length()
        in_ram = (next_pc[fetch_bits:] == (self.fetch_base >> fetch_bits))
        if self.regfile_bram:
            # the fetch-fault check on x_pc itself, not on the next fetch address, and into a
            # register: it is valid from the instruction's first X cycle (its D cycle, which
            # acts on nothing, sees the previous one's), so the comparator is not in front of
            # X's decisions
            m.d.sync += x_ffault.eq(x_pc[fetch_bits:] != (self.fetch_base >> fetch_bits))
        m.d.comb += [
            self.ibus.adr.eq(next_pc[2:]),
            self.ibus.en.eq(advance),
        ]
        if self.regfile_bram:
            m.d.sync += [x_dec.eq(~advance), x_second.eq(~advance & x_ready & ~hazard),
                         csr_illegal.eq(csr_illegal_c & ~advance & x_ready & ~hazard)]
        with m.If(advance):
            m.d.sync += [x_valid.eq(1), x_pc.eq(next_pc), div_started.eq(0), mul_started.eq(0)]
            if not self.regfile_bram:
                m.d.sync += x_ffault.eq(~in_ram)
        with m.Else():
            with m.If(divider.start):
                m.d.sync += div_started.eq(1)
            with m.If(multiplier.load):
                m.d.sync += mul_started.eq(1)
        if hdbg is not None:
            # entering debug mode empties X (nothing is fetched while halted); resuming
            # restarts the fetch at dpc (a WFI halted in waits again after resuming).
            m.d.comb += [hdbg.x_valid.eq(x_valid), hdbg.x_pc.eq(x_pc),
                         hdbg.x_ebreak.eq(is_ebreak), hdbg.priv_m.eq(priv_m),
                         hdbg.take.eq(x_go & dbg_halt), hdbg.x_left.eq(x_go & ~dbg_halt),
                         hdbg.w_idle.eq(~w_valid), hdbg.gpr_rdata.eq(rp_dbg.data),
                         rp_dbg.addr.eq(hdbg.gpr_addr)]
            with m.If(x_go & dbg_halt):
                m.d.sync += x_valid.eq(0)
            with m.If(hdbg.resume):
                m.d.sync += x_pc.eq(hdbg.dpc)
            if trig is not None:
                m.d.comb += [hdbg.trig_halt.eq(trig.exec_halt), hdbg.w_take.eq(w_dhalt),
                             hdbg.w_pc.eq(w_pc), hdbg.w_priv_m.eq(w_priv_m)]
                with m.If(w_dhalt):
                    m.d.sync += x_valid.eq(0)

        # ------------------------------------------------------------------ W stage update
        result = Signal(32)
        if self.regfile_bram:
            # the ALU (the latest of the results: register file -> adder/logic) one level
            # from W's register; the other sources come from registers or the CSRs
            alu_class = ~(is_lui | is_auipc | is_jal | is_jalr | is_csr | is_div | is_mul)
            first = m.If(alu_class)
        else:
            first = m.If(0)
        with first:
            m.d.comb += result.eq(alu)
        with m.Elif(is_lui):
            m.d.comb += result.eq(imm_u)
        with m.Elif(is_auipc):
            m.d.comb += result.eq(pc_rel)
        with m.Elif(is_jal | is_jalr):
            m.d.comb += result.eq(pc4)
        with m.Elif(is_csr):
            m.d.comb += result.eq(csr_old)
        with m.Elif(is_div):
            m.d.comb += result.eq(divider.result)
        with m.Elif(is_mul):
            m.d.comb += result.eq(multiplier.result)
        with m.Else():
            m.d.comb += result.eq(alu)

        if self.regfile_bram:
            # ADD/ADDI/SUB (the carry chains, the latest values) AND-OR-ed in last: one LUT
            # between the adder and W's register (the other sources are 0 for them)
            add_sel = alu_class & (f3 == 0)
            sub_sel = add_sel & is_op & alt
            result_w = (result | Mux(add_sel & ~sub_sel, add, 0)
                        | Mux(sub_sel, (rs1 - rs2)[:32], 0))
        else:
            result_w = result
        writes_rd = ~(is_store | is_branch | is_misc | is_system & ~is_csr)
        # regfile_bram: W's registers load whenever W is free and only w_valid says whether X
        # committed, so the commit decision does not fan out to them.
        w_load = ~w_hold if self.regfile_bram else x_commit
        with m.If(w_load):
            kind = Mux(is_load, WKind.LOAD, Mux(is_store, WKind.STORE, WKind.ALU))
            m.d.sync += [
                w_valid.eq(x_commit),
                w_kind.eq(kind),
                w_rd.eq(Mux(writes_rd, inst.rd, 0)),
                w_result.eq(result_w),
                w_pc.eq(x_pc),
                w_insn.eq(raw),
                w_addr.eq(mem_addr),
                w_f3.eq(f3),
                w_priv_m.eq(priv_m),
                w_noinc.eq(is_csr & csr_writes & ((csr_addr == Csr.MINSTRET)
                                                  | (csr_addr == Csr.MINSTRETH))),
                w_denied.eq(x_mem & d_denied),
                w_misaligned.eq(x_mem & misaligned),
                w_dpriv_m.eq(d_priv_m),
            ]
            if trig is not None:
                m.d.sync += [w_trig.eq(x_mem & (trig.ldst_exc | trig.ldst_halt)),
                             w_trig_halt.eq(x_mem & trig.ldst_halt)]
        with m.Elif(~w_hold):
            m.d.sync += w_valid.eq(0)

        # W: late results
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
        with m.Switch(w_kind):
            with m.Case(WKind.LOAD):
                m.d.comb += w_data.eq(load_result)
            with m.Default():
                m.d.comb += w_data.eq(w_result)
        w_retire = w_valid & ~w_hold & ~w_stop
        m.d.comb += [
            wp.addr.eq(w_rd),
            wp.data.eq(w_data),
            wp.en.eq(w_retire & (w_rd != 0)),
            self.trace.valid.eq(w_retire),
            self.trace.pc.eq(w_pc),
            self.trace.insn.eq(w_insn),
            self.trace.rd_we.eq(w_rd != 0),
            self.trace.rd.eq(w_rd),
            self.trace.rd_data.eq(w_data),
        ]
        if hdbg is not None:
            with m.If(hdbg.gpr_we):                     # halted: W is empty
                m.d.comb += [wp.addr.eq(hdbg.gpr_addr), wp.data.eq(hdbg.wdata),
                             wp.en.eq(hdbg.gpr_addr != 0)]

        # ------------------------------------------------------------------ CSR and trap updates
        m.d.sync += [mcycle.eq(mcycle + 1), minstret.eq(minstret_now)]
        m.d.comb += instret_inc.eq(w_retire & ~w_noinc)

        if pmp is not None:
            m.d.comb += [pmp.csr_we.eq(x_commit & is_csr & csr_writes & pmp.csr_hit),
                         pmp.csr_wdata.eq(csr_wdata)]
        w_code = Mux(w_misaligned,
                     Mux(w_kind == WKind.STORE, Cause.STORE_MISALIGNED, Cause.LOAD_MISALIGNED),
                     Mux(w_kind == WKind.STORE, Cause.STORE_FAULT, Cause.LOAD_FAULT))
        if trig is not None:
            # an address breakpoint comes before misalignment and access faults (3.7)
            w_code = Mux(w_trig, Cause.BREAKPOINT, w_code)
            # trigger CSR writes: X's CSR instruction, or the Debug Module's register access
            m.d.comb += [trig.csr_we.eq(x_commit & is_csr & csr_writes), trig.csr_addr.eq(csr_addr),
                         trig.csr_wdata.eq(csr_wdata),
                         trig.trap.eq(w_trap | x_trap), trig.mret.eq(x_commit & is_mret),
                         trig.x_fire.eq(x_go & (trig.exec_halt | trig.exec_exc & ~dbg_halt)),
                         trig.x_commit.eq(x_commit), trig.w_fire.eq(w_valid & w_trig)]
            if hdbg is not None:
                with m.If(hdbg.csr_we):
                    m.d.comb += [trig.csr_we.eq(1), trig.csr_addr.eq(hdbg.csr_addr),
                                 trig.csr_wdata.eq(hdbg.wdata), trig.csr_debug.eq(1)]

        def csr_write(addr, data):
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
                # a counter write replaces the cycle's increment on the whole counter (the
                # other half keeps its value: no carry into or out of the written half)
                with m.Case(Csr.MCYCLE):
                    m.d.sync += mcycle.eq(Cat(data, mcycle[32:]))
                with m.Case(Csr.MCYCLEH):
                    m.d.sync += mcycle.eq(Cat(mcycle[:32], data))
                with m.Case(Csr.MINSTRET):
                    m.d.sync += minstret.eq(Cat(data, minstret_now[32:]))
                with m.Case(Csr.MINSTRETH):
                    m.d.sync += minstret.eq(Cat(minstret_now[:32], data))

        def trap_entry(prev_priv_m):
            # mstatus and the privilege on a trap (both cores: in the trap's cycle)
            m.d.sync += [mstatus_mpie.eq(mstatus_mie), mstatus_mie.eq(0),
                         mstatus_mpp_m.eq(prev_priv_m), priv_m.eq(1)]

        def mret_update():
            m.d.sync += [mstatus_mie.eq(mstatus_mpie), mstatus_mpie.eq(1),
                         priv_m.eq(mstatus_mpp_m), mstatus_mpp_m.eq(0)]
            with m.If(~mstatus_mpp_m):
                m.d.sync += mstatus_mprv.eq(0)

        if self.regfile_bram:
            # The wide CSR updates land one cycle after their decision, from registers, so that
            # the commit/trap decision (late: it waits for the bus's ack/err) does not fan out
            # to ~100 clock enables. A CSR instruction's write: (we, address, data) registered
            # at its commit. A trap's mepc/mcause/mtval: staged every cycle, written the cycle
            # after the trap. mstatus and the privilege (a few flip-flops, needed at once: no
            # second interrupt may enter) still change in the trap's cycle. Nothing can read
            # or write them in between: the cycle after a commit or a trap is the next
            # instruction's D cycle, and W then holds no load/store.
            csr_we = Signal()
            csr_wa = Signal(12)
            csr_wd = Signal(32)
            m.d.sync += [csr_we.eq(x_commit & is_csr & csr_writes), csr_wa.eq(csr_addr),
                         csr_wd.eq(csr_wdata)]
            # mie's next value for the interrupt sample, from a register of its own
            csr_we_mie = Signal()
            m.d.sync += csr_we_mie.eq(x_commit & is_csr & csr_writes & (csr_addr == Csr.MIE))
            with m.If(csr_we_mie):
                m.d.comb += mie_next.eq(csr_wd & mie_mask)
            trap_r = Signal()
            tr_pc = Signal(32)
            tr_tval = Signal(32)
            tr_irq = Signal()
            tr_code = Signal(5)
            m.d.sync += [
                trap_r.eq(w_trap | x_trap),
                tr_pc.eq(Mux(w_trap, w_pc, x_pc)),
                tr_tval.eq(Mux(w_trap, w_addr, exc_tval)),     # exc_tval is 0 for an interrupt
                tr_irq.eq(~w_trap & ~exc),
                tr_code.eq(Mux(w_trap, w_code, Mux(exc, exc_cause, irq_cause))),
            ]
            with m.If(w_trap | x_trap):
                trap_entry(Mux(w_trap, w_priv_m, priv_m))
            with m.Elif(x_commit & is_mret):
                mret_update()
            with m.If(trap_r):
                m.d.sync += [mepc.eq(tr_pc), mcause_irq.eq(tr_irq), mcause_code.eq(tr_code),
                             mtval.eq(tr_tval)]
            with m.Elif(csr_we):
                csr_write(csr_wa, csr_wd)
        else:
            with m.If(w_trap):
                m.d.sync += [
                    mepc.eq(w_pc),
                    mcause_irq.eq(0),
                    mcause_code.eq(w_code),
                    mtval.eq(w_addr),
                ]
                trap_entry(w_priv_m)
            with m.Elif(x_trap):
                with m.If(exc):
                    m.d.sync += [mcause_irq.eq(0), mcause_code.eq(exc_cause), mtval.eq(exc_tval)]
                with m.Else():
                    m.d.sync += [mcause_irq.eq(1), mcause_code.eq(irq_cause), mtval.eq(0)]
                m.d.sync += mepc.eq(x_pc)
                trap_entry(priv_m)
            with m.Elif(x_commit & is_mret):
                mret_update()
            with m.Elif(x_commit & is_csr & csr_writes):
                csr_write(csr_addr, csr_wdata)
            if hdbg is not None:
                with m.Elif(hdbg.csr_we):               # halted: nothing else writes CSRs
                    csr_write(hdbg.csr_addr, hdbg.wdata)
        return m
