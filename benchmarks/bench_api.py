"""The API on one process and an SQLite file: sustained ``POST /v1/leads`` throughput and the
latency at 200 leads/s, against a bare FastAPI endpoint that inserts one row into SQLite,
measured in the same run on the same machine.

Targets: throughput at least 0.4x the baseline; p99 at 200 leads/s at most 50 ms.
Both servers run under uvicorn (one process, its worker thread on for the API); the clients
run in this process. 40 equal officers, the default policy, each lead its own borrower.
Run: ``python benchmarks/bench_api.py [--seconds 15] [--clients 16] [--rate 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import PROJECT_ROOT, verdict

from tests.api.load import (
    Server,
    lead_bodies,
    officer_rows,
    percentile,
    post_all,
    post_at_rate,
    seed,
)


def throughput(url: str, key: str, seconds: float, clients: int, tag: str) -> float:
    """Leads per second over ``seconds`` of full-speed posting (after a short warm-up)."""
    post_all(url, key, lead_bodies(200, f"W{tag}"), clients)
    bodies = lead_bodies(int(seconds * 3000), tag)
    import threading

    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    started = time.perf_counter()
    timer.start()
    answers = post_all(url, key, bodies, clients, stop)
    took = time.perf_counter() - started
    ok = sum(a.status in (200, 201) for a in answers)
    bad = len(answers) - ok
    if bad:
        print(f"   ({bad} answers were not 2xx)")
    return ok / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"== API on SQLite, one process: {args.rounds} rounds of {args.seconds:.0f} s, "
          f"baseline and API alternating ==")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = Server("_baseline_app:app", factory=False, app_dir=str(PROJECT_ROOT / "benchmarks"),
                      env={"BASELINE_SQLITE": str(folder / "baseline.db")})
        url = f"sqlite:///{folder / 'api.db'}"
        key = seed(url, officer_rows(40))
        api = Server(env={"LEADROUTE_DATABASE_URL": url, "LEADROUTE_LOG_LEVEL": "WARNING"})
        base.start()
        api.start()
        try:
            baseline, ours, ratios = [], [], []
            for k in range(args.rounds):
                b = throughput(base.url, "none", args.seconds, args.clients, f"B{k}-")
                a = throughput(api.url, key, args.seconds, args.clients, f"A{k}-")
                baseline.append(b)
                ours.append(a)
                ratios.append(a / b)
                print(f"round {k + 1}: baseline {b:6.0f} req/s, API {a:6.0f} leads/s, "
                      f"ratio {a / b:.2f}")
            base.stop()
            n = int(args.rate * args.seconds)
            answers = post_at_rate(api.url, key, lead_bodies(n, "R"), args.rate)
        finally:
            base.stop()
            api.stop()
    ratio = statistics.median(ratios)
    lat = [a.seconds * 1000 for a in answers if a.status in (200, 201)]
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    print(f"baseline (bare insert)  {statistics.median(baseline):8.0f} req/s (median)")
    print(f"POST /v1/leads          {statistics.median(ours):8.0f} leads/s (median); ratio "
          f"{ratio:.2f}x baseline, median of rounds (target >= 0.4x: {verdict(ratio >= 0.4)})")
    print(f"at {args.rate:.0f} leads/s for {args.seconds:.0f} s: {len(lat)}/{len(answers)} "
          f"answered 2xx, p50 {p50:.1f} ms, p99 {p99:.1f} ms (target <= 50 ms: "
          f"{verdict(p99 <= 50)})")


if __name__ == "__main__":
    main()
