"""The address map is one table (hdl/soc.py ADDRESS_MAP): the decoder, the core's M-only
regions, the generated header, the reference emulator, the diagram and the README's table
derive from it or agree with it; and the M-only rule holds on the SoC (a U-mode store to
SIMCTRL is a store access fault, not the end of the run)."""

import importlib.util
import re
from pathlib import Path

import pytest

from gluon.hdl.config import CONFIGS, get_config
from gluon.hdl.soc import (ADDRESS_MAP, COPRO_BASE, MAX_SLOTS, SLOT_SIZE, GluonSoC, address_map,
                           m_only_regions)
from gluon.sim import refsim

ROOT = Path(__file__).resolve().parent.parent


def _hex(text):
    return int(text.replace("_", ""), 16)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_regions_are_aligned_and_disjoint(name):
    regions = address_map(get_config(name))
    assert [r.base for r in regions] == sorted(r.base for r in regions)
    for r in regions:
        assert r.size & (r.size - 1) == 0 and r.base % r.size == 0, r
        if r.regs is not None:
            assert r.regs.size <= r.size, f"{r.name}: registers overflow the window"
    for a, b in zip(regions, regions[1:]):
        assert a.end <= b.base, f"{a.name} overlaps {b.name}"
    names = [r.name for r in regions]
    assert len(set(names)) == len(names)


def test_table_presence_follows_the_configuration():
    small = {r.name for r in address_map(get_config("small"))}
    full = {r.name for r in address_map(get_config("full"))}
    assert small == {"CLINT", "UART", "SYSINFO", "SIMCTRL", "RAM"}
    assert full == small | {"COPROCTL", "PERF", "HASH", "MODMUL", "MATMUL"}


def test_m_only_regions_merge_only_aligned_neighbours():
    class R:
        def __init__(self, base, size, m_only=True):
            self.base, self.size, self.m_only = base, size, m_only
    assert m_only_regions([R(0x2000, 0x1000), R(0x3000, 0x1000)]) == [(0x2000, 0x2000)]
    # 0x3000 and 0x4000 are neighbours but not the two halves of an aligned 8 KiB block
    assert m_only_regions([R(0x3000, 0x1000), R(0x4000, 0x1000)]) == [(0x3000, 0x1000),
                                                                      (0x4000, 0x1000)]
    assert m_only_regions([R(0x2000, 0x1000), R(0x3000, 0x1000, m_only=False)]) == [(0x2000, 0x1000)]


@pytest.mark.parametrize("name", ["small", "minimal"])
def test_core_and_decoder_are_built_from_the_table(name):
    config = get_config(name)
    soc = GluonSoC(config)
    regions = soc.memory_map()
    # every M-only region, and nothing else, lies inside the core's fixed M-only compare;
    # without PMP (small) there is no compare: U-mode memory accesses are unrestricted
    spans = soc.core.m_only
    for r in regions:
        inside = any(b <= r.base and r.end <= b + s for b, s in spans)
        assert inside == (r.m_only and config.pmp_entries > 0), r
    assert any(r.name == "SIMCTRL" and r.m_only for r in regions)
    windows = soc.elaborate(None).submodules["decoder"].windows
    assert [(w.name, w.base, w.size, w.registered) for w in windows] == \
        [(r.name.lower(), r.base, r.size, r.registered) for r in regions]


def test_coprocessor_slots_and_interrupts():
    regions = address_map(get_config("full"))
    for r in regions:
        if r.slot is not None:
            assert r.base == COPRO_BASE + r.slot * SLOT_SIZE and r.irq == 1 + r.slot
            assert 0 <= r.slot < MAX_SLOTS
    assert {r.name: r.irq for r in regions if r.irq is not None} == \
        {"UART": 0, "HASH": 1, "MODMUL": 2, "MATMUL": 3}


def test_header_has_the_table_columns():
    header = (ROOT / "firmware/include/gluon/regs.h").read_text()
    for r in address_map(get_config("full")):
        line = re.search(rf"/\* ---- {r.name}: (0x[0-9a-f]+), (0x[0-9a-f]+) bytes(, M-mode only)?",
                         header)
        assert line, r.name
        assert (int(line[1], 16), int(line[2], 16), bool(line[3])) == (r.base, r.size, r.m_only)
        if r.irq is not None:
            assert f"#define GLUON_{r.name}_MIP_BIT {16 + r.irq}\n" in header


def test_readme_table_matches():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Memory map"):]
    rows = re.findall(r"^\| `(0x[0-9A-Fa-f_]+)` \| ([^|]+?) \| ([^|]*)\|$", table, re.M)
    readme = {block.strip(): (_hex(addr), note) for addr, block, note in rows}
    regions = address_map(get_config("full"))
    fixed = [r for r in regions if r.slot is None]
    assert [n for n in readme if n != "coprocessor slots"] == [r.name for r in fixed]
    for r in fixed:
        assert readme[r.name][0] == r.base, r.name
        assert ("M-mode only" in readme[r.name][1]) == r.m_only, r.name
    assert readme["coprocessor slots"][0] == COPRO_BASE
    assert f"0x{COPRO_BASE >> 16:04X}_{COPRO_BASE & 0xFFFF:04X} + k·{SLOT_SIZE:#x}" in table


