"""Isolation, the SDK's side (issue 17): an untrusted U-mode task run with gluon_run_user cannot
use the M-mode trap entry against M, launching a task races no interrupt, M-mode's stack
overflow is caught by the guard and reported as such, and ending a simulation is M-mode's.

The attacks are small C programs (tests/isolation/*.c) built with `gluon cc` and run on the
Verilator model of the `minimal` SoC (real PMP, U-mode and interrupts); each program runs many
cases in one run and prints one line per case, which these tests check.

    python tests/test_isolation_sdk.py --cost [--sdk DIR]

prints the cycles of a trap from U-mode (docs/security.md, "The SDK's trap entry"); --sdk DIR
measures the SDK in DIR/firmware instead (e.g. one exported with `git archive`), building the
program with -DOLD_SDK.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.firmware.elf import load_elf
from gluon.sim.verilator import run

PROGS = Path(__file__).resolve().parent / "isolation"
CONFIG = get_config("minimal")

SP_CLASSES = ["m-context", "m-context-low", "above-key", "m-data", "mmio-uart", "odd",
              "misaligned", "zero", "top-of-ram", "wrap"]
TRAPS = ["ecall", "fault", "interrupt"]

# Cycles of a trap from U-mode through the SDK's entry (minimal SoC, default core), measured by
# trap_cost.c: last task instruction before the ecall -> first instruction of
# gluon_trap_handler, and the handler's last instruction -> the task's next one.
TRAP_ENTRY_CYCLES = 65
TRAP_EXIT_CYCLES = 62


def build(tmp_path_factory, name, *defines):
    out = tmp_path_factory.mktemp("isolation") / (name + "".join(d.replace("=", "_") for d in defines) + ".elf")
    return cc.compile([PROGS / f"{name}.c"], out, extra_flags=[f"-D{d}" for d in defines])


@pytest.fixture(scope="module")
def sp_attack(tmp_path_factory):
    res = run(build(tmp_path_factory, "attack_sp"), CONFIG, max_cycles=3_000_000)
    return res, res.output.decode()


@pytest.mark.parametrize("trap", TRAPS)
@pytest.mark.parametrize("sp_class", SP_CLASSES)
def test_task_sp_never_written_through(sp_attack, sp_class, trap):
    """U sets sp to M's context, above the key, M data, MMIO, odd, 0, the top of RAM... and
    traps: M continues (the next launch works), nothing of M's changes, the task's sp comes
    back unchanged, and the trap was taken exactly once."""
    res, text = sp_attack
    m = re.search(rf"^case {sp_class} {trap}: (.*)$", text, re.M)
    assert m, f"case missing (did M stop?); output:\n{text}"
    assert m.group(1) == "code=0 traps=1 key=ok mdata=ok uart=ok", m.group(0)


def test_sp_attack_run_ends_well(sp_attack):
    res, text = sp_attack
    assert res.passed, text
    ctx = int(re.search(r"context at 0x([0-9a-f]+)", text).group(1), 16)
    top = res.image.symbols["__stack_top"]
    assert res.image.symbols["__stack_guard_end"] < ctx < top, "the task context is on M's stack"
    assert text.count("case ") == len(SP_CLASSES) * len(TRAPS)
    assert text.rstrip().endswith("done key=ok")


def test_trap_inside_a_handler_nests(sp_attack):
    """The handler of a U ecall takes a load fault itself: the inner trap is handled, the outer
    handler resumes with its frame, the task resumes in U-mode (its csrr mstatus is illegal)
    with the handler's a0, and main is in M-mode afterwards (it was not, with the old entry)."""
    res, text = sp_attack
    assert "nested: code=0 inner=1 regs=ok illegal_from_u=1 main_in_m=yes" in text, text


