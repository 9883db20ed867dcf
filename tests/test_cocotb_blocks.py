"""cocotb benches on the generated Verilog of the bus layer, the DMA engine and the
coprocessors (the benches: tests/cocotb_bus.py, tests/cocotb_dma.py, tests/cocotb_copro.py with
cocotb_modmul.py and cocotb_matmul.py; the Wishbone models: tests/cocotb_wb.py). Each
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
    data = json.loads(cov.read_text()) if cov.exists() else {}
    for block, d in data.items():
        hit = sum(1 for _b, n in d["bins"] if n)
        print(f"coverage {block}: {hit} of {len(d['bins'])} reachable bins hit "
              f"({' x '.join(d['axes'])})")
        for b, n in d["bins"]:
            print(f"  {'HIT ' if n else 'miss'} {n:6d}  {' / '.join(map(str, b))}")
    return {block: {tuple(b): n for b, n in d["bins"]} for block, d in data.items()}


def test_bus_random_traffic(tmp_path):
    """Every reachable bin: reads and writes, each error cause (unmapped, the undecoded part
    of a narrow window, a target's ERR), taken alone, pipelined behind another request and
    after a stall; ACK and ERR from every window."""
    cov = _run(BusBenchTop(), "bustop", "cocotb_bus", tmp_path, {"GLUON_BUS_OPS": "3000"})
    for block in ("bus", "bus_windows"):
        for name in [block] + (["matmul_store"] if block == "matmul" else []):
            missed = [b for b, n in cov[name].items() if not n]
            assert not missed, f"{name} bins not hit: {missed}"


def test_dma_random_descriptors(tmp_path):
    """Every reachable bin: reads and writes, each refusal at the descriptor, completion, and
    each event (bus error, shrinking window, flush, abort, wipe) before the first beat,
    mid-transfer and with every beat issued."""
    cov = _run(DMABenchTop(), "dmatop", "cocotb_dma", tmp_path, {"GLUON_DMA_JOBS": "400"})
    missed = [b for b, n in cov["dma"].items() if not n]
    assert not missed, f"DMA bins not hit: {missed}"


# Small builds of the coprocessors (compile time dominates the benches): MODMUL with one
# multiplier per engine, 4 limbs, 8 slots, 32 ops of program memory (8-word FIFOs); MATMUL on
# a 4x4 array with 8x8 accumulators and k-chunks of 8.
BENCH_PARAMS = {"hash": {}, "modmul": dict(lanes=1, max_limbs=4, slots=8, prog_depth=32),
                "matmul": dict(dim=4, max_m=8, max_n=8, k_chunk=8)}
BENCH_OPS = {"hash": 120, "modmul": 60, "matmul": 80}


@pytest.mark.parametrize("block", ["hash", "modmul", "matmul"])
def test_coprocessor_on_the_slot_contract(tmp_path, block):
    """A coprocessor with its DMA engine through its slot page and control section: the slot
    contract (reset wipe, ID, refused accesses, unknown operation, CTRL.WIPE), then random
    operations against independent references (hashlib/pycryptodome; Python integers for
    MODMUL's programs; numpy and the requantization reference for MATMUL) with every error
    cause a caller can provoke, refused DMA with memory untouched, ABORT at random points,
    START while busy and the interrupt. Every reachable bin of operation x cause x abort
    point must be hit."""
    import json
    from gluon.hdl.config import coprocessor_class
    from cocotb_tops import CoproBenchTop
    params = BENCH_PARAMS[block]
    ops = os.environ.get("GLUON_COPRO_OPS", str(BENCH_OPS[block]))
    cov = _run(CoproBenchTop(coprocessor_class(block)(**params)), f"copro_{block}",
               "cocotb_copro", tmp_path, {"GLUON_COPRO": block, "GLUON_COPRO_OPS": ops,
                                          "GLUON_COPRO_PARAMS": json.dumps(params)})
    hits = {b for b, n in cov[block].items() if n}
    if block == "hash":
        causes = {cause for _op, cause, _p in hits}
        from gluon.hdl.hash.registers import Cause
        assert causes >= {c.name for c in Cause} - {"WIPING"}, causes   # WIPING: the contract
        assert {p for _o, _c, p in hits} == {"none", "early", "mid", "after_end"}
    else:
        for name in [block] + (["matmul_store"] if block == "matmul" else []):
            missed = [b for b, n in cov[name].items() if not n]
            assert not missed, f"{name} bins not hit: {missed}"


@pytest.mark.slow
@pytest.mark.parametrize("block,params", [
    ("modmul", BENCH_PARAMS["modmul"]), ("matmul", BENCH_PARAMS["matmul"]),
    ("matmul", dict(dim=4, max_m=8, max_n=8, k_chunk=4))])
def test_coprocessor_random_campaign(tmp_path, block, params):
    """The random operations of the default run, 400 of them per seed, and MATMUL with
    k-chunks as wide as the array."""
    import json
    from gluon.hdl.config import coprocessor_class
    from cocotb_tops import CoproBenchTop
    cov = _run(CoproBenchTop(coprocessor_class(block)(**params)), f"copro_{block}",
               "cocotb_copro", tmp_path, {"GLUON_COPRO": block, "GLUON_COPRO_OPS": "400",
                                          "GLUON_COPRO_PARAMS": json.dumps(params)})
    missed = [b for b, n in cov[block].items() if not n]
    assert not missed, f"{block} bins not hit: {missed}"
