"""The API's settings as the environment would give them to the app in process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mlops_template.serving.settings import ServingSettings
from tests.support.api_server import API_KEY

# What the `make_settings` fixture (tests/serving/conftest.py) gives a test: overrides -> settings.
MakeSettings = Callable[..., ServingSettings]


def serving_settings(model_dir: Path, prediction_log: Path, /, **overrides: Any) -> ServingSettings:
    """Settings with the test key, the model in `model_dir` and the log at `prediction_log`; `overrides`
    (any field, these two included) win."""
    values: dict[str, Any] = {"model_dir": model_dir, "api_keys": SecretStr(API_KEY), "prediction_log": prediction_log}
    values.update(overrides)
    return ServingSettings(**values)
