"""``gluon sim --insn-trace``: the harness's retire log turned into a readable trace.

The harness logs each retired instruction (cycle, pc, word, the register it wrote). This adds
the disassembly, ``<function+offset>`` on every line and on branch and jump targets, and a
``TRAP`` line for an instruction that did not retire because it trapped (or before which an
interrupt was taken).

A trapping instruction never reaches the core's retire port, so it is found from the control
flow: a shadow register file follows every retired register write, which gives the address the
next instruction must have (pc + 4, a branch decided on the shadow values, a jump target, mepc
for MRET). When the next retired instruction is elsewhere, the one at the expected address
trapped. The cause comes from the handler itself: the first ``csrr mcause``/``mepc``/``mtval``
it retires carries the real values (the SDK's trap entry reads all three first); a handler
that reads none leaves the cause inferred from the instruction (``cause?``).
"""

from gluon.firmware.objdump import Disassembler, control_target


__all__ = ["write_insn_trace", "CAUSES"]


CAUSES = {0: "instruction address misaligned", 1: "instruction access fault",
          2: "illegal instruction", 3: "breakpoint", 4: "load address misaligned",
          5: "load access fault", 6: "store address misaligned", 7: "store access fault",
          8: "environment call from U-mode", 11: "environment call from M-mode"}
INTERRUPTS = {3: "machine software interrupt", 7: "machine timer interrupt",
              11: "machine external interrupt"}

CSR_MEPC, CSR_MCAUSE, CSR_MTVAL = 0x341, 0x342, 0x343
LOOKAHEAD = 64                     # retired instructions of the handler searched for csrr


def cause_text(mcause):
    if mcause >> 31:
        return f"interrupt {mcause & 0x7FFF_FFFF}: " + INTERRUPTS.get(mcause & 0x7FFF_FFFF, "?")
    return f"cause {mcause}: " + CAUSES.get(mcause, "?")


def _sext(v, bits):
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


class _Flow:
    """Shadow state: registers from retired writes, mepc from trap entries and CSR writes."""

    def __init__(self):
        self.x = [0] * 32
        self.mepc = 0

    def expected_next(self, pc, w):
        op, f3 = w & 0x7F, w >> 12 & 7
        rs1, rs2 = self.x[w >> 15 & 31], self.x[w >> 20 & 31]
        t = control_target(w, pc)
        if op == 0x6F:
            return t
        if op == 0x63:
            a, b = rs1, rs2
            sa, sb = _sext(a, 32), _sext(b, 32)
            taken = {0: a == b, 1: a != b, 4: sa < sb, 5: sa >= sb, 6: a < b, 7: a >= b}.get(f3)
            return t if taken else pc + 4
        if op == 0x67:
            return (rs1 + _sext(w >> 20, 12)) & 0xFFFF_FFFE
        if w == 0x30200073:                                  # MRET
            return self.mepc
        return (pc + 4) & 0xFFFF_FFFF

    def retire(self, w, rd_we, rd, val):
        # CSR writes to mepc (the handler moving it past the trapping instruction)
        if w & 0x7F == 0x73 and (w >> 20) == CSR_MEPC and w >> 12 & 3:
            f3, src = w >> 12 & 7, w >> 15 & 31
            v = src if f3 & 4 else self.x[src]
            op = f3 & 3
            self.mepc = v if op == 1 else (self.mepc | v) if op == 2 else (self.mepc & ~v)
            self.mepc &= 0xFFFF_FFFF
        if rd_we and rd:
            self.x[rd] = val


def _infer_cause(w, pc, flow, ram):
    """Best guess of a trap's cause from the instruction (when the handler read no mcause)."""
    lo, hi = ram
    if not lo <= pc < hi or pc & 3:
        return 1 if pc & 3 == 0 else 0
    if w is None:
        return 1
    op, f3 = w & 0x7F, w >> 12 & 7
    if w == 0x00000073:
        return 11
    if w == 0x00100073:
        return 3
    if op == 0x03:
        addr = (flow.x[w >> 15 & 31] + _sext(w >> 20, 12)) & 0xFFFF_FFFF
        size = 1 << (f3 & 3)
        return 4 if addr % size else 5
    if op == 0x23:
        addr = (flow.x[w >> 15 & 31] + _sext((w >> 25) << 5 | (w >> 7 & 31), 12)) & 0xFFFF_FFFF
        size = 1 << (f3 & 3)
        return 6 if addr % size else 7
    if op in (0x6F, 0x63, 0x67):
        return 0
    return 2


def write_insn_trace(raw, out, image, *, ram_size=None, ram_base=0x8000_0000):
    """Turn the harness's raw retire log ``raw`` into the trace file ``out``."""
    dis = Disassembler(image)
    ram = (ram_base, ram_base + (ram_size or 1 << 31))
    flow = _Flow()
    with open(raw) as fin:
        rows = []
        for line in fin:
            cyc, pc, insn, we, rd, val = line.split()
            rows.append((int(cyc), int(pc, 16), int(insn, 16), we == "1", int(rd), int(val, 16)))
    with open(out, "w") as f:
        f.write("# cycle pc insn disassembly [rd = value] <function+offset>\n")
        expected = None
        for i, (cyc, pc, w, we, rd, val) in enumerate(rows):
            if expected is not None and pc != expected:
                f.write(_trap_line(rows, i, expected, flow, image, ram))
                flow.mepc = expected
            sym = image.symbol_offset(pc)
            text = dis.text(w, pc)
            if w & 0x7F == 0x67:                             # JALR: the target it took
                t = flow.expected_next(pc, w)
                tsym = image.symbol_offset(t)
                text += f" -> 0x{t:08x}" + (f" <{tsym}>" if tsym else "")
            wr = f"x{rd} = 0x{val:08x}" if we else ""
            f.write(f"{cyc:>10} {pc:08x} {w:08x}  {text:<40} {wr:<16}"
                    + (f" <{sym}>" if sym else "") + "\n")
            expected = flow.expected_next(pc, w)
            flow.retire(w, we, rd, val)


def _trap_line(rows, i, pc, flow, image, ram):
    """The TRAP line for the instruction at ``pc``, before the handler's first row ``rows[i]``."""
    seen = {}
    for cyc, _pc, w, we, rd, val in rows[i:i + LOOKAHEAD]:
        if w & 0x7F == 0x73 and w >> 12 & 3 and we and rd:
            csr = w >> 20
            if csr in (CSR_MEPC, CSR_MCAUSE, CSR_MTVAL) and csr not in seen:
                seen[csr] = val
        if w == 0x30200073:                                  # the handler returned
            break
    mepc = seen.get(CSR_MEPC, pc)
    w = image.word_at(mepc)
    if CSR_MCAUSE in seen:
        cause = cause_text(seen[CSR_MCAUSE])
    else:
        cause = cause_text(_infer_cause(w, mepc, flow, ram)) + " (cause? inferred: the handler read no mcause)"
    tval = f", mtval 0x{seen[CSR_MTVAL]:08x}" if CSR_MTVAL in seen else ""
    text = Disassembler(image).text(w, mepc) if w is not None else "(outside the image)"
    sym = image.symbol_offset(mepc)
    where = image.source_line(mepc)
    loc = f" ({where[0].rsplit('/', 1)[-1]}:{where[1]})" if where else ""
    word = f"{w:08x}" if w is not None else "????????"
    return (f"{'TRAP':>10} {mepc:08x} {word}  {text:<40} {cause}{tval}"
            + (f" <{sym}>" if sym else "") + loc + "\n")
