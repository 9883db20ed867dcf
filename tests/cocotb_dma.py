"""cocotb bench of the DMA engine (hdl/dma.py, ``DMAEngine``) on its Verilog.

The bench plays the coprocessor on the channel (descriptors, the ``rd`` and ``wr`` word
streams with random back-pressure), the slot's control (``flush``, ``wipe``), the window
registers (driven directly) and memory (a pipelined Wishbone target that stalls, answers
with random latency and ERR on poisoned words). Random descriptors, each with one planned
outcome:

``none``            inside a permitted window: ``done``, every word right
``refused_window``  crossing a window's end or outside every window: ``error`` in the cycle
                    after the descriptor was taken, ``busy`` never set
``refused_perm``    inside a window without the permission: the same
``misaligned``, ``zero_words``: the same
``bus_err``         memory answers ERR on one beat: ``error``, words before it only
``beat_revoked``    a window shrinks under the descriptor: ``error``, no beat outside
``flush``           ``ctl.flush`` pulses: ``error``, no beat and no word from that cycle on
``abort``           ``chan.abort`` pulses: neither ``done`` nor ``error``, no beat after
``wipe``            ``ctl.wipe`` held: ``wipe_done`` within :attr:`DMAEngine.wipe_cycles` of
                    the last response due, neither ``done`` nor ``error``

and, for every descriptor: every beat inside the windows of its own cycle with the right
permission, beats in address order from the descriptor's address with the words given,
no bus request for a refused descriptor, ``busy`` ending (no hang), and the next descriptor
unaffected (no stale word). Coverage: direction x outcome x the point the event struck
(at the descriptor, before the first beat, mid-transfer, all beats issued, completed).

Register layouts (descriptor, windows) are read from hdl/dma.py's declarations.
"""

import os
import random

import cocotb
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from gluon.hdl.dma import DMACommand, WindowLayout, N_WINDOWS, DMAEngine
from cocotb_wb import Target, Coverage, run_cycles, ProtocolError

CAUSES = ["none", "refused_window", "refused_perm", "misaligned", "zero_words", "bus_err",
          "beat_revoked", "flush", "abort", "wipe"]
POINTS = ["at_cmd", "before_first_beat", "mid", "all_issued", "completed"]
REFUSALS = ("refused_window", "refused_perm", "misaligned", "zero_words")
MEM_WORDS = 4096                           # memory model: byte addresses 0 .. 16 KiB


def pack(layout, **values):
    lay = data.Layout.cast(layout)
    v = 0
    for name, val in values.items():
        f = lay[name]
        w = data.Layout.cast(f.shape).size if isinstance(f.shape, data.Layout) else f.width
        v |= (int(val) & ((1 << w) - 1)) << f.offset
    return v


def pack_windows(wins):
    size = data.Layout.cast(WindowLayout).size
    v = 0
    for i, (base, limit, r, w) in enumerate(wins):
        v |= pack(WindowLayout, base=base, limit=limit, r=r, w=w) << (i * size)
    return v


def allowed(wins, start, end, write):
    return any((w if write else r) and base <= start and end <= limit and base < limit
               for base, limit, r, w in wins)


def unreachable(b):
    """Refusals strike at the descriptor only, a clean descriptor completes, the events strike
    while it runs; a shrinking window needs a beat still to go (so not all issued)."""
    _op, cause, point = b
    if cause in REFUSALS:
        return point != "at_cmd"
    if cause == "none":
        return point != "completed"
    return point in ("at_cmd", "completed") or (cause == "beat_revoked" and point == "all_issued")


class Job:
    def __init__(self, cause, addr, words, write, k=None, poison=None):
        self.cause, self.addr, self.words, self.write = cause, addr, words, write
        self.k = k                  # the event fires once k beats were issued
        self.poison = poison        # index of the word memory refuses (bus_err)
        self.beats = []             # (cycle, word address, data) of each bus request taken
        self.rd = []                # words delivered on rd
        self.wr = []                # words handed over on wr
        self.done = self.error = None
        self.fired = None           # cycle of the event, and the beats issued by then
        self.point = None
        self.taken = None           # the cycle the engine took the descriptor


