"""The lab's window on production: the API over HTTP, with a key from the environment
(``LEADROUTE_LAB_API_URL``, ``LEADROUTE_LAB_API_KEY``) or typed on the page. The lab reads
through the API and writes only through it (upload, dry run, activate a policy)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """The API said no: the status, its Problem Details title and detail, and the fields it
    names (a policy's YAML path)."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None
                 ) -> None:
        self.status, self.detail, self.errors = status, detail, errors or []
        where = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in self.errors)
        super().__init__(f"HTTP {status}: {detail}" + (f" ({where})" if where else ""))


def settings_from_env() -> tuple[str, str]:
    """(API address, key) from the environment; the key may be empty."""
    return (os.environ.get("LEADROUTE_LAB_API_URL", DEFAULT_URL).rstrip("/"),
            os.environ.get("LEADROUTE_LAB_API_KEY", ""))


@dataclass
class Api:
    """A thin client; ``client`` is any httpx.Client (tests pass FastAPI's TestClient)."""

    client: httpx.Client

    @classmethod
    def connect(cls, url: str, key: str, timeout_s: float = 30.0) -> Api:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return cls(httpx.Client(base_url=url, headers=headers, timeout=timeout_s))

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach the API at {self.client.base_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:300]}
            raise ApiError(response.status_code,
                           str(body.get("detail") or body.get("title") or response.reason_phrase),
                           body.get("errors"))
        return response

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/healthz").json())

    def analytics_paths(self) -> list[str]:
        """The API's GET /v1/analytics/... reports, as its OpenAPI document lists them: a path
        with one parameter of listed values (``/v1/analytics/{report}``) gives one path per
        value. None on a server that does not have them."""
        spec = self._call("GET", "/openapi.json").json()
        out: list[str] = []
        for path, ops in spec.get("paths", {}).items():
            if not path.startswith("/v1/analytics") or "get" not in ops:
                continue
            params = [p for p in ops["get"].get("parameters", []) if p.get("in") == "path"]
            if not params:
                out.append(path)
            elif len(params) == 1:
                name = params[0].get("name", "")
                out.extend(path.replace("{" + name + "}", str(value))
                           for value in _values(params[0].get("schema", {}), spec))
        return sorted(out)

    def get_json(self, path: str) -> Any:
        return self._call("GET", path).json()

    def history_text(self) -> str:
        """The history export (contact details masked), as the CSV text the API sends."""
        return self._call("GET", "/v1/history.csv").text

    def history(self) -> pd.DataFrame:
        """The history export (contact details masked) as a frame."""
        text = self.history_text()
        if not text.strip():
            return pd.DataFrame()
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)

    def policies(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/policies").json())

    def active_policy_yaml(self) -> str | None:
        """The YAML of the activated policy; None while the server routes with its default
        file."""
        listed = self.policies()
        for item in listed.get("items", []):
            if item.get("active"):
                return str(self._call("GET", f"/v1/policies/{item['id']}").json().get("yaml")
                           or "") or None
        return None

    def upload_policy(self, text: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/policies", json={"yaml": text}).json())

    def dry_run(self, policy_id: int, last: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/policies/{policy_id}/dry-run",
                               params={"last": last}).json())

    def activate(self, policy_id: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/policies/{policy_id}/activate").json())


def _values(schema: dict[str, Any], spec: dict[str, Any]) -> list[Any]:
    """The values a JSON schema lists (enum, through $ref, anyOf and oneOf)."""
    if "$ref" in schema:
        node: Any = spec
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return _values(node, spec)
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return [v for sub in schema.get("anyOf", []) + schema.get("oneOf", [])
            for v in _values(sub, spec)]


def _number(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name].str.lstrip("'"), errors="coerce")


def history_figures(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What the history export says about production, grouped for the page: minutes from
    arrival to first contact per lead, and funded share by source and by officer."""
    if history.empty:
        return {}
    received = pd.to_datetime(history["received_at"].str.lstrip("'"), utc=True, errors="coerce",
                              format="ISO8601")
    assigned = pd.to_datetime(history["assigned_at"].str.lstrip("'"), utc=True, errors="coerce",
                              format="ISO8601")
    minutes = ((assigned - received).dt.total_seconds()
               + _number(history, "response_delay_s")) / 60.0
    funded = _number(history, "funded")
    frame = pd.DataFrame({"source": history["source"], "officer_id": history["officer_id"],
                          "minutes_to_first_contact": minutes, "funded": funded})
    out = {"speed": frame[["minutes_to_first_contact"]].dropna()}
    for key in ("source", "officer_id"):
        out[key] = (frame.groupby(key).agg(leads=("funded", "size"),
                                           funded=("funded", "sum"),
                                           funded_share=("funded", "mean"))
                    .reset_index())
    return out
