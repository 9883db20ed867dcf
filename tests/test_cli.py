"""`gluon sim` as a user meets it: the exit-status table, bad options refused before the run
with one clear line, the RVC warning, traps located by function and source line (in the
messages and in --insn-trace), the progress line on a terminal, Ctrl-C, `gluon regs` that
cannot write, and --help choices taken from the tables that define them. All on the cached
'minimal' model."""

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asmprog import default_sigint

from gluon.firmware import cc
from gluon.hdl.config import CONFIGS
from gluon.sim import cli
from gluon.sim.verilator import EXIT_STATUS, exit_status

TRAP = r"""
#include <stdio.h>
volatile unsigned *const bad = (unsigned *)0x40000000;
__attribute__((noinline)) int peek(int x)
{
    return *bad + x;
}
int main(void)
{
    printf("before\n");
    return peek(3);
}
"""

LOOP = r"""
__attribute__((noinline)) void spin(void)
{
    for (;;)
        __asm__ volatile("");
}
int main(void) { spin(); return 0; }
"""


@pytest.fixture(scope="module")
def elfs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    out = {}
    for name, src in {"trap": TRAP, "loop": LOOP,
                      "ret7": "int main(void) { return 7; }\n",
                      "ret200": "int main(void) { return 200; }\n"}.items():
        (d / f"{name}.c").write_text(src)
        out[name] = cc.compile([d / f"{name}.c"], d / f"{name}.elf")
    return out


def _gluon(*args, **kw):
    return subprocess.run([sys.executable, "-m", "gluon.sim.cli", *args], capture_output=True,
                          text=True, **kw)


def test_exit_status_table():
    assert exit_status("tohost", 1) == 0
    assert exit_status("tohost", 7 << 1 | 1) == 7
    assert exit_status("tohost", 119 << 1 | 1) == 119
    assert exit_status("tohost", 120 << 1 | 1) == 120
    assert exit_status("tohost", 0xFFFF_FFFF) == 120
    assert exit_status("tohost", 4) == 120                # bit 0 clear: not an exit code
    assert exit_status("simctrl", 5 << 1 | 1) == 5
    assert exit_status("max-cycles", 0) == 124
    assert exit_status("interrupted", 0) == 130
    # the published table names each of them, and `gluon sim --help` prints it
    help_text = _gluon("sim", "--help").stdout
    for status, _what in EXIT_STATUS:
        assert re.search(rf"^\s+{status}\s", help_text, re.M), status


def test_failure_codes(tmp_path, elfs):
    p = _gluon("sim", "--config", "minimal", str(elfs["ret7"]))
    assert p.returncode == 7, p.stderr
    p = _gluon("sim", "--config", "minimal", str(elfs["ret200"]))
    assert p.returncode == 120 and "exit code 200" in p.stderr, p.stderr


def test_outputs_checked_before_running(tmp_path, elfs):
    for opt in ("--stats", "--insn-trace", "--trace"):
        target = tmp_path / "no-such-dir" / ("out.vcd" if opt == "--trace" else "out")
        p = _gluon("sim", "--config", "minimal", opt, str(target), str(elfs["ret7"]))
        assert p.returncode == 125, (opt, p.stderr)
        assert opt in p.stderr and "cycles" not in p.stderr and "Traceback" not in p.stderr
    d = tmp_path / "a-directory"
    d.mkdir()
    p = _gluon("sim", "--config", "minimal", "--stats", str(d), str(elfs["ret7"]))
    assert p.returncode == 125 and "directory" in p.stderr


@pytest.mark.parametrize("value", [str(2 ** 64), "-5", "0", "lots", "1.5"])
def test_max_cycles_range(elfs, value):
    p = _gluon("sim", "--config", "minimal", "--max-cycles", value, str(elfs["ret7"]))
    assert p.returncode == 125 and "--max-cycles" in p.stderr and "Traceback" not in p.stderr


def test_max_cycles_largest_accepted_and_location(elfs):
    p = _gluon("sim", "--config", "minimal", "--max-cycles", "20000", str(elfs["loop"]))
    assert p.returncode == 124
    assert re.search(r"stopped at pc 0x8[0-9a-f]{7} in spin(\+0x[0-9a-f]+)? \(loop\.c:\d\)",
                     p.stderr), p.stderr


def test_fst_refused_with_what_works(elfs):
    p = _gluon("sim", "--config", "minimal", "--trace", "x.fst", str(elfs["ret7"]))
    assert p.returncode == 125 and "--trace out.vcd" in p.stderr and "Traceback" not in p.stderr


def test_rvc_flagged_elf_runs_with_warning(tmp_path, elfs):
    data = bytearray(elfs["ret7"].read_bytes())
    flags, = struct.unpack_from("<I", data, 0x24)
    struct.pack_into("<I", data, 0x24, flags | 1)
    f = tmp_path / "rvc.elf"
    f.write_bytes(data)
    p = _gluon("sim", "--config", "minimal", str(f))
    assert p.returncode == 7, p.stderr
    warnings = [l for l in p.stderr.splitlines() if "warning" in l]
    assert len(warnings) == 1 and "RVC" in warnings[0]


