"""Lead streams: synthetic (seasonal arrivals, HMDA mixes) or replayed from a leads CSV.

Either way the leads are real ``engine.domain.Lead`` objects with the facts the lead parser
derives (state, county, timezone, conforming limit, jumbo), so the engine sees exactly what
production sees. Synthetic leads are built directly from the engine's geography (the parser's
own tables) for speed; ``lead_row`` writes a lead back in the ``leadroute route`` columns, and
a test parses those rows with ``LeadParser`` and checks that the same leads come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from engine.domain import Contact, Lead, LoanProgram, LoanPurpose
from engine.errors import Problem
from engine.geo import Geography, load_geography
from engine.io import read_leads
from engine.leads import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, LeadParser
from engine.roster import zone
from simulator.errors import ParamError
from simulator.hmda import HOME_IMPROVEMENT, PURCHASE, REFINANCE, HmdaFacts, load_hmda
from simulator.params import PROGRAMS, PURPOSES, ReplayStreamParams, SyntheticStreamParams

# the columns of ``leadroute route`` input a stream writes: the engine's own list, once
ROUTE_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


@dataclass(frozen=True)
class LeadStream:
    """Leads in arrival order and their arrival times.

    arrival_s: (L,) float, seconds after ``start`` (SimPy time), non-decreasing.
    dropped: problems of replayed rows that were left out (failed validation, outside the
        window), one line each.
    """

    leads: tuple[Lead, ...]
    arrival_s: np.ndarray
    start: datetime
    dropped: tuple[str, ...] = ()
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.leads) != len(self.arrival_s):
            raise ValueError("one arrival time per lead")
        if len(self.arrival_s) and np.any(np.diff(self.arrival_s) < 0):
            raise ValueError("arrival times must not decrease")
        if not self.index:
            self.index.update({lead.lead_id: i for i, lead in enumerate(self.leads)})
        if len(self.index) != len(self.leads):
            raise ValueError("lead ids must be unique within a stream")

    def __len__(self) -> int:
        return len(self.leads)


def lead_row(lead: Lead) -> dict[str, str]:
    """The lead in the ``leadroute route`` input columns (text, as a CSV holds it)."""
    def flag(value: bool | None) -> str:
        return "" if value is None else ("true" if value else "false")

    def money(value: float | None) -> str:
        if value is None:
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))

    return {
        "lead_id": lead.lead_id, "received_at": lead.received_at.isoformat(),
        "source": lead.source, "first_name": lead.contact.first_name,
        "last_name": lead.contact.last_name, "email": lead.contact.email,
        "phone": lead.contact.phone, "zip": lead.zip, "loan_purpose": lead.loan_purpose.value,
        "loan_program": lead.loan_program.value, "loan_amount": money(lead.loan_amount_usd),
        "property_value": money(lead.property_value_usd),
        "credit_score": "" if lead.credit_score is None else str(lead.credit_score),
        "language": lead.language, "is_veteran": flag(lead.is_veteran), "state": lead.state,
        "county_fips": lead.county_fips, "campaign": lead.campaign,
        "first_time_buyer": flag(lead.first_time_buyer),
    }


# ---------------------------------------------------------------------------- synthetic


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` ((N, K), rows summing to 1): inverse-CDF draws."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


def _program_mix(params: SyntheticStreamParams, hmda: HmdaFacts) -> np.ndarray:
    """(P,) program shares in PROGRAMS order."""
    if params.program_mix:
        mix = np.array([params.program_mix.get(p, 0.0) for p in PROGRAMS])
    else:
        mix = np.array([hmda.program_mix.get(p, 0.0) for p in PROGRAMS])
        extra = sum(params.extra_programs.values())
        mix = mix * (1.0 - extra)
        for name, share in params.extra_programs.items():
            mix[PROGRAMS.index(name)] += share
    return mix / mix.sum()


def _purpose_probs(params: SyntheticStreamParams, hmda: HmdaFacts, states: Sequence[str],
                   state_idx: np.ndarray, program: np.ndarray) -> np.ndarray:
    """(N, len(PURPOSES)) purpose probabilities of each lead given its state and program."""
    cash = params.cash_out_share_of_refinance
    by_state = np.zeros((len(states), len(PURPOSES)))
    for k, state in enumerate(states):
        share = hmda.purpose_share.get(state, {PURCHASE: 0.6, REFINANCE: 0.35,
                                               HOME_IMPROVEMENT: 0.05})
        by_state[k, PURPOSES.index("purchase")] = share.get(PURCHASE, 0.0)
        by_state[k, PURPOSES.index("refinance")] = share.get(REFINANCE, 0.0) * (1 - cash)
        by_state[k, PURPOSES.index("cash_out_refinance")] = share.get(REFINANCE, 0.0) * cash
        by_state[k, PURPOSES.index("home_equity")] = share.get(HOME_IMPROVEMENT, 0.0)
    probs = by_state[state_idx]
    # Government programs finance purchases and refinances, not home-equity lines; USDA
    # guarantees purchases; a reverse mortgage is its own purpose.
    gov = np.isin(program, [PROGRAMS.index(p) for p in ("fha", "va", "usda")])
    probs[gov, PURPOSES.index("home_equity")] = 0.0
    usda = program == PROGRAMS.index("usda")
    probs[usda] = 0.0
    probs[usda, PURPOSES.index("purchase")] = 1.0
    reverse = program == PROGRAMS.index("reverse")
    probs[reverse] = 0.0
    probs[reverse, PURPOSES.index("reverse")] = 1.0
    return probs / probs.sum(axis=1, keepdims=True)


def stream_states(params: SyntheticStreamParams, default_states: Sequence[str],
                  hmda: HmdaFacts | None = None) -> list[str]:
    """The stream's states (``params.states``, else ``default_states``), each checked to have
    HMDA applications, and every campaign's states among them; ParamError otherwise."""
    hmda = hmda or load_hmda(params.hmda_year)
    states = list(params.states) or sorted(default_states)
    unknown = [s for s in states if s not in hmda.state_applications]
    if unknown:
        raise ParamError("states", f"{unknown}: not a US state with HMDA applications in "
                                   f"{params.hmda_year} (two-letter codes such as TX)")
    for k, c in enumerate(params.campaigns):
        missing = [s for s in c.states if s not in states]
        if missing:
            raise ParamError(f"campaigns[{k}].states",
                             f"{missing} are not among the stream's states {states}")
    return states


