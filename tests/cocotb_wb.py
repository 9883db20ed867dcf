"""Wishbone B4 *pipelined* models for the cocotb benches: an initiator, a target, a cycle loop
and functional coverage.

Why not cocotbext-wishbone (PyPI, 2.0.1): its master waits for each request's ACK before it
presents the next one (one request in flight: it never exercises pipelining), it reads STALL
after the clock edge instead of at it, and its package imports ``cocotb_bus`` without
declaring it. These models are small and follow hdl/bus.py's protocol exactly:

* a request is transferred in a cycle where ``cyc & stb & ~stall``;
* each transferred request gets one ``ack`` or ``err`` in a later cycle, in request order.

The bench runs one loop per clock (:func:`run_cycles`): at the falling edge every model
drives its inputs for the cycle, then, with the values settled (``ReadOnly``), every model
samples what the DUT answers. The models never decide from the DUT within the cycle, so one
loop serves any number of them.
"""

import collections
import json
import os

from cocotb.triggers import FallingEdge, ReadOnly


class ProtocolError(AssertionError):
    pass


def sig(dut, prefix, name):
    return getattr(dut, f"{prefix}__{name}")


class Op:
    """One request: byte address ``adr``, ``data`` (None: a read), byte enables ``sel``.
    Filled in by the initiator: ``cycle_presented``, ``cycle_taken``, ``stalled`` (cycles
    presented but not taken), ``pipelined`` (it was presented while an earlier request awaited its response),
    ``resp`` ("ack"/"err"), ``rdata``, ``latency``; ``expect`` is whatever the bench's
    ``on_transfer`` put there."""

    def __init__(self, adr, data=None, sel=0xF):
        self.adr, self.data, self.sel = adr, data, sel
        self.stalled = 0
        self.pipelined = False
        self.resp = self.rdata = self.expect = None

    @property
    def write(self):
        return self.data is not None

    def __repr__(self):
        kind = f"write {self.data:#010x} sel {self.sel:#x}" if self.write else "read"
        return f"{kind} @ {self.adr:#010x}"


class Initiator:
    """A pipelined Wishbone initiator on the DUT ports ``<prefix>__cyc`` etc. Feed it bursts
    with :meth:`burst` (lists of :class:`Op`): the requests of a burst go out back to back
    (``gaps`` lets some cycles pass without a strobe, ``cyc`` held), then ``cyc`` drops once
    every response is in. ``on_transfer(op, cycle)`` is called in the cycle a request is
    taken, ``on_response(op, cycle)`` when its response arrives. ``timeout``: cycles a request
    may wait to be taken, or for its response, before the bench fails (a hang is an error)."""

    def __init__(self, dut, prefix, rng, *, timeout=64, gap_prob=0.2, on_transfer=None,
                 on_response=None):
        self.dut, self.prefix, self.rng = dut, prefix, rng
        self.timeout, self.gap_prob = timeout, gap_prob
        self.on_transfer, self.on_response = on_transfer, on_response
        self.bursts = collections.deque()
        self.current = collections.deque()
        self.outstanding = collections.deque()
        self.presenting = None
        self.cyc = False
        self.done_ops = []
        self.s = {n: sig(dut, prefix, n) for n in
                  ("cyc", "stb", "we", "adr", "dat_w", "sel", "ack", "err", "stall", "dat_r")}
        for n in ("cyc", "stb", "we", "adr", "dat_w", "sel"):
            self.s[n].value = 0

    def burst(self, ops):
        self.bursts.append(list(ops))

    @property
    def idle(self):
        return not (self.bursts or self.current or self.outstanding or self.presenting or self.cyc)

    def drive(self, cycle):
        s = self.s
        if self.presenting is None and not self.current and not self.outstanding and self.cyc:
            self.cyc = False                      # burst over: drop cyc for a cycle at least
        elif self.presenting is None and not self.current and not self.cyc and self.bursts:
            self.current.extend(self.bursts.popleft())
        if self.presenting is None and self.current and self.rng.random() >= self.gap_prob:
            self.presenting = self.current.popleft()
            self.presenting.cycle_presented = cycle
        if self.presenting is not None:
            self.cyc = True
        op = self.presenting
        s["cyc"].value = int(self.cyc)
        s["stb"].value = int(op is not None)
        if op is not None:
            s["we"].value = int(op.write)
            s["adr"].value = op.adr >> 2
            s["dat_w"].value = op.data if op.write else self.rng.getrandbits(32)
            s["sel"].value = op.sel

    def sample(self, cycle):
        s = self.s
        ack, err = int(s["ack"].value), int(s["err"].value)
        in_flight = len(self.outstanding)     # before this cycle's response
        if ack and err:
            raise ProtocolError(f"{self.prefix}: ACK and ERR together in cycle {cycle}")
        if ack or err:
            if not self.outstanding:
                raise ProtocolError(f"{self.prefix}: a response in cycle {cycle} with no "
                                    "request outstanding")
            op = self.outstanding.popleft()
            op.resp = "ack" if ack else "err"
            op.rdata = int(s["dat_r"].value) if ack and not op.write else None
            op.latency = cycle - op.cycle_taken
            self.done_ops.append(op)
            if self.on_response:
                self.on_response(op, cycle)
        if self.outstanding and cycle - self.outstanding[0].cycle_taken > self.timeout:
            raise ProtocolError(f"{self.prefix}: no response to {self.outstanding[0]!r} "
                                f"{self.timeout} cycles after it was taken (cycle {cycle})")
        op = self.presenting
        if op is not None:
            if int(s["stall"].value):
                op.stalled += 1
                if op.stalled > self.timeout:
                    raise ProtocolError(f"{self.prefix}: {op!r} stalled for {op.stalled} "
                                        f"cycles (cycle {cycle})")
            else:
                op.cycle_taken = cycle
                op.pipelined = in_flight > 0
                self.outstanding.append(op)
                self.presenting = None
                if self.on_transfer:
                    self.on_transfer(op, cycle)


