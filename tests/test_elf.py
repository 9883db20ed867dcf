"""The ELF loader (firmware/elf.py) on damaged and unusual files, its symbol and DWARF lookups,
and `gluon objdump`. No simulator model is needed: the loader runs before any model is built,
so `gluon sim` refuses these files in well under a second."""

import struct
import subprocess
import sys
import time

import pytest

from gluon.firmware import cc
from gluon.firmware.elf import LoadError, load_elf, EF_RISCV_RVC

SRC = r"""
#include <stdio.h>
__attribute__((noinline)) int twice(int x)
{
    return 2 * x;
}
int main(void)
{
    printf("%d\n", twice(21));
    return 0;
}
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    d = tmp_path_factory.mktemp("elf")
    (d / "prog.c").write_text(SRC)
    return cc.compile([d / "prog.c"], d / "prog.elf")


def _gluon(*args):
    return subprocess.run([sys.executable, "-m", "gluon.sim.cli", *args], capture_output=True,
                          text=True)


def _one_clear_line(p):
    assert "Traceback" not in p.stderr, p.stderr
    errors = [l for l in p.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1, p.stderr
    return errors[0]


def _phdr(data):
    """(offset of the first PT_LOAD program header, its fields) of a 32-bit ELF."""
    e_phoff, = struct.unpack_from("<I", data, 0x1C)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x2A)
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        fields = struct.unpack_from("<8I", data, off)
        if fields[0] == 1 and fields[4]:                  # PT_LOAD with file bytes
            return off, fields
    raise AssertionError("no PT_LOAD")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_elf(tmp_path, elf, keep):
    data = elf.read_bytes()
    cut = tmp_path / "cut.elf"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(LoadError, match="truncated|malformed"):
        load_elf(cut)
    t0 = time.monotonic()
    p = _gluon("sim", "--config", "minimal", "--stats", str(tmp_path / "s.json"), str(cut))
    assert p.returncode == 125
    assert "truncated" in _one_clear_line(p) or "malformed" in p.stderr
    assert not (tmp_path / "s.json").exists()            # nothing written half-way
    assert time.monotonic() - t0 < 30                    # refused before any model build


def test_segment_past_end_of_file(tmp_path, elf):
    data = bytearray(elf.read_bytes())
    off, f = _phdr(data)
    struct.pack_into("<I", data, off + 4, len(data) + 0x1000)       # p_offset past EOF
    bad = tmp_path / "past.elf"
    bad.write_bytes(data)
    with pytest.raises(LoadError, match="file ends at"):
        load_elf(bad)
    p = _gluon("sim", "--config", "minimal", str(bad))
    assert p.returncode == 125 and "file ends at" in _one_clear_line(p)


def test_rvc_flag_loads(tmp_path, elf):
    data = bytearray(elf.read_bytes())
    flags, = struct.unpack_from("<I", data, 0x24)
    struct.pack_into("<I", data, 0x24, flags | EF_RISCV_RVC)
    f = tmp_path / "rvc.elf"
    f.write_bytes(data)
    img = load_elf(f)
    assert img.rvc and not load_elf(elf).rvc
    assert img.segments == load_elf(elf).segments


def test_does_not_fit(tmp_path):
    src = tmp_path / "big.c"
    src.write_text("static volatile char big[200 * 1024] = {1};\n"
                   "int main(void) { return big[12345]; }\n")
    big = cc.compile([src], tmp_path / "big.elf", ram_size=256 * 1024)
    with pytest.raises(LoadError, match="outside RAM"):
        load_elf(big, ram_size=128 * 1024)
    assert load_elf(big, ram_size=256 * 1024).segments
    p = _gluon("sim", "--config", "minimal", str(big))
    assert p.returncode == 125 and "--ram-size" in _one_clear_line(p)
    for bad in ("100K", "1K", "1G", "abc"):
        p = _gluon("sim", "--config", "minimal", "--ram-size", bad, str(big))
        assert p.returncode == 125 and "Traceback" not in p.stderr, (bad, p.stderr)


def test_ram_size_models_are_separate():
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import model_dir
    small, big = (model_dir(get_config("minimal").with_(ram_size=n)) for n in (128 << 10, 256 << 10))
    assert small != big
    assert small.name.startswith("minimal-") and big.name.startswith("minimal-256k-")


def test_symbols_and_source_lines(elf):
    img = load_elf(elf)
    twice = img.symbols["twice"]
    assert img.symbolize(twice) == "twice" and img.symbol_offset(twice) == "twice"
    assert img.symbol_offset(twice + 4).startswith("twice+0x4")
    fname, line = img.source_line(twice)
    assert fname.endswith("prog.c") and line in (3, 4, 5)
    assert "prog.c:" in img.where(img.symbols["main"] + 4)


def test_objdump(tmp_path, elf):
    out = tmp_path / "d.txt"
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "objdump", str(elf), "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert "<main>:" in text and "<twice>:" in text
    assert "; prog.c:" in text and "return 2 * x;" in text          # source interleaved
    main = load_elf(elf).symbols["main"]
    # the call to twice names its target with an absolute address
    twice = load_elf(elf).symbols["twice"]
    assert any("jal" in l and f"0x{twice:08x} <twice>" in l for l in text.splitlines()), text
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "objdump", str(tmp_path / "no.elf")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr


@pytest.mark.slow
def test_ram_size_runs_a_larger_program(tmp_path):
    """`gluon sim --ram-size 256K` (a model of its own) runs a program that needs 200 KiB."""
    src = tmp_path / "big.c"
    src.write_text("static volatile char big[200 * 1024] = {1};\n"
                   "int main(void) { big[204000] = 5; return big[0] + big[204000]; }\n")
    big = cc.compile([src], tmp_path / "big.elf", ram_size=256 * 1024)
    p = _gluon("sim", "--config", "minimal", "--ram-size", "256K", str(big))
    assert p.returncode == 6, p.stderr
