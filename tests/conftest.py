"""Test ordering for `pytest -n 2` (docs/simulation.md, "Testing").

The longest tests run first, so that the two workers end together instead of one finishing a
long synthesis alone at the end; with ``--maxschedchunk=1`` (pyproject.toml) pytest-xdist
hands each worker one test at a time, the next one in this order, as a worker frees up.
The tests that build a Verilator model come early as well, each model in a different one,
so the two workers build different models at once instead of one waiting on the other's
build lock (sim/verilator.py); every later test of that model reuses the cached build.

``LONG_FIRST`` lists test id prefixes in decreasing order of their measured CPU time (a
fresh run with an empty model cache); the rest keep pytest's order.
"""

LONG_FIRST = [
    # worker 1: builds the 'full' model, then the ungated 'full' model (simgate)
    "tests/test_interrupts.py::",
    "tests/test_simgate.py::",
    # worker 2 meanwhile: the two synthesis runs (no model)
    "tests/test_synth.py::test_full_soc_synthesizes_up_to_lut_mapping",
    "tests/test_boards.py::test_icebreaker_small_synthesizes_and_fits",
    # then, on whichever worker frees up: the other models' first users
    "tests/test_isolation_copro.py::",               # 'full' and ungated 'full' (reused)
    "tests/test_cocotb_blocks.py::",                 # bus, DMA, hash bench builds
    "tests/test_waveforms.py::",                     # 'minimal' with tracing
    "tests/test_firmware_sdk.py::test_ram_size_override",   # 'minimal' with 64 KiB RAM
    "tests/test_core_timing.py::",                   # 'pipelined'
    "tests/test_gdb.py::",                           # 'minimal' with the Debug Module
    "tests/test_drivers_small.py::",                 # 'small'
    "tests/test_cocotb.py::",                        # cocotb on the SoC's Verilog
    "tests/test_boards.py::test_core_alone_synth_ecp5",
    "tests/test_boards.py::test_ram_is_one_copy_in_ecp5_block_ram",
    "tests/test_matmul.py::test_firmware_matmul_vs_numpy",
    "tests/test_hash.py::test_every_length",
    "tests/test_dma_priority.py::",
]


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, prefix in enumerate(LONG_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST)
    items.sort(key=rank)          # stable: the rest keep their order
