"""Formal checks with SymbiYosys (``yowasp-sby`` + ``yices-smt2``, both pip): constant-time
miters for the divider, multiplier and branch unit and for the whole core, and Wishbone B4
properties of the core's data-bus initiator. Harnesses and mutants: tests/formal/miters.py.

What is proven, and what is not:

* **Divider** (k-induction, unbounded): two copies with the same ``start``/``signed``/``rem``
  sequence and arbitrary, different operands (new ones in every cycle) raise ``done`` and
  ``busy`` in exactly the same cycles, ``done`` exactly ``LATENCY`` cycles after the last
  ``start``, in every reachable state. Says nothing about the quotient's value (the timing
  test and the differential fuzzer check values).
* **Multiplier** (k-induction): ``valid`` is ``load`` delayed by one cycle whatever the
  operands, in both copies.
* **Branch unit** (k-induction): it is combinational, so its timing claim is about how it is
  used. Three checks: (1) in a wrapper that registers a "decision made" flag in the first
  cycle the unit is ready (always, having no ``ready`` port), the flag rises in the same
  cycle for any data; this is true by construction for a combinational unit and is only
  meaningful together with (2): ``taken`` is a function of the present inputs only (two
  copies with different histories agree whenever their present inputs agree: no hidden
  state), and (3) ``taken`` equals the ISA's definition for all 2^64 operand pairs. The
  claim that the *core* then needs no extra cycle for a branch is the core's (the next PC is
  chosen in the branch's cycle) and is measured by tests/test_core_timing.py, not proven.
* **Core data bus** (bounded, ``CORE_DEPTH`` cycles from reset; cover mode shows the
  environment reaches stalls, err answers, withdrawn requests and back-to-back requests):
  every instruction sequence, interrupt pattern, stall pattern and answer timing. Bounded:
  a violation needing a longer prefix than the depth would be missed. k-induction fails on
  unreachable states that only core-internal invariants exclude (e.g. "a store in W has
  rd = 0", "a request is outstanding iff W holds a load/store"): the harness cannot see
  those signals (they are local to ``Core.elaborate``). The multiplier, divider and PMP are
  replaced by free outputs (``CORE_CUTPOINTS``): sound for these properties, 2-3x faster.
  On the default core the check also reads two of its named blocks: no request is made while
  its load/store unit reports the access misaligned or its PMP's ``d_ok`` is low (whatever the
  cut PMP answers).
* **Whole core, two copies** (bounded, ``CORE_MITER_DEPTH`` cycles from reset; cover mode
  shows results really differ between the copies and their control flow really goes
  different ways): one instruction stream (both decoders see the same word in every cycle),
  same bus timing, different loaded data; fetch addresses free in each copy, so branches on
  the data go different ways and JALR targets differ; both fetch, retire and request in the
  same cycles. Scope: trap-free runs, traps that would come in one copy only (data-dependent
  control flow) assumed away; see :class:`formal.miters.CoreTimingMiter`. A mutant whose
  not-taken branch costs a cycle more is rejected on each core. A complete
  DIV needs 34 cycles, more than any depth reached here (CI 8, slow suite 16): the divider's
  own miter covers it.

Every harness is run on at least one deliberately broken variant, which it must reject with
the property it was written for.
"""

import os

import pytest

from formal.sby import run_sby, sby_missing
from formal import miters as M


pytestmark = pytest.mark.skipif(sby_missing() is not None,
                                reason=f"formal checks need SymbiYosys: {sby_missing()}")

#: BMC depth of the core's bus properties in the default suite (about 20 s on a loaded
#: 2-core machine); GLUON_FORMAL_CORE_DEPTH overrides it; the slow test goes deeper.
CORE_DEPTH = int(os.environ.get("GLUON_FORMAL_CORE_DEPTH", "10"))
#: BMC depth of the two-core timing miter in the default suite (default core 24 s alone, 40-60 s
#: on a loaded 2-core machine; pipelined 25-33 s; with the fetched word registered 7-18 s)
CORE_MITER_DEPTH = int(os.environ.get("GLUON_FORMAL_MITER_DEPTH", "8"))


def _explain(res, harness):
    names = harness.names(res.failures or [])
    return (f"{res.summary()}; failed: {names}\nsby work directory: {res.workdir}\n"
            f"{res.tail()}")


def _passes(harness, tmp_path, **kw):
    res = run_sby(harness, tmp_path, **kw)
    assert res.passed, _explain(res, harness)
    return res