def synthetic_stream(params: SyntheticStreamParams, *, start: datetime, days: float,
                     timezone: str, default_states: Sequence[str], rng: np.random.Generator,
                     hmda: HmdaFacts | None = None, geography: Geography | None = None,
                     id_prefix: str = "L") -> LeadStream:
    """Draw a stream of leads over ``days`` from ``start``.

    Arrivals are a Poisson process whose rate is constant within each hour: ``leads_per_day``
    spread over the week by ``weekday_weights`` x ``hour_weights`` in ``timezone``, times
    ``volume_multiplier``, plus campaign demand. Each lead's state, program, purpose and
    amount follow the HMDA facts (``hmda_year``); the other attributes follow the parameters.
    ``rng`` is the replication's lead-stream generator.
    """
    hmda = hmda or load_hmda(params.hmda_year)
    geography = geography or load_geography()
    states = stream_states(params, default_states, hmda)
    state_w = np.array([hmda.state_applications[s] for s in states], dtype=float)
    state_w /= state_w.sum()
    joint = state_w[:, None] * _program_mix(params, hmda)[None, :]  # (S, P), sums to 1

    # hourly slots in the scenario's timezone
    tz = zone(timezone)
    n_slots = int(np.ceil(days * 24))
    hour_w = np.array(params.hour_weights, dtype=float)
    day_w = np.array(params.weekday_weights, dtype=float)
    per_week = float(np.outer(day_w, hour_w).sum())
    slot_hour = np.empty(n_slots, dtype=np.int64)
    slot_wday = np.empty(n_slots, dtype=np.int64)
    for k in range(n_slots):
        local = (start + timedelta(hours=k)).astimezone(tz)
        slot_hour[k], slot_wday[k] = local.hour, local.weekday()
    slot_day = np.arange(n_slots) // 24
    rate = params.leads_per_day * 7.0 * day_w[slot_wday] * hour_w[slot_hour] / per_week
    rate *= params.volume_multiplier
    slot_len = np.ones(n_slots)  # the share of each hour inside the window
    if days * 24 < n_slots:  # a partial last hour
        slot_len[-1] = days * 24 - (n_slots - 1)
        rate[-1] *= slot_len[-1]

    # campaign regimes: the joint mix with the campaign programs boosted, per active set
    regime_of_slot = np.zeros(n_slots, dtype=np.int64)
    regimes: list[np.ndarray] = [joint]
    extra_share: list[np.ndarray] = [np.zeros_like(joint)]
    regime_key: dict[tuple[int, ...], int] = {(): 0}
    for k in range(n_slots):
        active = tuple(i for i, c in enumerate(params.campaigns)
                       if c.start_day <= slot_day[k] and (c.end_day is None
                                                          or slot_day[k] < c.end_day))
        if active not in regime_key:
            boosted = joint.copy()
            for i in active:
                c = params.campaigns[i]
                campaign_rows = [states.index(s) for s in c.states]
                boosted[campaign_rows, PROGRAMS.index(c.program)] *= c.multiplier
            regime_key[active] = len(regimes)
            regimes.append(boosted)
            extra_share.append(np.where(boosted > joint, 1.0 - joint / np.maximum(boosted, 1e-300),
                                        0.0))
        regime_of_slot[k] = regime_key[active]
    slot_factor = np.array([regimes[r].sum() for r in regime_of_slot])
    counts = rng.poisson(rate * slot_factor)
    n = int(counts.sum())
    slot = np.repeat(np.arange(n_slots), counts)
    arrival = np.floor((slot + rng.random(n) * slot_len[slot]) * 3600.0)
    order = np.argsort(arrival, kind="stable")
    slot, arrival = slot[order], arrival[order]

    # state and program from the slot's regime
    regime = regime_of_slot[slot]
    state_idx = np.empty(n, dtype=np.int64)
    program = np.empty(n, dtype=np.int64)
    from_campaign = np.zeros(n, dtype=bool)
    for r in np.unique(regime):
        rows = np.flatnonzero(regime == r)
        flat = regimes[r].ravel() / regimes[r].sum()
        pick = _choice(rng, np.broadcast_to(flat, (len(rows), len(flat))))
        state_idx[rows], program[rows] = np.divmod(pick, len(PROGRAMS))
        from_campaign[rows] = rng.random(len(rows)) < extra_share[r].ravel()[pick]

    purpose = _choice(rng, _purpose_probs(params, hmda, states, state_idx, program))
    code_of = {"purchase": PURCHASE, "refinance": REFINANCE, "cash_out_refinance": REFINANCE,
               "home_equity": HOME_IMPROVEMENT, "reverse": REFINANCE}
    mean_amount = np.array([
        hmda.avg_amount_usd.get((states[s], code_of[PURPOSES[p]]), 250_000.0)
        for s, p in zip(state_idx, purpose, strict=True)]) * params.amount_scale
    sigma = params.amount_sigma
    amount = np.maximum(np.round(mean_amount * np.exp(rng.normal(-0.5 * sigma**2, sigma, n)),
                                 -3), 10_000.0)
    ltv = rng.uniform(*params.ltv_range, size=n)
    value = np.round(amount / ltv)
    credit = np.clip(np.round(rng.normal(params.credit_mean, params.credit_sd, n)),
                     params.credit_min, params.credit_max).astype(np.int64)
    credit_missing = rng.random(n) < params.missing_credit_share
    sources = list(params.source_mix)
    source_w = np.array([params.source_mix[s] for s in sources], dtype=float)
    source = _choice(rng, np.broadcast_to(source_w / source_w.sum(), (n, len(sources))))
    langs = ["en", *params.language_mix]
    lang_w = np.array([1.0 - sum(params.language_mix.values()), *params.language_mix.values()])
    language = _choice(rng, np.broadcast_to(lang_w, (n, len(langs))))
    veteran = (program == PROGRAMS.index("va")) | (rng.random(n) < params.veteran_share)
    first_time = (purpose == PURPOSES.index("purchase")) & \
        (rng.random(n) < params.first_time_buyer_share)
    zips_by_state = _zips_by_state(geography)
    zip_pick = rng.random(n)

    # which campaign a boosted lead belongs to (the first active one for its state and program)
    campaign_of: dict[tuple[int, int, int], tuple[str, str]] = {}
    for i, c in enumerate(params.campaigns):
        for s in c.states:
            key = (i, states.index(s), PROGRAMS.index(c.program))
            campaign_of[key] = (c.name, c.source)

    leads: list[Lead] = []
    for i in range(n):
        state = states[state_idx[i]]
        pool = zips_by_state[state]
        zip_code = pool[min(int(zip_pick[i] * len(pool)), len(pool) - 1)]
        info = geography.zips[zip_code]
        received = (start + timedelta(seconds=float(arrival[i]))).astimezone(tz)
        limit = geography.conforming_limit_usd(received.year, state, info.county_fips)
        src, campaign = sources[source[i]], ""
        if from_campaign[i]:
            day = int(slot_day[slot[i]])
            for k, c in enumerate(params.campaigns):
                hit = campaign_of.get((k, int(state_idx[i]), int(program[i])))
                if hit and c.start_day <= day and (c.end_day is None or day < c.end_day):
                    campaign, src = hit[0], hit[1] or src
                    break
        lead_id = f"{id_prefix}{i + 1:06d}"
        leads.append(Lead(
            lead_id=lead_id, received_at=received, source=src, zip=zip_code, state=state,
            county_fips=info.county_fips, timezone=info.timezone,
            loan_purpose=LoanPurpose(PURPOSES[purpose[i]]),
            loan_program=LoanProgram(PROGRAMS[program[i]]),
            loan_amount_usd=float(amount[i]), property_value_usd=float(value[i]),
            credit_score=None if credit_missing[i] else int(credit[i]),
            language=langs[language[i]], is_veteran=bool(veteran[i]),
            first_time_buyer=bool(first_time[i]), campaign=campaign,
            contact=Contact("", "", f"{lead_id.lower()}@example.com", ""),
            is_jumbo=None if limit is None else float(amount[i]) > limit,
            conforming_limit_usd=limit,
        ))
    return LeadStream(tuple(leads), arrival.astype(float), start)


