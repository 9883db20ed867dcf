"""Trace-driven CPI projection for the pipelined core (F/D/X/W, registered fetch address).

Runs the project's C programs (the ones `gluon bench` reports, compiled the same way, -O2) on
the simulated SoC of today's core with an instruction trace, classifies every retired
instruction, and prices the dynamic stream with two cycle tables:

* ``today``: the table of docs/core.md ("Data-independent timing"); its total is compared with
  the measured cycle count, which checks the classifier (the residual is what the table does
  not model: device waits, traps, the start-up);
* ``pipelined``: the table of the F/D/X/W pipeline (docs/core.md, "The pipelined core"), plus
  the same residual;
* ``fetch_reg``: the same pipeline with the fetched word registered before D
  (``Core(fetch_reg=True)``, docs/core.md, "The fetched word registered").

Every cost is a function of the instruction stream only (opcodes and register numbers of
adjacent instructions), never of data, as the core's timing rule requires.

    python -m gluon.sim.cpi_projection [--config minimal] [--measure pipelined
        --measure pipelined-fetchreg] [program ...]
"""

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from gluon.hdl.isa import Opcode

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware" / "examples"
PROGRAMS = ["sort", "crc32", "sha256_sw", "matmul"]

# The classes, and their cycles on each core (a "+" hazard is counted separately below).
TODAY = {"alu": 1, "load": 1, "store": 1, "branch": 1, "jal": 1, "jalr": 1, "mul": 2,
         "div": 34, "csr": 1, "fence": 1, "fence.i": 1, "mret": 1, "system": 1}
PIPELINED = {"alu": 1, "load": 1, "store": 1,
             "branch": 2,     # taken or not: the target (pc + imm, from D) is fetched while the
                              # branch resolves in X; a not-taken branch waits the same cycle
             "jal": 2,        # target from D: fetched one cycle after D, in D the next
             "jalr": 3,       # target from X's adder into the fetch register
             "mul": 2, "div": 34, "csr": 1, "fence": 1,
             "fence.i": 3,    # the words in F and D are fetched again after it
             "mret": 3,       # mepc into the fetch register, like a JALR
             "system": 1}
# The pipelined core with the fetched word registered before D (Core(fetch_reg=True)): the
# block RAM's output goes into a register, D decodes that register a cycle later.
FETCH_REG = dict(PIPELINED,
                 branch=3,    # taken or not: the target is on the port's address while the
                              # branch is still in D (its successor is fetched by then: kept);
                              # the chosen word waits a cycle in D while its successor is
                              # fetched
                 jal=2,       # D's target drives the port's address in D's cycle: as before
                 jalr=4,      # X's target into f_pc, then the port, the register, D
                 **{"fence.i": 4, "mret": 4})
# Hazards between adjacent instructions (the second waits), per core.
HAZARDS = {
    "today": {"load_use": 1, "store_load": 0, "addr_use": 0, "mul_use": 0},
    # loads and stores both make their request from X, as today; RAM makes a store's write
    # from its write buffer in the next cycle (hdl/ram.py), on the port a load behind it would
    # read, so a load right behind a store waits a cycle (whatever the addresses)
    "pipelined": {"load_use": 1, "store_load": 1,
                  # a load/store whose base register the instruction before it (not a load)
                  # wrote: counted, free (the address adder takes W's bypass); an
                  # address-use interlock would cost these cycles
                  "addr_use": 0,
                  # an instruction reading the product of the MUL* right before it: free (the
                  # multiplier registers its partial products in the MUL's first cycle in X and
                  # adds them in the second, Multiplier(split=True), as fast as before)
                  "mul_use": 0},
}
HAZARDS["fetch_reg"] = HAZARDS["pipelined"]
# The two other ways considered to take the multiplier off the critical path, priced on the
# same streams: the partial products added in W, with a wait when the next instruction reads
# the product (as a load's data), or the product registered inside the multiplier (a third
# cycle for every MUL*).
MUL_ALTERNATIVES = {"MUL-use wait": {"mul": 2, "mul_use": 1},
                    "registered product": {"mul": 3, "mul_use": 0}}

# Issue 18's CoreMark mix (EEMBC CoreMark, -O2, rv32im): fractions of instructions, and the
# measured figures on today's core.
COREMARK_MIX = {"branch": 0.203, "jal": 0.025, "jalr": 0.007, "load": 0.178, "store": 0.049,
                "mul": 0.030, "load_use": 0.066}
