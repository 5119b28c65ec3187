"""The studio's limits and security settings, from the environment (``SYNTH_STUDIO_*``, ``SYNTH_API_TOKEN``)."""

from __future__ import annotations

import ipaddress

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StudioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNTH_STUDIO_", extra="ignore", populate_by_name=True)

    max_upload_bytes: int = Field(1_000_000, ge=1, description="largest DDL upload accepted (413 above)")
    max_rows_per_table: int = Field(100_000, ge=1, description="largest row count one table may ask for")
    default_num_records: int = Field(100, ge=0, description="rows per table when a request gives none")
    max_concurrent_jobs: int = Field(2, ge=1, description="generation jobs queued or running at once (409 above)")
    page_size_max: int = Field(500, ge=1, description="largest page of rows one request returns")
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    # Base URLs a request may choose besides the provider's configured one: the server's key goes to the
    # chosen URL, so a client may never name an arbitrary host.
    llm_base_urls: list[str] = Field(default_factory=list, description="extra base URLs a request may choose")
    dagster_url: str = Field("http://127.0.0.1:3000", description="the Dagster UI (make dev), for links to groups")
    dagster_location: str = Field("synth_pipelines", description="the code location name in workspace.yaml")
    # Not prefixed: the issue names it. Required by `synth serve` on any interface but loopback.
    api_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SYNTH_API_TOKEN", "api_token"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
