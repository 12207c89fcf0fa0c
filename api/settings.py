"""Settings from ``LEADROUTE_*`` environment variables (and a ``.env`` file), read once per
process through ``get_settings``; ``.env.example`` lists them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached: read the environment once)."""
    return Settings()
