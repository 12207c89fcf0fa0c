"""The conversion model: p(target outcome | lead, officer), calibrated, for whole rosters.

``ConversionModel`` follows scikit-learn's conventions (``__init__`` stores parameters, ``fit``
learns trailing-underscore attributes and returns self) but fits on a ``History`` rather than
an ``(X, y)`` pair, because half of its features are the officers' own records, learned from the
history itself:

* the officer's record features are computed out-of-fold during training (rows in fold f see
  counts from the other folds only), so a row's own outcome never leaks into its features;
* the full-history counts are kept for prediction, keyed by officer id and team name, so a new
  officer (or one who changed team) starts at the team's and then the population's rate.

A routing policy asks for the whole leads x officers matrix at once::

    p = model.predict_matrix(leads, roster, open_leads=state.open_leads, now=now)  # (L, M)

or ``predict_for_state(leads, roster, state, now)``, which lines the state up with the roster.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from engine.domain import Lead
from engine.errors import InputError, Problem
from engine.roster import Roster, zone
from engine.scoring.features import (
    HistoryStats,
    LeadBlock,
    OfficerTables,
    Timing,
    Vocabulary,
    assemble,
    feature_names,
    officer_local_clock,
    wait_to_shift_s,
)
from engine.scoring.history import DEFAULT_TARGET, History
from engine.scoring.pipeline import BoostingParams, build_pipeline
from engine.state import RoutingState

# Batches up to this many rows are scored, and histories up to this size fitted, on one
# OpenMP thread: at that size the fork/join per tree (and its spin-waits when another process
# holds a core, which turned a 2 s fit into 30 s on a shared 2-core machine) costs more than
# the second thread saves.
SINGLE_THREAD_MAX_ROWS = 20_000


@cache
def _threadpool_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _threads_for(rows: int) -> AbstractContextManager[Any]:
    if rows > SINGLE_THREAD_MAX_ROWS:
        return nullcontext()
    return _threadpool_controller().limit(limits=1, user_api="openmp")


class ConversionModel(BaseEstimator):
    """Calibrated probability that a lead reaches ``target`` (default: funded) with an officer.

    Parameters
    ----------
    target
        Outcome column to predict: ``contacted``, ``application``, ``funded`` or ``lost``.
    estimator
        ``"hgb"`` (gradient-boosted trees) or ``"logistic"``.
    calibration
        ``"isotonic"`` or ``"sigmoid"``; ``engine.scoring.training.train_model`` can choose
        between them on a time-ordered holdout.
    ipw
        Weight each history row by the inverse of its logged propensity, clipped at
        ``ipw_clip``, so pairs the logging policy rarely made count as much as the data allow
        (see docs/scoring.md, "Selection bias").
    stat_folds
        Folds for the out-of-fold officer-record features.
    calibration_folds
        Folds for the calibrator's out-of-fold predictions.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Size of the gradient-boosted model (``BoostingParams``).
    """

    def __init__(self, *, target: str = DEFAULT_TARGET, estimator: str = "hgb",
                 calibration: str = "isotonic", ipw: bool = False, ipw_clip: float = 20.0,
                 stat_folds: int = 5, calibration_folds: int = 5, max_iter: int = 60,
                 learning_rate: float = 0.2, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 40, l2_regularization: float = 1.0) -> None:
        self.target = target
        self.estimator = estimator
        self.calibration = calibration
        self.ipw = ipw
        self.ipw_clip = ipw_clip
        self.stat_folds = stat_folds
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization

    # -- fitting ---------------------------------------------------------------------------

    def training_matrix(self, history: History, rng: np.random.Generator
                        ) -> tuple[np.ndarray, Vocabulary, HistoryStats]:
        """(N, F) training features with out-of-fold officer records, the vocabulary, and the
        full-history counts that prediction uses."""
        if self.stat_folds < 2:
            raise ValueError(f"stat_folds must be at least 2, got {self.stat_folds}")
        history = history.with_target(self.target)
        roster = history.roster
        n = len(history)
        vocab = Vocabulary.fit(history.leads)
        block = LeadBlock.build(history.leads, vocab)
        rows = np.arange(n)
        hours, minutes = officer_local_clock(history.assigned_s, history.officer_idx, roster)
        # a logged row's decision time is its assigned_at
        timing = Timing.at(history.assigned_s, block, rows, history.officer_idx, roster,
                           minutes)
        y = history.y
        reached = history.outcomes["contacted"].astype(bool)
        folds = rng.permutation(n) % self.stat_folds
        x = np.empty((n, len(feature_names(vocab))))
        n_sources = len(vocab.sources)

        def stats(keep: np.ndarray) -> HistoryStats:
            return HistoryStats.fit(roster, history.officer_idx[keep], y[keep], block, rows[keep],
                                    hours[keep], history.delay_s[keep],
                                    history.open_leads[keep], n_sources, reached[keep])

        for f in range(self.stat_folds):
            held = folds == f
            tables = stats(~held).bind(roster)
            x[held] = assemble(block, rows[held], history.officer_idx[held], tables, hours[held],
                               history.open_leads[held], timing.take(held))
        return x, vocab, stats(np.ones(n, dtype=bool))

    def sample_weight(self, history: History) -> np.ndarray | None:
        """(N,) inverse-propensity weights clipped at ``ipw_clip`` and scaled to mean 1, or
        None when ``ipw`` is off."""
        if not self.ipw:
            return None
        if self.ipw_clip < 1:
            raise ValueError(f"ipw_clip must be at least 1, got {self.ipw_clip}")
        w = np.minimum(1.0 / history.propensity, self.ipw_clip)
        return np.asarray(w / w.mean())

    def fit(self, history: History, rng: np.random.Generator | None = None) -> ConversionModel:
        """Learn from ``history`` (read against its roster). ``rng`` drives the fold splits and
        the boosting's validation split; the default is a fixed seed."""
        rng = rng if rng is not None else np.random.default_rng(0)
        history = history.with_target(self.target)
        y = history.y
        need = max(self.calibration_folds, self.stat_folds)
        for value in (1, 0):
            found = int((y == value).sum())
            if found < need:
                raise InputError(Problem(
                    self.target, f"{found} of {len(y)} rows with {self.target}={value}",
                    f"the model needs at least {need} rows with each outcome (one per fold of "
                    "the calibration and of the officer records) to learn from", history.source))
        x, vocab, stats = self.training_matrix(history, rng)
        pipeline = build_pipeline(
            x.shape[1], estimator=self.estimator,  # type: ignore[arg-type]
            calibration=self.calibration,  # type: ignore[arg-type]
            calibration_folds=self.calibration_folds,
            boosting=BoostingParams(self.max_iter, self.learning_rate, self.max_leaf_nodes,
                                    self.min_samples_leaf, self.l2_regularization),
            random_state=int(rng.integers(2**31 - 1)),
        )
        weight = self.sample_weight(history)
        with _threads_for(len(x)):
            if weight is None:
                pipeline.fit(x, y)
            else:
                pipeline.fit(x, y, calibrated__sample_weight=weight)
        self.pipeline_: Pipeline = pipeline
        self.vocabulary_ = vocab
        self.stats_ = stats
        self.feature_names_: tuple[str, ...] = feature_names(vocab)
        self.n_train_ = len(history)
        self.base_rate_ = float(y.mean())
        self.training_window_ = (float(history.assigned_s.min()),
                                 float(history.assigned_s.max()))
        self.excluded_columns_ = history.excluded_columns
        # a few training rows kept to check, after loading, that the saved pipeline still
        # gives the probabilities it gave when saved (same libraries, same model)
        self.probe_x_ = x[np.sort(rng.choice(len(x), size=min(64, len(x)), replace=False))]
        self._bound: tuple[Roster, OfficerTables] | None = None
        self._enable_lean_path(self.probe_x_)
        return self

    # -- prediction ------------------------------------------------------------------------

    def tables_for(self, roster: Roster) -> OfficerTables:
        """Officer-side feature blocks for ``roster``, computed on first use and kept until a
        different roster object is scored (a Roster is immutable once built)."""
        bound = getattr(self, "_bound", None)
        if bound is not None and bound[0] is roster:
            return bound[1]
        tables = self.stats_.bind(roster)
        self._bound = (roster, tables)
        return tables

    def _proba(self, x: np.ndarray) -> np.ndarray:
        """(P,) calibrated probabilities for a feature matrix (P, F)."""
        with _threads_for(len(x)):
            lean = getattr(self, "_lean", None)
            if lean is not None and len(x) <= SINGLE_THREAD_MAX_ROWS:
                columns, classifier, calibrator = lean
                z = x if columns is None else columns.transform(x)
                return np.clip(calibrator.predict(classifier.decision_function(z)), 0.0, 1.0)
            return np.asarray(self.pipeline_.predict_proba(x)[:, 1])

    @property
    def uses_shortcut(self) -> bool:
        """Whether small batches skip the Pipeline plumbing (see ``_enable_lean_path``)."""
        return getattr(self, "_lean", None) is not None

    def _enable_lean_path(self, probe: np.ndarray) -> None:
        """Score small batches through the fitted parts directly: the inner column transform
        (none for a pure passthrough), the classifier's decision function and the one
        calibrator (``ensemble=False`` leaves exactly one), which is what
        ``CalibratedClassifierCV`` computes for two classes without the per-call plumbing
        (label encoding, response-method lookup, wrappers: about a millisecond, a third of
        the budget for a thousand officers on a busy machine). Enabled only if it reproduces
        ``pipeline_.predict_proba`` on the ``probe`` rows to 1e-12, so a library change that
        alters the computation turns the shortcut off rather than changing the numbers."""
        self._lean: tuple[Any, Any, Any] | None = None
        columns_step, calibrated_step = self.pipeline_[0], self.pipeline_[-1]
        pairs = calibrated_step.calibrated_classifiers_
        if len(pairs) != 1 or len(pairs[0].calibrators) != 1:
            return
        classifier = pairs[0].estimator
        if not hasattr(classifier, "decision_function"):
            return
        inner = columns_step.named_transformers_["features"]
        passthrough = isinstance(inner, str) and inner == "passthrough"
        self._lean = (None if passthrough else inner, classifier, pairs[0].calibrators[0])
        with _threads_for(len(probe)):
            full = self.pipeline_.predict_proba(probe)[:, 1]
        # BLAS may order a dot product differently for the two memory layouts, so allow for
        # the last bits; anything more means the shortcut is not the same computation
        if not np.allclose(self._proba(probe), full, rtol=1e-12, atol=1e-15):
            self._lean = None

    def predict_matrix(self, leads: Sequence[Lead], roster: Roster,
                       open_leads: np.ndarray | None = None,
                       now: datetime | None = None) -> np.ndarray:
        """(L, M) probabilities of ``target`` for every lead with every officer of ``roster``.

        ``open_leads`` (M,) is each officer's current open leads, aligned with ``roster.ids``
        (default: the median load in the training history). ``now`` is the decision time
        (timezone-aware, required): the lead's age (``now - received_at``, 0 for a lead
        stamped later than ``now``), each officer's local hour and wait until their shift,
        and the borrower's local hour and weekday are read at it. Eligibility is not applied
        here: the caller masks officers who cannot take a lead.
        """
        if now is None or now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(
                "now must be the decision time, timezone-aware (the lead's age and the "
                f"officers' hours are read at it); got {now!r}")
        tables = self.tables_for(roster)
        n_leads, m = len(leads), len(roster)
        if n_leads == 0 or m == 0:
            return np.zeros((n_leads, m))
        block = LeadBlock.build(leads, self.vocabulary_)
        if open_leads is None:
            load = np.full(m, tables.default_open_leads)
        else:
            load = np.asarray(open_leads, dtype=float)
            if load.shape != (m,):
                raise ValueError(
                    f"open_leads must have shape ({m},), one per roster officer; got {load.shape}")
        now_s = now.timestamp()
        minute0, _, clock_hour = roster.local_clock(now)
        hours = np.tile(clock_hour % 24, n_leads)
        # the moment: one value per lead or per officer, laid out like the pairs below
        local = [now.astimezone(zone(lead.timezone)) for lead in leads]
        timing = Timing(
            age_s=np.repeat(np.maximum(now_s - block.received_s, 0.0), m),
            shift_wait_s=np.tile(wait_to_shift_s(roster, roster.positions, minute0), n_leads),
            borrower_hour=np.repeat([t.hour + t.minute / 60.0 for t in local], m),
            borrower_weekday=np.repeat([t.weekday() for t in local], m))
        lead_rows = np.repeat(np.arange(n_leads), m)
        officer_rows = np.tile(np.arange(m), n_leads)
        x = assemble(block, lead_rows, officer_rows, tables, hours, np.tile(load, n_leads),
                     timing)
        return self._proba(x).reshape(n_leads, m)

    def predict_for_state(self, leads: Sequence[Lead], roster: Roster, state: RoutingState,
                          now: datetime | None = None) -> np.ndarray:
        """(L, M) probabilities using the open-lead counts of ``state`` (re-laid onto the
        roster's officer order when the state was built for another list)."""
        aligned = state.for_officers(roster.ids_tuple)
        return self.predict_matrix(leads, roster, aligned.open_leads, now)

    def predict_history(self, history: History) -> np.ndarray:
        """(N,) probabilities for the logged pairs of ``history`` (lead i with the officer who
        got it, at that officer's load and local hour of assignment), using this model's
        counts: for evaluation on rows the model was not trained on."""
        roster = history.roster
        tables = self.tables_for(roster)
        block = LeadBlock.build(history.leads, self.vocabulary_)
        rows = np.arange(len(history))
        hours, minutes = officer_local_clock(history.assigned_s, history.officer_idx, roster)
        timing = Timing.at(history.assigned_s, block, rows, history.officer_idx, roster,
                           minutes)
        x = assemble(block, rows, history.officer_idx, tables, hours, history.open_leads,
                     timing)
        return self._proba(x)

    # -- persistence (see engine.scoring.persistence) -------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Plain data for skops: parameters, the fitted pipeline, counts and vocabulary."""
        return {
            "params": self.get_params(),
            "pipeline": self.pipeline_,
            "vocabulary": {"sources": list(self.vocabulary_.sources),
                           "languages": list(self.vocabulary_.languages)},
            "stats": self.stats_.to_state(),
            "feature_names": list(self.feature_names_),
            "n_train": self.n_train_,
            "base_rate": self.base_rate_,
            "training_window": list(self.training_window_),
            "excluded_columns": list(self.excluded_columns_),
            "probe": {"x": self.probe_x_, "p": self.pipeline_.predict_proba(self.probe_x_)[:, 1]},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConversionModel:
        model = cls(**state["params"])
        model.pipeline_ = state["pipeline"]
        vocab = state["vocabulary"]
        model.vocabulary_ = Vocabulary(tuple(vocab["sources"]), tuple(vocab["languages"]))
        model.stats_ = HistoryStats.from_state(state["stats"])
        model.feature_names_ = tuple(state["feature_names"])
        model.n_train_ = int(state["n_train"])
        model.base_rate_ = float(state["base_rate"])
        start, end = state["training_window"]
        model.training_window_ = (float(start), float(end))
        model.excluded_columns_ = tuple(state["excluded_columns"])
        model.probe_x_ = np.asarray(state["probe"]["x"], dtype=float)
        model._bound = None
        model._enable_lean_path(model.probe_x_)
        return model
