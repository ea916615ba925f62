"""Stages featurize -> train -> evaluate on small data, and the MLflow run that evaluate logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from mlops_template import cli
from mlops_template.core import io
from mlops_template.core.config import Params, parse_params
from mlops_template.core.errors import StageInputError
from mlops_template.data import schema
from mlops_template.model import tracking
from mlops_template.model.artifact import ServedModel
from mlops_template.model.estimator import ModelBundle, load_bundle
from mlops_template.stages import evaluate, export, featurize, ingest, register, train
from tests.support.params import small_params_dict


def _pipeline(params: Params, data_dir: Path, root: Path) -> dict[str, Any]:
    ingest.run(params, data_dir, root / "artifacts/ingest", root / "reports/data_quality.json")
    featurize.run(params, root / "artifacts/ingest", root / "artifacts/features")
    train.run(params, root / "artifacts/features", root / "artifacts/ingest/weeks.json", root / "models/model.joblib")
    export.run(
        params,
        root / "models/model.joblib",
        root / "artifacts/ingest",
        root / "models/served",
        root / "reports/export.json",
    )
    return _evaluate(params, root)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _evaluate(params: Params, root: Path) -> dict[str, Any]:
    """The evaluate stage on a project laid out as dvc.yaml lays it out under `root`."""
    return evaluate.run(
        params,
        served_dir=root / "models/served",
        ingest_dir=root / "artifacts/ingest",
        data_dvc=root / "data.dvc",
        quality_path=root / "reports/data_quality.json",
        reports_dir=root / "reports",
    )


@pytest.fixture
def trained(small_params: Params, data_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    _pipeline(small_params, data_dir, root)
    return root


def test_model_bundle_scores_raw_rows(trained: Path) -> None:
    bundle = joblib.load(trained / "models/model.joblib")
    assert isinstance(bundle, ModelBundle)
    test = pd.read_parquet(trained / "artifacts/ingest/test.parquet")
    scores = bundle.predict_proba(test)
    assert scores.shape == (len(test),)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert 0 < bundle.threshold < 1
    assert bundle.trained_weeks == ("2026-W35", "2026-W36", "2026-W37")


def test_model_beats_the_baseline(trained: Path) -> None:
    metrics = io.read_json(trained / "reports/metrics.json")
    assert metrics["model"]["roc_auc"] > 0.7
    assert metrics["model"]["average_precision"] > 2 * metrics["baseline"]["average_precision"]
    assert metrics["baseline"]["roc_auc"] == 0.5
    expected = {"roc_auc", "average_precision", "precision", "recall", "f1", "brier", "calibration_error"}
    assert expected <= set(metrics["model"])


def test_evaluate_writes_slices_plots_and_card(trained: Path) -> None:
    slices = io.read_json(trained / "reports/slices.json")
    assert set(slices) == {"channel", "merchant_category"}
    assert "pos" in slices["channel"]
    plots = trained / "reports/plots"
    roc = pd.read_csv(plots / "roc.csv")
    assert list(roc.columns) == ["fpr", "tpr", "threshold"]
    confusion = pd.read_csv(plots / "confusion.csv")
    assert set(confusion["actual"]) <= {"fraud", "legit"}
    importance = pd.read_csv(plots / "feature_importance.csv")
    assert set(importance["feature"]) >= {"amount", "channel", "timestamp"}
    card = io.read_json(trained / "reports/model_card.json")
    for key in (
        "model",
        "intended_use",
        "limitations",
        "data",
        "metrics",
        "params",
        "schema",
        "environment",
        "code_version",
    ):
        assert key in card
    assert card["model"]["threshold"] == io.read_json(trained / "reports/metrics.json")["threshold"]
    assert {c["name"] for c in card["schema"]} == set(schema.COLUMNS)
    assert card["environment"]["scikit-learn"]
    markdown = (trained / "reports/model_card.md").read_text(encoding="utf-8")
    assert "# Model card: fraud-detector" in markdown
    assert "| roc_auc |" in markdown
    assert "## Limitations" in markdown
    assert f"mlops-template audit show {card['served']['version']}" in markdown  # the link to the audit trail


def test_logistic_regression_trains_too(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    raw = small_params_dict()
    raw["train"]["model"] = {"kind": "logistic_regression", "C": 0.5, "class_weight": "balanced"}
    raw["train"]["calibration"] = {"method": "sigmoid", "folds": 2}
    raw["train"]["threshold"] = {"rule": "min_recall", "target": 0.5}
    metrics = _pipeline(parse_params(raw), data_dir, tmp_path / "lr")
    assert metrics["model"]["recall"] > 0.3
    assert metrics["model"]["roc_auc"] > 0.7


def test_training_is_reproducible(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    _pipeline(small_params, data_dir, tmp_path / "a")
    _pipeline(small_params, data_dir, tmp_path / "b")
    for name in ("models/model.joblib", "reports/metrics.json", "reports/model_card.json", "reports/plots/roc.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_missing_inputs_say_which_stage_to_run(small_params: Params, tmp_path: Path) -> None:
    with pytest.raises(StageInputError, match=r"train.parquet: not found \(run the ingest stage first"):
        featurize.run(small_params, tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(StageInputError, match="run the featurize stage first"):
        train.run(small_params, tmp_path / "nothing", tmp_path / "weeks.json", tmp_path / "model.joblib")
    with pytest.raises(StageInputError, match="run the train stage first"):
        load_bundle(tmp_path / "model.joblib")


def test_a_foreign_model_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"not": "a bundle"}, path)
    with pytest.raises(StageInputError, match="holds a dict, not a ModelBundle"):
        load_bundle(path)


def test_one_class_training_data_is_refused(trained: Path, small_params: Params) -> None:
    features = trained / "artifacts/features"
    frame = pd.read_parquet(features / "train.parquet")
    frame.assign(**{schema.LABEL: 0}).to_parquet(features / "train.parquet")
    before = (trained / "models/model.joblib").read_bytes()
    with pytest.raises(StageInputError, match="one class only"):
        train.run(small_params, features, trained / "artifacts/ingest/weeks.json", trained / "models/model.joblib")
    assert (trained / "models/model.joblib").read_bytes() == before  # the last good model is intact


@pytest.mark.parametrize(
    ("slices", "message"),
    [
        (["channel", "colour"], "evaluate.slices: 'colour' is not a column of the contract (choose from"),
        (["amount"], "evaluate.slices: 'amount' is a numeric column without allowed values (rule: a slice groups"),
    ],
)
def test_a_slice_params_check_refuses_is_refused_by_evaluate_in_its_words(
    trained: Path, slices: list[str], message: str
) -> None:
    raw = small_params_dict()
    raw["evaluate"]["slices"] = slices
    with pytest.raises(StageInputError, match=re.escape(message)):
        _evaluate(parse_params(raw), trained)


def test_evaluate_writes_the_fairness_audit(trained: Path) -> None:
    audit = io.read_json(trained / "reports/fairness.json")
    assert set(audit["groupings"]) == {"customer_age", "channel"}  # the shipped evaluate.fairness
    assert audit["model_version"] == io.read_json(trained / "reports/metrics.json")["model_version"]
    ages = audit["groupings"]["customer_age"]["groups"]
    assert set(ages) <= {"< 30", "[30, 45)", "[45, 60)", ">= 60", "missing"}
    assert "## Fairness (at the threshold)" in (trained / "reports/model_card.md").read_text(encoding="utf-8")


def test_a_fairness_group_params_check_refuses_is_refused_by_evaluate_in_its_words(trained: Path) -> None:
    raw = small_params_dict()
    raw["evaluate"]["fairness"] = {"groups": [{"column": "amount"}]}
    message = "evaluate.fairness.groups.0.column: 'amount' is a numeric float column without allowed values"
    before = (trained / "reports/metrics.json").read_bytes()
    with pytest.raises(StageInputError, match=re.escape(message)):
        _evaluate(parse_params(raw), trained)
    assert (trained / "reports/metrics.json").read_bytes() == before  # nothing written


def test_register_logs_one_mlflow_run_and_registers_a_version(
    trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow  # noqa: PLC0415
    from mlflow import MlflowClient  # noqa: PLC0415

    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.chdir(tmp_path)
    raw = small_params_dict()
    raw["tracking"]["enabled"] = True
    params = parse_params(raw)
    (trained / "data.dvc").write_text(
        "outs:\n- md5: abc123.dir\n  size: 1\n  nfiles: 5\n  path: data\n", encoding="utf-8"
    )
    _evaluate(params, trained)
    heard = _Collect()
    for name in tracking.KNOWN_NOISE:  # MLflow's loggers do not propagate: listen on each directly
        logging.getLogger(name).addHandler(heard)
        monkeypatch.setattr(logging.getLogger(name), "level", logging.INFO)
    for _ in range(2):
        record = register.run(
            params,
            trained / "models/model.joblib",
            trained / "models/served",
            trained / "reports",
            trained / "registered.json",
        )
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("fraud-detection")
    assert experiment is not None
    assert experiment.artifact_location == (store / "mlartifacts").resolve().as_uri()
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    run = runs[0]
    metrics = io.read_json(trained / "reports/metrics.json")
    assert run.data.metrics["model.roc_auc"] == pytest.approx(metrics["model"]["roc_auc"])
    assert run.data.params["train.model.kind"] == "hist_gradient_boosting"
    assert run.data.tags["data_version"] == "abc123.dir"
    assert "git_commit" in run.data.tags
    versions = client.search_model_versions("name='fraud-detector'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    card = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/model_card.json")
    assert card["run"]["mlflow_run_id"] == run.info.run_id
    loaded = mlflow.sklearn.load_model(f"models:/fraud-detector/{max(int(v.version) for v in versions)}")
    test = pd.read_parquet(trained / "artifacts/ingest/test.parquet")
    bundle = joblib.load(trained / "models/model.joblib")
    np.testing.assert_allclose(loaded.predict_proba(test)[:, 1], bundle.predict_proba(test))
    assert not (tmp_path / "mlruns").exists()  # nothing written where it was not asked to be
    from mlflow.telemetry.utils import is_telemetry_disabled  # noqa: PLC0415

    assert is_telemetry_disabled()  # opted out without the user having to know
    for name in tracking.KNOWN_NOISE:
        logging.getLogger(name).removeHandler(heard)
    assert not [m for m in heard.messages if m.startswith(tuple(tracking.KNOWN_NOISE.values()))]
    assert record == io.read_json(trained / "registered.json")
    assert record["data_version"] == "abc123.dir"
    assert record["logged"] is True
    assert set(record) == {"model_sha256", "served_version", "data_version", "registered_model", "logged"}  # stable
    served_files = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/{tracking.SERVED_ARTIFACT_PATH}")
    assert (Path(served_files) / "served.json").read_bytes() == (trained / "models/served/served.json").read_bytes()
    _fetch_by_alias_and_version(client, run, trained, tmp_path)


def _fetch_by_alias_and_version(client: Any, run: Any, trained: Path, tmp_path: Path) -> None:
    """An image build fetches the served artifact by alias or number, verified by its hashes."""
    assert run.data.tags["served_version"] == ServedModel.load(trained / "models/served").version
    client.set_registered_model_alias("fraud-detector", "champion", "2")
    fetched = tracking.download_served("models:/fraud-detector@champion", tmp_path / "image-model", root=tmp_path)
    assert ServedModel.load(fetched).version == ServedModel.load(trained / "models/served").version
    assert cli.main(["fetch-model", "models:/fraud-detector/1", "--out", str(tmp_path / "v1")]) == 0
    by_number = tmp_path / "v1"
    assert (by_number / "model.onnx").is_file()
    with pytest.raises(tracking.TrackingError, match=r"models:/fraud-detector@nobody: not found in the registry"):
        tracking.download_served("models:/fraud-detector@nobody", tmp_path / "none", root=tmp_path)
    with pytest.raises(tracking.TrackingError, match=r"image-model: already exists"):
        tracking.download_served("models:/fraud-detector@champion", tmp_path / "image-model", root=tmp_path)
    with pytest.raises(tracking.TrackingError, match=r"expected models:/<name>@<alias> or models:/<name>/<version>"):
        tracking.download_served("runs:/abc/served", tmp_path / "other", root=tmp_path)


def test_register_without_tracking_logs_nothing(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")
    record = register.run(
        parse_params(small_params_dict()),
        trained / "models/model.joblib",
        trained / "models/served",
        trained / "reports",
        tmp_path / "r.json",
    )
    assert record["logged"] is False
    assert not (tmp_path / "never.db").exists()


def test_register_needs_evaluate_first(trained: Path, small_params: Params, tmp_path: Path) -> None:
    with pytest.raises(StageInputError, match=r"metrics.json: not found \(run the evaluate stage first"):
        register.run(
            small_params, trained / "models/model.joblib", trained / "models/served", tmp_path, tmp_path / "r.json"
        )
