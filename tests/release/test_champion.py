"""Where the champion comes from, and the registry aliases, against a real MLflow SQLite store."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_template.core.config import Params, parse_params
from mlops_template.release import champion
from tests.support.params import small_params_dict


def test_a_lock_with_the_export_stage_has_a_champion() -> None:
    lock = "schema: '2.0'\nstages:\n  export:\n    outs:\n    - path: models/served\n      md5: abc.dir\n"
    assert champion.served_in_lock(lock)
    assert not champion.served_in_lock("schema: '2.0'\nstages:\n  train:\n    outs:\n    - path: models/model.joblib\n")
    assert not champion.served_in_lock("")


def test_an_unknown_base_rev_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(champion.ChampionError, match="'no-such-branch' is not a commit"):
        champion.resolve_commit(Path(__file__).parent, "no-such-branch")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, served_dir: Path) -> dict[str, Any]:
    """A SQLite registry with two versions of the model: 1 logs `served_dir`, 2 a different artifact."""
    import mlflow  # noqa: PLC0415

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlruns.db'}"
    params = parse_params(small_params_dict())
    other = root / "other-served"
    shutil.copytree(served_dir, other)
    metadata = json.loads((other / "served.json").read_text())
    (other / "served.json").write_text(json.dumps({**metadata, "version": "0123456789ab"}))
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("gate-tests", artifact_location=(root / "artifacts").as_uri())
    client.create_registered_model(params.tracking.registered_model)
    for served in (served_dir, other):
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(served), "served")
        client.set_terminated(run.info.run_id)
        client.create_model_version(
            params.tracking.registered_model, f"runs:/{run.info.run_id}/served", run.info.run_id
        )
    return {"uri": uri, "client": client, "params": params, "root": root, "other": other}


@pytest.fixture
def tracking_server(registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry["uri"])
    client, name = registry["client"], registry["params"].tracking.registered_model
    yield registry
    for alias in (champion.CHAMPION, champion.CHALLENGER, champion.PREVIOUS):
        client.delete_registered_model_alias(name, alias)


def _aliases(registry: dict[str, Any]) -> dict[str, str]:
    name = registry["params"].tracking.registered_model
    found = registry["client"].get_registered_model(name).aliases
    return {alias: str(version) for alias, version in found.items()}


def _version(served: Path) -> str:
    return str(json.loads((served / "served.json").read_text())["version"])


def test_the_candidate_version_is_marked_challenger(tracking_server: dict[str, Any], served_dir: Path) -> None:
    params: Params = tracking_server["params"]
    assert champion.mark_challenger(params, _version(served_dir), root=tracking_server["root"]) == "1"
    assert _aliases(tracking_server) == {"challenger": "1"}
    with pytest.raises(champion.ChampionError, match="no version holds served model ffffffffffff"):
        champion.mark_challenger(params, "ffffffffffff", root=tracking_server["root"])


def test_without_a_tracking_server_no_alias_is_set(
    registry: dict[str, Any], served_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert champion.mark_challenger(registry["params"], _version(served_dir), root=registry["root"]) is None


def test_promotion_keeps_the_previous_champion_and_rolls_back(
    tracking_server: dict[str, Any], served_dir: Path
) -> None:
    params, root = tracking_server["params"], tracking_server["root"]
    first = champion.promote(params, served_version=_version(served_dir), gate=None, root=root)
    assert first == {"champion": "1", "previous-champion": None}
    second = champion.promote(params, served_version=_version(tracking_server["other"]), gate=None, root=root)
    assert second == {"champion": "2", "previous-champion": "1"}
    again = champion.promote(params, served_version=_version(tracking_server["other"]), gate=None, root=root)
    assert again == second  # promoting the champion again moves nothing
    back = champion.promote(params, served_version=None, gate=None, rollback=True, root=root)
    assert back == {"champion": "1", "previous-champion": "2"}
    assert _aliases(tracking_server) == {"champion": "1", "previous-champion": "2"}


def test_promotion_refuses_a_failed_or_foreign_gate(tracking_server: dict[str, Any], served_dir: Path) -> None:
    params, root, version = tracking_server["params"], tracking_server["root"], _version(served_dir)
    failed = {"decision": "fail", "reason": "recall 0.1 is below its floor 0.2", "candidate": {"version": version}}
    with pytest.raises(champion.ChampionError, match=r"decision is 'fail'.*below its floor"):
        champion.promote(params, served_version=version, gate=failed, root=root)
    foreign = {**failed, "decision": "pass", "candidate": {"version": "0123456789ab"}}
    with pytest.raises(champion.ChampionError, match="its candidate '0123456789ab' is not"):
        champion.promote(params, served_version=version, gate=foreign, root=root)
    with pytest.raises(champion.ChampionError, match="no 'previous-champion' alias"):
        champion.promote(params, served_version=None, gate=None, rollback=True, root=root)
    assert _aliases(tracking_server) == {}


def test_the_promote_command(
    tracking_server: dict[str, Any], served_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = tmp_path / "gate.json"
    gate.write_text(json.dumps({"decision": "pass", "reason": "ok", "candidate": {"version": _version(served_dir)}}))
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(small_params_dict()))  # JSON is YAML
    assert champion.main(["--params", str(params), "--served", str(served_dir), "--gate", str(gate)]) == 0
    assert capsys.readouterr().out == "promote: champion -> version 1, previous-champion -> None\n"
    assert champion.main(["--params", str(params), "--rollback"]) == 2
    assert "no 'previous-champion' alias" in capsys.readouterr().err


def test_the_base_rev_champion_comes_from_the_registry_alias(tracking_server: dict[str, Any], tmp_path: Path) -> None:
    params, client = tracking_server["params"], tracking_server["client"]
    client.set_registered_model_alias(params.tracking.registered_model, "champion", "2")
    with champion.obtain("no-such-rev", tmp_path, params, root=tracking_server["root"]) as found:
        assert found is not None
        assert _version(found) == "0123456789ab"


def test_the_gate_command_marks_its_candidate_challenger(tracking_server: dict[str, Any], served_dir: Path) -> None:
    from mlops_template.release import gate  # noqa: PLC0415

    root = served_dir.parent.parent
    out = tracking_server["root"] / "gate.json"
    params = tracking_server["root"] / "params.yaml"
    params.write_text(json.dumps(small_params_dict()))  # JSON is YAML
    args = ["--candidate", str(served_dir), "--champion", "none", "--rows", str(root / "artifacts/ingest/test.parquet")]
    assert gate.main([*args, "--params", str(params), "--out", str(out), "--set-alias"]) == 0
    assert _aliases(tracking_server) == {"challenger": "1"}
