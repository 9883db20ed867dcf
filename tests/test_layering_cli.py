"""The CLI's layering: gluon.sim and gluon.boards do not import each other (the board commands
reach the `gluon` frame through the ``gluon.commands`` entry points); the ELF loader both use
lives in gluon.firmware."""

import ast
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(folder):
    """(file, imported module) for every absolute import in ``folder``'s Python files."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path.relative_to(ROOT), a.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path.relative_to(ROOT), node.module
            elif isinstance(node, ast.ImportFrom) and node.level >= 2:
                # ``from ..boards import x`` inside gluon.sim: resolve against the package
                yield path.relative_to(ROOT), "gluon." + (node.module or "")


def test_sim_does_not_import_boards():
    bad = [(f, m) for f, m in _imports("sim") if m.startswith("gluon.boards")]
    assert not bad, bad


def test_boards_do_not_import_sim():
    bad = [(f, m) for f, m in _imports("boards") if m.startswith("gluon.sim")]
    assert not bad, bad


def test_board_commands_are_entry_points():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert set(declared["gluon.commands"]) >= {"build", "load"}
    assert all(v.startswith("gluon.boards.cli:") for v in declared["gluon.commands"].values())
    installed = {e.name: e.value for e in entry_points(group="gluon.commands")}
    assert installed == declared["gluon.commands"], "reinstall: pip install -e ."


def test_the_loader_is_in_the_sdk():
    assert not (ROOT / "sim" / "elf.py").exists()
    users = {str(f) for f, m in _imports("sim") if m == "gluon.firmware.elf"}
    users |= {str(f) for f, m in _imports("boards") if m == "gluon.firmware.elf"}
    assert any(u.startswith("sim/") for u in users) and any(u.startswith("boards/") for u in users)