def test_launch_races_no_interrupt(tmp_path_factory):
    """2000 launches with the timer firing at every phase around gluon_run_user: every trap
    from U has mepc in the task's code, every trap from M outside it; each phase is hit. And
    from the instruction trace: what follows each launch's mret is the task's first
    instruction, or the trap entry (an interrupt held over the launch, taken there)."""
    elf = build(tmp_path_factory, "launch_race")
    trace = elf.with_suffix(".trace")
    res = run(elf, CONFIG, max_cycles=5_000_000, insn_trace=trace)
    text = res.output.decode()
    syms = res.image.symbols
    run_user = next(f for f in res.image.functions if f[2] == "gluon_run_user")
    mret_pc = run_user[0] + run_user[1] - 4
    pcs = [int(line.split()[1], 16) for line in trace.read_text().splitlines()
           if not line.startswith("#") and line.split()[0] != "TRAP"]
    after = [pcs[i + 1] for i, pc in enumerate(pcs[:-1]) if pc == mret_pc]
    assert len(after) == 2000
    assert set(after) <= {syms["task_race"], syms["gluon_trap_entry"]}, \
        {hex(pc) for pc in after} - {hex(syms["task_race"]), hex(syms["gluon_trap_entry"])}
    assert res.passed, text
    m = re.search(r"race: launches=(\d+) ok=(\d+) violations=(\d+) m_before=(\d+) u_first=(\d+) "
                  r"u_body=(\d+) m_after=(\d+) none=(\d+)", text)
    assert m, text
    launches, ok, violations, m_before, u_first, u_body, m_after, none = map(int, m.groups())
    assert (launches, ok, violations) == (2000, 2000, 0), text
    # the interrupt came before the launch, was held over the whole of gluon_run_user and taken
    # at the task's first instruction, came in the task's body, and after its end
    assert min(m_before, u_first, u_body, m_after) > 0, text
    assert after.count(syms["gluon_trap_entry"]) == u_first
    assert m_before + u_first + u_body + m_after + none == launches


@pytest.mark.parametrize("variant, pattern", [
    ("", r"store access fault at pc 0x[0-9a-f]+, address 0x([0-9a-f]+), sp 0x([0-9a-f]+)"),
    ("VIA_TASK", r"store access fault at pc 0x[0-9a-f]+, address 0x([0-9a-f]+), sp 0x([0-9a-f]+)"),
    ("WILD_STORE", r"store access fault at pc 0x[0-9a-f]+, address 0x([0-9a-f]+), sp 0x([0-9a-f]+)"),
])
def test_m_stack_overflow_is_reported(tmp_path_factory, variant, pattern):
    """Runaway recursion in M, a launch with no room left for the task's trap frame, and a stray
    M store into the guard all end the run as an M-mode stack overflow (exit code 254), not as
    a bogus code written over tohost."""
    elf = build(tmp_path_factory, "stack_overflow", *([variant] if variant else []))
    res = run(elf, CONFIG, max_cycles=2_000_000)
    text = res.output.decode()
    syms = res.image.symbols
    assert (res.reason, res.tohost) == ("tohost", (254 << 1) | 1), text
    assert "*** M-mode stack overflow:" in text, text
    m = re.search(pattern, text)
    assert m, text
    addr = int(m.group(1), 16)
    assert syms["__stack_guard_start"] <= addr < syms["__stack_guard_end"], text
    assert f"stack guard [0x{syms['__stack_guard_start']:08x}, 0x{syms['__stack_guard_end']:08x})" in text


def test_stray_user_trap_is_fatal_and_uses_no_task_sp(tmp_path_factory):
    """U entered by M's own mret (no gluon_run_user, mscratch = 0) traps with sp pointing just
    above tohost: the entry writes nothing through it and ends the run, saying why."""
    res = run(build(tmp_path_factory, "stack_overflow", "STRAY_U"), CONFIG, max_cycles=500_000)
    text = res.output.decode()
    assert (res.reason, res.tohost) == ("tohost", 0x1FF), text
    assert "trap from U-mode with no M-mode stack" in text and "(ecall from U-mode)" in text, text


@pytest.mark.parametrize("config", ["minimal", "small"])
def test_user_store_to_tohost_is_ignored_and_reported(tmp_path_factory, config):
    """With the SDK's entry over tohost turned off (a firmware mistake), a U task's store of
    "pass" and an M store with MPRV = 1, MPP = U are both ignored and counted by the simulator;
    the run ends with M's own exit(9). `small` has no PMP (U may store anywhere) and a core
    that makes its data requests from W: the privilege travels with the request."""
    res = run(build(tmp_path_factory, "tohost_from_user"), get_config(config), max_cycles=500_000)
    text = res.output.decode()
    assert "task returned 0; still running" in text and "MPRV store done; still running" in text
    assert (res.reason, res.tohost, res.tohost_refused) == ("tohost", (9 << 1) | 1, 2), text


