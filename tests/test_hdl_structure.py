"""The shape of hdl/ (issue 21): no run of more than 10 lines written twice, and no block
whose ``elaborate`` is longer than 250 lines (Glasgow's longest is about 225).

hdl/core.py is left out of both checks for now: the core's split into pipeline blocks is the
pipeline issue's, not this one's.

The duplicate check works like pylint's duplicate-code checker (identical lines; comments,
docstrings, imports, blank lines and lines of lone brackets ignored; white space folded) but
also inside one file, where pylint does not look."""

import ast
import io
import tokenize
from pathlib import Path

import gluon.hdl

HDL = Path(gluon.hdl.__file__).parent
EXCLUDED = {"core.py"}          # the pipeline issue splits the core
MAX_RUN = 10                    # lines a run may share with another place
MAX_ELABORATE = 250


def hdl_files():
    return sorted(p for p in HDL.rglob("*.py") if p.name not in EXCLUDED)


def code_lines(source):
    """(line number, folded text) of the lines that count."""
    skip = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skip.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                skip.update(range(first.lineno, first.end_lineno + 1))
    lines = source.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col]
    out = []
    for number, line in enumerate(lines, 1):
        text = " ".join(line.split())
        if number in skip or not text.strip("()[]{},:"):
            continue
        out.append((number, text))
    return out


def duplicated_runs(sources, run=MAX_RUN + 1):
    """Pairs of places (name, first line) sharing ``run`` consecutive lines that count."""
    seen, found = {}, []
    for name, source in sources.items():
        lines = code_lines(source)
        for i in range(len(lines) - run + 1):
            key = tuple(text for _, text in lines[i:i + run])
            here = (name, i, lines[i][0])
            for other in seen.get(key, []):
                if other[0] != name or other[1] + run <= i:     # (not an overlap of itself)
                    found.append((other[0], other[2], name, lines[i][0]))
            seen.setdefault(key, []).append(here)
    return found


def test_duplicate_finder_finds_a_copy():
    body = "".join(f"    x{i} = f(a, {i})  # step {i}\n" for i in range(MAX_RUN + 1))
    one = f'"""Doc."""\nimport os\n\ndef a():\n{body}'
    two = f'def b():\n    """Other doc."""\n    y = 1\n{body}    return y\n'
    assert duplicated_runs({"one.py": one, "two.py": two}) == [("one.py", 5, "two.py", 4)]
    assert duplicated_runs({"twice.py": f"def a():\n{body}\ndef b():\n{body}"})
    short = "".join(f"    x{i} = f(a, {i})\n" for i in range(MAX_RUN))
    assert not duplicated_runs({"one.py": f"def a():\n{short}", "two.py": f"def b():\n{short}"})


def test_no_duplicated_runs_in_hdl():
    sources = {str(p.relative_to(HDL)): p.read_text() for p in hdl_files()}
    found = duplicated_runs(sources)
    assert not found, "\n".join(f"{a}:{la} ~ {b}:{lb}" for a, la, b, lb in found)


def test_no_long_elaborate():
    long = []
    for path in hdl_files():
        for cls in ast.walk(ast.parse(path.read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name in ("elaborate", "_elaborate"):
                    n = fn.end_lineno - fn.lineno + 1
                    if n > MAX_ELABORATE:
                        long.append(f"{path.relative_to(HDL)}: {cls.name}.{fn.name} {n} lines")
    assert not long, "\n".join(long)
