"""Settings from ``LEADROUTE_*`` environment variables (and a ``.env`` file), read once per
process through ``get_settings``; ``.env.example`` lists them."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA = Path(__file__).resolve().parent.parent / "data"


class Settings(BaseSettings):
    """The API's settings. Every field is ``LEADROUTE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LEADROUTE_", env_file=".env",
                                      extra="ignore", frozen=True)

    database_url: str = Field(
        "sqlite:///leadroute.db",
        description="SQLAlchemy URL: an SQLite file (the default) or "
                    "postgresql+psycopg://user@host/db for several workers")
    default_policy: Path = Field(
        DATA / "policies" / "default.yaml",
        description="the policy used while no uploaded policy is activated")
    rate_limit: str = Field(
        "1200/minute", description="requests per API key, e.g. 100/second or 1200/minute "
                                   "(a key may carry its own)")
    rate_limit_storage: str = Field(
        "memory://", description="where rate limits are counted: memory:// (per server "
                                 "process) or a shared limits storage such as "
                                 "redis://host:6379 (install leadroute[redis])")
    worker_in_server: bool = Field(
        True, description="serve also runs the background worker (due offers, held leads)")
    worker_poll_s: float = Field(0.5, gt=0, description="how often the worker looks for due work")
    worker_batch: int = Field(200, ge=1, description="due leads claimed per round")
    log_level: str = "INFO"
    # lead sources (docs/sources.md)
    sources_dir: Path = Field(
        DATA / "sources",
        description="the source maps: meta.yaml, google_ads.yaml, web.yaml, "
                    "vendors/<vendor>.yaml, referrals/<partner>.yaml")
    meta_verify_token: SecretStr | None = Field(
        None, description="the token Meta's subscription check must present")
    meta_app_secret: SecretStr | None = Field(
        None, description="the Meta app's secret: X-Hub-Signature-256 is keyed by it")
    meta_access_token: SecretStr | None = Field(
        None, description="a page access token to fetch leads from the Graph API")
    meta_graph_url: str = Field("https://graph.facebook.com",
                                description="the Graph API's base URL")
    meta_graph_version: str = Field("v21.0", pattern=r"^v\d+\.\d+$",
                                    description="the Graph API version in fetch URLs")
    google_ads_key: SecretStr | None = Field(
        None, description="the key Google Ads lead forms send as google_key")
    source_max_body_bytes: int = Field(1_000_000, ge=1_000,
                                       description="the largest source delivery read")
    fetch_max_attempts: int = Field(8, ge=1, description="Graph fetches tried per lead "
                                                         "before it is marked dead")
    fetch_backoff_s: float = Field(5.0, gt=0, description="the first retry's delay; each "
                                                          "further retry waits twice as long")
    fetch_timeout_s: float = Field(10.0, gt=0, description="one Graph request's time limit")

    # notifications (docs/notifications.md); a channel without its settings is not configured
    smtp_host: str = Field("", description="SMTP server for email notices (empty: no email)")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("leadroute@localhost", description="the notices' From address")
    smtp_starttls: bool = Field(False, description="upgrade the connection with STARTTLS")
    smtp_user: str = Field("", description="SMTP login (with smtp_password), if the server "
                                           "needs one")
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_s: float = Field(10.0, gt=0, le=300)
    sms_base_url: str = Field("", description="a Twilio-compatible API, e.g. "
                                              "https://api.twilio.com (empty: no SMS)")
    sms_account_sid: str = ""
    sms_auth_token: SecretStr = SecretStr("")
    sms_from: str = Field("", description="the sending number, E.164")
    webhook_url: str = Field("", description="where signed notices are posted for CRMs and "
                                             "apps (empty: no webhooks)")
    webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key of the "
                                      "webhook-signature header (whsec_ base64, or any text)")
    http_timeout_s: float = Field(10.0, gt=0, le=300)
    notify_redundant: bool = Field(False, description="send every notice on each of the "
                                   "officer's channels, not only the first that works")
    outbox_poll_s: float = Field(0.25, gt=0, description="how often delivery looks for notices")
    outbox_batch: int = Field(100, ge=1, le=10_000)
    outbox_concurrency: int = Field(8, ge=1, le=64, description="notices sent at once (each "
                                    "sending thread keeps its own SMTP connection)")
    outbox_max_attempts: int = Field(12, ge=1, le=100, description="rounds of tries before a "
                                     "notice is dead (kept, counted, in the lead's history)")
    outbox_backoff_s: float = Field(2.0, gt=0, description="wait after the first failed round; "
                                    "doubled each round")
    outbox_backoff_max_s: float = Field(300.0, gt=0)
    outbox_lease_s: float = Field(120.0, gt=0, description="a claimed notice not finished in "
                                  "this time (a crashed worker) is claimed again")
    public_url: str = Field("", description="the API's own address, for links in notices")
    lead_cost_usd: dict[str, float] = Field(
        default_factory=dict, description='what a lead costs by source, JSON: {"web": 35}; '
                                          "GET /v1/analytics/cost reads it")


    @field_validator("lead_cost_usd")
    @classmethod
    def _costs(cls, value: dict[str, float]) -> dict[str, float]:
        for source, usd in value.items():
            if not math.isfinite(usd) or not 0 <= usd <= 1_000_000:
                raise ValueError(f"LEADROUTE_LEAD_COST_USD[{source!r}] = {usd!r}: expected "
                                 "dollars from 0 to 1,000,000")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached: read the environment once)."""
    return Settings()
