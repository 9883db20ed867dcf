"""cocotb benches on the generated Verilog of the bus layer and the DMA engine (the benches:
tests/cocotb_bus.py, tests/cocotb_dma.py; the Wishbone models: tests/cocotb_wb.py). Each
prints its functional coverage (every bin with its count); the bins named here must be hit.
``GLUON_SEED`` picks the random traffic (default 1)."""

import json
import os

import pytest

import cocotb_run
from cocotb_tops import BusBenchTop, DMABenchTop

pytest.importorskip("cocotb_tools.runner")


def _run(top, name, module, tmp_path, env):
    cov = tmp_path / "coverage.json"
    env = {"GLUON_SEED": os.environ.get("GLUON_SEED", "1"), "GLUON_COVERAGE": str(cov), **env}
    outcome = cocotb_run.run(top, name, module, tmp_path, env)
    log = (tmp_path / "sim.log").read_text(errors="replace") if (tmp_path / "sim.log").exists() else ""
    failed = {k: v for k, v in outcome.items() if v}
    assert outcome and not failed, f"{failed}\n{log[-4000:]}"
    data = json.loads(cov.read_text())
    for block, d in data.items():
        hit = sum(1 for _b, n in d["bins"] if n)
        print(f"coverage {block}: {hit} of {len(d['bins'])} bins hit ({' x '.join(d['axes'])})")
        for b, n in d["bins"]:
            print(f"  {'HIT ' if n else 'miss'} {n:6d}  {' / '.join(map(str, b))}")
    return {block: {tuple(b): n for b, n in d["bins"]} for block, d in data.items()}


def test_bus_random_traffic(tmp_path):
    cov = _run(BusBenchTop(), "bustop", "cocotb_bus", tmp_path, {"GLUON_BUS_OPS": "3000"})
    bus = cov["bus"]
    # every error cause, for reads and writes, pipelined behind another request and after a stall
    for op in ("read", "write"):
        for cause in ("none", "unmapped", "undecoded", "target_err"):
            for timing in ("alone", "pipelined", "after_stall"):
                assert bus[(op, cause, timing)] > 0, (op, cause, timing)
    windows = cov["bus_windows"]
    for w in ("regs", "mem", "narrow"):
        assert windows[("read", w, "ack")] and windows[("write", w, "ack")], w
        assert windows[("read", w, "err")] and windows[("write", w, "err")], w
    assert windows[("read", "unmapped", "err")] and windows[("write", "unmapped", "err")]