class Channel:
    """The coprocessor, control and window side of the bench, one job at a time."""

    def __init__(self, dut, rng, mem, target, wins, depth):
        self.dut, self.rng, self.mem, self.target = dut, rng, mem, target
        self.wins = list(wins)
        self.base_wins = list(wins)
        self.depth = depth
        self.jobs = []
        self.job = None
        self.phase = "idle"
        self.idle_cycles = 0
        self.wipe_cycles = DMAEngine(fifo_depth=depth).wipe_cycles
        self.pending = []
        self.wins_dirty = False
        for n in ("chan__cmd__valid", "chan__rd__ready", "chan__wr__valid", "chan__abort",
                  "ctl__flush", "ctl__wipe"):
            getattr(dut, n).value = 0
        dut.windows__win.value = pack_windows(self.wins)

    def add(self, job):
        self.pending.append(job)

    @property
    def finished(self):
        return not self.pending and self.job is None

    def drive(self, cycle):
        d, j = self.dut, self.job
        d.chan__abort.value = 0
        d.ctl__flush.value = 0
        d.ctl__wipe.value = int(self.phase == "wipe")
        if self.wins_dirty:
            d.windows__win.value = pack_windows(self.wins)
            self.wins_dirty = False
        if j is None and self.pending and self.idle_cycles >= 1:
            j = self.job = self.pending.pop(0)
            self.phase = "cmd"
            j.start = cycle
            j.snapshot = list(self.mem)
            j.wr_words = [self.rng.getrandbits(32) for _ in range(max(j.words, 0))]
            self.target.poison = ({(j.addr >> 2) + j.poison} if j.poison is not None else set())
        d.chan__cmd__valid.value = int(j is not None and self.phase == "cmd")
        if j is not None and self.phase == "cmd":
            d.chan__cmd__payload.value = pack(DMACommand, addr=j.addr, words=j.words,
                                              write=j.write)
        # the event, once k beats went out (and before the descriptor ended)
        if (j is not None and self.phase == "run" and j.fired is None and j.k is not None
                and len(j.beats) >= j.k and j.done is None and j.error is None):
            j.fired = (cycle, len(j.beats))
            j.point = ("before_first_beat" if not j.beats else
                       "mid" if len(j.beats) < j.words else "all_issued")
            if j.cause == "abort":
                d.chan__abort.value = 1
            elif j.cause == "flush":
                d.ctl__flush.value = 1
            elif j.cause == "wipe":
                d.ctl__wipe.value = 1
                self.phase = "wipe"
                # the last response still due from memory
                j.last_due = max([cycle] + [due for due, _ok, _r in self.target.queue])
            elif j.cause == "beat_revoked":
                # the window holding the descriptor now ends at the next beat
                nxt = j.addr + 4 * len(j.beats)
                self.wins = [(b, min(l, nxt) if b <= j.addr < l else l, r, w)
                             for b, l, r, w in self.wins]
                d.windows__win.value = pack_windows(self.wins)
        # streams: random back-pressure; the last read word is not taken before the event fires
        # (so the descriptor cannot complete first); dropped after abort and wipe
        hold = (j is not None and j.fired is None and j.k is not None
                and len(j.rd) >= j.words - 1)     # the last word waits for the event
        gone = j is not None and j.fired is not None and j.cause in ("abort", "wipe")
        running = j is not None and self.phase in ("run", "wipe")
        d.chan__rd__ready.value = int(running and not j.write and not hold and not gone
                                      and self.rng.random() < 0.7)
        offer = (running and j.write and not gone and len(j.wr) < j.words
                 and self.rng.random() < 0.8)
        d.chan__wr__valid.value = int(offer)
        if offer:
            d.chan__wr__payload.value = j.wr_words[len(j.wr)]
        self._offered = offer

    def sample(self, cycle):
        d, j = self.dut, self.job
        busy, done, error = int(d.chan__busy.value), int(d.chan__done.value), int(d.chan__error.value)
        if j is None:
            self.idle_cycles += 1
            if done or error or busy:
                raise ProtocolError(f"cycle {cycle}: done/error/busy with no descriptor")
            return
        self.idle_cycles = 0
        if self.phase == "cmd":
            if not int(d.chan__cmd__ready.value):
                raise ProtocolError(f"cycle {cycle}: an idle engine refuses to take a descriptor")
            if error or busy:
                raise ProtocolError(f"cycle {cycle}: error/busy in the cycle a descriptor is taken")
            j.taken = cycle
            self.phase = "run"
            return
        if int(d.chan__rd__valid.value) and int(d.chan__rd__ready.value):
            j.rd.append((cycle, int(d.chan__rd__payload.value)))
        if self._offered and int(d.chan__wr__ready.value):
            j.wr.append(cycle)
        if done:
            if j.done is not None or j.error is not None:
                raise ProtocolError(f"cycle {cycle}: a second done/error")
            j.done = cycle
        if error:
            if j.done is not None or j.error is not None:
                raise ProtocolError(f"cycle {cycle}: a second done/error")
            j.error = cycle
            if cycle == j.taken + 1 and not busy and not j.beats:
                j.point = "at_cmd"                  # refused: reported from a register
                return self._end(cycle)
        if self.phase == "wipe":
            if int(d.ctl__wipe_done.value):
                j.wipe_done = cycle
                self.phase = "after_wipe"           # wipe released from the next cycle
            elif cycle - j.fired[0] > 200:
                raise ProtocolError(f"cycle {cycle}: no wipe_done {cycle - j.fired[0]} cycles "
                                    "after wipe")
            return
        if not busy and (j.done is not None or j.error is not None or j.fired is not None
                         or self.phase == "after_wipe"):
            return self._end(cycle)
        if cycle - j.start > 400:
            raise ProtocolError(f"cycle {cycle}: descriptor {j.cause} @ {j.addr:#x} x{j.words} "
                                "still busy after 400 cycles")

    def _end(self, cycle):
        j = self.job
        j.end = cycle
        if self.wins != self.base_wins:
            self.wins = list(self.base_wins)
            self.wins_dirty = True                  # driven from the next cycle
        self.jobs.append(j)
        self.job = None
        self.phase = "idle"
        self.idle_cycles = 0


