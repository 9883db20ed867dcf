"""The default core's trap selection: which exception the instruction in ``X`` raises, which
fault a load/store in ``W`` raises, and what the CSR file records when a trap is taken.

Reference: The RISC-V Instruction Set Manual, Volume II: Privileged Architecture (20211203),
3.1.15 (mcause codes), 3.1.16 (mtval) and 3.7 (the priority of synchronous exceptions).

Purely combinational. Whether a trap is taken (and when) is the pipeline's decision, in
hdl/core.py; this block only names it. ``X``'s exceptions in priority order: an execute
trigger (a breakpoint before the instruction, when the core has triggers), an instruction
access fault (fetched outside RAM or refused by PMP), an illegal instruction, ECALL, EBREAK,
a jump or taken branch to a misaligned target. A load/store that is misaligned, refused, hit
by a load/store trigger or answered with a bus error traps from ``W`` (it made no request, or
its request failed), so the address adder and the PMP's data verdict feed no decision in
``X``. A trap from ``W`` wins over one from ``X`` (it is older); an interrupt is taken from
``X`` when it raises no exception, and records ``mtval`` = 0.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .isa import Cause


__all__ = ["TrapUnit"]


class TrapUnit(wiring.Component):
    """``X``: ``x_trigger``, ``x_fetch_fault``, ``x_illegal``, ``x_ecall``, ``x_ebreak``,
    ``x_jump_mis`` (with ``x_target``), ``x_pc``, ``x_insn``, ``priv_m`` → ``exc``,
    ``exc_cause``, ``exc_tval``.
    ``W``: ``w_store``, ``w_misaligned``, ``w_trigger`` → ``w_cause`` (for a load/store that
    traps from ``W``: bus error or refused unless misaligned or a trigger).
    The trap taken: ``w_trap`` (from ``W``), ``x_trap`` (from ``X``), ``irq_cause``, ``w_pc``,
    ``w_addr``, ``w_priv_m`` → ``trap``, ``trap_irq``, ``trap_code``, ``trap_epc``,
    ``trap_tval``, ``trap_prev_m`` (the CSR file's trap entry)."""

    x_trigger:     In(1)
    x_fetch_fault: In(1)
    x_illegal:     In(1)
    x_ecall:       In(1)
    x_ebreak:      In(1)
    x_jump_mis:    In(1)
    x_target:      In(32)
    x_pc:          In(32)
    x_insn:        In(32)
    priv_m:        In(1)
    exc:           Out(1)
    exc_cause:     Out(4)
    exc_tval:      Out(32)

    w_store:       In(1)
    w_misaligned:  In(1)
    w_trigger:     In(1)
    w_cause:       Out(4)

    w_trap:        In(1)
    x_trap:        In(1)
    irq_cause:     In(5)
    w_pc:          In(32)
    w_addr:        In(32)
    w_priv_m:      In(1)
    trap:          Out(1)
    trap_irq:      Out(1)
    trap_code:     Out(5)
    trap_epc:      Out(32)
    trap_tval:     Out(32)
    trap_prev_m:   Out(1)

    def elaborate(self, platform):
        m = Module()
        exc, cause, tval = self.exc, self.exc_cause, self.exc_tval
        with m.If(self.x_trigger):
            m.d.comb += [exc.eq(1), cause.eq(Cause.BREAKPOINT), tval.eq(self.x_pc)]
        with m.Elif(self.x_fetch_fault):
            m.d.comb += [exc.eq(1), cause.eq(Cause.FETCH_FAULT), tval.eq(self.x_pc)]
        with m.Elif(self.x_illegal):
            m.d.comb += [exc.eq(1), cause.eq(Cause.ILLEGAL), tval.eq(self.x_insn)]
        with m.Elif(self.x_ecall):
            m.d.comb += [exc.eq(1), cause.eq(Mux(self.priv_m, Cause.ECALL_M, Cause.ECALL_U))]
        with m.Elif(self.x_ebreak):
            m.d.comb += [exc.eq(1), cause.eq(Cause.BREAKPOINT), tval.eq(self.x_pc)]
        with m.Elif(self.x_jump_mis):
            m.d.comb += [exc.eq(1), cause.eq(Cause.FETCH_MISALIGNED), tval.eq(self.x_target)]

        # an address breakpoint comes before misalignment and access faults (3.7)
        store = self.w_store
        m.d.comb += self.w_cause.eq(
            Mux(self.w_trigger, Cause.BREAKPOINT,
                Mux(self.w_misaligned,
                    Mux(store, Cause.STORE_MISALIGNED, Cause.LOAD_MISALIGNED),
                    Mux(store, Cause.STORE_FAULT, Cause.LOAD_FAULT))))

        w = self.w_trap
        m.d.comb += [
            self.trap.eq(w | self.x_trap),
            self.trap_epc.eq(Mux(w, self.w_pc, self.x_pc)),
            self.trap_tval.eq(Mux(w, self.w_addr, tval)),      # tval is 0 for an interrupt
            self.trap_irq.eq(~w & ~exc),
            self.trap_code.eq(Mux(w, self.w_cause, Mux(exc, cause, self.irq_cause))),
            self.trap_prev_m.eq(Mux(w, self.w_priv_m, self.priv_m)),
        ]
        return m