def _rejects(harness, tmp_path, prop, **kw):
    res = run_sby(harness, tmp_path, **kw)
    assert res.status == "FAIL", f"the broken variant was not caught: {res.summary()}\n{res.tail()}"
    names = harness.names(res.failures)
    assert prop in names, f"expected {prop!r} to fail, got {names}"
    return res


# ----------------------------------------------------------------------------- divider

def test_divider_miter_prove(tmp_path):
    # k = LATENCY + 7: a state whose internal counters disagree shows it within 34 cycles
    _passes(M.DividerMiter(), tmp_path, mode="prove", depth=40)


def test_divider_miter_rejects_early_exit_on_zero(tmp_path):
    res = _rejects(M.DividerMiter(M.EarlyExitDivider, reference=False), tmp_path, "done equal",
                   mode="bmc", depth=40)
    assert res.failed_step == 1


# ----------------------------------------------------------------------------- multiplier

def test_multiplier_miter_prove(tmp_path):
    _passes(M.MultiplierMiter(), tmp_path, mode="prove", depth=4)


def test_multiplier_miter_rejects_small_operand_fast_path(tmp_path):
    _rejects(M.MultiplierMiter(M.SmallOperandMultiplier, reference=False), tmp_path, "valid equal",
             mode="bmc", depth=6)


# ----------------------------------------------------------------------------- branch unit

def test_branch_timing_miter_prove(tmp_path):
    _passes(M.BranchTimingMiter(), tmp_path, mode="prove", depth=4)


def test_branch_timing_miter_rejects_serial_comparator(tmp_path):
    _rejects(M.BranchTimingMiter(M.SerialBranchUnit), tmp_path, "decision in the same cycle",
             mode="bmc", depth=6)


def test_branch_unit_is_stateless_prove(tmp_path):
    _passes(M.BranchStatelessMiter(), tmp_path, mode="prove", depth=2)


def test_branch_stateless_miter_rejects_result_cache(tmp_path):
    _rejects(M.BranchStatelessMiter(M.StatefulBranchUnit), tmp_path,
             "taken depends on present inputs only", mode="bmc", depth=4)


def test_branch_unit_matches_isa(tmp_path):
    _passes(M.BranchSpecCheck(), tmp_path, mode="prove", depth=1)


def test_branch_spec_rejects_unsigned_blt(tmp_path):
    _rejects(M.BranchSpecCheck(M.WrongBranchUnit), tmp_path, "taken as the ISA defines",
             mode="bmc", depth=1)


# ----------------------------------------------------------------------------- core data bus

def test_core_bus_properties_bmc(tmp_path):
    _passes(M.CoreBusCheck(), tmp_path, mode="bmc", depth=CORE_DEPTH, script=M.CORE_CUTPOINTS)


def test_core_bus_environment_reaches_interesting_cases(tmp_path):
    h = M.CoreBusCheck()
    res = run_sby(h, tmp_path, mode="cover", depth=8, script=M.CORE_CUTPOINTS)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"
    assert len(h.covers) == 5


@pytest.mark.parametrize("mutant", sorted(M.CORE_MUTANTS))
def test_core_bus_check_rejects_broken_initiator(tmp_path, mutant):
    cls, prop = M.CORE_MUTANTS[mutant]
    _rejects(M.CoreBusCheck(cls), tmp_path, prop, mode="bmc", depth=6, script=M.CORE_CUTPOINTS)


# ----------------------------------------------------------------------------- whole core

#: the multipliers' product is replaced by free values (different in the two copies, as the
#: data are); their ``valid``, which the core waits on, stays the real one
CORE_MITER_CUTPOINTS = "cutpoint top.a.multiplier/w:product top.b.multiplier/w:product"


def test_core_timing_miter_bmc(tmp_path):
    _passes(M.CoreTimingMiter(), tmp_path, mode="bmc", depth=CORE_MITER_DEPTH,
            script=CORE_MITER_CUTPOINTS)


def test_core_timing_miter_scope_is_not_empty(tmp_path):
    h = M.CoreTimingMiter()
    res = run_sby(h, tmp_path, mode="cover", depth=8, script=CORE_MITER_CUTPOINTS)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"


#: the pipelined core's PMP stays real in its bus check: the cancels it checks are those of
#: real refusals (the verdict X makes and registers, docs/security.md)
PIPELINED_CUTPOINTS = "cutpoint top.core.multiplier top.core.divider"


