"""cocotb bench of the bus layer (hdl/bus.py) on its Verilog: two pipelined initiators send
random bursts through the Arbiter into a Decoder (cocotb_tops.BusBenchTop) whose targets are
served by models here: a registered window (never stalls), a memory that stalls and answers
with random latency (both answer ERR on a few poisoned words, as a register bank does for an
offset it does not decode), a narrow target that decodes only the low 64 bytes of its
window, and unmapped space.

Checked against a reference memory written in the order requests are taken (the Arbiter
passes one initiator at a time and the Decoder keeps responses in order, so that order is the
order the targets see): every response (ACK with the reference word, or ERR for unmapped
space, the window's undecoded part and poisoned words), responses in order, no request or
response waiting longer than the models' timeout (a hang fails), each target seeing exactly
the requests its window should receive, with their address, data and byte enables.

Run by tests/test_cocotb_blocks.py; ``GLUON_SEED`` fixes the random traffic.
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from cocotb_tops import BUS_WINDOWS, N_INITIATORS
from cocotb_wb import Initiator, Target, Op, Coverage, run_cycles, merge

CAUSES = ["none", "unmapped", "undecoded", "target_err"]
TIMING = ["alone", "pipelined", "after_stall"]


def classify(adr):
    """(window name or None, word index inside the target, cause of an error or 'none')."""
    for name, (base, size, bits, _reg) in BUS_WINDOWS.items():
        if base <= adr < base + size:
            word = (adr - base) >> 2
            if word >> bits:
                return name, None, "undecoded"
            return name, word, "none"
    return None, None, "unmapped"


@cocotb.test()
async def random_traffic(dut):
    seed = int(os.environ.get("GLUON_SEED", "1"))
    n_ops = int(os.environ.get("GLUON_BUS_OPS", "3000"))
    rng = random.Random(seed)
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    # the targets' memories and the reference, equal at the start
    mems = {name: [rng.getrandbits(32) for _ in range(1 << bits)]
            for name, (_b, _s, bits, _r) in BUS_WINDOWS.items()}
    ref = {name: list(words) for name, words in mems.items()}
    # words the target answers with ERR (a register bank refuses offsets it does not decode)
    poisoned = {name: set(rng.sample(range(len(mems[name])), 4)) for name in ("regs", "mem")}
    seen = {name: [] for name in BUS_WINDOWS}      # (we, word, data, sel) each target got
    expected = {name: [] for name in BUS_WINDOWS}
    cov = Coverage("bus", op=["read", "write"], cause=CAUSES, timing=TIMING)
    per_window = Coverage("bus_windows", unreachable=lambda b: b[1:] == ("unmapped", "ack"),
                          op=["read", "write"],
                          window=list(BUS_WINDOWS) + ["unmapped"], resp=["ack", "err"])

    def serve_fn(name):
        def serve(we, word, data, sel, cycle):
            seen[name].append((we, word, data if we else None, sel if we else None))
            if word in poisoned.get(name, ()):
                return False, None
            if we:
                mems[name][word] = merge(mems[name][word], data, sel)
                return True, None
            return True, mems[name][word]
        return serve

    def on_transfer(op, cycle):
        name, word, cause = classify(op.adr)
        if cause == "none" and word in poisoned.get(name, ()):
            cause = "target_err"
        if name is not None and cause != "undecoded":
            expected[name].append((int(op.write), word, op.data,
                                   op.sel if op.write else None))
        op.cause = cause
        op.window = name or "unmapped"
        if cause != "none":
            op.expect = ("err", None)
        elif op.write:
            ref[name][word] = merge(ref[name][word], op.data, op.sel)
            op.expect = ("ack", None)
        else:
            op.expect = ("ack", ref[name][word])

    def on_response(op, cycle):
        got = (op.resp, op.rdata)
        assert got == op.expect, (f"cycle {cycle}: {op!r} ({op.cause}) answered "
                                  f"{op.resp} {op.rdata!r}, expected {op.expect}")
        kind = "write" if op.write else "read"
        timing = "after_stall" if op.stalled else "pipelined" if op.pipelined else "alone"
        cov.hit(op=kind, cause=op.cause, timing=timing)
        per_window.hit(op=kind, window=op.window, resp=op.resp)

    targets = [
        Target(dut, "t_regs", rng, serve_fn("regs")),                       # never stalls
        Target(dut, "t_mem", rng, serve_fn("mem"), stall_prob=0.3,
               latency=lambda: rng.choice([1, 1, 1, 2, 3, 5])),
        Target(dut, "t_narrow", rng, serve_fn("narrow"), stall_prob=0.1,
               latency=lambda: rng.choice([1, 2])),
    ]
    inits = [Initiator(dut, f"i{i}", rng, timeout=256, on_transfer=on_transfer,
                       on_response=on_response) for i in range(N_INITIATORS)]

    last = [None]

    def random_op():
        """Mostly the region of the previous request (requests to one target pipeline; a
        change of target waits for the responses), sometimes anywhere."""
        if last[0] is not None and rng.random() < 0.5:
            base, size = last[0]
        else:
            r = rng.random()
            if r < 0.25:
                base, size = BUS_WINDOWS["regs"][:2]
            elif r < 0.6:
                base, size = BUS_WINDOWS["mem"][:2]
            elif r < 0.72:      # the narrow target's decoded 64 bytes
                base, size = BUS_WINDOWS["narrow"][0], 4 << BUS_WINDOWS["narrow"][2]
            elif r < 0.85:      # the narrow window's undecoded rest
                base, size = BUS_WINDOWS["narrow"][:2]
            else:
                base, size = rng.choice([0x100, 0x800, 0x2000, 0x8000, 0x1000_0000,
                                         0xFFFF_F000]), 0x100
            last[0] = (base, size)
        if base == BUS_WINDOWS["mem"][0] and rng.random() < 0.05:
            adr = base + 4 * rng.choice(sorted(poisoned["mem"]))   # a poisoned word
        elif base == BUS_WINDOWS["regs"][0] and rng.random() < 0.05:
            adr = base + 4 * rng.choice(sorted(poisoned["regs"]))
        else:
            adr = base + 4 * rng.randrange(size // 4)
        if rng.random() < 0.5:
            return Op(adr, rng.getrandbits(32), rng.randrange(1, 16))
        return Op(adr)

    total = 0
    while total < n_ops:
        for ini in inits:
            n = rng.randrange(1, 9)
            ini.burst(random_op() for _ in range(n))
            total += n

    cycles = await run_cycles(dut, targets + inits, until=lambda c: all(i.idle for i in inits),
                              max_cycles=60 * n_ops)
    done = sum(len(i.done_ops) for i in inits)
    assert done == total, f"{done} responses for {total} requests"
    for name in BUS_WINDOWS:
        assert seen[name] == expected[name], f"target {name}: requests differ from the expected ones"
        assert mems[name] == ref[name], f"target {name}: memory differs from the reference"
    dut._log.info(f"{total} requests in {cycles} cycles, seed {seed}")
    dut._log.info("\n" + cov.save())
    dut._log.info("\n" + per_window.save())
