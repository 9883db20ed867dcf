"""`gluon bench`: the glue-and-coprocessor measurement.

Every accelerated workload (firmware/bench/*.c) is built twice and run on the same SoC
(default ``full``): once with ``-DGLUON_SOFTWARE`` (the C implementation on the core) and once
on the coprocessor. Firmware marks only the workload with PERF.CTRL (bench.h); the simulator
counts the same region (``SimResult.measured``). Per row: software and accelerated cycles of
the region, speedup = software / accelerated, and of the accelerated region the
coprocessor-busy share (a coprocessor computes or its DMA moves data) and the glue share
(1 - busy: the core working alone, descriptor set-up and waiting included). Both runs print
a digest, which must agree between the runs and with a Python reference computed here
(hashlib / pycryptodome's Keccak, pow(), a secp256k1 reference, the integer matmul
reference of sim/quantize_mlp.py).

CPU-only programs (firmware/examples: sort, crc32, matmul, sha256_sw) report whole-run
cycles, instructions and CPI, no accelerated figures.

All figures are exact cycle counts of the cycle-accurate model; wall-clock simulation speed is
the only timed figure, reported and never asserted.

    gluon bench [--quick] [--json FILE] [--docs] [--jobs N] [--only NAME ...]
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from Crypto.Hash import keccak
import numpy as np

from .quantize_mlp import matmul_ref

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware" / "examples"
BENCH = ROOT / "firmware" / "bench"
DOCS = ROOT / "docs"

SOFTWARE_FLAG = "-DGLUON_SOFTWARE"
GLUE_GOAL = 0.10
MAX_CYCLES = 500_000_000


# ---------------------------------------------------------------- Python references

def lcg_bytes(n, seed):
    """The bench LCG (firmware/bench/bench.h): x = 1664525 x + 1013904223, byte = x >> 24.
    Returns (bytes, final state)."""
    x, out = seed, bytearray(n)
    for i in range(n):
        x = (1664525 * x + 1013904223) & 0xFFFFFFFF
        out[i] = x >> 24
    return bytes(out), x


def keccak256(msg):
    """Keccak-256 with the original padding (domain byte 0x01), as Ethereum uses it
    (pycryptodome; hashlib's sha3_256 pads with 0x06)."""
    return keccak.new(digest_bits=256, data=msg).digest()


SECP_P = 2**256 - 2**32 - 977
SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
          0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def secp256k1_mul(k, point=SECP_G):
    """k·point on secp256k1, affine double-and-add (a reference, not constant time)."""
    p = SECP_P

    def add(P, Q):
        if P is None:
            return Q
        if Q is None:
            return P
        (x1, y1), (x2, y2) = P, Q
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None
            lam = 3 * x1 * x1 * pow(2 * y1, -1, p) % p
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (lam * lam - x1 - x2) % p
        return x3, (lam * (x1 - x3) - y1) % p

    r = None
    for bit in bin(k)[2:]:
        r = add(r, r)
        if bit == "1":
            r = add(r, point)
    return r


def matmul_reference(m=64, n=64, k=64, int32=False):
    """C of firmware/bench/matmul64.c for an m×n×k product (int8 requantized with bias and
    ReLU, or int32 = A·B + bias), as little-endian bytes: the coprocessor's integer reference
    (sim/quantize_mlp.py ``matmul_ref``) on the bench's LCG data."""
    a, x = lcg_bytes(m * k, 0x0BE9C400)
    b, x = lcg_bytes(k * n, x)
    bias = []
    for _ in range(n):
        x = (1664525 * x + 1013904223) & 0xFFFFFFFF
        bias.append((x - (1 << 32) if x >= 1 << 31 else x) >> 14)
    A = np.frombuffer(a, dtype=np.int8).reshape(m, k)
    B = np.frombuffer(b, dtype=np.int8).reshape(k, n)
    c, _ = matmul_ref(A, B, bias=bias, store="int32" if int32 else "int8",
                      multiplier=1 << 30, shift=10, zero_point=-5, relu=True)
    return c.astype("<i4" if int32 else np.int8).tobytes()


def fnv1a(data):
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


# ---------------------------------------------------------------- checks of the printed results

def _check_hash(fn):
    def check(f):
        msg, _ = lcg_bytes(int(f["length"]), int(f["seed"], 16))
        want = fn(msg).hex()
        return [] if f["digest"] == want else [f"digest {f['digest']} != Python {want}"]
    return check


def _check_modexp(f):
    n, x, e = (int(f[k], 16) for k in ("modulus", "base", "exponent"))
    want = pow(x, e, n)
    return [] if int(f["digest"], 16) == want else [f"result != pow(): {want:064x}"]


def _check_secp(f):
    k = int(f["k"], 16)
    if not 0 < k < SECP_N:
        return [f"k out of range: {k:#x}"]
    x, y = secp256k1_mul(k)
    problems = []
    if int(f["x"], 16) != x:
        problems.append(f"x != Python reference {x:064x}")
    if int(f["y"], 16) != y:
        problems.append(f"y != Python reference {y:064x}")
    return problems


_MATMUL_REF = {}


def _check_matmul(m=64, n=64, k=64, int32=False):
    def check(f):
        key = (m, n, k, int32)
        if key not in _MATMUL_REF:
            _MATMUL_REF[key] = matmul_reference(m, n, k, int32)
        c = _MATMUL_REF[key]
        problems = []
        if f["row0"] != c[:n * (4 if int32 else 1)].hex():
            problems.append("first row differs from the Python reference")
        if int(f["digest"], 16) != fnv1a(c):
            problems.append(f"digest != Python reference {fnv1a(c):08x}")
        return problems
    return check


def _check_mlp(f):
    return [] if f.get("differ") == "0" else [f"{f.get('differ')} classes differ from the "
                                              f"integer (numpy) reference"]


# ---------------------------------------------------------------- workloads

@dataclass
class Workload:
    name: str                       # row name
    source: str                     # firmware/bench/<source>
    what: str                       # one line for the docs
    coprocessor: str                # config name of the coprocessor it uses
    check: object = None            # fields -> [problems] (Python reference)
    hw_flags: tuple = ()
    goal_speedup: float = None      # from the coprocessor's issue
    quick: bool = False
    flags: tuple = ()               # both builds (e.g. the problem size)
    macs: int = None                # multiply-accumulates (matrix rows: MAC/cycle vs peak)

    @property
    def sw_build(self):
        return (self.source, (*self.flags, SOFTWARE_FLAG))

    @property
    def hw_build(self):
        return (self.source, (*self.flags, *self.hw_flags))


WORKLOADS = [
    Workload("sha256_4k", "hash_4k.c", "SHA-256 of 4 KiB (one-shot driver call)", "hash",
             _check_hash(lambda m: hashlib.sha256(m).digest()), goal_speedup=40, quick=True),
    Workload("keccak256_4k", "hash_4k.c", "Keccak-256 of 4 KiB (one-shot driver call)",
             "hash", _check_hash(keccak256), flags=("-DHASH_KECCAK",), goal_speedup=100, quick=True),
    Workload("modexp256", "modexp256.c", "256-bit modexp, 256-bit exponent: set-up + ladder "
             "(512 Montgomery multiplications) through the driver (gluon_modmul_modexp)",
             "modmul", _check_modexp),
    Workload("modexp256_streamed", "modexp256.c", "the same modexp written as one op stream "
             "through the driver's stream API (gluon_modmul_emit)", "modmul", _check_modexp,
             hw_flags=("-DGLUON_STREAMED",)),
    Workload("secp256k1", "secp256k1.c", "secp256k1 k·G: complete projective formulas, "
             "256-bit Montgomery ladder, inversion; streamed programs", "modmul", _check_secp),
    Workload("matmul16", "matmul64.c", "16×16×16 int8 matmul, requantized int8 output "
             "(one driver call)", "matmul", _check_matmul(16, 16, 16),
             flags=("-DMM_M=16", "-DMM_N=16", "-DMM_K=16"), macs=16 ** 3),
    Workload("matmul64", "matmul64.c", "64×64×64 int8 matmul, requantized int8 output "
             "(one driver call)", "matmul", _check_matmul(), goal_speedup=100, macs=64 ** 3),
    Workload("matmul64_i32", "matmul64.c", "64×64×64 int8 matmul, int32 output (A·B + bias; "
             "one driver call)", "matmul", _check_matmul(int32=True), flags=("-DMM_INT32",),
             macs=64 ** 3),
    Workload("matmul128x128x64", "matmul64.c", "128×128×64 int8 matmul, requantized int8 "
             "output (one driver call: the driver tiles it)", "matmul",
             _check_matmul(128, 128, 64), flags=("-DMM_M=128", "-DMM_N=128"),
             goal_speedup=100, macs=128 * 128 * 64),
    Workload("mlp_digits", "mlp.c", "digits MLP 64-32-10 on 256 images (4 batches of 64: two "
             "non-blocking driver calls per batch, the argmax overlapped)", "matmul", _check_mlp),
]

CPU_PROGRAMS = ["sort", "crc32", "matmul", "sha256_sw"]
QUICK_CPU = ["sort"]


def parse_output(text):
    """`key: value` lines of a bench program's output (the first of each key)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and " " not in key.strip() and key not in fields:
            fields[key.strip()] = value.strip()
    return fields


class _Progress:
    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.lock = threading.Lock()

    def say(self, msg):
        with self.lock:
            print(msg, file=self.stream, flush=True)

    def step(self, msg):
        with self.lock:
            self.done += 1
            print(f"gluon bench: [{self.done}/{self.total}] {msg}", file=self.stream, flush=True)


def _run_one(elf, config, label, progress):
    from .verilator import run
    res = run(elf, config, max_cycles=MAX_CYCLES)
    out = res.output.decode(errors="replace")
    speed = res.cycles / res.seconds if res.seconds else 0.0
    progress.step(f"{label}: {res.measured['cycles']:,} cycles measured "
                  f"({res.cycles:,} in the run, {res.seconds:.1f} s, {speed / 1e6:.2f} M cycles/s)")
    return res, out


def _compile(source, flags, outdir):
    from gluon.firmware import cc
    name = Path(source).stem + "".join(f.replace("-D", "_").lower() for f in flags)
    return cc.compile([source], Path(outdir) / f"{name}.elf", opt="-O2", extra_flags=list(flags))


def run_bench(config, workloads, cpu_programs, *, jobs=None, log=None):
    """Build and run everything; return (rows, info)."""
    from gluon.firmware import cc
    from .verilator import build_model
    progress = _Progress(0)
    say = log or progress.say
    t_start = time.monotonic()
    build_model(config, log=say)
    cc.sdk_objects()                 # once, before parallel compiles share the cache
    builds = {}                      # (source, flags) -> label
    for w in workloads:
        builds.setdefault(w.sw_build, f"{w.name} software")
        builds.setdefault(w.hw_build, f"{w.name} coprocessor")
    progress.total = len(builds) + len(cpu_programs)
    jobs = jobs or max(1, os.cpu_count() or 1)
    results = {}
    with tempfile.TemporaryDirectory(prefix="gluon-bench-") as td:
        def job(key, source, flags, label):
            elf = _compile(source, flags, td)
            results[key] = _run_one(elf, config, label, progress)

        tasks = [(k, BENCH / k[0], k[1], label) for k, label in builds.items()]
        tasks += [(("cpu", name), EXAMPLES / f"{name}.c", (), f"{name} (CPU)")
                  for name in cpu_programs]
        # longest first: the software secp256k1 run dominates
        order = {"secp256k1.c": 0, "matmul64.c": 1, "mlp.c": 2}
        tasks.sort(key=lambda t: (SOFTWARE_FLAG not in t[2], order.get(Path(t[1]).name, 9)))
        say(f"gluon bench: {len(tasks)} runs on the '{config.name}' SoC, {jobs} at a time")
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for f in [pool.submit(job, *t) for t in tasks]:
                f.result()

    rows = []
    for w in workloads:
        rows.append(_accel_row(w, results[w.sw_build], results[w.hw_build], config))
    for name in cpu_programs:
        rows.append(_cpu_row(name, *results[("cpu", name)]))
    sims = [r for r, _ in results.values()]
    total_cycles = sum(r.cycles for r in sims)
    sim_seconds = sum(r.seconds for r in sims)
    info = {"config": config.name, "runs": len(sims), "simulated_cycles": total_cycles,
            "simulation_seconds": sim_seconds, "wall_seconds": time.monotonic() - t_start,
            "cycles_per_second": total_cycles / sim_seconds if sim_seconds else None,
            "jobs": jobs, "source": _git_state()}
    return rows, info


def _git_state():
    """The commit the figures come from, and whether the HDL/firmware/simulator differ from it."""
    import subprocess
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hdl", "firmware", "sim"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}{' with uncommitted changes in hdl/, firmware/ or sim/' if dirty else ''}"


def _sim_info(res):
    return {"run_cycles": res.cycles, "seconds": round(res.seconds, 3),
            "cycles_per_second": round(res.cycles / res.seconds) if res.seconds else None}


def _accel_row(w, sw, hw, config):
    from gluon.hdl.config import coprocessor_class
    (sres, sout), (hres, hout) = sw, hw
    sf, hf = parse_output(sout), parse_output(hout)
    problems = []
    for label, res, f in (("software", sres, sf), ("coprocessor", hres, hf)):
        if not res.passed:
            problems.append(f"{label} run failed (tohost {res.tohost:#x}, {res.reason})")
        if not res.region_seen:
            problems.append(f"{label} run marked no PERF region")
        if "digest" not in f:
            problems.append(f"{label} run printed no digest")
    digests_agree = sf.get("digest") is not None and sf.get("digest") == hf.get("digest")
    if not digests_agree:
        problems.append(f"digests differ: software {sf.get('digest')} coprocessor {hf.get('digest')}")
    ref_problems = []
    if w.check:
        for label, f in (("software", sf), ("coprocessor", hf)):
            try:
                ref_problems += [f"{label}: {p}" for p in w.check(f)]
            except (KeyError, ValueError) as e:
                ref_problems.append(f"{label}: output not understood ({e})")
    problems += ref_problems
    s, h = sres.measured, hres.measured
    busy = h["busy_cycles"] / h["cycles"] if h["cycles"] else 0.0
    slot = coprocessor_class(w.coprocessor).SLOT
    speedup = s["cycles"] / h["cycles"] if h["cycles"] else None
    return {
        "workload": w.name, "kind": "accelerated", "description": w.what,
        "coprocessor": w.coprocessor,
        "software_cycles": s["cycles"], "accelerated_cycles": h["cycles"],
        "speedup": speedup, "busy_share": busy, "glue_share": 1.0 - busy,
        "software_instret": s["instret"], "accelerated_instret": h["instret"],
        "cpi": None,
        "busy_cycles": h["busy_cycles"], "glue_cycles": h["cycles"] - h["busy_cycles"],
        "coprocessor_busy_cycles": h["busy_per_slot"][slot],
        "dma_bus_cycles": h["dma_per_slot"][slot], "core_bus_cycles": h["core_bus_cycles"],
        "digest": hf.get("digest"), "digests_agree": digests_agree,
        "reference_ok": bool(w.check) and not ref_problems,
        "goal_speedup": w.goal_speedup,
        "speedup_goal_met": None if w.goal_speedup is None or speedup is None
        else speedup >= w.goal_speedup,
        "glue_goal_met": 1.0 - busy <= GLUE_GOAL,
        "problems": problems,
        "software_sim": _sim_info(sres), "accelerated_sim": _sim_info(hres),
    }


def _cpu_row(name, res, out):
    problems = [] if res.passed else [f"run failed (tohost {res.tohost:#x}, {res.reason})"]
    return {
        "workload": name, "kind": "cpu", "description": f"firmware/examples/{name}.c, whole run",
        "software_cycles": res.cycles, "accelerated_cycles": None, "speedup": None,
        "busy_share": 0.0, "glue_share": 1.0, "software_instret": res.instret,
        "accelerated_instret": None, "cpi": res.cpi, "problems": problems,
        "software_sim": _sim_info(res),
    }


# ---------------------------------------------------------------- output

def _pct(v):
    return f"{100 * v:.1f} %"


def table(rows):
    out = ["| workload | software cycles | accelerated cycles | speedup | coprocessor busy | glue | CPI |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "cpu":
            out.append(f"| {r['workload']} (CPU) | {r['software_cycles']:,} | – | – | – | – | "
                       f"{r['cpi']:.3f} |")
        else:
            out.append(f"| {r['workload']} | {r['software_cycles']:,} | {r['accelerated_cycles']:,} | "
                       f"{r['speedup']:.1f}× | {_pct(r['busy_share'])} | {_pct(r['glue_share'])} | – |")
    return "\n".join(out)


def goals(rows):
    """[(goal, measured, met)] for the accelerated rows."""
    out = []
    for r in rows:
        if r["kind"] != "accelerated":
            continue
        if r["goal_speedup"]:
            out.append((f"{r['workload']}: speedup ≥ {r['goal_speedup']:g}×",
                        f"{r['speedup']:.1f}×", r["speedup_goal_met"]))
        out.append((f"{r['workload']}: glue ≤ {100 * GLUE_GOAL:.0f} %", _pct(r["glue_share"]),
                    r["glue_goal_met"]))
    return out


def _notes(rows):
    """Why a goal is missed, from what the counters show."""
    by = {r["workload"]: r for r in rows}
    notes = []
    if "modexp256" in by and not by["modexp256"]["glue_goal_met"]:
        r, s = by["modexp256"], by.get("modexp256_streamed")
        n = (f"**modexp256** (driver): glue {_pct(r['glue_share'])}. `gluon_modmul_modexp` streams "
             f"the ladder as double-buffered programs; the core writing op words is the glue.")
        if s:
            n += (f" The same ladder written by the application through the stream API: "
                  f"{_pct(s['glue_share'])} (row modexp256_streamed).")
        notes.append(n)
    if "mlp_digits" in by and not by["mlp_digits"]["glue_goal_met"]:
        r = by["mlp_digits"]
        notes.append(
            f"**mlp_digits**: glue {_pct(r['glue_share'])} ({r['glue_cycles']:,} cycles, about "
            f"{r['glue_cycles'] // 4:,} per batch of 64). The layers are small (64×32×64 and "
            f"64×10×32: {r['busy_cycles'] // 4:,} coprocessor cycles per batch); the argmax "
            f"over 64×10 int32 logits (about 50 core cycles per image, more while DMA runs) "
            f"overlaps the next operations through the non-blocking driver calls, but the "
            f"last batch's argmax has only its own second layer left to hide behind, and each "
            f"operation's registers cost the core about 140 cycles; per image: "
            f"{r['accelerated_cycles'] / 256:,.0f} cycles accelerated, "
            f"{r['software_cycles'] / 256:,.0f} in software.")
    if "matmul16" in by and not by["matmul16"]["glue_goal_met"]:
        r = by["matmul16"]
        notes.append(
            f"**matmul16**: glue {_pct(r['glue_share'])} ({r['glue_cycles']:,} of "
            f"{r['accelerated_cycles']:,} cycles). A 16×16×16 product is 64 cycles of the array "
            f"at its peak; the driver's checks and the operation's registers (the same ~200 "
            f"cycles for any size) are a large share of so small a call. Larger products "
            f"amortise them (matmul64, matmul128x128x64).")
    for r in rows:
        if r["kind"] == "accelerated" and r["workload"] not in ("modexp256", "mlp_digits",
                                                                 "matmul16"):
            if not r["glue_goal_met"]:
                notes.append(f"**{r['workload']}**: glue {_pct(r['glue_share'])}, above the goal.")
            if r["speedup_goal_met"] is False:
                notes.append(f"**{r['workload']}**: speedup {r['speedup']:.1f}×, below the "
                             f"{r['goal_speedup']:g}× goal.")
    return notes


def markdown(rows, info):
    lines = [
        "# Benchmarks: the glue and the coprocessors",
        "",
        "Generated by `gluon bench --docs` (sim/bench.py); do not edit by hand. Every figure is an",
        "exact cycle count of the cycle-accurate Verilator model of the "
        f"`{info['config']}` SoC.",
        "",
        "Each accelerated workload (`firmware/bench/`) is built twice: with `-DGLUON_SOFTWARE` it",
        "runs the C implementation on the core, without it the coprocessor. Firmware marks only",
        "the workload with `PERF.CTRL.ENABLE` (`gluon_perf_start()`/`gluon_perf_stop()` in",
        "`firmware/bench/bench.h`; input generation, DMA windows and printing stay outside,",
        "descriptor set-up and driver calls inside), and the counts are of that region.",
        "*Coprocessor busy*: cycles in which a coprocessor computes or its DMA engine moves data",
        "for it; *glue*: the rest of the accelerated run's region (the core alone: set-up,",
        "driver, polling while nothing runs); glue = 1 − busy. Speedup = software cycles /",
        "accelerated cycles. Both runs' results must agree with each other and with a Python",
        "reference (hashlib and a Keccak, `pow()`, a secp256k1 reference, integer matmul, the",
        "MLP's numpy classes). CPU rows are `firmware/examples` programs, whole run, CPI only.",
        "",
        table(rows),
        "",
        "![bar chart of the speedups and glue shares](benchmarks.png)",
        "",
        "## Workloads",
        "",
    ]
    for r in rows:
        lines.append(f"* **{r['workload']}**: {r['description']}.")
    by = {r["workload"]: r for r in rows}
    extra = []
    mm = [(w, by[w.name]) for w in WORKLOADS if w.macs and w.name in by]
    if mm:
        extra += ["Matrix products, MAC/cycle over the whole driver call (set-up, DMA in and "
                  "out included) against the 8×8 array's peak of 64 (see [matmul.md](matmul.md) "
                  "for the engine's own figures):", "",
                  "| workload | MACs | MAC/cycle | of peak |", "|---|---:|---:|---:|"]
        for w, r in mm:
            rate = w.macs / r["accelerated_cycles"]
            extra.append(f"| {w.name} | {w.macs:,} | {rate:.1f} | {100 * rate / 64:.1f} % |")
        extra.append("")
    if "mlp_digits" in by:
        r = by["mlp_digits"]
        extra.append(f"mlp_digits: {r['accelerated_cycles'] / 256:,.0f} cycles per image "
                     f"accelerated, {r['software_cycles'] / 256:,.0f} in software.")
    if extra:
        lines += [""] + extra
    lines += ["", "## Goals", "", "| goal | measured | |", "|---|---:|---|"]
    for g, m, ok in goals(rows):
        lines.append(f"| {g} | {m} | {'met' if ok else '**not met**'} |")
    notes = _notes(rows)
    if notes:
        lines += ["", "Notes on the goals not met:", ""] + [f"* {n}" for n in notes]
    lines += ["", "## Caveats", "",
              "* The software baselines are this project's C code at `-O2` on the same core: the "
              "drivers' software fallbacks (`sha256_sw.c`, `keccak_sw.c`, `matmul_sw.c`) and the "
              "generic CIOS Montgomery multiplication of `mont_sw.c` (secp256k1 and modexp; no "
              "special reduction for p = 2^256 − 2^32 − 977), all constant-time. A speedup is "
              "against that code, not against the best possible software.",
              "* The per-multiplication target of the MODMUL issue (modmul-256 ≥ 25×) is measured by "
              "`firmware/examples/modmul_bench.c` ([modmul.md](modmul.md)); here the modular "
              "arithmetic appears as whole modexp and scalar-multiplication workloads.",
              "* secp256k1 and modexp256_streamed write their MODMUL op sequences themselves "
              "through the driver's stream API (`gluon_modmul_emit`: double-buffered programs); "
              "the other rows call the drivers' one-shot functions."]
    lines += ["", "## Details", "",
              "| workload | busy cycles | glue cycles | DMA bus cycles | core bus cycles | "
              "instructions (sw / accelerated) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "accelerated":
            lines.append(f"| {r['workload']} | {r['busy_cycles']:,} | {r['glue_cycles']:,} | "
                         f"{r['dma_bus_cycles']:,} | {r['core_bus_cycles']:,} | "
                         f"{r['software_instret']:,} / {r['accelerated_instret']:,} |")
    lines += ["", f"Simulation: {info['runs']} runs, {info['simulated_cycles']:,} cycles in "
              f"{info['simulation_seconds']:.0f} s of simulation "
              f"({info['cycles_per_second'] / 1e6:.2f} M cycles/s on a loaded 2-core machine), "
              f"{info['wall_seconds']:.0f} s wall time with {info['jobs']} runs in parallel.",
              (f"Source: commit {info['source']}. " if info.get("source") else "") +
              "The table and `benchmarks.json` are regenerated by `gluon bench --docs`."]
    return "\n".join(lines) + "\n"


def chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    acc = [r for r in rows if r["kind"] == "accelerated"]
    names = [r["workload"] for r in acc]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sp = [r["speedup"] for r in acc]
    bars = ax1.barh(names, sp, color="#3b7dd8")
    ax1.set_xscale("log")
    ax1.set_xlabel("speedup over software on the core (log scale)")
    ax1.invert_yaxis()
    for b, v in zip(bars, sp):
        ax1.text(v * 1.05, b.get_y() + b.get_height() / 2, f"{v:.0f}×", va="center", fontsize=8)
    for r, b in zip(acc, bars):
        if r["goal_speedup"]:
            ax1.plot([r["goal_speedup"]] * 2, [b.get_y(), b.get_y() + b.get_height()],
                     color="black", lw=2)
    ax1.set_xlim(1, max(sp) * 4)
    ax1.set_title("speedup (black tick: goal)")
    busy = [100 * r["busy_share"] for r in acc]
    glue = [100 * r["glue_share"] for r in acc]
    ax2.barh(names, busy, color="#2ca02c", label="coprocessor busy")
    ax2.barh(names, glue, left=busy, color="#d62728", label="glue (core alone)")
    ax2.axvline(100 - 100 * GLUE_GOAL, color="black", ls="--", lw=1)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 100)
    ax2.set_yticklabels([])
    ax2.set_xlabel("% of the accelerated region's cycles")
    ax2.set_title("where the cycles go (dashed: glue goal 10 %)")
    ax2.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_summary(rows, info, out=None):
    out = out or sys.stdout
    print(table(rows), file=out)
    print(file=out)
    for g, m, ok in goals(rows):
        print(f"  {'met    ' if ok else 'NOT MET'}  {g}: {m}", file=out)
    for r in rows:
        for p in r.get("problems", []):
            print(f"  PROBLEM  {r['workload']}: {p}", file=out)
    cps = info["cycles_per_second"]
    print(f"\nsimulation: {info['runs']} runs, {info['simulated_cycles']:,} cycles in "
          f"{info['simulation_seconds']:.1f} s ({cps / 1e6:.2f} M cycles/s), "
          f"{info['wall_seconds']:.1f} s wall", file=out)


def select(quick=False, only=None):
    ws = [w for w in WORKLOADS if w.quick] if quick else list(WORKLOADS)
    cpu = QUICK_CPU if quick else CPU_PROGRAMS
    if only:
        names = set(only)
        unknown = names - {w.name for w in WORKLOADS} - set(CPU_PROGRAMS)
        if unknown:
            raise ValueError(f"unknown workload(s): {', '.join(sorted(unknown))}; known: "
                             f"{', '.join([w.name for w in WORKLOADS] + CPU_PROGRAMS)}")
        ws = [w for w in WORKLOADS if w.name in names]
        cpu = [c for c in CPU_PROGRAMS if c in names]
    return ws, cpu


def main(args):
    from gluon.hdl.config import get_config
    try:
        config = get_config(args.config)
        workloads, cpu = select(args.quick, getattr(args, "only", None))
    except ValueError as e:
        print(f"gluon: error: {e}", file=sys.stderr)
        return 2
    missing = [w.name for w in workloads if w.coprocessor not in config.coprocessors]
    if missing:
        print(f"gluon: error: the '{config.name}' SoC lacks the coprocessors of: "
              f"{', '.join(missing)} (use --config full, or --only CPU programs)", file=sys.stderr)
        return 2
    print(f"gluon bench: '{config.name}' SoC ({config.description})", file=sys.stderr)
    rows, info = run_bench(config, workloads, cpu, jobs=getattr(args, "jobs", None))
    print_summary(rows, info)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        print(f"gluon bench: rows written to {args.json}", file=sys.stderr)
    if getattr(args, "docs", False):
        DOCS.mkdir(exist_ok=True)
        (DOCS / "benchmarks.json").write_text(json.dumps({"info": info, "rows": rows}, indent=2) + "\n")
        (DOCS / "benchmarks.md").write_text(markdown(rows, info))
        chart(rows, DOCS / "benchmarks.png")
        print("gluon bench: docs/benchmarks.md, docs/benchmarks.json, docs/benchmarks.png written",
              file=sys.stderr)
    bad = any(r.get("problems") for r in rows)
    return 1 if bad else 0