PIPELINED_CORES = [pytest.param(M.PipelinedCore, id="pipelined"),
                   pytest.param(M.PipelinedFetchRegCore, id="fetchreg")]


@pytest.mark.parametrize("cls", PIPELINED_CORES)
def test_pipelined_core_bus_properties_bmc(tmp_path, cls):
    _passes(M.CoreBusCheck(cls), tmp_path, mode="bmc", depth=CORE_DEPTH,
            script=PIPELINED_CUTPOINTS)


@pytest.mark.parametrize("cls", PIPELINED_CORES)
def test_pipelined_core_timing_miter_bmc(tmp_path, cls):
    _passes(M.CoreTimingMiter(cls), tmp_path, mode="bmc", depth=CORE_MITER_DEPTH,
            script=CORE_MITER_CUTPOINTS)


# the cover run on the fetch-register core in -m slow (its miter and bus check run by default)
@pytest.mark.parametrize("cls", [PIPELINED_CORES[0],
                                 pytest.param(M.PipelinedFetchRegCore, id="fetchreg",
                                              marks=pytest.mark.slow)])
def test_pipelined_core_timing_miter_scope_is_not_empty(tmp_path, cls):
    h = M.CoreTimingMiter(cls)
    res = run_sby(h, tmp_path, mode="cover", depth=8, script=CORE_MITER_CUTPOINTS)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"


@pytest.mark.slow
@pytest.mark.parametrize("cls", [pytest.param(M.Core, id="default"), PIPELINED_CORES[0]])
def test_core_timing_miter_reaches_diverging_control_flow(tmp_path, cls):
    # the rejected not-taken mutants below show the same in the default run
    h = M.CoreTimingMiter(cls, diverge_cover=True)
    res = run_sby(h, tmp_path, mode="cover", depth=8, script=CORE_MITER_CUTPOINTS)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"


def test_core_timing_miter_rejects_early_exit_divider(tmp_path):
    _rejects(M.CoreTimingMiter(M.EarlyExitDividerCore), tmp_path, "fetch in the same cycles",
             mode="bmc", depth=6, script=CORE_MITER_CUTPOINTS)


#: the two copies' branches go different ways (a load's word, different in the two copies, is
#: compared): a mutant whose not-taken branch costs a cycle more is caught at step 3 on the
#: default core, at step 6 on the pipelined one, at step 8 with the fetched word registered
#: (a miter assuming equal fetch addresses in both copies passed all three at depth 8)
TIMING_PROPERTIES = {"fetch in the same cycles", "retire in the same cycles", "cyc alike",
                     "stb alike"}


@pytest.mark.parametrize("cls, depth", [
    pytest.param(M.NotTakenSlowerCore, 5, id="default"),
    pytest.param(M.NotTakenSlowerPipelinedCore, 7, id="pipelined"),
    pytest.param(M.NotTakenSlowerFetchRegCore, 9, id="fetchreg", marks=pytest.mark.slow)])
def test_core_timing_miter_rejects_not_taken_branch_slower(tmp_path, cls, depth):
    h = M.CoreTimingMiter(cls)
    res = run_sby(h, tmp_path, mode="bmc", depth=depth, script=CORE_MITER_CUTPOINTS)
    assert res.status == "FAIL", f"the broken variant was not caught: {res.summary()}\n{res.tail()}"
    names = h.names(res.failures)
    assert names and set(names) <= TIMING_PROPERTIES, names


@pytest.mark.slow
def test_core_timing_miter_bmc_deep(tmp_path):
    # 16 cycles (220 s on a loaded 2-core machine; a complete 34-cycle DIV in the window is
    # out of reach this way: the divider's own miter covers it)
    _passes(M.CoreTimingMiter(), tmp_path, mode="bmc", depth=16, script=CORE_MITER_CUTPOINTS,
            timeout=2 * 3600)


@pytest.mark.slow
@pytest.mark.parametrize("cls", PIPELINED_CORES)
def test_pipelined_core_timing_miter_bmc_deep(tmp_path, cls):
    # 12 cycles: a load, a branch on its word going different ways in the two copies and the
    # instructions after it (with the fetched word registered a not-taken branch's extra
    # cycle shows at step 8)
    _passes(M.CoreTimingMiter(cls), tmp_path, mode="bmc", depth=12, script=CORE_MITER_CUTPOINTS,
            timeout=2 * 3600)


