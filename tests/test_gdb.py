"""GNU GDB (18.1, from pip: gdb-for-pwndbg) against ``gluon sim --gdb``: the whole chain of
sim/gdbserver.py, the harness's DMI pipe and the Debug Module, as a user drives it. On
``minimal``; the pipelined core's runs (``pipelined``, a model of its own) are in -m slow."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from asmprog import default_sigint

BIN = Path(sys.executable).parent
GDB = BIN / "gdb"
DEMO = Path(__file__).resolve().parent.parent / "firmware" / "examples" / "gdb_demo.c"

pytestmark = pytest.mark.skipif(not GDB.exists(), reason="gdb-for-pwndbg is not installed")
CORES_SLOW = pytest.mark.parametrize("config", ["minimal",
                                                pytest.param("pipelined", marks=pytest.mark.slow)])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("gdb")
    elf = d / "gdb_demo.elf"
    subprocess.run([str(BIN / "gluon"), "cc", "-O1", str(DEMO), "-o", str(elf)], check=True)
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import build_model
    build_model(get_config("minimal").with_debug())
    return elf


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sim:
    """``gluon sim --gdb`` in the background. Its output is read by threads, so every wait on
    it has a deadline (a GDB that never connects or never continues fails the test instead of
    blocking it), and the process is killed when the test ends (``_stop_sims``)."""

    live = []

    def __init__(self, elf, config="minimal", timeout=300):
        self.port = _free_port()
        self.proc = subprocess.Popen([str(BIN / "gluon"), "sim", "--config", config, "--gdb",
                                      str(self.port), str(elf)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=default_sigint)
        Sim.live.append(self)
        self.out, self.err = queue.Queue(), queue.Queue()
        for f, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=_pump, args=(f, q), daemon=True).start()
        deadline = time.monotonic() + timeout
        self.err_text = ""
        while "waiting for GDB" not in self.err_text:
            line = _get(self.err, deadline, f"gluon sim did not wait for GDB: {self.err_text}")
            assert line is not None, f"gluon sim ended: {self.err_text}"
            self.err_text += line

    def readline(self, timeout=120):
        """The program's next line of output."""
        line = _get(self.out, time.monotonic() + timeout, "no line from the program")
        return line or ""

    def finish(self, timeout=60):
        deadline = time.monotonic() + timeout
        self.proc.wait(timeout=timeout)
        out, err = [], [self.err_text]
        for q, parts in ((self.out, out), (self.err, err)):
            while (line := _get(q, deadline, "gluon sim's output did not end")) is not None:
                parts.append(line)
        return self.proc.returncode, "".join(out), "".join(err)


def _pump(f, q):
    for line in iter(f.readline, b""):
        q.put(line.decode(errors="replace"))
    q.put(None)


def _get(q, deadline, what):
    try:
        return q.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise AssertionError(f"{what} (time limit)") from None