class Target:
    """A pipelined Wishbone target on the DUT ports ``<prefix>__cyc`` etc. (``addr_bits`` of
    word address). ``serve(we, word_adr, data, sel, cycle)`` returns ``(ok, rdata)`` for each
    request taken; the response goes out ``latency()`` cycles later (at least 1, never before
    an earlier one: in order). ``stall_prob``: chance of STALL in a cycle (0: never stalls;
    a target that must never stall checks it is never offered a request it would refuse)."""

    def __init__(self, dut, prefix, rng, serve, *, stall_prob=0.0, latency=lambda: 1):
        self.dut, self.prefix, self.rng, self.serve = dut, prefix, rng, serve
        self.stall_prob, self.latency = stall_prob, latency
        self.queue = collections.deque()     # (due cycle, ok, rdata)
        self.stall = False
        self.taken = 0
        self.s = {n: sig(dut, prefix, n) for n in
                  ("cyc", "stb", "we", "adr", "dat_w", "sel", "ack", "err", "stall", "dat_r")}
        for n in ("ack", "err", "stall", "dat_r"):
            self.s[n].value = 0

    def drive(self, cycle):
        s = self.s
        self.stall = self.stall_prob > 0 and self.rng.random() < self.stall_prob
        s["stall"].value = int(self.stall)
        if self.queue and self.queue[0][0] <= cycle:
            _due, ok, rdata = self.queue.popleft()
            s["ack"].value, s["err"].value = int(ok), int(not ok)
            s["dat_r"].value = rdata if ok and rdata is not None else self.rng.getrandbits(32)
        else:
            s["ack"].value = s["err"].value = 0
            s["dat_r"].value = self.rng.getrandbits(32)   # dat_r is meaningless without ack

    def sample(self, cycle):
        s = self.s
        if int(s["stb"].value) and not int(s["cyc"].value):
            raise ProtocolError(f"{self.prefix}: STB without CYC in cycle {cycle}")
        if int(s["cyc"].value) and int(s["stb"].value) and not self.stall:
            self.taken += 1
            ok, rdata = self.serve(int(s["we"].value), int(s["adr"].value),
                                   int(s["dat_w"].value), int(s["sel"].value), cycle)
            due = cycle + max(1, self.latency())
            if self.queue:
                due = max(due, self.queue[-1][0] + 1)
            self.queue.append((due, ok, rdata))
        if not int(s["cyc"].value) and self.queue:
            raise ProtocolError(f"{self.prefix}: CYC dropped in cycle {cycle} with "
                                f"{len(self.queue)} responses still due")


def merge(word, data, sel):
    """``word`` with the bytes ``sel`` enables replaced from ``data``."""
    mask = sum(0xFF << 8 * i for i in range(4) if sel >> i & 1)
    return word & ~mask | data & mask


async def run_cycles(dut, models, *, until, max_cycles, start=0):
    """Clock loop: each cycle every model's ``drive(cycle)`` at the falling edge, then every
    model's ``sample(cycle)`` once values settle. Ends when ``until(cycle)`` is true; more
    than ``max_cycles`` fails the bench. Returns the cycle count."""
    cycle = start
    while True:
        await FallingEdge(dut.clk)
        for m in models:
            m.drive(cycle)
        await ReadOnly()
        for m in models:
            m.sample(cycle)
        if until(cycle):
            return cycle
        cycle += 1
        if cycle - start > max_cycles:
            raise AssertionError(f"the bench did not finish in {max_cycles} cycles")


class Coverage:
    """Functional coverage of one block: a cross of named axes, each a list of values.
    ``hit(**values)`` counts one bin; :meth:`report` lists every bin with its count.
    ``unreachable(bin)``: true for the bins the design cannot produce (listed as ``n/a``; a
    hit there fails)."""

    def __init__(self, block, unreachable=lambda b: False, **axes):
        self.block, self.axes, self.unreachable = block, axes, unreachable
        self.counts = collections.Counter()

    def hit(self, **values):
        key = tuple(values[a] for a in self.axes)
        for a, v in zip(self.axes, key):
            if v not in self.axes[a]:
                raise ValueError(f"coverage {self.block}: {a}={v!r} is not a bin")
        if self.unreachable(key):
            raise AssertionError(f"coverage {self.block}: bin {key} should be unreachable")
        self.counts[key] += 1

    def bins(self):
        """The reachable bins."""
        import itertools
        return [b for b in itertools.product(*self.axes.values()) if not self.unreachable(b)]

    def report(self):
        bins = self.bins()
        hit = [b for b in bins if self.counts[b]]
        lines = [f"coverage {self.block}: {len(hit)} of {len(bins)} reachable bins hit "
                 f"({' x '.join(self.axes)})"]
        for b in bins:
            lines.append(f"  {'HIT ' if self.counts[b] else 'miss'} {self.counts[b]:6d}  "
                         + " / ".join(map(str, b)))
        return "\n".join(lines)

    def save(self):
        """Append this block's bins to the JSON file ``GLUON_COVERAGE`` names (read by the
        pytest entry), and log the report."""
        path = os.environ.get("GLUON_COVERAGE")
        if path:
            data = json.load(open(path)) if os.path.exists(path) else {}
            data[self.block] = {"axes": list(self.axes),
                                "bins": [[list(b), self.counts[b]] for b in self.bins()]}
            with open(path, "w") as f:
                json.dump(data, f, indent=1)
        return self.report()