@cocotb.test()
async def random_descriptors(dut):
    seed = int(os.environ.get("GLUON_SEED", "1"))
    n_jobs = int(os.environ.get("GLUON_DMA_JOBS", "400"))
    depth = int(os.environ.get("GLUON_DMA_DEPTH", "8"))
    rng = random.Random(seed)
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    mem = [rng.getrandbits(32) for _ in range(MEM_WORDS)]
    # windows: read-write, read-only, write-only, and one closed (no permission)
    wins = [(0x0000, 0x1000, 1, 1), (0x1000, 0x1800, 1, 0), (0x2000, 0x2800, 0, 1),
            (0x3000, 0x3400, 0, 0)]
    assert len(wins) == N_WINDOWS
    cur = {"wins": wins}
    beats_log = []

    def serve(we, word, dat, sel, cycle):
        ch.check_beat(we, word, dat, sel, cycle)
        if word in target.poison or word >= MEM_WORDS:
            return False, None
        if we:
            mem[word] = dat
            return True, None
        return True, mem[word]

    target = Target(dut, "bus", rng, serve, stall_prob=0.25,
                    latency=lambda: rng.choice([1, 1, 2, 3, 5]))
    target.poison = set()
    ch = Channel(dut, rng, mem, target, wins, depth)

    def check_beat(we, word, dat, sel, cycle):
        j = ch.job
        if j is None or ch.phase not in ("run", "wipe"):
            raise ProtocolError(f"cycle {cycle}: bus request @ {word << 2:#x} with no "
                                "descriptor running")
        if not allowed(ch.wins, word << 2, (word << 2) + 4, we):
            raise ProtocolError(f"cycle {cycle}: beat @ {word << 2:#x} outside the windows "
                                f"{ch.wins} ({'write' if we else 'read'})")
        if j.fired is not None and j.cause in ("abort", "flush", "wipe") and cycle >= j.fired[0]:
            raise ProtocolError(f"cycle {cycle}: beat after {j.cause} in cycle {j.fired[0]}")
        i = len(j.beats)
        if i >= j.words or word != (j.addr >> 2) + i or we != j.write or sel != 0xF:
            raise ProtocolError(f"cycle {cycle}: beat {i} @ {word << 2:#x} we={we} sel={sel:#x} "
                                f"for descriptor @ {j.addr:#x} x{j.words} write={j.write}")
        if we and (i >= len(j.wr) or dat != j.wr_words[i]):
            raise ProtocolError(f"cycle {cycle}: write beat {i} carries {dat:#010x}, not the "
                                "word handed over")
        j.beats.append((cycle, word, dat))
    ch.check_beat = check_beat

    def plan():
        cause = rng.choice(CAUSES)
        write = rng.random() < 0.5
        words = rng.randrange(1, 25)
        # a window granting the direction
        rw = [w for w in wins if (w[3] if write else w[2])]
        base, limit, _r, _w = rng.choice(rw)
        span = (limit - base) // 4
        words = min(words, span)
        addr = base + 4 * rng.randrange(span - words + 1)
        k = poison = None
        if cause == "refused_window":
            if rng.random() < 0.5:            # across the window's end
                words = max(words, 2)
                addr = limit - 4 * rng.randrange(1, words)
            else:
                addr = rng.choice([0x1800, 0x2800, 0x3800, 0x3c00])
        elif cause == "refused_perm":
            bad = [w for w in wins if not (w[3] if write else w[2])]
            b, l, _r, _w = rng.choice(bad)
            words = min(words, (l - b) // 4)
            addr = b + 4 * rng.randrange((l - b) // 4 - words + 1)
        elif cause == "misaligned":
            addr += rng.randrange(1, 4)
        elif cause == "zero_words":
            words = 0
        elif cause == "bus_err":
            poison = rng.choice([0, rng.randrange(words), words - 1])
        elif cause in ("beat_revoked", "flush", "abort", "wipe"):
            k = rng.choice([0, rng.randrange(words + 1), words])
            if cause == "beat_revoked":
                k = min(k, words - 1)              # a beat must remain to be refused
        return Job(cause, addr, words, write, k, poison)

    for _ in range(n_jobs):
        ch.add(plan())
    cov = Coverage("dma", unreachable=unreachable, op=["read", "write"], cause=CAUSES,
                   point=POINTS)
    cycles = await run_cycles(dut, [target, ch], until=lambda c: ch.finished,
                              max_cycles=400 * n_jobs)

    wipe_worst = 0
    for j in ch.jobs:
        what = f"{j.cause} {'write' if j.write else 'read'} @ {j.addr:#x} x{j.words}"
        expect_refused = (j.addr % 4 != 0 or j.words == 0
                          or not allowed(wins, j.addr, j.addr + 4 * j.words, j.write))
        assert expect_refused == (j.cause in REFUSALS), what
        first = j.addr >> 2
        expected_rd = j.snapshot[first:first + j.words] if j.words else []
        rd = [w for _c, w in j.rd]
        if j.cause in REFUSALS:
            assert j.point == "at_cmd" and not j.beats and j.error is not None, what
        elif j.cause == "none":
            assert j.done is not None and j.error is None, what
            assert len(j.beats) == j.words, what
            if not j.write:
                assert rd == expected_rd, f"{what}: words delivered differ"
            else:
                assert [dat for _c, _w, dat in j.beats] == j.wr_words, what
            j.point = "completed"
        elif j.cause == "bus_err":
            assert j.error is not None and j.done is None, what
            assert rd == expected_rd[:len(rd)] and len(rd) <= j.poison, f"{what}: {len(rd)} words"
            assert len(j.beats) > j.poison, what
            j.point = ("before_first_beat" if j.poison == 0 else
                       "all_issued" if j.poison == j.words - 1 else "mid")
        else:
            assert j.fired is not None, f"{what}: the event never fired (k={j.k})"
            if j.cause in ("flush", "beat_revoked"):
                assert j.error is not None and j.done is None, what
            else:
                assert j.error is None and j.done is None, what
            assert rd == expected_rd[:len(rd)], f"{what}: wrong words"
            if j.cause == "flush":
                assert all(c < j.fired[0] for c, _w in j.rd), f"{what}: a word after the flush"
            if j.cause == "beat_revoked":
                assert len(j.beats) == j.fired[1], f"{what}: a beat after the window shrank"
            if j.cause == "wipe":
                took = j.wipe_done - j.fired[0]
                bound = j.last_due - j.fired[0] + ch.wipe_cycles
                assert took <= bound, f"{what}: wipe took {took} cycles > {bound}"
                wipe_worst = max(wipe_worst, took)
        cov.hit(op="write" if j.write else "read", cause=j.cause, point=j.point)
    dut._log.info(f"{len(ch.jobs)} descriptors in {cycles} cycles, seed {seed}; slowest wipe "
                  f"{wipe_worst} cycles (wipe_cycles {ch.wipe_cycles} + responses due)")
    dut._log.info("\n" + cov.save())
