"""The published benchmark figures (docs/benchmarks.*) against the current design: no
simulation, only the inputs hash that `gluon bench --docs` records."""

import io
import json


from gluon.sim import bench


def test_benchmarks_docs_current():
    out = io.StringIO()
    assert bench.check_docs(out=out) == 0, out.getvalue()


def test_check_docs_detects_change(tmp_path):
    """The check passes on a matching hash and fails once any input changes."""
    good = tmp_path / "benchmarks.json"
    good.write_text(json.dumps({"info": {"config": "full",
                                         "inputs_hash": bench.inputs_hash("full")}, "rows": []}))
    assert bench.check_docs(good, out=io.StringIO()) == 0
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"info": {"config": "full", "inputs_hash": "0" * 64}, "rows": []}))
    out = io.StringIO()
    assert bench.check_docs(stale, out=out) == 1
    assert "STALE" in out.getvalue()
    missing = tmp_path / "old.json"
    missing.write_text(json.dumps({"info": {"config": "full", "source": "6608a95"}, "rows": []}))
    assert bench.check_docs(missing, out=io.StringIO()) == 1


def test_inputs_hash_covers_workloads_and_config():
    base = bench.inputs_hash("full")
    assert bench.inputs_hash("full") == base
    assert bench.inputs_hash("small") != base
    w = bench.WORKLOADS[0]
    changed = [bench.Workload(w.name, w.source, w.what, w.coprocessor, flags=("-DX",))]
    assert bench.inputs_hash("full", changed + bench.WORKLOADS[1:]) != base
