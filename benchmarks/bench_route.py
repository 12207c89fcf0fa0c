"""``leadroute route`` on 100,000 leads x 300 officers: leads per second for the whole command.

Target: >= 20,000 leads/s. Times the command as a user runs it (process start, reading, validating,
routing, writing), with full and with summary explanations. Inputs are generated once into a
temporary folder (unique phones and emails, so no cache helps). Beside it, in the same run, a
floor: a bare Python process that reads the same file with ``csv.reader`` and writes a row
per lead with ``csv.writer`` (an explanation cell as long as the command's); the ratio of the
command's speed to the floor's is steadier on a shared machine than either figure. Each is
the best of ``--runs``.
Run: ``python benchmarks/bench_route.py [--leads N] [--officers M] [--runs R]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fixtures import ROOT, leads_frame, roster_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--officers", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "leadroute"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        roster_frame(args.officers).to_csv(folder / "officers.csv", index=False)
        leads_frame(args.leads).to_csv(folder / "leads.csv", index=False)
        for detail in ("summary", "full"):
            out = folder / f"out-{detail}.csv"
            command = [str(exe), "route", "--officers", str(folder / "officers.csv"),
                       "--policy", str(ROOT / "data" / "policies" / "default.yaml"),
                       "--out", str(out), "--explain", detail, "--no-progress",
                       str(folder / "leads.csv")]
            seconds = min(_timed(command) for _ in range(args.runs))
            size_mb = out.stat().st_size / 1e6
            per_row = max(0, out.stat().st_size // args.leads - 80)
            floor = min(_timed([sys.executable, "-c", _FLOOR, str(folder / "leads.csv"),
                                str(per_row), str(folder / "floor.csv")])
                        for _ in range(args.runs))
            print(f"route {args.leads:,} leads x {args.officers} officers, --explain {detail}: "
                  f"{seconds:.1f} s, {args.leads / seconds:,.0f} leads/s (target >= 20,000), "
                  f"output {size_mb:.0f} MB; floor (read and write the same rows) {floor:.1f} s, "
                  f"{args.leads / floor:,.0f} rows/s; ratio {floor / seconds:.2f}x of the floor")


# Read the leads with csv.reader; write a row per lead with csv.writer, its explanation cell a
# JSON text as long as the command's average: the least a Python command doing this file's
# input and output does.
_FLOOR = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    rows = list(csv.reader(fh))[1:]
cell = '{"x":"' + "x" * int(sys.argv[2]) + '"}'
with open(sys.argv[3], "w", newline="", encoding="utf-8") as fh:
    csv.writer(fh).writerows([r[0], "", "assigned", "assigned in pool main", "TX", "48201",
                              "false", cell] for r in rows)
"""


def _timed(command: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - t0

if __name__ == "__main__":
    main()