COREMARK_TODAY = {"cpi": 1.096, "per_mhz": 2.96}


def classify(word):
    """(class, rd, rs1 read?, rs2 read?) of one 32-bit instruction word."""
    op = (word >> 2) & 0x1F
    rd = (word >> 7) & 0x1F
    f3 = (word >> 12) & 7
    f7 = word >> 25
    if op == Opcode.LOAD.value:
        return "load", rd, True, False
    if op == Opcode.STORE.value:
        return "store", 0, True, True
    if op == Opcode.BRANCH.value:
        return "branch", 0, True, True
    if op == Opcode.JAL.value:
        return "jal", rd, False, False
    if op == Opcode.JALR.value:
        return "jalr", rd, True, False
    if op == Opcode.OP.value:
        if f7 == 1:
            return ("div" if f3 & 4 else "mul"), rd, True, True
        return "alu", rd, True, True
    if op == Opcode.OP_IMM.value:
        return "alu", rd, True, False
    if op in (Opcode.LUI.value, Opcode.AUIPC.value):
        return "alu", rd, False, False
    if op == Opcode.MISC_MEM.value:
        return ("fence.i" if f3 == 1 else "fence"), 0, False, False
    if op == Opcode.SYSTEM.value:
        if f3 == 0:
            return ("mret" if word == 0x3020_0073 else "system"), 0, False, False
        return "csr", rd, not (f3 & 4), False
    return "system", 0, False, False


def profile(trace_lines):
    """Counts of classes and hazards over a retired-instruction stream [(cycle, word)]."""
    classes = Counter()
    hazards = Counter()
    prev = None
    first = last = None
    for cyc, word in trace_lines:
        first = cyc if first is None else first
        last = cyc
        cls, rd, r1, r2 = classify(word)
        classes[cls] += 1
        if prev is not None:
            pcls, prd = prev
            rs1, rs2 = (word >> 15) & 0x1F, (word >> 20) & 0x1F
            if pcls == "load" and prd and (r1 and rs1 == prd or r2 and rs2 == prd):
                hazards["load_use"] += 1
            if pcls == "mul" and prd and (r1 and rs1 == prd or r2 and rs2 == prd):
                hazards["mul_use"] += 1
            if pcls == "store" and cls == "load":
                hazards["store_load"] += 1
            if pcls != "load" and prd and cls in ("load", "store") and rs1 == prd:
                hazards["addr_use"] += 1
        prev = (cls, rd)
    return classes, hazards


def price(classes, hazards, table, core):
    return (sum(table[c] * n for c, n in classes.items())
            + sum(HAZARDS[core][h] * n for h, n in hazards.items()))


