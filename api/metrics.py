"""Prometheus metrics (``GET /metrics``): leads routed, decision latency, notices sent and
failed, and the outbox backlog.

Counters and the histogram live in this process. Several server processes (uvicorn
``--workers``) each count their own unless ``PROMETHEUS_MULTIPROC_DIR`` names an empty
directory shared by them, set before they start: then prometheus-client keeps the values in
files there and ``/metrics`` adds up every process's (its multiprocess mode). The backlog is
read from the database at each scrape, so every process reports the same figure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

disable_created_metrics()  # no *_created series: a scrape shows the counts alone
REGISTRY = CollectorRegistry(auto_describe=True)

LEADS_ROUTED = Counter("leadroute_leads_routed", "New leads stored and routed, by the status "
                       "their first decision gave them", ["status"], registry=REGISTRY)
DECISION_SECONDS = Histogram(
    "leadroute_decision_seconds", "Time to route one new lead inside its transaction "
    "(decision, lifecycle effects, history and outbox rows)", registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
NOTICES_SENT = Counter("leadroute_notifications_sent", "Notices a channel took, by channel",
                       ["channel"], registry=REGISTRY)
NOTICE_FAILURES = Counter("leadroute_notification_failures", "Failed channel attempts, by "
                          "channel (the notice falls back or is retried)", ["channel"],
                          registry=REGISTRY)
NOTICE_DELAY_SECONDS = Histogram(
    "leadroute_notification_delay_seconds", "From the offer (the outbox row written) to a "
    "channel taking its notice, retries included", registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0))
NOTICES_DEAD = Counter("leadroute_notifications_dead", "Notices given up after the last "
                       "round of retries", registry=REGISTRY)


class _Backlog:
    """The outbox rows by status, as counted in the database at scrape time."""

    def __init__(self, counts: dict[str, int], oldest_s: float) -> None:
        self.counts, self.oldest_s = counts, oldest_s

    def collect(self) -> Iterator[Metric]:
        g = GaugeMetricFamily("leadroute_outbox_backlog", "Outbox notices not yet delivered, "
                              "by status (pending, sending; dead ones are given up)",
                              labels=["status"])
        for status in ("pending", "sending", "dead"):
            g.add_metric([status], self.counts.get(status, 0))
        yield g
        yield GaugeMetricFamily("leadroute_outbox_oldest_pending_seconds", "Age of the "
                                "oldest notice waiting to be delivered", value=self.oldest_s)


class _Union:
    def __init__(self, parts: Iterable[Any]) -> None:
        self.parts = list(parts)

    def collect(self) -> Iterator[Metric]:
        for p in self.parts:
            yield from p.collect()


def render(backlog: dict[str, int], oldest_s: float) -> bytes:
    """The exposition text: this process's metrics (or every process's, in multiprocess
    mode) and the backlog."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        MultiProcessCollector(base)
    else:
        base = REGISTRY
    return generate_latest(_Union([base, _Backlog(backlog, oldest_s)]))
