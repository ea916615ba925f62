"""A REF that is a registry alias: the served artifact logged with the aliased version (real MLflow SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_template.experiments.compare import command
from tests.support.params import small_params_dict, write_params

NAME = "fraud-detector"


@pytest.fixture
def registry(compare_project: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite registry in the project: version 1 logs models/stricter, aliased `champion`."""
    import mlflow  # noqa: PLC0415

    uri = f"sqlite:///{compare_project / 'mlruns.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("compare-tests", artifact_location=(compare_project / "mlartifacts").as_uri())
    client.create_registered_model(NAME)
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(compare_project / "models/stricter"), "served")
    client.set_terminated(run.info.run_id)
    client.create_model_version(NAME, f"runs:/{run.info.run_id}/served", run.info.run_id)
    client.set_registered_model_alias(NAME, "champion", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    raw = small_params_dict()
    raw["gate"]["resamples"] = 200
    write_params(compare_project / "params.yaml", raw)
    return uri


def test_a_registry_alias_is_scored_through_its_logged_artifact(
    registry: str, compare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    champion = f"models:/{NAME}@champion"
    argv = [champion, "models/served", "--params", "params.yaml", "--out", "out"]
    assert command.main(argv) == 0
    board = json.loads((compare_project / "out/compare.json").read_text(encoding="utf-8"))
    first, second = board["models"]
    assert first["ref"] == champion
    assert first["kind"] == "registry"
    assert first["source"] == f"the registry at {registry}"
    stricter = json.loads((compare_project / "models/stricter/served.json").read_text(encoding="utf-8"))
    assert first["threshold"] == stricter["threshold"]  # the aliased version's artifact, not the working copy's
    assert second["difference"]["recall"]["value"] >= 0  # a lower threshold flags at least as many
    assert f"{champion}: average_precision" in capsys.readouterr().out

    assert command.main([f"models:/{NAME}@no-such-alias", "--params", "params.yaml", "--out", "out"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"error: compare: REF 'models:/{NAME}@no-such-alias': models:/{NAME}@no-such-alias: not found"
    )
    assert error.count("\n") == 1