def test_rvc_instruction_traps_as_illegal(tmp_path):
    src = tmp_path / "c.S"
    src.write_text(".globl main\n.type main, @function\nmain:\n  .option rvc\n  c.nop\n  c.nop\n  ret\n")
    elf = cc.compile([src], tmp_path / "c.elf")
    tr = tmp_path / "t.txt"
    p = _gluon("sim", "--config", "minimal", "--insn-trace", str(tr), str(elf))
    assert p.returncode == 120 and "illegal instruction" in p.stderr, p.stderr
    trap = [l for l in tr.read_text().splitlines() if l.lstrip().startswith("TRAP")]
    assert trap and "cause 2: illegal instruction" in trap[0] and "<main>" in trap[0], trap


def test_trap_located(tmp_path, elfs):
    tr = tmp_path / "t.txt"
    p = _gluon("sim", "--config", "minimal", "--insn-trace", str(tr), str(elfs["trap"]))
    assert p.returncode == 120, p.stderr
    # the message names the function and the source line
    assert re.search(r"trap \(mcause 0x5, load access fault\) at pc 0x8[0-9a-f]+ in peek"
                     r"(\+0x[0-9a-f]+)? \(trap\.c:6\)", p.stderr), p.stderr
    lines = tr.read_text().splitlines()
    traps = [i for i, l in enumerate(lines) if l.lstrip().startswith("TRAP")]
    assert len(traps) == 1, traps
    t = lines[traps[0]]
    assert " lw " in t and "cause 5: load access fault" in t and "mtval 0x40000000" in t
    assert "<peek" in t and "(trap.c:6)" in t
    # the line after it is the trap entry, every other line names its function
    assert "<gluon_trap_entry>" in lines[traps[0] + 1]
    assert all(re.search(r"<[A-Za-z_]\w*(\+0x[0-9a-f]+)?>$", l) for l in lines[1:200]
               if not l.lstrip().startswith("TRAP"))
    # jump targets are absolute and named
    assert any(re.search(r"jalr .* -> 0x8[0-9a-f]{7} <peek>", l) for l in lines), lines[:50]


def test_ctrl_c_says_where(elfs):
    proc = subprocess.Popen([sys.executable, "-m", "gluon.sim.cli", "sim", "--config", "minimal",
                             str(elfs["loop"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_sigint)
    # Ctrl-C once the harness runs (a child process of `gluon sim`), whatever the machine's load
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    while proc.poll() is None and not children.read_text().split():
        time.sleep(0.1)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert re.search(r"interrupted after \d+ cycles at pc 0x8[0-9a-f]{7} in spin", err), err
    assert "Traceback" not in err


def test_progress_on_a_terminal(elfs):
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gluon.sim.cli", "sim", "--config", "minimal",
                             "--max-cycles", "8000000", str(elfs["loop"])],
                            stdout=subprocess.PIPE, stderr=slave, env={**os.environ,
                                                                      "COLUMNS": "200"})
    os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        proc.wait(timeout=60)
        os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 124, text
    assert re.search(r"[\d,]+ cycles \([\d.]+ % of --max-cycles\), [\d.]+ M cycles/s, in spin", text), text


def test_regs_unwritable(tmp_path, monkeypatch, capsys):
    from gluon.hdl import regsgen
    mmap = regsgen.memory_map()
    header, doc = tmp_path / "regs.h", tmp_path / "registers.md"
    header.write_text(regsgen.header_text(mmap))
    doc.write_text(regsgen.doc_text(mmap))
    monkeypatch.setattr(regsgen, "HEADER", header)
    monkeypatch.setattr(regsgen, "DOC", doc)
    assert cli.main(["regs"]) == 0                          # up to date: writes nothing
    assert "up to date" in capsys.readouterr().out
    doc.unlink()
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(regsgen, "HEADER", blocker / "regs.h")    # its parent is a file
    monkeypatch.setattr(regsgen, "DOC", tmp_path / "registers.md")
    assert cli.main(["regs"]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and not (tmp_path / "registers.md").exists()


def test_help_choices_from_the_tables():
    from gluon.boards.targets import BOARDS
    sim_help = _gluon("sim", "--help").stdout
    for name in CONFIGS:
        assert name in sim_help
    build_help = _gluon("build", "--help").stdout
    for name in BOARDS:
        assert name in build_help
    assert "--config" in build_help and all(n in build_help for n in CONFIGS)
    p = _gluon("sim", "--config", "nope", "x.elf")
    assert p.returncode == 125 and "invalid choice" in p.stderr


def test_stats_include_ram_size(tmp_path, elfs):
    s = tmp_path / "s.json"
    p = _gluon("sim", "--config", "minimal", "--stats", str(s), str(elfs["ret7"]))
    assert p.returncode == 7
    d = json.loads(s.read_text())
    assert d["ram_size"] == 128 * 1024 and d["config"] == "minimal"
    assert "tohost: tohost" not in p.stderr and "  cycles" not in p.stderr
