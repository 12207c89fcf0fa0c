"""``leadroute route`` on 100,000 leads x 300 officers: leads per second for the whole command.

Target: >= 20,000 leads/s. Times the command as a user runs it (process start, reading, validating,
routing, writing), with full and with summary explanations. Inputs are generated once into a
temporary folder (unique phones and emails, so no cache helps).
Run: ``python benchmarks/bench_route.py [--leads N] [--officers M]``.
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
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "leadroute"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        roster_frame(args.officers).to_csv(folder / "officers.csv", index=False)
        leads_frame(args.leads).to_csv(folder / "leads.csv", index=False)
        for detail in ("summary", "full"):
            out = folder / f"out-{detail}.csv"
            t0 = time.perf_counter()
            subprocess.run(
                [str(exe), "route", "--officers", str(folder / "officers.csv"),
                 "--policy", str(ROOT / "data" / "policies" / "default.yaml"),
                 "--out", str(out), "--explain", detail, "--no-progress",
                 str(folder / "leads.csv")],
                check=True, capture_output=True)
            seconds = time.perf_counter() - t0
            size_mb = out.stat().st_size / 1e6
            print(f"route {args.leads:,} leads x {args.officers} officers, --explain {detail}: "
                  f"{seconds:.1f} s, {args.leads / seconds:,.0f} leads/s (target >= 20,000), "
                  f"output {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