_ZIPS: dict[int, dict[str, list[str]]] = {}


def _zips_by_state(geography: Geography) -> dict[str, list[str]]:
    """ZIP codes with a known county, by state, sorted (cached per geography)."""
    found = _ZIPS.get(id(geography))
    if found is None:
        found = {}
        for z in sorted(geography.zips):
            info = geography.zips[z]
            if info.county_fips and info.timezone:
                found.setdefault(info.state, []).append(z)
        _ZIPS[id(geography)] = found
    return found


# ---------------------------------------------------------------------------- replay


_REPLAYED: dict[tuple[str, int, int, datetime, float], LeadStream] = {}


def replay_stream(params: ReplayStreamParams, *, start: datetime, days: float,
                  parser: LeadParser | None = None) -> LeadStream:
    """The leads of a CSV in the ``leadroute route`` format, arriving at their
    ``received_at`` (rows that fail validation or fall outside ``[start, start + days)`` are
    left out and listed in ``dropped``). Ties keep file order. The file is parsed once per
    process for a window (every replication replays the same leads): the stream is kept
    while the file's size and modification time stay the same."""
    path = Path(params.path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, start, days)
    if parser is None:
        found = _REPLAYED.get(key)
        if found is not None:
            return found
    stream = _parse_replay(path, start, days, parser or LeadParser.default())
    if parser is None:
        if len(_REPLAYED) > 16:
            _REPLAYED.clear()
        stream.arrival_s.flags.writeable = False  # shared by every replication
        _REPLAYED[key] = stream
    return stream


def _parse_replay(path: Path, start: datetime, days: float, parser: LeadParser) -> LeadStream:
    kept: list[tuple[float, int, Lead]] = []
    dropped: list[str] = []
    end_s = days * 86400.0
    for row in read_leads(path, parser):
        number, lead = row.number, row.lead
        if lead is None:
            dropped.append(str(row.error))
            continue
        at = (lead.received_at - start).total_seconds()
        if not 0 <= at < end_s:
            dropped.append(f"{path.name} row {number}: received_at {lead.received_at.isoformat()} "
                           "is outside the scenario's window")
            continue
        kept.append((at, number, lead))
    kept.sort(key=lambda k: (k[0], k[1]))
    seen: set[str] = set()
    leads: list[Lead] = []
    times: list[float] = []
    for at, number, lead in kept:
        if lead.lead_id in seen:
            dropped.append(str(Problem("lead_id", lead.lead_id, "repeats an earlier row",
                                       f"{path.name} row {number}")))
            continue
        seen.add(lead.lead_id)
        leads.append(lead)
        times.append(at)
    return LeadStream(tuple(leads), np.array(times, dtype=float), start, tuple(dropped))
