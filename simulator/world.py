"""The ground truth of a simulated world: hidden officer traits and the conversion function.

p(funded | lead l, officer o, delay t) = contact(l, t) x application(l, o) x funding(l):

- contact(l, t): the best-case contact-and-qualify probability of the lead's source, its odds
  multiplied by the response decay ``g(t)`` (``simulator.decay``), t counted from arrival;
- application(l, o): the purpose's base rate x credit multiplier x the officer's hidden skill
  x their specialty multiplier when the loan is their specialty x their multiplier for the
  lead's source x the language match, capped;
- funding(l): the program's funding rate.

Officer traits are drawn once per world from ``WorldParams.seed``: skills at evenly spaced
log-normal quantiles (so the spread is the same in every world), shuffled; response medians
likewise; source multipliers log-normal. Departures become time off from the leaving moment
on, so the engine sees a leaver exactly as it sees someone away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from scipy.stats import norm

from engine.domain import AwayPeriod, Lead, Officer
from engine.roster import Roster
from engine.state import RoutingState
from simulator.clock import OfficerClock
from simulator.errors import ParamError
from simulator.outcome import ApplicationModel, load_application_model
from simulator.params import PROGRAMS, Departure, WorldParams

# specialty -> the loan program it covers (jumbo and first-time buyer are lead facts instead)
SPECIALTY_PROGRAM = {"va": "va", "fha": "fha", "usda": "usda", "non_qm": "non_qm",
                     "reverse": "reverse"}


def quantile_spread(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) ``exp(sigma * z)`` at evenly spaced standard-normal quantiles, shuffled."""
    z = norm.ppf((np.arange(n) + 0.5) / n)
    return np.exp(sigma * rng.permutation(z))


@dataclass(frozen=True)
class OfficerTraits:
    """Hidden traits, one row per officer of the roster (same order).

    skill: (M,) overall multiplier of the application stage.
    program_mult: (M, P) multiplier by loan program (PROGRAMS order).
    jumbo_mult, first_time_mult: (M,) multipliers on jumbo loans and first-time buyers.
    sources: source names of ``source_mult`` columns; source_mult: (M, S).
    median_response_s: (M,) median response delay, s.
    latency_s: (M,) notification delay of the officer's fastest channel, s.
    """

    skill: np.ndarray
    program_mult: np.ndarray
    jumbo_mult: np.ndarray
    first_time_mult: np.ndarray
    sources: tuple[str, ...]
    source_mult: np.ndarray
    median_response_s: np.ndarray
    latency_s: np.ndarray


@dataclass(frozen=True)
class LeadFeatures:
    """What the truth needs of each lead, columnar ((L,) arrays, lead order).

    contact_base: best-case contact-and-qualify probability (source).
    application_base: purpose rate x credit multiplier.
    funding: funding rate of the program.
    program: index into PROGRAMS; source: index into ``OfficerTraits.sources`` (-1 unknown).
    """

    contact_base: np.ndarray
    application_base: np.ndarray
    funding: np.ndarray
    program: np.ndarray
    source: np.ndarray
    language: np.ndarray
    jumbo: np.ndarray
    first_time: np.ndarray
    state: np.ndarray
    leads: tuple[Lead, ...] = ()  # the leads themselves (a fitted world's model reads them)

    def __len__(self) -> int:
        return len(self.contact_base)


