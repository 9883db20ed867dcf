"""`gluon bench` and `gluon demo`: the glue-and-coprocessor measurement (issue 8).

Quick tests run a short bench (SHA-256 and Keccak-256 of 4 KiB on both paths, one CPU
program), the coprocessor build of the secp256k1 workload against an independent Python
reference, and the demo. The whole bench (all workloads, both paths, ~35 M simulated cycles)
is marked slow.
"""

import hashlib
import json
import random
import tempfile
from pathlib import Path

import pytest

from gluon.sim import bench
from gluon.sim.cli import main as gluon


KEYS = {"workload", "software_cycles", "accelerated_cycles", "speedup", "busy_share",
        "glue_share"}


# ---------------------------------------------------------------- an independent secp256k1

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _jacobian_double(X, Y, Z):
    # dbl-2009-l (a = 0), Jacobian coordinates: x = X/Z^2, y = Y/Z^3
    A, B = X * X % P, Y * Y % P
    C = B * B % P
    D = 2 * ((X + B) ** 2 - A - C) % P
    E = 3 * A % P
    X3 = (E * E - 2 * D) % P
    return X3, (E * (D - X3) - 8 * C) % P, 2 * Y * Z % P


def _jacobian_add_affine(X1, Y1, Z1, x2, y2):
    # madd (Z2 = 1); the caller never adds equal points or infinity
    Z1Z1 = Z1 * Z1 % P
    U2, S2 = x2 * Z1Z1 % P, y2 * Z1 * Z1Z1 % P
    H, r = (U2 - X1) % P, (S2 - Y1) % P
    HH = H * H % P
    HHH, V = H * HH % P, X1 * HH % P
    X3 = (r * r - HHH - 2 * V) % P
    return X3, (r * (V - X3) - Y1 * HHH) % P, Z1 * H % P


def secp256k1_reference(k):
    """k·G (0 < k < N) by left-to-right double-and-add in Jacobian coordinates."""
    assert 0 < k < N
    bits = bin(k)[3:]
    X, Y, Z = G[0], G[1], 1
    for b in bits:
        X, Y, Z = _jacobian_double(X, Y, Z)
        if b == "1":
            X, Y, Z = _jacobian_add_affine(X, Y, Z, *G)
    zi = pow(Z, -1, P)
    return X * zi * zi % P, Y * zi * zi * zi % P


def test_secp256k1_references_agree():
    # 2G from SEC test vectors; (N-1)G = -G
    assert secp256k1_reference(2)[0] == \
        0xC6047F9441ED7D6D3045406E95C07CD85C778E4B8CEF3CA7ABAC09B95C709EE5
    assert secp256k1_reference(N - 1) == (G[0], P - G[1])
    rng = random.Random(8)
    for _ in range(5):
        k = rng.randrange(1, N)
        x, y = secp256k1_reference(k)
        assert (y * y - x ** 3 - 7) % P == 0
        assert bench.secp256k1_mul(k) == (x, y)


def test_keccak_and_lcg_references():
    # Keccak-256 (original padding, as Ethereum): published vectors, not SHA3-256's
    assert bench.keccak256(b"").hex() == \
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert bench.keccak256(b"abc").hex() == \
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    x1 = 1013904223                                  # from seed 0
    x2 = (1664525 * x1 + 1013904223) % 2**32
    assert bench.lcg_bytes(2, 0) == (bytes([x1 >> 24, x2 >> 24]), x2)


def test_parse_output_and_table():
    f = bench.parse_output("workload: x\npath: software\nperf: cycles 5\ndigest: ab\n"
                           "not a field\ndigest: cd")
    assert f == {"workload": "x", "path": "software", "perf": "cycles 5", "digest": "ab"}
    rows = [{"workload": "w", "kind": "accelerated", "software_cycles": 1000,
             "accelerated_cycles": 10, "speedup": 100.0, "busy_share": 0.95,
             "glue_share": 0.05, "goal_speedup": 40, "speedup_goal_met": True,
             "glue_goal_met": True},
            {"workload": "c", "kind": "cpu", "software_cycles": 7, "cpi": 1.25}]
    t = bench.table(rows)
    assert "| w | 1,000 | 10 | 100.0× | 95.0 % | 5.0 % | – |" in t
    assert "| c (CPU) | 7 | – | – | – | – | 1.250 |" in t
    assert [ok for *_, ok in bench.goals(rows)] == [True, True]


# ---------------------------------------------------------------- on the simulated SoC

def _check_rows(rows):
    for r in rows:
        assert KEYS <= r.keys(), r
        assert r["problems"] == [], r
        assert 0.0 <= r["busy_share"] <= 1.0 and 0.0 <= r["glue_share"] <= 1.0
        assert r["busy_share"] + r["glue_share"] == pytest.approx(1.0)
        if r["kind"] == "accelerated":
            assert r["digests_agree"] and r["reference_ok"]
            assert r["speedup"] == pytest.approx(r["software_cycles"] / r["accelerated_cycles"])
            assert r["busy_cycles"] + r["glue_cycles"] == r["accelerated_cycles"]
            assert r["software_cycles"] > r["accelerated_cycles"] > 0
        else:
            assert r["accelerated_cycles"] is None and r["speedup"] is None
            assert 1.0 <= r["cpi"] < 1.5