def read_trace(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            cyc, _pc, insn = line.split()[:3]
            out.append((int(cyc), int(insn, 16)))
    return out


def run_program(name, config, workdir):
    from gluon.firmware import cc
    from gluon.sim.verilator import run
    elf = cc.compile([EXAMPLES / f"{name}.c"], Path(workdir) / f"{name}.elf", opt="-O2",
                     extra_flags=[])
    trace = Path(workdir) / f"{name}.trace"
    res = run(elf, config, insn_trace=trace)
    if not res.passed:
        raise RuntimeError(f"{name}: {res.reason}, tohost {res.tohost:#x}")
    return res, read_trace(trace)


def project(name, res, stream):
    classes, hazards = profile(stream)
    n = sum(classes.values())
    today = price(classes, hazards, TODAY, "today")
    residual = res.cycles - today
    new = price(classes, hazards, PIPELINED, "pipelined") + residual
    fetch_reg = price(classes, hazards, FETCH_REG, "fetch_reg") + residual
    alternatives = {k: (new + (alt["mul"] - PIPELINED["mul"]) * classes["mul"]
                        + (alt["mul_use"] - HAZARDS["pipelined"]["mul_use"]) * hazards["mul_use"]) / n
                    for k, alt in MUL_ALTERNATIVES.items()}
    return {"program": name, "instret": n, "cycles": res.cycles, "cpi": res.cycles / n,
            "model_today": today, "residual": residual, "pipelined": new,
            "cpi_pipelined": new / n, "cpi_mul_alternatives": alternatives,
            "cpi_fetch_reg": fetch_reg / n,
            "classes": classes, "hazards": hazards}


def coremark_projection(store_load_share, mul_use_share=0.0, table=PIPELINED):
    """CPI and CoreMark/MHz on the pipelined core from issue 18's CoreMark mix: today's measured
    CPI plus the extra cycles of each class (``store_load_share``, ``mul_use_share``: the
    fractions of instructions that are a load right after a store, and that read the product of
    the MUL* right before them, not in the published mix: taken from our programs)."""
    extra = sum((table[c] - TODAY[c]) * COREMARK_MIX[c] for c in ("branch", "jal", "jalr"))
    extra += HAZARDS["pipelined"]["store_load"] * store_load_share
    extra += HAZARDS["pipelined"]["mul_use"] * mul_use_share
    cpi = COREMARK_TODAY["cpi"] + extra
    return cpi, COREMARK_TODAY["per_mhz"] * COREMARK_TODAY["cpi"] / cpi


def markdown(rows):
    measured = list(rows[0].get("measured", {})) if rows else []
    lines = ["| program | instructions | branches | jal / jalr | loads (load-use) | stores "
             "(store→load) | mul (mul-use) / div | cycles today (model) | CPI today "
             "| CPI pipelined | CPI with a MUL-use wait / with a registered product "
             "| CPI pipelined, fetched word registered |"
             + "".join(f" measured {c} |" for c in measured),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
             + "---:|" * len(measured)]
    for r in rows:
        c, h, n = r["classes"], r["hazards"], r["instret"]
        pct = lambda v: f"{100 * v / n:.1f} %"
        lines.append(
            f"| {r['program']} | {n:,} | {pct(c['branch'])} | {pct(c['jal'])} / {pct(c['jalr'])} "
            f"| {pct(c['load'])} ({pct(h['load_use'])}) | {pct(c['store'])} "
            f"({pct(h['store_load'])}) | {pct(c['mul'])} ({pct(h['mul_use'])}) / {pct(c['div'])} "
            f"| {r['cycles']:,} ({r['model_today']:,}) | {r['cpi']:.3f} | {r['cpi_pipelined']:.3f} "
            f"| {' / '.join(f'{v:.3f}' for v in r['cpi_mul_alternatives'].values())} "
            f"| {r['cpi_fetch_reg']:.3f} |"
            + "".join(f" {r['measured'][c]:.3f} |" for c in measured))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gluon.sim.cpi_projection", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("programs", nargs="*", default=PROGRAMS)
    p.add_argument("--config", default="minimal")
    p.add_argument("--keep", metavar="DIR", help="keep the ELFs and traces in DIR")
    p.add_argument("--measure", metavar="CONFIG", action="append", default=[],
                   help="also run each program on CONFIG (e.g. 'pipelined') and print its CPI "
                        "(repeatable)")
    args = p.parse_args(argv)
    from gluon.hdl.config import get_config
    config = get_config(args.config)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gluon-cpi-") as td:
        work = Path(args.keep) if args.keep else Path(td)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.programs:
            res, stream = run_program(name, config, work)
            rows.append(project(name, res, stream))
            for cfg in args.measure:
                from gluon.sim.verilator import run
                got = run(work / f"{name}.elf", get_config(cfg))
                rows[-1].setdefault("measured", {})[cfg] = got.cycles / got.instret
            print(f"{name}: measured {rows[-1]['cycles']:,} cycles, model {rows[-1]['model_today']:,}"
                  f" + residual {rows[-1]['residual']:,}; pipelined {rows[-1]['pipelined']:,}",
                  file=sys.stderr)
    print(markdown(rows))
    sl = max(r["hazards"]["store_load"] / r["instret"] for r in rows)
    # the share of CoreMark's MUL* whose product the next instruction reads: not published,
    # taken as the largest of our programs'
    mu = COREMARK_MIX["mul"] * max(r["hazards"]["mul_use"] / max(r["classes"]["mul"], 1)
                                   for r in rows)
    cpi, per_mhz = coremark_projection(sl, mu)
    print(f"\nCoreMark mix (issue 18): CPI {COREMARK_TODAY['cpi']:.3f} → {cpi:.3f}, "
          f"{COREMARK_TODAY['per_mhz']:.2f} → {per_mhz:.2f} CoreMark/MHz")
    cpi, per_mhz = coremark_projection(sl, mu, FETCH_REG)
    print(f"  with the fetched word registered: CPI {cpi:.3f}, {per_mhz:.2f} CoreMark/MHz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
