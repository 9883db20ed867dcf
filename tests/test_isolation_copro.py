"""Isolation at the coprocessor boundary (issue 17), written as an attacker: a U-mode task the
hash slot is lent to (gluon_copro_grant) tries to reach M-mode's memory and state through the
coprocessor, and M tries to be fooled by what the task leaves behind.

* tests/isolation/copro_attack.c on the `full` and `compact-pipelined` SoCs (Verilator): descriptors at M's key, M's
  stack, tohost, MMIO, the control page, the slot page, across the window's end; M's
  unfinished message and addresses before a grant; the task's after a revoke; the task on the
  control page; a revoke while the task's descriptor writes; the interrupt line; a locked
  window. One line per case.
* The revoking store, cycle-exact, on the hash block with its DMA engine (amaranth.sim): from
  the cycle the control section acknowledges an OWNER or window write, the engine presents
  no request (the descriptor in flight is stopped).
* firmware/examples/user_copro.c (the SDK's way of lending), and the `small` configuration,
  where the SDK refuses to lend.
"""

import random
import re
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.hdl.hash import Mode, Cause
from gluon.sim.verilator import run

from test_hash import Harness, Bench, RAM_BASE, SRC, _expect_error
from wbmodel import wishbone_ram

ROOT = Path(__file__).resolve().parent.parent
PROGS = Path(__file__).resolve().parent / "isolation"
DMA = Cause.DMA.value
SEQ = Cause.SEQ.value

DMA_TARGETS = ["key-src", "key-dst", "stack-dst", "stack-src", "tohost-dst", "uart-dst",
               "ctlpage-dst", "ctlpage-src", "slotpage-src", "sysinfo-src", "straddle-src",
               "straddle-dst"]


