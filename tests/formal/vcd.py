"""A tiny VCD reader for printing sby counterexamples (values of chosen signals per step)."""

__all__ = ["read_vcd", "format_trace"]


def read_vcd(path):
    """{full.signal.name: [value per time step]} for a two-valued VCD as sby writes it."""
    ids, scope, changes, t, times = {}, [], {}, None, []
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if tok[0] == "$scope":
                scope.append(tok[2])
            elif tok[0] == "$upscope":
                scope.pop()
            elif tok[0] == "$var":
                ids.setdefault(tok[3], []).append(".".join(scope + [tok[4]]))
            elif tok[0].startswith("#"):
                t = int(tok[0][1:])
                times.append(t)
            elif tok[0][0] in "01xz" and len(tok) == 1:
                changes.setdefault(tok[0][1:], []).append((t, tok[0][0]))
            elif tok[0][0] == "b" and len(tok) == 2:
                changes.setdefault(tok[1], []).append((t, tok[0][1:]))
    steps = sorted(set(times))
    out = {}
    for ident, names in ids.items():
        vals, cur, ch = [], None, changes.get(ident, [])
        i = 0
        for st in steps:
            while i < len(ch) and ch[i][0] <= st:
                cur = ch[i][1]
                i += 1
            try:
                vals.append(int(cur, 2) if cur is not None else None)
            except ValueError:
                vals.append(None)
        for n in names:
            out[n] = vals
    return steps, out


def format_trace(path, names):
    """A table: one row per VCD time stamp, one column per signal whose name ends with one
    of ``names`` (the first match)."""
    steps, sig = read_vcd(path)
    cols = []
    for want in names:
        for full in sig:
            if full == want or full.endswith("." + want):
                cols.append((want, sig[full]))
                break
    lines = ["time " + " ".join(f"{n:>10}" for n, _ in cols)]
    for i, st in enumerate(steps):
        row = []
        for _, v in cols:
            row.append(f"{v[i]:>10x}" if v[i] is not None else f"{'?':>10}")
        lines.append(f"{st:>4} " + " ".join(row))
    return "\n".join(lines)