class World:
    """Officers (the roster the engine routes to, departures included), their hidden traits
    and the ground-truth conversion function."""

    def __init__(self, params: WorldParams, roster: Roster, traits: OfficerTraits,
                 departures: tuple[tuple[str, datetime], ...] = (),
                 fitted: ApplicationModel | None = None, member: int = 0) -> None:
        self.params = params
        self.roster = roster
        self.traits = traits
        self.departures = departures
        self.decay = params.decay
        self.fitted = fitted  # kind fitted: the application stage's model
        self.member = member  # its bootstrap member in use
        self._speaks: dict[str, np.ndarray] = {}

    def for_replication(self, replication: int) -> World:
        """The world of one replication: a fitted world uses bootstrap member
        ``replication mod B`` (so replications carry the fit's uncertainty); a world of hidden
        truth is the same in every replication."""
        if self.fitted is None:
            return self
        return World(self.params, self.roster, self.traits, self.departures, self.fitted,
                     replication % self.fitted.members)

    @classmethod
    def build(cls, params: WorldParams, officers: Sequence[Officer],
              departures: Sequence[Departure] = (), sources: Sequence[str] = ()) -> World:
        """Draw the hidden traits of ``officers`` from ``params.seed`` and apply departures.
        ``sources`` are the lead sources to draw per-officer source multipliers for (the
        conversion table's sources are always included)."""
        rng = np.random.default_rng(np.random.SeedSequence(params.seed))
        m = len(officers)
        if m == 0:
            raise ParamError("roster", "the world needs at least one officer")
        ids = [o.officer_id for o in officers]
        skills = params.skills
        skill = quantile_spread(m, skills.sigma, rng)
        medians = params.response.median_s * quantile_spread(m, params.response.officer_sigma, rng)
        source_names = tuple(dict.fromkeys([*params.conversion.contact_rate_by_source, *sources]))
        source_mult = np.exp(rng.normal(0.0, skills.source_sigma, (m, len(source_names))))
        program_mult = np.ones((m, len(PROGRAMS)))
        jumbo = np.ones(m)
        first_time = np.ones(m)
        for i, officer in enumerate(officers):
            for spec in officer.specialties:
                if spec.value in SPECIALTY_PROGRAM:
                    program_mult[i, PROGRAMS.index(SPECIALTY_PROGRAM[spec.value])] = \
                        skills.specialty_multiplier
                elif spec.value == "jumbo":
                    jumbo[i] = skills.specialty_multiplier
                elif spec.value == "first_time_buyer":
                    first_time[i] = skills.specialty_multiplier
        for oid, override in skills.overrides.items():
            if oid not in ids:
                raise ParamError(f"skills.overrides.{oid}", "is not an officer on the roster")
            i = ids.index(oid)
            if override.skill is not None:
                skill[i] = override.skill
            for prog, value in override.programs.items():
                program_mult[i, PROGRAMS.index(prog)] = value
            for src, value in override.sources.items():
                if src not in source_names:
                    raise ParamError(f"skills.overrides.{oid}.sources.{src}",
                                     f"unknown source; sources: {', '.join(source_names)}")
                source_mult[i, source_names.index(src)] = value
            if override.median_response_s is not None:
                medians[i] = override.median_response_s
        latency_table = params.response.notification_latency_s
        latency = np.array([min((latency_table.get(ch.value, 0.0) for ch in o.notify),
                                default=0.0) for o in officers])
        traits = OfficerTraits(skill, program_mult, jumbo, first_time, source_names, source_mult,
                               medians, latency)
        fitted = None
        if params.kind == "fitted" and params.application_model is not None:
            fitted = load_application_model(params.application_model)

        # departures: time off from the leaving moment to long after any simulation
        by_rank = [ids[k] for k in np.argsort(-skill, kind="stable")]
        officers = list(officers)
        resolved: list[tuple[str, datetime]] = []
        for k, dep in enumerate(departures):
            if dep.skill_rank is not None:
                if dep.skill_rank > m:
                    raise ParamError(f"departures[{k}].skill_rank",
                                     f"only {m} officers; got rank {dep.skill_rank}")
                oid = by_rank[dep.skill_rank - 1]
            else:
                oid = dep.officer_id
                if oid not in ids:
                    raise ParamError(f"departures[{k}].officer_id", f"{oid!r} is not on the roster")
            i = ids.index(oid)
            leave = AwayPeriod(dep.at, dep.at + timedelta(days=3650))
            officers[i] = replace(officers[i], away=(*officers[i].away, leave))
            resolved.append((oid, dep.at))
        return cls(params, Roster(officers), traits, tuple(resolved), fitted)

    # -- leads -------------------------------------------------------------------------------

    def features(self, leads: Sequence[Lead]) -> LeadFeatures:
        """The truth's inputs for ``leads``."""
        conv = self.params.conversion
        n = len(leads)
        src_index = {s: k for k, s in enumerate(self.traits.sources)}
        contact = np.empty(n)
        app = np.empty(n)
        fund = np.empty(n)
        program = np.empty(n, dtype=np.int64)
        source = np.empty(n, dtype=np.int64)
        language = np.empty(n, dtype=object)
        jumbo = np.zeros(n, dtype=bool)
        first_time = np.zeros(n, dtype=bool)
        state = np.empty(n, dtype=object)
        for i, lead in enumerate(leads):
            contact[i] = conv.contact_rate_by_source.get(lead.source, conv.default_contact_rate)
            app[i] = conv.application_rate_by_purpose[lead.loan_purpose.value] * \
                conv.credit_multiplier(lead.credit_score)
            fund[i] = conv.funding_rate_by_program[lead.loan_program.value]
            program[i] = PROGRAMS.index(lead.loan_program.value)
            source[i] = src_index.get(lead.source, -1)
            language[i] = lead.language
            jumbo[i] = bool(lead.is_jumbo)
            first_time[i] = bool(lead.first_time_buyer)
            state[i] = lead.state
        if self.fitted is not None:  # this member's contact and funding stages (the fit's
            # uncertainty)
            contact = np.minimum(contact * self.fitted.multiplier("contact", self.member), 1.0)
            fund = np.minimum(fund * self.fitted.multiplier("funding", self.member), 1.0)
        return LeadFeatures(contact, app, fund, program, source, language, jumbo, first_time,
                            state, tuple(leads))

    def speaks(self, language: str) -> np.ndarray:
        """(M,) bool: officers who speak ``language``."""
        found = self._speaks.get(language)
        if found is None:
            found = np.array([language in o.languages for o in self.roster.officers])
            self._speaks[language] = found
        return found

    def application_matrix(self, f: LeadFeatures) -> np.ndarray:
        """(L, M) probability that a qualified lead applies with each officer."""
        conv = self.params.conversion
        if self.fitted is not None:
            if len(f.leads) != len(f):
                raise RuntimeError("internal invariant broken: a fitted world needs the leads "
                                   "of its features (World.features)")
            a = self.fitted.matrix(f.leads, self.roster.officers, self.member)
            return np.minimum(a, conv.max_application_probability)
        t = self.traits
        spec = t.program_mult[:, f.program].T  # (L, M)
        spec = np.maximum(spec, np.where(f.jumbo[:, None], t.jumbo_mult[None, :], 1.0))
        spec = np.maximum(spec, np.where(f.first_time[:, None], t.first_time_mult[None, :], 1.0))
        src = np.ones((len(f), len(t.skill)))
        known = f.source >= 0
        src[known] = t.source_mult[:, f.source[known]].T
        lang = np.ones((len(f), len(t.skill)))
        for language in np.unique(f.language):
            if language == "en":
                continue
            rows = f.language == language
            lang[rows] = np.where(self.speaks(str(language)), conv.language_match_multiplier,
                                  conv.language_mismatch_multiplier)[None, :]
        a = f.application_base[:, None] * t.skill[None, :] * spec * src * lang
        return np.minimum(a, conv.max_application_probability)

    def value_matrix(self, f: LeadFeatures) -> np.ndarray:
        """(L, M) p(funded | lead, officer) for contact within 5 minutes and no competitor:
        application x funding. Multiply by the contact stage for the real delay."""
        return self.application_matrix(f) * f.funding[:, None]

    def contact_probability(self, base: float, delay_s: float) -> float:
        return self.decay.contact_probability(base, delay_s)

    def skill_order(self) -> np.ndarray:
        """Officer indices from the most to the least skilled (hidden skill)."""
        return np.argsort(-self.traits.skill, kind="stable")


