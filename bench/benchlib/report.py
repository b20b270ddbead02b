"""Figures (median, min, max) and the markdown report."""
import statistics


def summary(vals):
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt(s, scale=1e6, digits=2, unit=""):
    """'6.12 (5.91–6.33)' from a summary; one run: '6.12'."""
    if s is None:
        return "—"
    m = f"{s['median'] / scale:.{digits}f}{unit}"
    if s["n"] > 1:
        m += f" ({s['min'] / scale:.{digits}f}–{s['max'] / scale:.{digits}f})"
    return m


def ratio(a, b, digits=2):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_ratio(r, digits=2, suffix=""):
    return "—" if r is None else f"{r:.{digits}f}{suffix}"


def bound(crypto, io):
    """L = 1 / (1/crypto + 1/io): the rate of one core that must do both
    the crypto and the harness's own I/O, one after the other."""
    if not crypto or not io:
        return None
    return 1.0 / (1.0 / crypto + 1.0 / io)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out) + "\n"
