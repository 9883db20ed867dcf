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

import faulthandler
import io
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

LONG_FIRST = [
    # worker 1: builds the 'full' model, then the ungated 'full' model (simgate)
    "tests/test_interrupts.py::",
    "tests/test_simgate.py::test_gated_model_matches_ungated",
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
    "tests/test_boot.py::test_load_and_run_over_uart",   # 26 s
    "tests/test_cocotb.py::",                        # cocotb on the SoC's Verilog
    "tests/test_boards.py::test_core_alone_synth_ecp5",
    "tests/test_boards.py::test_ram_is_one_copy_in_ecp5_block_ram",
    "tests/test_matmul.py::test_firmware_matmul_vs_numpy",
    "tests/test_hash.py::test_every_length",
    "tests/test_dma_priority.py::",
    # then those of 10 s and more (a long one left to the end keeps one worker alone)
    "tests/test_soc_programs.py::test_small_config_runs_sort",
    "tests/test_debug_module.py::test_halt_during_coprocessor_dma",
    "tests/test_boot.py::test_refusals",
    "tests/test_synth.py::test_no_bracketed_identifier_reaches_yosys",    # 11 s
    "tests/test_synth.py::test_ram_output_multiplexer_is_one_lut_per_bit",  # 4-5 s each
]


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, prefix in enumerate(LONG_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST)
    items.sort(key=rank)          # stable: the rest keep their order


# A test that hangs must fail with its name and where it waits, not stall the run until an
# outer time limit kills everything silently. Past its limit a test gets SIGALRM: the handler
# kills the processes the test started (a simulation harness, GDB, a `gluon sim`), which ends
# any wait on them, and fails the test with the stack it was stuck in. Should the handler never
# run (the main thread stuck in C code), a watchdog thread a minute later prints every thread's
# stack and ends the test process; pytest-xdist then reports "worker crashed while running
# <test id>" as that test's failure. The longest default test took 174 s (282 s on a loaded machine, the
# YoWASP Yosys compile of an empty cache included) from an empty model cache on a 2-core
# machine; -m slow tests (full bitstreams) get hours.
TEST_LIMIT_S = float(os.environ.get("GLUON_TEST_TIMEOUT", 900))
SLOW_TEST_LIMIT_S = 4 * 3600.0


def _descendants(pid):
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill_children(err):
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            err.write(f"killing child {pid}: {cmdline[:200].decode(errors='replace')}\n")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _last_resort(nodeid, limit):
    err = sys.__stderr__
    err.write(f"\n*** {nodeid} still running {limit:.0f} s after its time limit and the "
              f"SIGALRM handler did not run: stacks follow, then this process ends\n")
    faulthandler.dump_traceback(file=err, all_threads=True)
    _kill_children(err)
    err.flush()
    os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    limit = SLOW_TEST_LIMIT_S if item.get_closest_marker("slow") else TEST_LIMIT_S

    def on_alarm(signum, frame):
        killed = io.StringIO()
        _kill_children(killed)
        pytest.fail(f"{item.nodeid} still running after {limit:.0f} s (GLUON_TEST_TIMEOUT); "
                    f"stopped here\n{killed.getvalue()}", pytrace=True)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    backstop = threading.Timer(limit + 60, _last_resort, args=(item.nodeid, 60))
    backstop.daemon = True
    backstop.start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        backstop.cancel()