def test_sdk_pmp_entries(tmp_path_factory):
    """crt0's PMP entries: 0 OFF at the guard's bottom, 1 the locked guard, 2 the M-only top of
    RAM; the SDK's helpers refuse them, and M cannot move or unlock the guard."""
    src = tmp_path_factory.mktemp("isolation") / "pmp_entries.c"
    src.write_text("""
        #include <stdio.h>
        #include "gluon/pmp.h"
        #include "gluon/sdk.h"
        int main(void) {
            int refused = gluon_pmp_napot(0, 0x80000000u, 8, 7) == -1 &&
                          gluon_pmp_off(1) == -1 && gluon_pmp_tor(2, 0x80000000u, 7) == -1 &&
                          gluon_pmp_napot(3, 0x80000000u, 8, 7) == 0 && gluon_pmp_off(3) == 0;
            write_csr(pmpaddr1, 0);                     /* locked: ignored */
            write_csr(pmpaddr0, 0);                     /* below a locked TOR entry: ignored */
            clear_csr(pmpcfg0, 0xff00u);                /* locked: ignored */
            printf("cfg=%08x a0=%08x a1=%08x a2=%08x refused=%d\\n", (unsigned)read_csr(pmpcfg0),
                   (unsigned)read_csr(pmpaddr0), (unsigned)read_csr(pmpaddr1),
                   (unsigned)read_csr(pmpaddr2), refused);
            return 0;
        }
        """)
    elf = cc.compile([src], src.with_suffix(".elf"))
    res = run(elf, CONFIG, max_cycles=200_000)
    syms = res.image.symbols
    assert res.passed
    assert res.output.decode() == (
        f"cfg=00088800 a0={syms['__stack_guard_start'] >> 2:08x} "
        f"a1={syms['__stack_guard_end'] >> 2:08x} a2={(0x8000_0000 + CONFIG.ram_size) >> 2:08x} "
        f"refused=1\n")


def measure_trap_cost(elf):
    """[(entry, exit)] cycles for each ecall of trap_cost.c, from the instruction trace."""
    import tempfile
    img = load_elf(elf)
    with tempfile.TemporaryDirectory() as td:
        trace = Path(td) / "trace.txt"
        res = run(elf, CONFIG, max_cycles=100_000, insn_trace=trace)
        assert res.passed
        rows = [(int(p[0]), int(p[1], 16)) for p in
                (line.split() for line in trace.read_text().splitlines() if not line.startswith("#"))
                if p[0] != "TRAP"]
    handler = next(f for f in img.functions if f[2] == "gluon_trap_handler")
    before, after = img.symbols["cost_before"], img.symbols["cost_after"]
    out = []
    for i, (cyc, pc) in enumerate(rows):
        if pc != before:
            continue
        j = next(k for k in range(i + 1, len(rows)) if rows[k][1] == handler[0])
        k = next(k for k in range(j, len(rows)) if rows[k][1] == after)
        last = max(n for n in range(j, k) if handler[0] <= rows[n][1] < handler[0] + handler[1])
        out.append((rows[j][0] - cyc, rows[k][0] - rows[last][0]))
    return out


def test_trap_entry_cost(tmp_path_factory):
    """The figures docs/security.md gives for a trap from U-mode (exact: the simulation is)."""
    costs = measure_trap_cost(build(tmp_path_factory, "trap_cost"))
    assert len(costs) == 4
    assert set(costs) == {(TRAP_ENTRY_CYCLES, TRAP_EXIT_CYCLES)}, costs


if __name__ == "__main__":
    import argparse
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", action="store_true", help="measure the trap entry/exit cycles")
    ap.add_argument("--sdk", help="a directory holding another SDK's firmware/ (built -DOLD_SDK)")
    args = ap.parse_args()
    if not args.cost:
        ap.print_help()
        sys.exit(0)
    with tempfile.TemporaryDirectory() as td:
        elf = Path(td) / "trap_cost.elf"
        if args.sdk:
            subprocess.run([sys.executable, str(Path(args.sdk) / "firmware" / "cc.py"), "-DOLD_SDK",
                            "-o", str(elf), str(PROGS / "trap_cost.c")], check=True)
        else:
            cc.compile([PROGS / "trap_cost.c"], elf)
        for entry, exit_ in measure_trap_cost(elf):
            print(f"trap from U: entry {entry} cycles, exit {exit_} cycles")
