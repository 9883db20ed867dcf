"""Layering between the packages, from their sources (docs/import_graph.py): hdl/ imports
nothing outside hdl/; sim/ and boards/ do not import each other; the graph drawn in
docs/architecture.md is current."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


import_graph = _import_graph()


@pytest.fixture(scope="module")
def graph():
    return import_graph.graph()


def test_hdl_imports_nothing_outside_hdl(graph):
    edges = {e: m for e, m in graph.items() if e[0] == "hdl"}
    assert not edges, f"hdl/ imports outside itself: {edges}"


def test_sim_and_boards_do_not_import_each_other(graph):
    both = {e: graph[e] for e in [("sim", "boards"), ("boards", "sim")] if e in graph}
    assert not both, f"sim/ and boards/ import each other: {both}"


def test_the_checker_sees_every_kind_of_import(tmp_path):
    """Absolute, lazy (inside a function), ``from gluon import x`` and relative imports that
    climb out of the package all count; a relative import inside the package does not."""
    src = tmp_path / "m.py"
    src.write_text("import gluon.sim.elf\n"
                   "from gluon import boards\n"
                   "from . import sibling\n"
                   "from ..firmware import cc\n"
                   "def f():\n    from gluon.hdl.soc import RAM_BASE\n")
    assert import_graph.imports_of(src, "sim") == {"boards", "firmware", "hdl"}


def test_architecture_doc_graph_is_current(graph):
    doc = import_graph.DOC.read_text()
    assert import_graph.updated(doc, graph) == doc, "run `python docs/import_graph.py`"
