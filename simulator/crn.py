"""Common random numbers: one SeedSequence per replication, one child per random stream.

Every policy in a replication sees the same lead stream and the same draws: per lead, the
uniforms of its outcome stages and closing time, and per (lead, officer) the factor of that
officer's response delay to that lead. A policy that sends a lead to the same officer at the
same moment as another policy gets exactly the same response and outcome, so differences
between policies come from the policies, not from noise.

Children are derived from the replication's SeedSequence by fixed spawn keys (not by calling
``spawn``, which counts how often it was called), so asking for a stream twice gives the same
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STREAMS = ("leads", "response", "outcomes", "closing", "exploration", "forecast")


@dataclass(frozen=True)
class ReplicationSeed:
    """The seed of one replication (``replication`` counts from 0)."""

    replication: int
    sequence: np.random.SeedSequence

    def child(self, stream: str) -> np.random.SeedSequence:
        """The SeedSequence of a named stream (one of STREAMS)."""
        if stream not in STREAMS:
            raise ValueError(f"unknown random stream {stream!r}; streams: {', '.join(STREAMS)}")
        seq = self.sequence
        return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key,
                                                               STREAMS.index(stream)))

    def rng(self, stream: str) -> np.random.Generator:
        """A fresh generator of a named stream (same numbers every time it is asked for)."""
        return np.random.default_rng(self.child(stream))


def replication_seeds(seed: int, replications: int) -> list[ReplicationSeed]:
    """The seeds of replications ``0..replications-1`` spawned from ``seed``."""
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    root = np.random.SeedSequence(seed)
    return [ReplicationSeed(k, s) for k, s in enumerate(root.spawn(replications))]


@dataclass(frozen=True)
class Draws:
    """The per-replication draws every policy shares.

    response_factor: (L, M) ``exp(within_sigma * z)``, z standard normal, row = lead index,
        column = officer index of the world's roster.
    busy_s: (L, M) extra seconds when the officer is tied up (0 otherwise).
    outcome_u: (L, 3) uniforms of contact-and-qualify, application and funding.
    close_u: (L,) uniform of the closing time.
    explore_u: (L, 2) uniforms of a logging policy's exploration at each lead's first
        placing decision (OPE runs only).
    explore_seed: seed of the uniforms of later placing decisions of a lead (after an SLA
        time-out), drawn in order by each run from a generator of its own: every decision
        explores independently of the lead's earlier ones, as its propensity says.
    """

    response_factor: np.ndarray
    busy_s: np.ndarray
    outcome_u: np.ndarray
    close_u: np.ndarray
    explore_u: np.ndarray
    explore_seed: int = 0

    @classmethod
    def make(cls, seed: ReplicationSeed, n_leads: int, n_officers: int, within_sigma: float,
             busy_probability: float = 0.0, busy_mean_s: float = 1.0) -> Draws:
        rng = seed.rng("response")
        z = rng.standard_normal((n_leads, n_officers))
        busy = rng.random((n_leads, n_officers)) < busy_probability
        extra = rng.exponential(busy_mean_s, (n_leads, n_officers))
        explore = seed.rng("exploration")
        return cls(np.exp(within_sigma * z), np.where(busy, extra, 0.0),
                   seed.rng("outcomes").random((n_leads, 3)), seed.rng("closing").random(n_leads),
                   explore.random((n_leads, 2)), int(explore.integers(1 << 62)))