# The attack program on 'full' and on 'compact-pipelined' (the ULX3S-85F's SoC: the pipelined
# core's PMP and U-mode, the compact coprocessors); each run is under a second.
@pytest.fixture(scope="module", params=["full", "compact-pipelined"])
def attack(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("isolation") / "copro_attack.elf"
    elf = cc.compile([PROGS / "copro_attack.c"], out)
    res = run(elf, get_config(request.param), max_cycles=20_000_000)
    return res, res.output.decode(errors="replace")


def _case(text, name):
    m = re.search(rf"^case {name}: (.*)$", text, re.M)
    assert m, f"case {name} missing (did M stop?); output:\n{text}"
    return dict(kv.split("=") for kv in m.group(1).split())


@pytest.mark.parametrize("target", DMA_TARGETS)
def test_descriptor_outside_the_tasks_buffer_is_refused(attack, target):
    """The task owns the slot, its one window covers its own buffer: a descriptor at anything
    else ends with ERROR, cause DMA; M's key and M's stack are unchanged and M continues."""
    _, text = attack
    c = _case(text, f"dma-{target}")
    assert c == {"grant": "0", "code": "0", "error": "1", "cause": str(DMA), "key": "ok",
                 "stack": "ok"}, c


def test_the_task_hashes_its_own_buffer(attack):
    _, text = attack
    c = _case(text, "dma-own-buffer")
    assert c["error"] == "0" and c["key"] == "ok", c
    assert "own-buffer digest right" in text


def test_ms_unfinished_message_is_not_the_tasks(attack):
    """M leaves a chunk of its key in the engine (MORE) and its addresses in the registers;
    after the grant the task reads zeros and its CONT is refused (SEQ): nothing of M's."""
    _, text = attack
    c = _case(text, "m-state")
    assert c["m_error"] == "0" and c["grant"] == "0" and c["code"] == "0", c
    assert c["regs"] == ",".join(["00000000"] * 6), c
    assert c["cont_cause"] == str(SEQ), c


def test_the_tasks_leftovers_are_not_ms(attack):
    """The task leaves a chunk in the engine, its addresses and DONE: after the revoke M reads
    zeros and M's CONT finds nothing (the driver's own CONT is covered by user_copro)."""
    _, text = attack
    c = _case(text, "u-state")
    assert c["u_error"] == "0" and c["grant"] == "0", c
    assert c["regs"] == ",".join(["00000000"] * 6), c
    assert c["cont_cause"] == str(SEQ), c


def test_the_control_page_is_m_only(attack):
    """Loads and stores of the control page from the task (its owner, its windows, the wipe,
    another slot's window) all fault (store access fault last); the owner and windows stay."""
    _, text = attack
    c = _case(text, "ctl-page")
    assert c == {"grant": "0", "code": "0", "faults": "7", "last": "7", "owner_u": "1",
                 "windows": "same"}, c


def test_revoke_stops_the_descriptor_in_flight(attack):
    """The task starts a 4000-byte SHAKE output and exits; M revokes while it is written:
    part of it was written before, nothing after."""
    _, text = attack
    c = _case(text, "revoke-mid")
    assert c == {"grant": "0", "code": "0", "busy_at_revoke": "1", "written_before": "part",
                 "changed_after": "0", "status": "00000000"}, c


def test_interrupts_are_ms(attack):
    """M enables the slot's interrupt and lends the slot: the task's DONE (twice) raises
    nothing, its store to CTRL.IRQ_EN faults, M's enable is kept; the revoke clears DONE (no
    interrupt then); M's own operation interrupts M."""
    _, text = attack
    c = _case(text, "irq")
    assert c == {"grant": "0", "code": "0", "u_done": "1", "irq_en_kept": "1", "during": "0",
                 "faults": "1", "after_revoke": "0", "done_after": "0", "m_op": "1"}, c


def test_a_locked_window_is_never_lent(attack):
    """M locks a window of the slot for itself: the SDK's grant is refused (E_LOCKED), a
    store of OWNER = U by hand is refused by the hardware (GRANT_REFUSED), no PMP entry."""
    _, text = attack
    c = _case(text, "locked")
    assert c == {"lock": "0", "grant": "-3", "refused": "1", "owner_u": "0", "pmp6": "0"}, c


def test_attack_run_ends_well(attack):
    res, text = attack
    assert res.passed, text
    assert text.rstrip().endswith("done key=ok stack=ok"), text


def test_user_copro_example(tmp_path):
    """firmware/examples/user_copro.c: the SDK's way of lending the hash coprocessor."""
    elf = cc.compile([ROOT / "firmware/examples/user_copro.c"], tmp_path / "user_copro.elf")
    res = run(elf, get_config("full"), max_cycles=5_000_000)
    text = res.output.decode()
    assert res.passed and text.rstrip().endswith("user_copro: PASS"), text
    assert "FAILED" not in text
    costs = re.search(r"cost wipe (\d+) grant (\d+) revoke (\d+) cycles", text)
    print(costs.group(0))
    # docs/security.md states these (full SoC, default core).
    assert [int(x) for x in costs.groups()] == [52, 588, 85], costs.group(0)


def test_wipes_are_the_same_on_the_ungated_model(tmp_path):
    """The simulation model stops the hash block's clock while it is idle (hdl/simgate.py):
    never during a wipe. user_copro.c (wipes, a grant, a task's operations, a revoke) gives
    the same output and the same statistics on the gated model as on the ungated one, whose
    logic is the synthesised design's (the ungated `full` model is the one
    tests/test_simgate.py builds)."""
    elf = cc.compile([ROOT / "firmware/examples/user_copro.c"], tmp_path / "user_copro.elf")
    gated, ungated = (run(elf, get_config("full"), max_cycles=5_000_000, sim_gating=g)
                      for g in (True, False))
    assert gated.passed and ungated.passed
    assert gated.output == ungated.output
    assert gated.counts == ungated.counts


def test_small_refuses_to_lend(tmp_path):
    elf = cc.compile([PROGS / "copro_small.c"], tmp_path / "copro_small.elf")
    res = run(elf, get_config("small"), max_cycles=2_000_000)
    text = res.output.decode()
    assert res.passed, text
    assert "pmp=0 grant=-2 lent=0 revoke=-1" in text, text      # GLUON_COPRO_E_NOPMP


# ---- the revoking store, cycle-exact ------------------------------------------------------

def _revocation(kind, how, delay, seed, register=False):
    """Lend the slot (OWNER = U: windows closed), open window 0 over [SRC, DST + 4 KiB) as the
    SDK does, start a long ``kind`` ("read": SHA-256 of 4 KiB; "write": a 2 KiB SHAKE256
    output), then after ``delay`` cycles make the revoking store, ``how``: "owner" (OWNER = M)
    or "window" (window 0's LIMIT moved down to the message's first 64 bytes).
    Returns (requests as (cycle, byte address, write), the cycle the store was presented)."""
    h = Harness(request_register=register)
    top = Module()
    top.submodules.h = h
    cycle = Signal(32)
    top.d.sync += cycle.eq(cycle + 1)
    mem, reqs, at = {}, [], {}
    sim = Simulator(top)
    sim.add_clock(1e-6)
    bus = h.ram_bus
    lo, hi = RAM_BASE, RAM_BASE + 0x10_0000

    def load(byte):
        return mem.get(byte, 0) if lo <= byte < hi else None

    def store(byte, data):
        mem[byte] = data
        return lo <= byte < hi
    sim.add_process(wishbone_ram(bus, load, store))

    async def monitor(ctx):
        async for _clk, _rst, c, cyc, stb, stall, adr, we in ctx.tick().sample(
                cycle, bus.cyc, bus.stb, bus.stall, bus.adr, bus.we):
            if cyc and stb and not stall:
                reqs.append((c, adr << 2, we))
    sim.add_process(monitor)

    async def bench(ctx):
        b = Bench(ctx, h, mem)
        await b.wait_ready()
        assert await b.cwrite("OWNER", 1)
        await b.wait_ready()
        await b.window(0, SRC, SRC + 0x2000)
        rng = random.Random(seed)
        b.put(SRC, rng.randbytes(4096))
        if kind == "read":
            await b.start(Mode.SHA256, SRC, 4096, SRC + 0x1000)
        else:
            await b.start(Mode.SHAKE256, SRC, 8, SRC + 0x1000, outlen=2048)
        await ctx.tick().repeat(delay)
        at["store"] = ctx.get(cycle)
        if how == "owner":
            assert await b.cwrite("OWNER", 0)
        else:
            assert await b.cwrite("WIN0_LIMIT", SRC + 64)
        at["ack"] = ctx.get(cycle)
        await ctx.tick().repeat(200)
        await b.wait_ready()
        at["status"] = await b.read("STATUS")
    sim.add_testbench(bench)
    sim.run()
    return reqs, at


# Two cases in the default run (each kind and each store once), all eight with -m slow; each
# also behind the pipelined SoC's request register (``register``: memory sees the register's
# beats, so a beat issued in the store's cycle must be dropped there).
@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
@pytest.mark.parametrize("kind,delay,how", [
    ("read", 333, "owner"), ("write", 400, "window"),
    *(pytest.param(*c, marks=pytest.mark.slow) for c in [
        ("read", 40, "window"), ("write", 150, "owner"), ("read", 40, "owner"),
        ("read", 333, "window"), ("write", 150, "window"), ("write", 400, "owner")])])
def test_revoking_store_stops_dma_from_the_acknowledge(kind, delay, how, register):
    reqs, at = _revocation(kind, how, delay, seed=delay, register=register)
    assert at["ack"] == at["store"] + 1, at
    before = [r for r in reqs if r[0] < at["ack"]]
    after = [r for r in reqs if r[0] >= at["ack"]]
    assert len(before) > 8, "the descriptor was not running yet"
    # The windows change and the engine's ``flush`` (a register) takes effect in the cycle the
    # bank acknowledges the store: no request from then on (outside the new windows or not).
    assert after == [], f"requests from the acknowledge (cycle {at['ack']}) on: {after[:5]}"
    if how == "owner":
        assert at["status"] == 0, hex(at["status"])     # DONE/ERROR cleared by the change
    else:
        # the operation ends with ERROR, cause DMA (the descriptor was stopped), no hang
        _expect_error(at["status"], Cause.DMA, "window shrunk mid-operation")
