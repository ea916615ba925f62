"""The API's settings: one pydantic-settings class, read from `MLOPS_*` environment variables.

Read when the app is built (`create_app`), never at import, so tests and workers each see their own
environment. A bad value fails with the variable's name, the value and the rule (`ConfigError`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mlops_template.errors import ConfigError

ENV_PREFIX = "MLOPS_"
MIB = 1 << 20


def default_prediction_log() -> Path:
    """A writable default: the container's root filesystem is read-only, its temp dir is not."""
    return Path(tempfile.gettempdir()) / "mlops-template" / "predictions.sqlite3"


class ServingSettings(BaseSettings):
    """Everything the API reads from its environment (each field is `MLOPS_<FIELD>`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore", case_sensitive=False)

    model_dir: Path = Field(Path("models/served"), description="The exported artifact: served.json, model.onnx ...")
    api_keys: Annotated[SecretStr | None, NoDecode] = Field(None, description="API keys, comma separated.")
    api_keys_file: Path | None = Field(None, description="A mounted file with one API key a line.")
    auth_disabled: bool = Field(False, description="Serve without keys (development only; must be set explicitly).")
    max_batch: int = Field(1000, ge=1, le=100_000, description="The most records one /v1/predict call may hold.")
    max_body_bytes: int = Field(MIB, ge=1024, le=64 * MIB, description="The largest request body (bytes) accepted.")
    cors_origins: str = Field("", description="Origins allowed by CORS, comma separated (none by default).")
    prediction_log: Path = Field(default_factory=default_prediction_log, description="The SQLite prediction log.")
    prediction_log_busy_ms: int = Field(5000, ge=0, le=60_000, description="How long a write waits for a lock.")

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def _problem(loc: tuple[int | str, ...], value: object, rule: str) -> str:
    name = ENV_PREFIX + ".".join(str(part) for part in loc).upper()
    shown = "<redacted>" if loc and loc[0] == "api_keys" else repr(value)  # keys are never echoed
    return f"{name}={shown}: {rule}"


def load_settings() -> ServingSettings:
    """Settings from the environment; a bad value is a `ConfigError` naming the variable and the rule."""
    try:
        return ServingSettings()
    except ValidationError as exc:
        problems = "; ".join(_problem(error["loc"], error.get("input"), error["msg"]) for error in exc.errors())
        raise ConfigError(f"serving settings: {problems}") from None