class AssignmentTruth:
    """The world's probability of funding known at an assignment: lead ``i`` notified to
    officer ``o`` at a moment, before the officer's response is drawn.

    The simulation draws the response as ``until_start + median x factor + busy`` (factor
    log-normal with ``within_sigma``; with ``busy_probability`` an extra exponential time of
    mean ``busy_mean_s``). This is the expectation of the true p(funded) over both draws, on
    a grid of equally likely values of each (``factor_points`` quantiles of the log-normal,
    ``busy_points`` of the exponential), so it is what a perfect model could know at the
    moment of assignment: lead, officer, the lead's wait so far, the officer's shift and load,
    and the expected response.

    A history row exists only because its officer answered before the offer's accept-by
    time (otherwise the lead was taken back and went to someone else), so the expectation can
    be taken over the responses that beat that deadline (``answered_within_s``).
    """

    def __init__(self, world: World, factor_points: int = 48, busy_points: int = 24) -> None:
        response = world.params.response
        z = norm.ppf((np.arange(factor_points) + 0.5) / factor_points)
        factor = np.exp(response.within_sigma * z)
        busy = response.busy_probability
        if busy > 0:
            u = (np.arange(busy_points) + 0.5) / busy_points
            extra = np.concatenate(([0.0], -response.busy_mean_s * np.log1p(-u)))
            w_extra = np.concatenate(([1.0 - busy], np.full(busy_points, busy / busy_points)))
        else:
            extra, w_extra = np.zeros(1), np.ones(1)
        self.decay = world.decay
        self._factor = factor[:, None]  # (K, 1)
        self._extra = extra[None, :]  # (1, B)
        self._w = np.full((factor_points, 1), 1.0 / factor_points) * w_extra[None, :]

    def p_funded(self, value: float, contact_base: float, waited_s: float, median_s: float,
                 answered_within_s: float = math.inf) -> float:
        """Expected p(funded) for a lead worth ``value`` (application x funding with this
        officer) and best-case contact ``contact_base``, when the officer starts answering
        ``waited_s`` seconds after the lead arrived and answers ``median_s`` x the log-normal
        factor (plus the busy tail) later; only responses within ``answered_within_s`` of
        that start count (none does: the unconditional expectation)."""
        if math.isinf(waited_s) or math.isinf(median_s):
            return 0.0
        response = median_s * self._factor + self._extra  # (K, B)
        w = self._w
        if math.isfinite(answered_within_s):
            kept = np.where(response <= answered_within_s, w, 0.0)
            if kept.sum() > 0:
                w = kept
        q = self.decay.contact_probabilities(np.asarray(contact_base), waited_s + response)
        return float(value * (q * w).sum() / w.sum())

    def p_funded_many(self, value: np.ndarray, contact_base: np.ndarray, waited_s: np.ndarray,
                      median_s: np.ndarray, answered_within_s: np.ndarray,
                      chunk: int = 256) -> np.ndarray:
        """``p_funded`` of many assignments at once ((N,) arrays, one row each), chunk by
        chunk: the same arithmetic element by element and the same sums, so each value is
        the one ``p_funded`` returns."""
        value, base, waited, median, within = (
            np.asarray(a, dtype=float) for a in (value, contact_base, waited_s, median_s,
                                                 answered_within_s))
        out = np.zeros(len(value))
        live = np.flatnonzero(~(np.isinf(waited) | np.isinf(median)))
        cells = self._w.size
        for lo in range(0, len(live), chunk):
            rows = live[lo:lo + chunk]
            response = median[rows, None, None] * self._factor + self._extra  # (n, K, B)
            w = np.broadcast_to(self._w, response.shape)
            limit = within[rows, None, None]
            kept = np.where(response <= limit, w, 0.0)
            use = np.isfinite(within[rows]) & (kept.reshape(len(rows), cells).sum(axis=1) > 0)
            w = np.where(use[:, None, None], kept, w)
            q = self.decay.contact_probabilities(base[rows, None, None],
                                                 waited[rows, None, None] + response)
            num = (q * w).reshape(len(rows), cells).sum(axis=1)
            den = w.reshape(len(rows), cells).sum(axis=1)
            out[rows] = value[rows] * num / den
        return out


