"""A fitted outcome model in place of a world's hidden truth (``world.kind: fitted``).

A fitted world keeps the truth's factorized form (contact x application x funding, see
``simulator.world``) but its application stage, p(application | contacted, lead, officer),
comes from a logistic regression fitted to a history (``simulator.fit``) rather than from
hidden officer traits. The fit is bootstrapped: the file holds one coefficient vector per
bootstrap member, and replication ``k`` of a run uses member ``k mod B``, so the spread of a
forecast over replications includes the uncertainty of the fit.

The file is JSON (no pickle): feature names, the officers and teams it knows and the members'
coefficients. Features are built here, for the fit and for the simulation alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.domain import Lead, Officer
from simulator.errors import ParamError
from simulator.params import PROGRAMS, PURPOSES

FORMAT = "leadroute.application_model/1"
# the stages besides the application whose rates each member scales (``ApplicationModel.scales``)
STAGES = ("contact", "funding")
# credit bands of the lead side (lower bounds); a missing score has its own column
CREDIT_EDGES = (620, 680, 740)
# specialty -> whether a lead needs it (the truth's specialty multipliers, seen as matches)
_PROGRAM_SPECIALTY = {"va": "va", "fha": "fha", "usda": "usda", "non_qm": "non_qm",
                      "reverse": "reverse"}


def lead_columns(sources: Sequence[str]) -> list[str]:
    """Names of the lead-side features, in order."""
    return [*(f"purpose={p}" for p in PURPOSES[1:]), *(f"program={p}" for p in PROGRAMS[1:]),
            *(f"source={s}" for s in sources[1:]), "source=other",
            *(f"credit>={e}" for e in CREDIT_EDGES), "credit_missing", "jumbo",
            "first_time_buyer"]


# a borrower whose language is not English is either matched or not: the two columns say
# all there is (a lead column for "not English" would be their sum)
PAIR_COLUMNS = ("specialty_match", "language_match", "language_mismatch")


def lead_matrix(leads: Sequence[Lead], sources: Sequence[str]) -> np.ndarray:
    """(L, len(lead_columns)) lead-side features (one-hot with the first level dropped)."""
    index = {s: k for k, s in enumerate(sources)}
    n_purpose, n_program = len(PURPOSES) - 1, len(PROGRAMS) - 1
    n_source = len(sources)  # sources[1:] plus "other"
    x = np.zeros((len(leads), n_purpose + n_program + n_source + len(CREDIT_EDGES) + 3))
    for i, lead in enumerate(leads):
        p = PURPOSES.index(lead.loan_purpose.value)
        if p:
            x[i, p - 1] = 1.0
        g = PROGRAMS.index(lead.loan_program.value)
        if g:
            x[i, n_purpose + g - 1] = 1.0
        s = index.get(lead.source, -1)
        base = n_purpose + n_program
        if s > 0:
            x[i, base + s - 1] = 1.0
        elif s < 0:
            x[i, base + n_source - 1] = 1.0
        base += n_source
        if lead.credit_score is None:
            x[i, base + len(CREDIT_EDGES)] = 1.0
        else:
            for k, edge in enumerate(CREDIT_EDGES):
                x[i, base + k] = float(lead.credit_score >= edge)
        base += len(CREDIT_EDGES) + 1
        x[i, base] = float(bool(lead.is_jumbo))
        x[i, base + 1] = float(bool(lead.first_time_buyer))
    return x


def pair_tensors(leads: Sequence[Lead], officers: Sequence[Officer]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, M) specialty match, language match and language mismatch (borrower not English
    and the officer does not speak it)."""
    specs = [{s.value for s in o.specialties} for o in officers]
    langs = [set(o.languages) for o in officers]
    spec = np.zeros((len(leads), len(officers)))
    match = np.zeros_like(spec)
    mismatch = np.zeros_like(spec)
    for i, lead in enumerate(leads):
        needs = set()
        program = _PROGRAM_SPECIALTY.get(lead.loan_program.value)
        if program:
            needs.add(program)
        if lead.is_jumbo:
            needs.add("jumbo")
        if lead.first_time_buyer:
            needs.add("first_time_buyer")
        foreign = lead.language != "en"
        for j in range(len(officers)):
            spec[i, j] = float(bool(needs & specs[j]))
            if foreign:
                speaks = lead.language in langs[j]
                match[i, j] = float(speaks)
                mismatch[i, j] = float(not speaks)
    return spec, match, mismatch


