"""What bench/report.py and bench/report_proxy.py share: reading a run's metadata and wrk's
output, medians, and number formatting."""

import os
import re
import statistics


def load_meta(run_dir):
    """meta.txt as a dict (KEY=VALUE lines; a later line wins)."""
    meta = {}
    for line in open(os.path.join(run_dir, "meta.txt")):
        key, _, value = line.rstrip("\n").partition("=")
        meta[key] = value
    return meta


def parse_wrk(path):
    text = open(path).read()
    out = {"requests": None, "rps": None, "lat": {}, "non2xx": 0, "sockerr": 0}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        out["lat"][pct] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["sockerr"] = sum(int(x) for x in m.groups())
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0, suffix="", sign=False):
    if v is None:
        return "n/a"
    return f"{v:{'+' if sign else ''},.{digits}f}{suffix}"