class OracleScorer:
    """The world's true conversion probabilities as a ``engine.policies.Scorer``: for each
    (lead, officer), p(funded) if the officer were notified now, averaged over their response
    delay (current load and local hour; 5-point Gauss-Hermite over the log-normal spread, the
    busy tail counted at its mean).
    Scoring methods routed with it show what perfect estimates would be worth."""

    _nodes, _weights = np.polynomial.hermite.hermgauss(5)
    AHEAD = 512  # arrival moments computed together with one (``_officers_at``)

    def __init__(self, world: World, leads: Sequence[Lead], features: LeadFeatures,
                 value: np.ndarray, arrival_s: np.ndarray, clock: OfficerClock) -> None:
        self.world = world
        self.features = features
        self.value = value
        self.arrival_s = arrival_s
        self.clock = clock
        self.index = {lead.lead_id: i for i, lead in enumerate(leads)}
        response = world.params.response
        spread = np.exp(response.within_sigma * np.sqrt(2.0) * self._nodes)
        w = self._weights / np.sqrt(np.pi)
        # the response at each quadrature node: median x spread, plus the busy tail's mean
        # with its probability (one decay evaluation for both)
        busy = response.busy_probability
        self._offsets = spread
        self._w = w
        if busy > 0:
            self._offsets = np.concatenate((spread, spread))
            self._w = np.concatenate(((1.0 - busy) * w, busy * w))
            self._busy_s = np.concatenate((np.zeros(len(spread)),
                                           np.full(len(spread), response.busy_mean_s)))
        else:
            self._busy_s = np.zeros(len(spread))
        self._at: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._arrivals: np.ndarray | None = None  # the stream's arrival moments, sorted
        self._hour_mult = np.array(response.hour_multipliers)
        self._officers = np.arange(len(world.roster))
        self._cache: dict[str, tuple[np.ndarray, float, float]] = {}

    def score(self, leads: Sequence[Lead], roster: Roster, state: RoutingState,
              now: datetime) -> np.ndarray:
        """(L, M) probabilities for ``leads`` notified at ``now``."""
        t_s = (now - self.clock.start).total_seconds()
        if len(leads) == 1 and self.world.decay.competitor is None:
            i = self.index.get(leads[0].lead_id)
            if i is not None:
                return self._one(i, t_s, state)[None, :]
        rows = [self.index.get(lead.lead_id, -1) for lead in leads]
        if min(rows, default=0) < 0:  # leads of a forecast, not of the stream
            value, base, received = self._outside(leads)
            waited = np.maximum(t_s - received, 0.0)
        else:
            idx = np.array(rows)
            value = self.value[idx]
            base = self.features.contact_base[idx]
            waited = np.maximum(t_s - self.arrival_s[idx], 0.0)
        until_start, median = self._officers_at(t_s)
        median = median * (1.0 + self.world.params.response.load_slope * state.open_leads)
        # delay from now: until the officer starts + their response, at each node of the
        # spread (and each again with the busy tail added); from arrival, plus the wait
        grid = until_start[:, None] + median[:, None] * self._offsets + self._busy_s  # (M, K)
        decay = self.world.decay
        if not waited.any():  # all just arrived (a forecast hour): the grid's terms serve all
            g, survival = decay.delay_terms(grid)
            q = decay.with_delay_terms(base[:, None, None], g, survival) @ self._w
        else:
            q = decay.contact_probabilities(base[:, None, None],
                                            waited[:, None, None] + grid) @ self._w
        return value * q

    def _one(self, i: int, t_s: float, state: RoutingState) -> np.ndarray:
        """(M,) ``score`` of stream lead ``i`` alone, without a competitor: the same
        arithmetic on scalars where it can (a routing decision's hot path)."""
        until_start, median = self._officers_at(t_s)
        median = median * (1.0 + self.world.params.response.load_slope * state.open_leads)
        delay = (until_start + max(t_s - float(self.arrival_s[i]), 0.0))[:, None] + \
            median[:, None] * self._offsets + self._busy_s
        g = self.world.decay.odds_multipliers(delay)
        base = min(float(self.features.contact_base[i]), 1.0 - 1e-12)
        odds = (base / (1.0 - base)) * g
        return self.value[i] * ((odds / (1.0 + odds)) @ self._w)

    def _officers_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(M,) seconds from ``t_s`` until each officer starts answering (notification
        latency, then their shift), and their median response at that local hour; cached
        per moment (leads retried together, forecast hours repeating across refreshes). At
        a stream lead's arrival, where most decisions are made, the next ``AHEAD`` arrival
        moments are computed with it."""
        found = self._at.get(t_s)
        if found is None:
            if len(self._at) > 100_000:
                self._at.clear()
            if self._arrivals is None:
                self._arrivals = self._arrival_moments()
            arrivals = self._arrivals
            k = int(np.searchsorted(arrivals, t_s))
            if k < len(arrivals) and arrivals[k] == t_s:
                self._keep(arrivals[k:k + self.AHEAD])
            else:
                self._keep(np.array([t_s]))
            found = self._at[t_s]
        return found

    def _arrival_moments(self) -> np.ndarray:
        """The moments (SimPy s) a decision at a stream lead's arrival reads: its arrival as
        the run's clock gives it (``datetime_at``, to the microsecond) and the scorer reads
        it back; those whose officers' start the clock's table covers."""
        start = self.clock.start
        moments = np.array([(self.clock.datetime_at(a) - start).total_seconds()
                            for a in self.arrival_s.tolist()])
        return np.unique(moments[moments + self.world.traits.latency_s.max()
                                 <= self.clock_end()])

    def _keep(self, moments: np.ndarray) -> None:
        """``_officers_at`` of each of ``moments`` (SimPy s), computed together as
        (moments, officers) arrays: the same arithmetic, element by element, as one moment
        alone."""
        officers = self._officers
        t_s = moments[:, None]
        start = t_s + self.world.traits.latency_s
        start = start + self.clock.wait_to_shift_many(officers, start)
        hour = self.clock.local_hour_many(officers, np.minimum(start, self.clock_end()))
        until = start - t_s
        median = self.world.traits.median_response_s * self._hour_mult[hour]
        for k, t in enumerate(moments.tolist()):
            self._at[t] = (until[k], median[k])

    def _outside(self, leads: Sequence[Lead]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(value (L, M), contact base (L,), received (L,) SimPy s) of leads outside the
        stream (a forecast sample), computed once per lead id."""
        missing = [lead for lead in leads if lead.lead_id not in self._cache]
        if missing:
            f = self.world.features(missing)
            value = self.world.value_matrix(f)
            for k, lead in enumerate(missing):
                self._cache[lead.lead_id] = (value[k], float(f.contact_base[k]),
                                             (lead.received_at - self.clock.start)
                                             .total_seconds())
        found = [self._cache[lead.lead_id] for lead in leads]
        return (np.array([v for v, _, _ in found]), np.array([b for _, b, _ in found]),
                np.array([r for _, _, r in found]))

    def clock_end(self) -> float:
        """The last SimPy time the clock's offset table covers (later moments are clipped)."""
        return self.clock.last_s
