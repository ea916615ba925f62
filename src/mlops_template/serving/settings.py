"""The API's settings: one strict pydantic model, read from `MLOPS_*` environment variables.

Read when the app is built (`create_app`), never at import, so tests and workers each see their own
environment. A bad value fails with the variable's name, the value and the rule (`ConfigError`).
The environment is read by `load_settings` itself rather than pydantic-settings: the same validation,
and 75 ms less at every cold start (pydantic-settings imports pydantic.v1).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from mlops_template.core.errors import ConfigError

ENV_PREFIX = "MLOPS_"
MIB = 1 << 20


def default_prediction_log() -> Path:
    """A writable default: the container's root filesystem is read-only, its temp dir is not."""
    return Path(tempfile.gettempdir()) / "mlops-template" / "predictions.sqlite3"


class ServingSettings(BaseModel):
    """Everything the API reads from its environment (each field is `MLOPS_<FIELD>`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_dir: Path = Field(Path("models/served"), description="The exported artifact: served.json, model.onnx ...")
    api_keys: SecretStr | None = Field(
        None, description="API keys, comma separated; each `<key>` or `<key>:<scope>+<scope>` (serving/auth.py)."
    )
    api_keys_file: Path | None = Field(
        None, description="A mounted file with one API key a line, in the same `<key>:<scope>+<scope>` form."
    )
    auth_disabled: bool = Field(False, description="Serve without keys (development only; must be set explicitly).")
    max_batch: int = Field(1000, ge=1, le=100_000, description="The most records one /v1/predict call may hold.")
    max_body_bytes: int = Field(MIB, ge=1024, le=64 * MIB, description="The largest request body (bytes) accepted.")
    cors_origins: str = Field("", description="Origins allowed by CORS, comma separated (none by default).")
    prediction_log: Path = Field(default_factory=default_prediction_log, description="The SQLite prediction log.")
    prediction_log_busy_ms: int = Field(5000, ge=0, le=60_000, description="How long a write waits for a lock.")
    monitor_report: Path | None = Field(
        None, description="The monitor's last summary.json (or its --out directory), shown by GET /v1/monitor."
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def _problem(loc: tuple[int | str, ...], value: object, rule: str) -> str:
    name = ENV_PREFIX + ".".join(str(part) for part in loc).upper()
    shown = "<redacted>" if loc and loc[0] == "api_keys" else repr(value)  # keys are never echoed
    return f"{name}={shown}: {rule}"


def load_settings(environ: Mapping[str, str] | None = None) -> ServingSettings:
    """Settings from the environment; a bad value is a `ConfigError` naming the variable and the rule.

    Variable names are matched without regard to case (`mlops_workers` is `MLOPS_WORKERS`); variables
    with the prefix that name no setting are ignored, as other `MLOPS_*` variables (the CLI's) exist.
    """
    found = {name.upper(): value for name, value in (os.environ if environ is None else environ).items()}
    values = {
        field: found[key] for field in ServingSettings.model_fields if (key := ENV_PREFIX + field.upper()) in found
    }
    try:
        return ServingSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(_problem(error["loc"], error.get("input"), error["msg"]) for error in exc.errors())
        raise ConfigError(f"serving settings: {problems}") from None
