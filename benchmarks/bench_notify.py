"""Lead received to first notification handed to an SMTP server, under a 100 leads/s load,
and an SMTP outage during a load: every notice delivered once per delivery key, none lost.

The API runs under uvicorn (one process, SQLite, its worker and outbox delivery on); an
aiosmtpd server in this process takes the mail; leads are posted open loop (latency counted
from the moment each lead was due to go). Baseline, in the same run: one ``smtplib`` send to
the same server (the hand-off alone), so the ratio shows what routing, the outbox and the
poll add. Targets: p99 <= 1 s; after the outage 0 lost, 0 duplicates.
Retries in this run: backoff 1 s doubling to at most 8 s (LEADROUTE_OUTBOX_BACKOFF_*).
Run: ``python benchmarks/bench_notify.py [--rate 100] [--seconds 20] [--outage 120]``.
"""

from __future__ import annotations

import argparse
import smtplib
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from _common import verdict

from tests.api.load import percentile
from tests.api.notify_load import run
from tests.api.peers import SmtpPeer


def smtp_baseline(n: int = 200) -> list[float]:
    """Seconds per bare send on one kept connection to a local aiosmtpd server."""
    peer = SmtpPeer().up()
    out = []
    try:
        with smtplib.SMTP("127.0.0.1", peer.port) as smtp:
            for k in range(n):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "a@x.example", "b@x.example", str(k)
                msg.set_content("baseline")
                t = time.perf_counter()
                smtp.send_message(msg)
                out.append(time.perf_counter() - t)
    finally:
        peer.down()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--outage", type=float, default=120.0,
                        help="seconds the SMTP server is down (0: skip the outage run)")
    parser.add_argument("--outage-rate", type=float, default=50.0,
                        help="leads/s during the outage run")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    if not args.skip_latency:
        latency(args.rate, args.seconds)
    if args.outage > 0:
        outage(args.outage_rate, args.outage)


def latency(rate: float, seconds: float) -> None:
    base = smtp_baseline()
    b50 = percentile(base, 50) * 1000
    print(f"== baseline: one smtplib send to aiosmtpd: p50 {b50:.1f} ms, "
          f"p99 {percentile(base, 99) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp), rate=rate, seconds=seconds, outage=None)
    lat = [s * 1000 for s in r.first_notice_s]
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    print(f"== {rate:.0f} leads/s for {seconds:.0f} s: {r.posted} leads answered "
          f"2xx ({r.failed_posts} not), {len(lat)} first notices at the SMTP server")
    print(f"lead received -> first notice at SMTP: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max "
          f"{max(lat, default=float('nan')):.0f} ms (target p99 <= 1000 ms: "
          f"{verdict(p99 <= 1000)}); p50 is {p50 / b50:.0f}x the bare send")
    ans = [s * 1000 for s in r.answer_s]
    print(f"the POST alone (due -> answered): p50 {percentile(ans, 50):.0f} ms, p99 "
          f"{percentile(ans, 99):.0f} ms")


def outage(rate: float, down_s: float) -> None:
    seconds = down_s + 30
    with tempfile.TemporaryDirectory() as tmp:
        o = run(Path(tmp), rate=rate, seconds=seconds, outage=(10, down_s), settle_s=300)
    ok = o.sent == o.rows == o.keys_received and o.duplicates == 0 and o.missing == 0
    print(f"== SMTP down {down_s:.0f} s during {seconds:.0f} s at {rate:.0f} "
          f"leads/s: {o.posted} leads ({o.failed_posts} posts failed), {o.rows} notices, "
          f"{o.sent} sent, {o.keys_received} delivery keys received, {o.duplicates} "
          f"duplicates, {o.missing} lost; outbox empty {o.drained_s:.1f} s after the server "
          f"returned ({verdict(ok)})")


if __name__ == "__main__":
    main()