@dataclass(frozen=True)
class ApplicationModel:
    """p(application | contacted, lead, officer) = sigmoid(intercept + lead . w_lead +
    pair . w_pair + officer effect + team effect), one coefficient set per bootstrap member.

    sources: the sources with a column (the first is the reference level).
    officers, teams: ids and team names with an effect (others: 0, the population's).
    intercept: (B,); lead_coef: (B, F); pair_coef: (B, 3); officer_coef: (B, O);
    team_coef: (B, T).
    scales: per stage (``STAGES``: contact, funding), (B,) each member's multiple of the
    world's rates of that stage (``contact_rate_by_source``, ``funding_rate_by_program``): a
    bootstrap of the history's contacted share of worked leads, funded share of
    applications, centred on 1, so the forecast's spread carries those stages' uncertainty
    too. A stage missing (a file written before): 1 for every member.
    """

    sources: tuple[str, ...]
    officers: tuple[str, ...]
    teams: tuple[str, ...]
    intercept: np.ndarray
    lead_coef: np.ndarray
    pair_coef: np.ndarray
    officer_coef: np.ndarray
    team_coef: np.ndarray
    rows: int = 0
    positives: int = 0
    c: float = 0.0  # the regression's inverse L2 strength
    scales: Mapping[str, np.ndarray] = field(default_factory=dict)

    def multiplier(self, stage: str, member: int) -> float:
        """Member ``member``'s multiple of the world's rates of ``stage`` (1 without one)."""
        found = self.scales.get(stage)
        return 1.0 if found is None else float(found[member % self.members])

    @property
    def members(self) -> int:
        return len(self.intercept)

    def matrix(self, leads: Sequence[Lead], officers: Sequence[Officer],
               member: int) -> np.ndarray:
        """(L, M) probabilities for ``leads`` x ``officers`` under bootstrap ``member``."""
        b = member % self.members
        lead_part = self.intercept[b] + lead_matrix(leads, self.sources) @ self.lead_coef[b]
        o_index = {o: k for k, o in enumerate(self.officers)}
        t_index = {t: k for k, t in enumerate(self.teams)}
        officer_part = np.array([
            (self.officer_coef[b, o_index[o.officer_id]] if o.officer_id in o_index else 0.0)
            + (self.team_coef[b, t_index[o.team]] if o.team in t_index else 0.0)
            for o in officers])
        spec, match, mismatch = pair_tensors(leads, officers)
        w = self.pair_coef[b]
        logit = lead_part[:, None] + officer_part[None, :] + w[0] * spec + w[1] * match + \
            w[2] * mismatch
        return 1.0 / (1.0 + np.exp(-logit))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "rows": self.rows, "positives": self.positives, "c": self.c,
                "sources": list(self.sources), "officers": list(self.officers),
                "teams": list(self.teams), "lead_columns": lead_columns(self.sources),
                "pair_columns": list(PAIR_COLUMNS),
                "members": [{"intercept": float(self.intercept[b]),
                             "lead": self.lead_coef[b].tolist(),
                             "pair": self.pair_coef[b].tolist(),
                             "officer": self.officer_coef[b].tolist(),
                             "team": self.team_coef[b].tolist(),
                             **{f"{stage}_scale": float(self.scales[stage][b])
                                for stage in STAGES if stage in self.scales}}
                            for b in range(self.members)]}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")


def _floats(raw: Any, n: int, where: str) -> np.ndarray:
    if not isinstance(raw, list) or len(raw) != n or \
            not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in raw):
        raise ParamError(where, f"expected a list of {n} finite numbers")
    return np.array(raw, dtype=float)


def load_application_model(path: Path) -> ApplicationModel:
    """Read and check an application model file; ParamError names the key at fault."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamError("application_model", f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParamError("application_model", f"{path.name} is not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ParamError("application_model", f"{path.name}: expected a JSON object with "
                                              f"format {FORMAT!r} (written by leadroute "
                                              "scenario fit)")
    names: dict[str, tuple[str, ...]] = {}
    for key in ("sources", "officers", "teams"):
        value = raw.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ParamError(f"application_model.{key}", f"{path.name}: expected a list of "
                                                         "names")
        names[key] = tuple(value)
    if not names["sources"]:
        raise ParamError("application_model.sources", f"{path.name}: needs a source")
    members = raw.get("members")
    if not isinstance(members, list) or not members:
        raise ParamError("application_model.members", f"{path.name}: needs at least one "
                                                      "member")
    n_lead = len(lead_columns(names["sources"]))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("intercept", "lead", "pair",
                                                          "officer", "team")}
    sizes = {"lead": n_lead, "pair": len(PAIR_COLUMNS), "officer": len(names["officers"]),
             "team": len(names["teams"])}
    scales: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for b, member in enumerate(members):
        where = f"application_model.members[{b}]"
        if not isinstance(member, dict):
            raise ParamError(where, f"{path.name}: expected an object")
        parts["intercept"].append(_floats([member.get("intercept")], 1, f"{where}.intercept"))
        for key, n in sizes.items():
            parts[key].append(_floats(member.get(key), n, f"{where}.{key}"))
        for stage in STAGES:
            key = f"{stage}_scale"
            if key in member or scales[stage]:
                scale = _floats([member.get(key)], 1, f"{where}.{key}")
                if not scale[0] >= 0.0:
                    raise ParamError(f"{where}.{key}", f"{path.name}: expected a number of "
                                     f"at least 0, got {scale[0]:g}")
                scales[stage].append(float(scale[0]))
    for stage in STAGES:  # the first members had none
        if scales[stage] and len(scales[stage]) != len(members):
            raise ParamError(f"application_model.members[0].{stage}_scale",
                             f"{path.name}: every member gives {stage}_scale, or none does")
    return ApplicationModel(
        sources=names["sources"], officers=names["officers"], teams=names["teams"],
        intercept=np.concatenate(parts["intercept"]), lead_coef=np.array(parts["lead"]),
        pair_coef=np.array(parts["pair"]),
        officer_coef=np.array(parts["officer"]).reshape(len(members), sizes["officer"]),
        team_coef=np.array(parts["team"]).reshape(len(members), sizes["team"]),
        rows=int(raw.get("rows", 0) or 0), positives=int(raw.get("positives", 0) or 0),
        c=float(raw.get("c", 0.0) or 0.0),
        scales={stage: np.array(v) for stage, v in scales.items() if v})