def test_soc_docstring_table_matches():
    import gluon.hdl.soc as soc
    rows = re.findall(r"^(0x[0-9A-F_]{9})\s+\S+(?: \S+)?\s+(\w+)(.*)$", soc.__doc__, re.M)
    fixed = [r for r in address_map(get_config("full")) if r.slot is None]
    named = {name: (_hex(addr), rest) for addr, name, rest in rows}
    for r in fixed:
        assert named[r.name][0] == r.base, r.name
        assert ("M-mode only" in named[r.name][1]) == r.m_only, r.name
    assert _hex(rows[-2][0]) == COPRO_BASE


def test_diagram_draws_every_block():
    spec = importlib.util.spec_from_file_location("architecture_diagram",
                                                  ROOT / "docs/architecture_diagram.py")
    diagram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagram)
    labels = diagram.peripheral_labels() + diagram.coprocessor_labels()
    for r in address_map(get_config("full")):
        if r.name == "RAM":
            continue
        label = next(l for l in labels if f"0x{r.base >> 16:04X}_{r.base & 0xFFFF:04X}" in l)
        assert r.name in label
        assert ("M-mode" in label) == r.m_only, label


def test_refsim_devices_are_the_tables():
    table = {d.name: d for d in ADDRESS_MAP}
    for name, dev in refsim.DEVICES.items():
        assert dev is table[name]
    assert refsim.RAM_BASE == address_map(get_config("full"))[-1].base
    assert refsim.DEFAULT_RAM_SIZE == get_config("full").ram_size


def test_firmware_has_no_literal_device_addresses():
    """Drivers and the SDK library take device addresses from gluon/regs.h."""
    spans = [(r.base, r.end) for r in address_map(get_config("full")) if r.name != "RAM"]
    spans.append((COPRO_BASE, COPRO_BASE + MAX_SLOTS * SLOT_SIZE))
    bad = []
    for path in sorted((ROOT / "firmware").glob("*/*.c")):
        if path.parent.name not in ("drivers", "lib"):
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            for lit in re.findall(r"0[xX][0-9a-fA-F]+", line):
                if any(b <= int(lit, 16) < e for b, e in spans):
                    bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


# A U-mode task whose PMP allows everything stores to SIMCTRL.EXIT (a failure code if it got
# through) and loads from it: both fault (mcause 7, then 5; mtval the address), the run goes on,
# and M-mode ends it through SIMCTRL afterwards.
USER_SIMCTRL = """
    la t0, trap
    csrw mtvec, t0
    j body
.align 2
trap:
    csrr t0, mcause
    li t1, 8
    beq t0, t1, finished          # the user task's ecall: back in M-mode for good
    sw t0, 0(gp)
    csrr t0, mepc
    sw t0, 4(gp)
    csrr t0, mtval
    sw t0, 8(gp)
    csrr t0, mstatus
    sw t0, 12(gp)
    addi gp, gp, 16
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
body:
    li t0, -1
    csrw pmpaddr0, t0             # NAPOT over the whole address space, RWX for U
    li t0, 0x1F
    csrw pmpcfg0, t0
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    li s0, {simctrl:#x}
    li s1, {uart:#x}
    mret
.align 2
user:
u0: li a0, (42 << 1) | 1
u1: sw a0, 0(s0)                  # SIMCTRL.EXIT = fail 42 -> store access fault
u2: lw a1, 0(s0)                  # -> load access fault
u3: lw a2, 4(s1)                  # UART STATUS: PMP allows, not M-only: works
    sw a2, 0(gp)
    addi gp, gp, 16
    ecall
finished:
    li t0, 1
    sw t0, 0(s0)                  # M-mode: SIMCTRL.EXIT = pass ends the run
1:  j 1b
"""


def _user_simctrl_body():
    regions = {r.name: r for r in address_map(get_config("minimal"))}
    return USER_SIMCTRL.format(simctrl=regions["SIMCTRL"].base, uart=regions["UART"].base)


def test_user_store_to_simctrl_faults_on_the_soc():
    from asmprog import assemble, run_asm, symbol
    body = _user_simctrl_body()
    res, w = run_asm(body, config="minimal", max_cycles=20_000)
    assert res.reason == "simctrl" and res.tohost == 1, res
    elf = assemble(body)
    simctrl = next(r.base for r in address_map(get_config("minimal")) if r.name == "SIMCTRL")
    expect = [(7, "u1"), (5, "u2")]
    for i, (cause, where) in enumerate(expect):
        rec = w[4 * i:4 * i + 4]
        assert rec[0] == cause, f"{where}: mcause {rec[0]} != {cause}"
        assert rec[1] == symbol(elf, where), f"{where}: mepc {rec[1]:#x}"
        assert rec[2] == simctrl, f"{where}: mtval {rec[2]:#x}"
        assert (rec[3] >> 11) & 3 == 0, f"{where}: MPP should say U"
    assert w[8] & 1 == 1                            # UART STATUS.TX_READY read from U-mode


def test_user_access_to_simctrl_stops_the_reference():
    from asmprog import assemble, symbol
    elf = assemble(_user_simctrl_body())
    res = refsim.run_elf(elf, max_instructions=10_000)
    assert res.reason == "error" and res.tohost is None, res
    assert "M-only SIMCTRL" in res.error and f"{symbol(elf, 'u1'):#010x}" in res.error
