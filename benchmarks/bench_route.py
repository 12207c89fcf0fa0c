"""``leadroute route`` on 100,000 leads x 300 officers: leads per second for the whole command.

Target: >= 20,000 leads/s. Times the command as a user runs it (process start, reading, validating,
routing, writing), with full and with summary explanations. Inputs are generated once into a
temporary folder (unique phones and emails, so no cache helps). Beside it, in the same run, a
floor: a bare Python process that reads the same file with ``csv.reader`` and writes a row
per lead with ``csv.writer`` (an explanation cell as long as the command's); the ratio of the
command's speed to the floor's is steadier on a shared machine than either figure. Each is
the best of ``--runs``.

``--against REV`` also times the command as of git revision REV (checked out into a temporary
worktree and run with this environment), alternating with this code run for run, checks that
both write the same bytes, and prints the speed-up. The target was set where the code at
``886ca24`` (when the routing core was begun) did about 7,500 leads/s: on that machine 20,000
leads/s is a speed-up of 2.67 over that revision, a ratio this machine's noise leaves alone.

Run: ``python benchmarks/bench_route.py [--leads N] [--officers M] [--runs R] [--against REV]``.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import worktree
from _fixtures import ROOT, leads_frame, roster_frame

# The route target (leads/s), and the revision it was set against with that revision's speed
# then (leads/s, on a quiet machine).
TARGET = 20_000
BASELINE_REV, BASELINE_RATE = "886ca24", 7_500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--officers", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--against", metavar="REV",
                        help=f"also time git revision REV, e.g. {BASELINE_REV} (the target's "
                             "baseline), and check it writes the same bytes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        roster_frame(args.officers).to_csv(folder / "officers.csv", index=False)
        leads_frame(args.leads).to_csv(folder / "leads.csv", index=False)
        with worktree(args.against, folder / "against") as other:
            for detail in ("summary", "full"):
                _measure(folder, detail, args, other)


def _measure(folder: Path, detail: str, args: argparse.Namespace, other: Path | None) -> None:
    out = folder / f"out-{detail}.csv"
    seconds, before = [], []
    for _ in range(args.runs):  # alternating: the machine's drift falls on both alike
        seconds.append(_timed(_command(folder, detail, out), ROOT))
        if other is not None:
            before.append(_timed(_command(folder, detail, folder / "before.csv"), other))
    best = min(seconds)
    size_mb = out.stat().st_size / 1e6
    per_row = max(0, out.stat().st_size // args.leads - 80)
    floor = min(_timed([sys.executable, "-c", _FLOOR, str(folder / "leads.csv"),
                        str(per_row), str(folder / "floor.csv")], ROOT)
                for _ in range(args.runs))
    print(f"route {args.leads:,} leads x {args.officers} officers, --explain {detail}: "
          f"{best:.1f} s, {args.leads / best:,.0f} leads/s (target >= {TARGET:,}), "
          f"output {size_mb:.0f} MB; floor (read and write the same rows) {floor:.1f} s, "
          f"{args.leads / floor:,.0f} rows/s; ratio {floor / best:.2f}x of the floor")
    if other is not None:
        then = min(before)
        same = filecmp.cmp(out, folder / "before.csv", shallow=False)
        speedup = then / best
        print(f"  {args.against}: {then:.1f} s, {args.leads / then:,.0f} leads/s; this code "
              f"{speedup:.2f}x its speed (each run: "
              f"{', '.join(f'{a:.1f}' for a in seconds)} s against "
              f"{', '.join(f'{b:.1f}' for b in before)} s); output "
              f"{'byte-identical' if same else 'DIFFERENT'}")
        if args.against == BASELINE_REV and (args.leads, args.officers) == (100_000, 300):
            print(f"  at {BASELINE_REV}'s {BASELINE_RATE:,} leads/s, this code would do "
                  f"{BASELINE_RATE * speedup:,.0f} leads/s (target {TARGET:,}: speed-up "
                  f"{TARGET / BASELINE_RATE:.2f}x, "
                  f"{'met' if speedup >= TARGET / BASELINE_RATE else 'missed'})")


def _command(folder: Path, detail: str, out: Path) -> list[str]:
    """The route command of the code in the folder it is run from (``python -c`` puts that
    folder first on the path: ``_timed``'s ``cwd`` picks this checkout or the other)."""
    return [sys.executable, "-c", "from cli.main import app; app()", "route",
            "--officers", str(folder / "officers.csv"),
            "--policy", str(ROOT / "data" / "policies" / "default.yaml"),
            "--out", str(out), "--explain", detail, "--no-progress", str(folder / "leads.csv")]


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


def _timed(command: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