def test_bench_quick(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert gluon(["bench", "--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    _check_rows(rows)
    by = {r["workload"]: r for r in rows}
    assert {"sha256_4k", "keccak256_4k", "sort"} <= by.keys()
    # the hashes' own goals (issue 4): these rows are stable, so assert them
    assert by["sha256_4k"]["speedup"] >= 40 and by["keccak256_4k"]["speedup"] >= 100
    assert by["sha256_4k"]["glue_share"] <= 0.10 and by["keccak256_4k"]["glue_share"] <= 0.10
    assert by["sha256_4k"]["digest"] == hashlib.sha256(
        bench.lcg_bytes(4096, 0x5A5A0001)[0]).hexdigest()
    text = capsys.readouterr().out
    assert "| sha256_4k |" in text and "simulation:" in text


def test_secp256k1_coprocessor_matches_reference():
    from gluon.firmware import cc
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import run
    with tempfile.TemporaryDirectory() as td:
        elf = cc.compile([bench.BENCH / "secp256k1.c"], Path(td) / "secp.elf", opt="-O2")
        res = run(elf, get_config("full"), max_cycles=5_000_000)
    assert res.passed and res.region_seen
    f = bench.parse_output(res.output.decode())
    x, y = secp256k1_reference(int(f["k"], 16))
    assert (int(f["x"], 16), int(f["y"], 16)) == (x, y)
    # the core is not in the loop per multiply: nearly every region cycle is coprocessor-busy
    assert res.busy_share > 0.9


def test_demo(capfd):
    assert gluon(["demo"]) == 0
    out = capfd.readouterr()
    assert "Hello from Gluon!" in out.out and "GLUN" in out.out
    assert "demo: all results agree" in out.out
    assert "DIFFERENT" not in out.out


@pytest.mark.slow
def test_bench_full(tmp_path):
    out = tmp_path / "rows.json"
    rc = gluon(["bench", "--json", str(out)])
    rows = json.loads(out.read_text())
    _check_rows(rows)
    assert rc == 0
    names = {r["workload"] for r in rows}
    assert {w.name for w in bench.WORKLOADS} | set(bench.CPU_PROGRAMS) == names


# ---------------------------------------------------------------- docs/adding-a-coprocessor.md

DOC = Path(bench.ROOT) / "docs" / "adding-a-coprocessor.md"


def doc_examples():
    """{path: code} of the blocks marked `<!-- example-file: path -->` in the walkthrough."""
    import re
    blocks = re.findall(r"<!-- example-file: (\S+) -->\n```\w*\n(.*?)\n```", DOC.read_text(),
                        re.S)
    return {path: code + "\n" for path, code in blocks}


def _install_example(monkeypatch):
    """Import the walkthrough's hdl/crc32.py as gluon.hdl.crc32 (for this test only)."""
    import sys
    import types
    code = doc_examples()["hdl/crc32.py"]
    mod = types.ModuleType("gluon.hdl.crc32")
    mod.__file__ = str(DOC)
    exec(compile(code, f"{DOC.name}:hdl/crc32.py", "exec"), mod.__dict__)
    monkeypatch.setitem(sys.modules, "gluon.hdl.crc32", mod)
    return code


def test_adding_a_coprocessor_example(monkeypatch):
    ex = doc_examples()
    assert set(ex) == {"hdl/crc32.py", "firmware/include/gluon/crc32.h",
                       "firmware/drivers/crc32.c", "tests/test_crc32.py",
                       "firmware/examples/crc32_demo.c"}
    _install_example(monkeypatch)
    ns = {}
    exec(compile(ex["tests/test_crc32.py"], f"{DOC.name}:tests/test_crc32.py", "exec"), ns)
    tests = [v for k, v in ns.items() if k.startswith("test_")]
    assert tests
    for t in tests:
        t()


@pytest.mark.slow
def test_adding_a_coprocessor_example_on_soc(monkeypatch, tmp_path):
    """The walkthrough's steps 2-6 for real: the example in a full SoC, its registers
    generated, the C driver and demo compiled and run."""
    from gluon.firmware import cc
    from gluon.hdl import config as hdl_config, regsgen
    from gluon.hdl.soc import GluonSoC
    from gluon.sim.verilator import run
    code = _install_example(monkeypatch)
    monkeypatch.setitem(hdl_config.COPROCESSORS, "crc32", ("gluon.hdl.crc32", "Crc32Coprocessor"))
    # the model cache is keyed by the HDL files and the configuration: name the configuration
    # after the example's code so a changed example is rebuilt
    tag = hashlib.sha256(code.encode()).hexdigest()[:8]
    config = hdl_config.CONFIGS["full"].with_(
        name=f"full_crc32doc_{tag}", coprocessors=("hash", "modmul", "matmul", "crc32"))
    ex = doc_examples()
    inc = tmp_path / "include" / "gluon"
    inc.mkdir(parents=True)
    (inc / "regs.h").write_text(regsgen.header_text(GluonSoC(config).memory_map()))
    (inc / "crc32.h").write_text(ex["firmware/include/gluon/crc32.h"])
    (tmp_path / "crc32.c").write_text(ex["firmware/drivers/crc32.c"])
    (tmp_path / "crc32_demo.c").write_text(ex["firmware/examples/crc32_demo.c"])
    elf = cc.compile([tmp_path / "crc32_demo.c", tmp_path / "crc32.c"], tmp_path / "demo.elf",
                     opt="-O2", extra_flags=["-I", str(tmp_path / "include")])
    res = run(elf, config, max_cycles=5_000_000)
    out = res.output.decode()
    print(out)
    assert res.passed, out
    import re
    sw, hw = re.search(r"sw ([0-9a-f]{8}) .* hw ([0-9a-f]{8})", out).groups()
    msg, _ = bench.lcg_bytes(4096, 1)
    import zlib
    assert int(sw, 16) == int(hw, 16) == zlib.crc32(msg)
    assert res.counts["all"]["busy_per_slot"][3] > 1024      # slot 3 worked: 1024 words
