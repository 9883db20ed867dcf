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

This file is the pipeline control (the stage registers, hazards and waits, the bypass, the data
request, the next PC, when a trap is taken). The decoder, register file (LUT RAM or block RAM),
ALU, load/store unit, CSR file and trap selection are components of their own files, shared
with the pipelined core where they do the same thing (docs/core.md, "Components").
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature, FetchSignature
from .decoder import Decoder
from .regfile import RegisterFile
from .regfile_bram import BlockRamRegisterFile
from .alu import ALU
from .lsu import LoadStoreUnit
from .csr import CsrFile
from .trap import TrapUnit
from .divider import Divider
from .multiplier import Multiplier
from .branch import BranchUnit
from .pmp import PMP, N_ENTRIES as PMP_ENTRIES
from .isa import Instruction, Csr
from .pipeline import elaborate_pipelined
from .debug.hart import HartDebug, DebugHartSignature
from .triggers import Triggers


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

    ``fetch_reg`` (with ``pipeline``): the word from the instruction port goes into a register
    before ``D`` decodes it, so the block RAM's output feeds only flip-flops; JALR, MRET,
    FENCE.I, traps and branches take one cycle more (docs/core.md, "The fetched word
    registered").

    ``triggers``: how many Sdtrig address-match triggers (hdl/triggers.py); default 2 on this
    core and the pipelined one, 0 (and only 0) with ``regfile_bram``."""

    def __init__(self, *, reset_vector=0x8000_0000, fetch_base=0x8000_0000, fetch_size=128 * 1024,
                 mimpid=1, m_only=(), pmp_entries=PMP_ENTRIES, regfile_bram=False,
                 pipeline=False, fetch_reg=False, debug=False, triggers=None):
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
        # the pipelined core with the fetched word registered before D decodes it (hdl/pipeline.py)
        if fetch_reg and not pipeline:
            raise ValueError("fetch_reg=True needs pipeline=True (it registers the pipelined "
                             "core's fetched word)")
        self.fetch_reg = bool(fetch_reg)
        self.reset_vector = reset_vector
        self.fetch_base = fetch_base
        self.fetch_size = fetch_size
        self.mimpid = mimpid
        # [(base, size)]: regions only M-mode may touch, whatever PMP says (e.g. DMA windows)
        self.m_only = list(m_only)
        if not self.pipeline:
            self._components()
        ports = {}
        if self.has_debug:
            # the Debug Module's port (hdl/debug/hart.py): halt/resume, abstract register access
            ports["debug"] = In(DebugHartSignature())
        if self.pipeline:
            # from a flip-flop: X holds a load or store, so dbus may make a request this cycle
            # (never a request without it); RAM gives its shared port to the core then
            # (hdl/ram.py, ``claim``)
            ports["dbus_claim"] = Out(1)
            # W refuses the access whose request was taken in the previous cycle: RAM drops
            # its buffered write, the decoder its registered MMIO request (hdl/pipeline.py)
            ports["dbus_cancel"] = Out(1)
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
            # make no request and trap from W; the pipelined core: misaligned in X, or refused
            # by W's verdict, its request then cancelled): observation for formal checks,
            # unused in the SoC
            "mem_denied": Out(1),
            # the effective privilege (mstatus.MPRV counts) of the data request on dbus is M,
            # valid while dbus.cyc & dbus.stb: for observers that give M's stores a meaning
            # the same address has not for U (the simulator's end-of-run store to tohost)
            "dbus_m": Out(1),
            # a trap is taken this cycle (an exception, an interrupt, or a load/store fault from
            # W): observation for formal checks, unused in the SoC
            "trap": Out(1),
        })

    def _components(self):
        """The default core's blocks, made here so that formal harnesses can read their ports
        (tests/formal/miters.py); ``elaborate`` adds them under the same names."""
        bram = self.regfile_bram
        if bram:
            self.regfile = BlockRamRegisterFile()
        else:
            # no bypass inside: the core forwards W's ALU result itself
            self.regfile = RegisterFile(bypass=False, debug_port=self.has_debug)
        self.decoder = Decoder()
        self.alu = ALU(registered_shift=bram, split_add=bram)
        self.lsu = LoadStoreUnit()
        self.trap_unit = TrapUnit()
        self.csr = CsrFile(fetch_base=self.fetch_base, fetch_size=self.fetch_size,
                           mimpid=self.mimpid, decode_port=False, registered=bram,
                           triggers=bool(self.triggers), debug=self.has_debug)
        self.divider = Divider()
        # regfile_bram: the product registered (MUL* one cycle longer; iCE40's partial-product
        # carry chains then end at a register)
        self.multiplier = Multiplier(stages=3 if bram else 1)
        self.branch = BranchUnit()
        self.pmp = PMP(self.pmp_entries) if self.pmp_entries else None
        # Debug mode (hdl/debug/hart.py) and the Sdtrig triggers (hdl/triggers.py)
        self.hart_debug = HartDebug() if self.has_debug else None
        self.trigger_unit = Triggers(self.triggers) if self.triggers else None

    def elaborate(self, platform):
        if self.pipeline:
            return elaborate_pipelined(self, platform)
        m = Module()
        bram = self.regfile_bram

        # ------------------------------------------------------------------ components
        m.submodules.regfile = regfile = self.regfile
        m.submodules.decoder = decoder = self.decoder
        m.submodules.alu = alu = self.alu
        m.submodules.lsu = lsu = self.lsu
        m.submodules.trap = trap = self.trap_unit
        m.submodules.csr = csr = self.csr
        m.submodules.divider = divider = self.divider
        m.submodules.multiplier = multiplier = self.multiplier
        m.submodules.branch = branch = self.branch
        pmp = self.pmp
        if pmp is not None:
            m.submodules.pmp = pmp
        # Debug mode: ``dbg_halt`` means X's instruction enters debug mode instead of
        # executing, taken exactly like an interrupt; constant 0 without a Debug Module.
        hdbg = self.hart_debug
        if hdbg is not None:
            m.submodules.debug = hdbg
            wiring.connect(m, wiring.flipped(self.debug), hdbg.dm)
            dbg_halt, dbg_halted, dbg_irq_mask = hdbg.halt, hdbg.halted, hdbg.irq_mask
        else:
            dbg_halt = dbg_halted = dbg_irq_mask = C(0, 1)
        # Triggers: an execute match is decided on X's pc (beside the PMP's fetch verdict), a
        # load/store match on the computed address (beside the PMP's data verdict); a matched
        # load/store makes no request and traps, or enters debug mode, from W.
        trig = self.trigger_unit
        if trig is not None:
            m.submodules.triggers = trig

        # ------------------------------------------------------------------ X stage state
        x_valid = Signal()
        x_pc = Signal(32, init=self.reset_vector)
        x_ffault = Signal()                       # the fetch of x_pc was outside RAM
        # regfile_bram: the instruction in X has had its registers read (its D cycle is over)
        x_dec = Signal() if bram else C(1, 1)

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
        # a CSR write to minstret/minstreth replaces the writing instruction's own increment on
        # all 64 bits (Zicsr; riscv-tests rv32mi instret_overflow)
        w_noinc = Signal()

        # ------------------------------------------------------------------ CSR file inputs
        m.d.comb += [csr.mtime.eq(self.mtime), csr.soft_irq.eq(self.soft_irq),
                     csr.timer_irq.eq(self.timer_irq), csr.local_irq.eq(self.local_irq)]
        priv_m = csr.priv_m

        # ------------------------------------------------------------------ decode
        # The register file is read with the fields of the word on the instruction port.
        raw = self.ibus.data
        fetched = Signal(Instruction)
        m.d.comb += [fetched.eq(raw), decoder.word.eq(raw)]
        dec = decoder.dec
        if bram:
            # D: the decoder works on the word while its registers are read, and X gets its
            # outputs from flip-flops (the word stays on the port until the instruction leaves
            # X, so registering them every cycle gives X the values of its own word; in D they
            # are stale, and D acts on nothing).
            def _d(v):
                r = Signal.like(v)
                m.d.sync += r.eq(v)
                return r
            # the pc-relative sum (JAL and branch targets, AUIPC) is made in D, from x_pc
            # (already this instruction's) and the fetched word's immediate
            pc_rel_d = _d((x_pc + decoder.pc_imm)[:32])
            # the load-use register match, made on the word on the port against W's rd and
            # registered: when X is ready, W's rd has not changed since (the instruction in W
            # entered it in the cycle before this one's D cycle, or earlier)
            lu_match_d = _d((w_rd != 0) & (dec.uses_rs1 & (fetched.rs1 == w_rd)
                                           | dec.uses_rs2 & (fetched.rs2 == w_rd)))
            # the exceptions known from the word and the privilege alone, decided in D (the
            # privilege and mstatus.TW cannot change between an instruction's D and X cycles:
            # only M-mode writes TW, and an MRET to U commits before the next D cycle)
            exc_dec_d = _d(~dec.legal | dec.ecall | dec.ebreak
                           | ~priv_m & (dec.mret | dec.wfi & csr.tw))
            raw = _d(raw)
            dec = _d(dec)
        inst = Signal(Instruction)
        m.d.comb += inst.eq(raw)
        f3, f7 = inst.funct3, inst.funct7
        is_muldiv = dec.mul | dec.div

        # ------------------------------------------------------------------ operands
        m.d.comb += [regfile.raddr1.eq(fetched.rs1), regfile.raddr2.eq(fetched.rs2)]
        # Bypass from W: ALU results only (a register; MUL and DIV results are ALU results by
        # then). Load data arrives too late in W to feed X in the same cycle: an instruction
        # that reads the register a load in W is about to write waits one cycle (interlock: a
        # property of the code, never of data), and reads it from the register file.
        w_late = w_valid & (w_kind == WKind.LOAD)
        w_fwd = w_valid & (w_kind == WKind.ALU) & (w_rd != 0)
        rs1 = Signal(32)
        rs2 = Signal(32)
        if bram:
            # No bypass: X follows its own D cycle, so W never holds an ALU result when X is
            # ready (W keeps an instruction past its cycle only while a load/store waits for
            # the bus); a load's data is read after the load-use wait below, like any other.
            m.d.comb += [rs1.eq(regfile.rdata1), rs2.eq(regfile.rdata2)]
            load_use = w_late & lu_match_d
            # X waits (no commit, trap, bus request, multiplier or divider start) while its
            # operands are not ready: load-use, and the D cycle (x_dec low). ``hazard`` gates
            # everything X does, so D acts on nothing; a trap from W still flushes it.
            hazard = Signal()
            m.d.comb += hazard.eq(load_use | ~x_dec)
        else:
            m.d.comb += [
                rs1.eq(Mux(w_fwd & (w_rd == inst.rs1), w_result, regfile.rdata1)),
                rs2.eq(Mux(w_fwd & (w_rd == inst.rs2), w_result, regfile.rdata2)),
            ]
            hazard = w_late & (w_rd != 0) & (dec.uses_rs1 & (inst.rs1 == w_rd)
                                             | dec.uses_rs2 & (inst.rs2 == w_rd))
        x_ready = x_valid & x_dec

        # ------------------------------------------------------------------ ALU and branch
        alt = f7[5]
        # One adder serves ADD/ADDI, the load/store address and the JALR target, one
        # comparator pair SLT[I][U] and the branches (the branch unit sees the same operands).
        opb = Signal(32)
        m.d.comb += opb.eq(Mux(dec.op | dec.branch, rs2, dec.imm))
        m.d.comb += [alu.a.eq(rs1), alu.b.eq(opb), alu.funct3.eq(f3), alu.sub.eq(dec.op & alt),
                     alu.arith.eq(alt)]
        add = alu.sum
        # branch comparison (opb is rs2 for a branch: both operands from registers)
        m.d.comb += [branch.a.eq(rs1), branch.b.eq(opb), branch.funct3.eq(f3)]
        taken = branch.taken

        pc4 = (x_pc + 4)[:32]
        # one pc-relative adder: branch and JAL targets, AUIPC
        pc_rel = Signal(32)
        m.d.comb += pc_rel.eq(pc_rel_d if bram else x_pc + decoder.pc_imm)
        jalr_target = Cat(C(0, 1), add[1:32])
        target = Signal(32)
        jump = Signal()
        with m.If(dec.jal):
            m.d.comb += [jump.eq(1), target.eq(pc_rel)]
        with m.Elif(dec.jalr):
            m.d.comb += [jump.eq(1), target.eq(jalr_target)]
        with m.Elif(dec.branch):
            m.d.comb += [jump.eq(taken), target.eq(pc_rel)]
        if bram:
            # Branches and JALR take two cycles in X, always: the outcome and target are found
            # in the first and registered, and the second redirects the fetch from the registers
            # (the comparator and the JALR adder do not reach the next fetch address or the trap
            # decision). JAL's target comes from D (pc_rel), so JAL takes one.
            jump_r = Signal()
            target_r = Signal(32)
            x_second = Signal()                  # X's first cycle (operands valid) is over
            jmis_r = Signal()                    # ... and whether that target is misaligned
            m.d.sync += [jump_r.eq(jump), target_r.eq(target), jmis_r.eq(jump & target[1])]
            jump_wait = (dec.branch | dec.jalr) & ~x_second
            jump2 = Signal()
            target2 = Signal(32)
            m.d.comb += [jump2.eq(dec.jal | jump_r & x_second),
                         target2.eq(Mux(dec.jal, pc_rel, target_r))]
            jump, target = jump2, target2
            # a misaligned target (bit 1; bit 0 is always 0) from registers
            jump_mis = Mux(dec.jal, pc_rel[1], jmis_r & x_second)
        else:
            jump_wait = C(0, 1)
            jump_mis = jump & (target[:2] != 0)

        # ------------------------------------------------------------------ memory access
        mem_addr = add
        m.d.comb += [lsu.addr.eq(mem_addr), lsu.funct3.eq(f3), lsu.store.eq(rs2)]
        misaligned = lsu.misaligned
        x_mem = dec.load | dec.store

        # ------------------------------------------------------------------ CSRs
        csr_addr = raw[20:32]
        csr_writes = (f3[:2] == 1) | (inst.rs1 != 0)          # csrrw[i] always; rs/rc if rs1!=0
        m.d.comb += [csr.addr.eq(csr_addr), csr.funct3.eq(f3), csr.writes.eq(csr_writes),
                     csr.src.eq(Mux(f3[2], inst.rs1, rs1))]
        if pmp is not None:
            m.d.comb += [pmp.csr_addr.eq(csr_addr), csr.pmp_rdata.eq(pmp.csr_rdata)]
        if trig is not None:
            m.d.comb += [csr.tselect.eq(trig.tselect), csr.tdata1.eq(trig.tdata1),
                         csr.tdata2.eq(trig.tdata2), csr.tinfo.eq(trig.tinfo),
                         csr.tcontrol.eq(trig.tcontrol)]
        if hdbg is not None:
            m.d.comb += [csr.dbg_halted.eq(dbg_halted), csr.dbg_addr.eq(hdbg.csr_addr),
                         hdbg.csr_rdata.eq(csr.dbg_rdata), hdbg.csr_exists.eq(csr.dbg_exists),
                         hdbg.csr_readonly.eq(hdbg.csr_addr[10:12] == 0b11),
                         csr.dbg_we.eq(hdbg.csr_we), csr.dbg_wdata.eq(hdbg.wdata)]
        csr_illegal = csr.illegal
        if bram:
            # CSR instructions take two cycles in X, always: the access check (the CSR address
            # decode, privilege, mcounteren) is made in the first and registered, so it does
            # not reach the commit decision; the CSR is read in the first and written in the
            # second (the CSR file's ``registered`` option). Shifts too: the ALU registers the
            # shifter's output.
            csr_illegal_c = csr_illegal
            csr_illegal = Signal()         # registered with x_second (below)
            csr_wait = dec.csr & ~x_second
            shift_wait = (dec.op | dec.opimm) & ~is_muldiv & (f3[:2] == 0b01) & ~x_second
        else:
            csr_wait = C(0, 1)
            shift_wait = C(0, 1)

        # ------------------------------------------------------------------ exceptions
        # PMP: instruction fetch checked on the PC in X (the word was read, never used), data on
        # the computed address, with MPRV's effective privilege; fixed M-only regions on top.
        # A denied load/store is not an exception in X: it goes to W without a bus request and
        # traps from there one cycle later, exactly as a bus error does, so that the PMP's
        # verdict on a freshly computed address is not on the next-fetch-address path.
        d_priv_m = Mux(csr.mprv, csr.mpp_m, priv_m)
        m_only_hit = Signal()
        for base, size in self.m_only:
            bits = (size - 1).bit_length()
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
        m.d.comb += d_denied.eq(~d_ok | m_only_hit & ~d_priv_m)
        if trig is not None:
            m.d.comb += [trig.priv_m.eq(priv_m), trig.x_pc.eq(x_pc), trig.d_addr.eq(mem_addr),
                         trig.d_load.eq(dec.load), trig.d_store.eq(dec.store)]
            if hdbg is not None:
                m.d.comb += trig.debug_ok.eq(self.debug.enable)
            # no request for a load/store a trigger matches (it traps or halts from W)
            d_block = Signal()
            m.d.comb += d_block.eq(d_denied | trig.ldst_exc | trig.ldst_halt)
        else:
            d_block = d_denied
        m.d.comb += self.mem_denied.eq(x_ready & x_mem & (d_block | misaligned))
        # X's exceptions, in priority order in the trap unit (an execute trigger first). A
        # misaligned load/store is not an exception in X either: like a refused one, it makes
        # no request and traps from W (the address adder then feeds no trap decision).
        priv_illegal = ~priv_m & (dec.mret | dec.wfi & csr.tw)
        m.d.comb += [
            trap.x_trigger.eq(trig.exec_exc if trig is not None else 0),
            trap.x_fetch_fault.eq(x_ffault | ~i_ok),
            trap.x_illegal.eq(~dec.legal | dec.csr & csr_illegal | priv_illegal),
            trap.x_ecall.eq(dec.ecall), trap.x_ebreak.eq(dec.ebreak),
            trap.x_jump_mis.eq(jump_mis), trap.x_target.eq(target),
            trap.x_pc.eq(x_pc), trap.x_insn.eq(raw), trap.priv_m.eq(priv_m),
        ]
        exc = trap.exc

        irq_pending = csr.irq_pending
        irq_take = csr.irq_enabled & irq_pending & ~dec.wfi & ~dbg_irq_mask

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
        div_wait = dec.div & ~(divider.done & div_started)
        mul_started = Signal()                    # the multiplier holds the operands of X
        mul_wait = dec.mul & ~(multiplier.valid & mul_started)
        wfi_wait = dec.wfi & ~irq_pending
        # regfile_bram: a load/store's request goes out from W (below), so X never waits for
        # the bus's stall, only for W (w_hold): the memory address does not decide X's progress.
        x_bus_wait = C(0, 1) if bram else x_mem & bus.stall
        # The exceptions a MUL/DIV/WFI/load/store can raise in X: all but the misaligned jump
        # target, the one that depends on register values (a branch's outcome, a JALR's sum).
        # Waiting and starting a unit depend on these only, so register values never decide
        # whether X waits (for the same verdict: none of those instructions is a jump).
        # The default core uses ``exc`` itself: none of its waits is on a path where the
        # difference matters for the clock.
        if bram:
            exc_nojump = Signal()
            m.d.comb += exc_nojump.eq(x_ffault | ~i_ok | exc_dec_d | dec.csr & csr_illegal)
        else:
            exc_nojump = exc
        stall = Signal()
        m.d.comb += stall.eq(w_hold | hazard |
                             ~exc_nojump & ~irq_take & ~dbg_halt
                             & (div_wait | mul_wait | wfi_wait | x_bus_wait | jump_wait
                                | csr_wait | shift_wait))
        x_go = Signal()
        m.d.comb += x_go.eq(x_valid & ~stall & ~w_stop)
        x_trap = x_go & ~dbg_halt & (exc | irq_take)
        m.d.comb += self.trap.eq(x_trap | w_trap)
        x_commit = x_go & ~exc & ~irq_take & ~dbg_halt

        unit_ok = ~hazard & ~w_hold & ~w_stop & ~exc_nojump & ~irq_take & ~dbg_halt
        div_go = x_valid & dec.div & ~div_started & unit_ok
        if bram:
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
            multiplier.load.eq(x_valid & dec.mul & ~mul_started & unit_ok),
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
        if bram:
            # From W, out of registers: the request is made in the load/store's first cycle in
            # W (everything older has retired by then: precise), held until the bus takes it,
            # and W waits for the response as before. A load's data comes a cycle later than
            # from X, which the next instruction's decode cycle hides unless it reads the loaded
            # register (then the load-use wait, one cycle).
            w_req = Signal()                      # W's request is not taken yet
            w_sel = Signal(4)
            w_wdata = Signal(32)
            with m.If(~w_hold):
                m.d.sync += [w_req.eq(x_commit & x_mem & ~d_denied & ~misaligned),
                             w_sel.eq(lsu.sel), w_wdata.eq(lsu.wdata)]
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
            x_req = (x_valid & x_mem & ~exc & ~irq_take & ~dbg_halt & ~hazard & ~w_hold & ~w_stop
                     & ~d_block & ~misaligned)
            m.d.comb += [
                bus.cyc.eq(w_bus | x_req),
                bus.stb.eq(x_req),
                bus.we.eq(dec.store),
                bus.adr.eq(mem_addr[2:]),
                bus.sel.eq(lsu.sel),
                bus.dat_w.eq(lsu.wdata),
                self.dbus_m.eq(d_priv_m),
            ]

        # ------------------------------------------------------------------ next PC and fetch
        trap_pc = Cat(C(0, 2), csr.mtvec[2:])
        next_pc = Signal(32)
        advance = Signal()
        m.d.comb += advance.eq(~x_valid & ~dbg_halted | x_go | w_trap)
        with m.If(~x_valid):
            m.d.comb += next_pc.eq(x_pc)
        with m.Elif(w_trap | x_trap):
            m.d.comb += next_pc.eq(trap_pc)
        with m.Elif(dec.mret):
            m.d.comb += next_pc.eq(csr.mepc)
        with m.Elif(jump):
            m.d.comb += next_pc.eq(target)
        with m.Else():
            m.d.comb += next_pc.eq(pc4)

        fetch_bits = (self.fetch_size - 1).bit_length()
        in_ram = (next_pc[fetch_bits:] == (self.fetch_base >> fetch_bits))
        if bram:
            # the fetch-fault check on x_pc itself, not on the next fetch address, and into a
            # register: it is valid from the instruction's first X cycle (its D cycle, which
            # acts on nothing, sees the previous one's), so the comparator is not in front of
            # X's decisions
            m.d.sync += x_ffault.eq(x_pc[fetch_bits:] != (self.fetch_base >> fetch_bits))
        m.d.comb += [
            self.ibus.adr.eq(next_pc[2:]),
            self.ibus.en.eq(advance),
        ]
        if bram:
            m.d.sync += [x_dec.eq(~advance), x_second.eq(~advance & x_ready & ~hazard),
                         csr_illegal.eq(csr_illegal_c & ~advance & x_ready & ~hazard)]
        with m.If(advance):
            m.d.sync += [x_valid.eq(1), x_pc.eq(next_pc), div_started.eq(0), mul_started.eq(0)]
            if not bram:
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
                         hdbg.x_ebreak.eq(dec.ebreak), hdbg.priv_m.eq(priv_m),
                         hdbg.take.eq(x_go & dbg_halt), hdbg.x_left.eq(x_go & ~dbg_halt),
                         hdbg.w_idle.eq(~w_valid), hdbg.gpr_rdata.eq(regfile.dbg_rdata),
                         regfile.dbg_raddr.eq(hdbg.gpr_addr)]
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
        if bram:
            # the ALU (the latest of the results: register file -> adder/logic) one level
            # from W's register; the other sources come from registers or the CSRs
            alu_class = ~(dec.lui | dec.auipc | dec.jal | dec.jalr | dec.csr | dec.div | dec.mul)
            first = m.If(alu_class)
        else:
            first = m.If(0)
        with first:
            m.d.comb += result.eq(alu.result)
        with m.Elif(dec.lui):
            m.d.comb += result.eq(dec.imm)
        with m.Elif(dec.auipc):
            m.d.comb += result.eq(pc_rel)
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

        if bram:
            # ADD/ADDI/SUB (the carry chains, the latest values) AND-OR-ed in last: one LUT
            # between the adder and W's register (the ALU gives 0 for them: ``split_add``)
            add_sel = alu_class & (f3 == 0)
            sub_sel = add_sel & dec.op & alt
            result_w = (result | Mux(add_sel & ~sub_sel, add, 0)
                        | Mux(sub_sel, (rs1 - rs2)[:32], 0))
        else:
            result_w = result
        # regfile_bram: W's registers load whenever W is free and only w_valid says whether X
        # committed, so the commit decision does not fan out to them.
        w_load = ~w_hold if bram else x_commit
        with m.If(w_load):
            kind = Mux(dec.load, WKind.LOAD, Mux(dec.store, WKind.STORE, WKind.ALU))
            m.d.sync += [
                w_valid.eq(x_commit),
                w_kind.eq(kind),
                w_rd.eq(Mux(dec.writes_rd, inst.rd, 0)),
                w_result.eq(result_w),
                w_pc.eq(x_pc),
                w_insn.eq(raw),
                w_addr.eq(mem_addr),
                w_f3.eq(f3),
                w_priv_m.eq(priv_m),
                w_noinc.eq(dec.csr & csr_writes & ((csr_addr == Csr.MINSTRET)
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
        m.d.comb += [lsu.r_addr.eq(w_addr[:2]), lsu.r_funct3.eq(w_f3), lsu.rdata.eq(bus.dat_r)]
        w_data = Signal(32)
        m.d.comb += w_data.eq(Mux(w_kind == WKind.LOAD, lsu.result, w_result))
        w_retire = w_valid & ~w_hold & ~w_stop
        m.d.comb += [
            regfile.waddr.eq(w_rd),
            regfile.wdata.eq(w_data),
            regfile.we.eq(w_retire),              # (the register file drops writes to x0)
            self.trace.valid.eq(w_retire),
            self.trace.pc.eq(w_pc),
            self.trace.insn.eq(w_insn),
            self.trace.rd_we.eq(w_rd != 0),
            self.trace.rd.eq(w_rd),
            self.trace.rd_data.eq(w_data),
        ]
        if hdbg is not None:
            with m.If(hdbg.gpr_we):                     # halted: W is empty
                m.d.comb += [regfile.waddr.eq(hdbg.gpr_addr), regfile.wdata.eq(hdbg.wdata),
                             regfile.we.eq(1)]

        # ------------------------------------------------------------------ CSR and trap updates
        csr_we = x_commit & dec.csr & csr_writes
        m.d.comb += [csr.retire.eq(w_retire), csr.noinc.eq(w_noinc), csr.we.eq(csr_we),
                     csr.mret.eq(x_commit & dec.mret)]
        if pmp is not None:
            m.d.comb += [pmp.csr_we.eq(csr_we & pmp.csr_hit), pmp.csr_wdata.eq(csr.wdata)]
        if trig is not None:
            # trigger CSR writes: X's CSR instruction, or the Debug Module's register access
            m.d.comb += [trig.csr_we.eq(csr_we), trig.csr_addr.eq(csr_addr),
                         trig.csr_wdata.eq(csr.wdata),
                         trig.trap.eq(w_trap | x_trap), trig.mret.eq(x_commit & dec.mret),
                         trig.x_fire.eq(x_go & (trig.exec_halt | trig.exec_exc & ~dbg_halt)),
                         trig.x_commit.eq(x_commit), trig.w_fire.eq(w_valid & w_trig)]
            if hdbg is not None:
                with m.If(hdbg.csr_we):
                    m.d.comb += [trig.csr_we.eq(1), trig.csr_addr.eq(hdbg.csr_addr),
                                 trig.csr_wdata.eq(hdbg.wdata), trig.csr_debug.eq(1)]
        # the trap taken (from W, else from X: an exception, else an interrupt), recorded
        m.d.comb += [
            trap.w_trap.eq(w_trap), trap.x_trap.eq(x_trap), trap.irq_cause.eq(csr.irq_cause),
            trap.w_pc.eq(w_pc), trap.w_addr.eq(w_addr), trap.w_priv_m.eq(w_priv_m),
            trap.w_store.eq(w_kind == WKind.STORE), trap.w_misaligned.eq(w_misaligned),
            trap.w_trigger.eq(w_trig if trig is not None else 0),
            csr.trap.eq(trap.trap), csr.trap_epc.eq(trap.trap_epc),
            csr.trap_tval.eq(trap.trap_tval), csr.trap_irq.eq(trap.trap_irq),
            csr.trap_code.eq(trap.trap_code), csr.trap_prev_m.eq(trap.trap_prev_m),
        ]
        return m