@pytest.mark.slow
def test_core_bus_properties_bmc_deep(tmp_path):
    _passes(M.CoreBusCheck(), tmp_path, mode="bmc", depth=16, script=M.CORE_CUTPOINTS,
            timeout=3600)


# ----------------------------------------------------------------------------- DMA windows

def test_dma_requests_stay_in_their_engines_windows(tmp_path):
    # k-induction: every request, in every reachable state, with windows changing at will.
    _passes(M.DMAConfinement(), tmp_path, mode="prove", depth=4, script=M.DMA_SCRIPT)


def test_dma_confinement_environment_reaches_requests(tmp_path):
    h = M.DMAConfinement()
    res = run_sby(h, tmp_path, mode="cover", depth=6, script=M.DMA_SCRIPT)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"


def test_dma_confinement_rejects_acceptance_only_check(tmp_path):
    h = M.DMAConfinement(M.acceptance_only_engine())
    res = run_sby(h, tmp_path, mode="bmc", depth=12, script=M.DMA_SCRIPT)
    assert res.status == "FAIL", f"the broken variant was not caught: {res.summary()}"
    names = h.names(res.failures)
    assert names and set(names) <= {"engine 0 in its windows", "engine 1 in its windows"}, names
    assert res.failed_step <= 3


DMA_REGISTER_DEPTH = int(os.environ.get("GLUON_FORMAL_DMA_REGISTER_DEPTH", "24"))


def test_dma_register_never_presents_a_revoked_engines_beat(tmp_path):
    # the pipelined SoC's DMA side: the beat the request register presents to RAM comes from
    # an engine neither flushed nor wiped since the beat was issued. Bounded: k-induction
    # does not close, the miter's shadow of the beat's engine being unrelated to the
    # register's tag in unreachable states (a beat may wait in the register for ever while
    # RAM stalls). 24 cycles (2 s): two engines, descriptors, beats held, flushes and wipes
    _passes(M.DMAConfinement(register=True), tmp_path, mode="bmc", depth=DMA_REGISTER_DEPTH,
            script=M.DMA_SCRIPT)


def test_dma_register_confinement_reaches_beats_and_catches_a_register_without_drop(tmp_path):
    h = M.DMAConfinement(register=True)
    res = run_sby(h, tmp_path / "cover", mode="cover", depth=6, script=M.DMA_SCRIPT)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"
    h = M.DMAConfinement(register=True, drop=False)
    res = run_sby(h, tmp_path / "mutant", mode="bmc", depth=8, script=M.DMA_SCRIPT)
    assert res.status == "FAIL", f"the register without drop was not caught: {res.summary()}"
    names = h.names(res.failures)
    assert names and set(names) <= {"register's beat of engine 0 not revoked",
                                    "register's beat of engine 1 not revoked"}, names


# ----------------------------------------------------------------------------- refused data

#: depth of the refused-data miter: the first refused load is answered (and cancelled) at step
#: 5 (cover mode reaches it there). Slow: 611 s on a loaded 2-core machine, steps 0-4 in 28 s
#: of it (GLUON_FORMAL_REFUSED_DEPTH overrides)
REFUSED_DEPTH = int(os.environ.get("GLUON_FORMAL_REFUSED_DEPTH", "6"))


@pytest.mark.slow
def test_pipelined_refused_data_reach_nothing_bmc(tmp_path):
    _passes(M.RefusedDataMiter(), tmp_path, mode="bmc", depth=REFUSED_DEPTH,
            script=M.REFUSED_CUTPOINTS, timeout=2 * 3600)


@pytest.mark.slow
def test_pipelined_refused_data_miter_reaches_a_refused_load(tmp_path):
    h = M.RefusedDataMiter()
    res = run_sby(h, tmp_path, mode="cover", depth=REFUSED_DEPTH, script=M.REFUSED_CUTPOINTS)
    assert res.passed, f"unreached cover statement(s): {res.summary()}\n{res.tail(40)}"


@pytest.mark.slow
def test_pipelined_refused_data_miter_rejects_written_back_load(tmp_path):
    _rejects(M.RefusedDataMiter(M.RefusedLoadWrittenCore), tmp_path, "register writes alike",
             mode="bmc", depth=REFUSED_DEPTH, script=M.REFUSED_CUTPOINTS)


@pytest.mark.slow
def test_pipelined_refused_data_reach_nothing_bmc_deep(tmp_path):
    _passes(M.RefusedDataMiter(), tmp_path, mode="bmc", depth=9, script=M.REFUSED_CUTPOINTS,
            timeout=2 * 3600)