@pytest.fixture(autouse=True)
def _stop_sims():
    yield
    while Sim.live:
        proc = Sim.live.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _gdb_cmd(elf, port, cmds):
    # remotetimeout: GDB's 2 s default for each reply can run out on a loaded machine
    cmd = [str(GDB), "-nx", "-batch", "-ex", "set confirm off", "-ex", "set pagination off",
           "-ex", "set remotetimeout 60", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in cmds:
        cmd += ["-ex", c]
    return cmd + [str(elf)]


def gdb(elf, port, cmds, timeout=120):
    p = subprocess.run(_gdb_cmd(elf, port, cmds), capture_output=True, text=True, timeout=timeout)
    return p.stdout + p.stderr


@CORES_SLOW
def test_break_step_print_set_var_exit_code(demo, config):
    sim = Sim(demo, config)
    out = gdb(demo, sim.port, [
        "load",
        "break main",
        "continue",
        "next",
        "step",
        "print x",
        "print factor",
        "set var factor = 10",
        "print/x $pc",
        "x/2wx &factor",
        "set var spin = 0",
        "continue",
    ])
    code, uart, err = sim.finish()
    assert "Breakpoint 1, main" in out, out
    assert "scale (x=3)" in out or "scale (x=x@entry=3)" in out, out
    assert "$1 = 3" in out and "$2 = 7" in out, out
    assert "0x0000000a" in out, out
    assert "exited with code 03" in out, out
    assert "scale 3 -> 30" in uart, uart
    assert code == 3, (code, err)


def test_ctrl_c_busy_loop_registers_and_monitor_reset(demo):
    sim = Sim(demo)
    p = subprocess.Popen(_gdb_cmd(demo, sim.port, [
        "continue",
        "print spin",
        "info registers mstatus",
        "info registers mepc pc",
        "stepi",
        "tbreak scale",
        "monitor reset halt",
        "maintenance flush register-cache",
        "print/x $pc",
        "continue",
        "print x",
        "set var spin = 0",
        "continue",
    ]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint)
    # wait for the program to reach its busy loop (it has printed its line), then Ctrl-C
    first = sim.readline()
    assert "scale 3 -> 21" in first, first
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    try:
        out, _ = p.communicate(timeout=120)
    finally:
        p.kill()
    code, uart, err = sim.finish()
    uart = first + uart
    assert "received signal SIGINT" in out, out
    assert "$1 = 1" in out, out
    assert "mstatus" in out and "0x1800" in out, out           # MPP = M after reset
    assert "0x80000000" in out, out                           # monitor reset halt: reset vector
    assert "Temporary breakpoint" in out and "scale (x=" in out, out
    assert "exited with code 03" in out, out
    assert uart.count("scale 3 -> 21") == 2, uart             # twice: before and after the reset
    assert code == 3, (code, err)


def test_locked_debug_module_refuses_the_halt(tmp_path):
    """Firmware locks the Debug Module: GDB's Ctrl-C is refused with a message, and the
    program runs on to its end, its exit status reaching GDB and gluon sim."""
    elf = tmp_path / "lock.elf"
    src = Path(__file__).resolve().parent / "fw" / "debug_lock.c"
    subprocess.run([str(BIN / "gluon"), "cc", "-O1", str(src), "-o", str(elf)], check=True)
    sim = Sim(elf)
    p = subprocess.Popen(_gdb_cmd(elf, sim.port, ["continue"]), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint)
    first = sim.readline()
    assert "locked: 1" in first, first
    p.send_signal(signal.SIGINT)
    try:
        out, _ = p.communicate(timeout=120)
    finally:
        p.kill()
    code, uart, err = sim.finish()
    assert "locked" in out and "authenticated = 0" in out, out
    assert "exited with code 05" in out, out
    assert code == 5, (code, err)


@CORES_SLOW
def test_hbreak_watch_rwatch(tmp_path, config):
    """The core's triggers from GDB (one GDB run): a hardware breakpoint in code, a watchpoint
    firing on each store with the old and new values, a read watchpoint, and the run's end."""
    elf = tmp_path / "watch.elf"
    src = Path(__file__).resolve().parent / "fw" / "gdb_watch.c"
    subprocess.run([str(BIN / "gluon"), "cc", "-O1", str(src), "-o", str(elf)], check=True)
    sim = Sim(elf, config)
    out = gdb(elf, sim.port, [
        "hbreak bump",
        "continue",
        "print k",
        "delete",
        "watch counter",
        "continue",
        "continue",
        "delete",
        "rwatch limit",
        "continue",
        "delete",
        "continue",
    ])
    code, uart, err = sim.finish()
    assert "Hardware assisted breakpoint 1" in out and "bump (k=" in out, out
    assert "$1 = 1" in out, out
    assert "Old value = 0\nNew value = 1" in out, out
    assert "Old value = 1\nNew value = 3" in out, out
    assert "Hardware read watchpoint 3: limit\n\nValue = 3" in out, out
    assert "exited normally" in out, out
    assert "total 10" in uart, uart
    assert code == 0, (code, err)


def test_ctrl_c_while_waiting_for_gdb_ends_the_run(demo):
    """Ctrl-C before any GDB connects: gluon sim says so and ends, its harness with it (the
    harness waits halted for the debugger and would otherwise keep it waiting forever)."""
    sim = Sim(demo)
    harness = [int(c) for c in
               Path(f"/proc/{sim.proc.pid}/task/{sim.proc.pid}/children").read_text().split()]
    assert harness, "no harness process"
    sim.proc.send_signal(signal.SIGINT)
    code, _uart, err = sim.finish(timeout=60)
    assert code == 130 and "interrupted" in err, (code, err)
    assert "Traceback" not in err
    for pid in harness:
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text(), "the harness still runs"
