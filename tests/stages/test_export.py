"""The export stage: the served ONNX artifact equals the trained pipeline, and refuses to be altered."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_template.core.config import parse_params
from mlops_template.data import schema
from mlops_template.data.contract import export_contract
from mlops_template.data.sources import generate_history
from mlops_template.model import onnx_export
from mlops_template.model.artifact import ArtifactError, ServedModel, epoch_seconds
from mlops_template.model.estimator import ModelBundle, load_bundle
from mlops_template.stages import export, featurize, ingest, train
from tests.support.params import small_params_dict

FAMILIES = {
    "hist_gradient_boosting": {"kind": "hist_gradient_boosting", "max_iter": 30, "max_leaf_nodes": 15},
    "logistic_regression": {"kind": "logistic_regression", "C": 0.5},
}


def _trained(root: Path, model: dict[str, Any], calibration: str) -> tuple[Any, Path]:
    raw = small_params_dict()
    raw["train"]["model"] = model
    raw["train"]["calibration"] = {"method": calibration, "folds": 3}
    params = parse_params(raw)
    generate_history(params, root / "data", weeks=5)
    ingest.run(params, root / "data", root / "artifacts/ingest", root / "reports/data_quality.json")
    featurize.run(params, root / "artifacts/ingest", root / "artifacts/features")
    train.run(params, root / "artifacts/features", root / "artifacts/ingest/weeks.json", root / "models/model.joblib")
    return params, root


def _edge_rows(reference: pd.DataFrame) -> pd.DataFrame:
    """Rows the training data never showed: unknown and missing categories, gaps, extremes, odd times."""
    rows = reference.head(8).copy().reset_index(drop=True)
    rows.loc[0, "merchant_category"] = "submarines"  # unknown category
    rows.loc[1, "device_type"] = None  # missing category
    rows.loc[2, ["customer_age", "distance_from_home_km"]] = [pd.NA, np.nan]
    rows.loc[3, ["amount", "account_age_days", "txn_count_24h"]] = [50_000.0, 36_500, 10_000]
    rows.loc[4, ["amount", "account_age_days", "txn_count_24h"]] = [0.01, 0, 0]
    rows[schema.TIMESTAMP] = pd.to_datetime(
        [
            "1969-12-31T23:59:59Z",  # before the epoch: floor, not truncation
            "2026-11-21T23:59:59Z",  # Saturday night
            "2026-11-23T00:00:00Z",  # Monday midnight
            "2026-11-22T05:59:00Z",  # the last night minute
            "2026-11-22T06:00:00Z",  # the first day minute
            "2099-06-30T12:34:56Z",
            "2026-03-29T01:30:00Z",
            "2026-10-25T02:30:00Z",
        ],
        utc=True,
    ).as_unit("ns")
    return rows


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid"])
def test_export_equals_the_trained_pipeline(family: str, calibration: str, tmp_path: Path) -> None:
    # Given a model of each family and calibration method
    params, root = _trained(tmp_path, FAMILIES[family], calibration)
    # When it is exported
    model, splits = root / "models/model.joblib", root / "artifacts/ingest"
    report = export.run(params, model, splits, root / "served", root / "e.json")
    # Then every evaluation row, and rows training never saw, score the same to 1e-5
    assert report["parity"]["rows"] > 0
    assert report["parity"]["max_abs_diff"] <= onnx_export.PARITY_TOLERANCE
    bundle = load_bundle(root / "models/model.joblib")
    served = ServedModel.load(root / "served")
    test = pd.read_parquet(root / "artifacts/ingest/test.parquet")
    rows = pd.concat([test, _edge_rows(test)], ignore_index=True)
    expected = bundle.predict_proba(rows)
    np.testing.assert_allclose(served.predict_columns(onnx_export.graph_inputs(rows)), expected, rtol=0, atol=1e-5)
    records = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in rows.astype(object).to_dict("records")
    ]
    np.testing.assert_allclose(served.predict_records(records), expected, rtol=0, atol=1e-5)
    # And exporting again gives the same bytes (dvc.lock stays stable)
    export.run(params, model, splits, root / "again", root / "e2.json")
    for name in ("model.onnx", "contract.json", "served.json"):
        assert (root / "served" / name).read_bytes() == (root / "again" / name).read_bytes(), name
    assert served.metadata["model_kind"] == family
    assert served.metadata["calibration"] == calibration


def test_features_in_the_graph_are_bit_identical(served_dir: Path) -> None:
    root = served_dir.parent.parent
    bundle = load_bundle(root / "models/model.joblib")
    model = onnx_export.build_onnx(bundle.pipeline, with_features=True)
    import onnxruntime as ort  # noqa: PLC0415

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    test = pd.read_parquet(root / "artifacts/ingest/test.parquet")
    rows = pd.concat([test, _edge_rows(test)], ignore_index=True)
    feeds = {k: v.reshape(-1, 1) for k, v in onnx_export.graph_inputs(rows).items()}
    _, found = session.run(None, feeds)
    expected = bundle.pipeline.named_steps["features"].transform(rows).to_numpy()
    assert np.array_equal(found, expected)  # exactly: a tree threshold may sit on a training value


def _allowed(column: str) -> list[Any]:
    return list(schema.active().column(column).allowed or [])


@st.composite
def _raw_rows(draw: st.DrawFn) -> dict[str, Any]:
    def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(st.none(), strategy)

    categories = {
        "merchant_category": st.sampled_from([*_allowed("merchant_category"), "unknown-shop"]),
        "channel": st.sampled_from([*_allowed("channel"), "telepathy"]),
        "device_type": maybe(st.sampled_from([*_allowed("device_type"), "watch"])),
    }
    seconds = draw(st.integers(min_value=-2_000_000_000, max_value=4_000_000_000))
    return {
        schema.TIMESTAMP: datetime.fromtimestamp(seconds, tz=UTC),
        "amount": draw(st.floats(min_value=0.01, max_value=50_000.0)),
        "is_cross_border": draw(st.sampled_from([0, 1])),
        "customer_age": draw(maybe(st.integers(18, 110))),
        "account_age_days": draw(st.integers(0, 36_500)),
        "distance_from_home_km": draw(maybe(st.floats(min_value=0.0, max_value=20_100.0))),
        "txn_count_24h": draw(st.integers(0, 10_000)),
        **{name: draw(strategy) for name, strategy in categories.items()},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_raw_rows(), min_size=1, max_size=20))
def test_any_contract_rows_score_the_same_served_and_trained(served_dir: Path, batch: list[dict[str, Any]]) -> None:
    bundle: ModelBundle = load_bundle(served_dir.parent / "model.joblib")
    served = ServedModel.load(served_dir)
    frame = pd.DataFrame(batch)
    frame[schema.TIMESTAMP] = pd.to_datetime(frame[schema.TIMESTAMP], utc=True)
    expected = bundle.predict_proba(frame)
    found = served.predict_records(batch)
    assert found.shape == expected.shape
    assert np.all((found >= 0) & (found <= 1))
    np.testing.assert_allclose(found, expected, rtol=0, atol=onnx_export.PARITY_TOLERANCE)


def _copy(served_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(served_dir, tmp_path / "served"))


def test_an_altered_model_file_is_refused(served_dir: Path, tmp_path: Path) -> None:
    copy = _copy(served_dir, tmp_path)
    blob = bytearray((copy / "model.onnx").read_bytes())
    blob[-1] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match=r"model.onnx: sha256 [0-9a-f]{64} does not match [0-9a-f]{64}"):
        ServedModel.load(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: (d / "contract.json").unlink(), r"contract.json: not found \(the artifact is incomplete\)"),
        (lambda d: (d / "served.json").unlink(), r"served.json: not found \(export the model first"),
        (lambda d: (d / "served.json").write_text("{oops", encoding="utf-8"), "served.json: not readable JSON"),
        (lambda d: _edit(d, format=99), "format 99 is not 1"),
        (lambda d: _edit(d, version="000000000000"), "version '000000000000' does not match its file hashes"),
        (lambda d: _edit(d, files={"model.onnx": "0" * 64}), r"files.contract.json: no sha256 recorded"),
    ],
)
def test_a_broken_artifact_is_refused_with_the_reason(
    served_dir: Path, tmp_path: Path, change: Any, message: str
) -> None:
    copy = _copy(served_dir, tmp_path)
    change(copy)
    with pytest.raises(ArtifactError, match=message):
        ServedModel.load(copy)


def _edit(directory: Path, **changes: Any) -> None:
    path = directory / "served.json"
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **changes}), encoding="utf-8")


def test_a_failed_parity_check_keeps_the_last_good_artifact(
    served_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = served_dir.parent.parent
    target = _copy(served_dir, tmp_path)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)  # any difference, even 0, now fails
    params = parse_params(small_params_dict())
    with pytest.raises(
        export.ExportError, match=r"exported model differs .* rule: at most -1.0 .* previous artifact is kept"
    ):
        export.run(params, root / "models/model.joblib", root / "artifacts/ingest", target, tmp_path / "r.json")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert not (tmp_path / "r.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp dirs left behind


def test_the_contract_json_carries_every_rule_of_the_schema() -> None:
    contract = export_contract()
    columns = {c["name"]: c for c in contract["columns"]}
    assert list(columns) == list(schema.COLUMNS)
    assert columns["amount"] == {
        "name": "amount",
        "dtype": "float",
        "nullable": False,
        "role": "numeric",
        "min": 0.01,
        "max": 50_000.0,
    }
    assert columns["channel"]["allowed"] == ["pos", "online", "atm"]
    assert columns["customer_age"]["nullable"] is True
    assert columns[schema.ID]["role"] == "id"
    assert columns[schema.LABEL]["role"] == "label"
    assert columns[schema.TIMESTAMP]["dtype"] == "datetime"
    assert columns["customer_id"]["role"] == "other"
    assert contract["classes"] == {"positive": schema.POSITIVE_CLASS, "negative": schema.NEGATIVE_CLASS}
    json.dumps(contract, allow_nan=False)  # plain JSON, nothing numpy


def test_a_check_without_a_json_form_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandera.pandas as pa  # noqa: PLC0415

    strange = schema.CONTRACT.update_column("amount", checks=[pa.Check.str_matches(r"^\d+$")])
    monkeypatch.setattr(schema, "CONTRACT", strange)
    with pytest.raises(ValueError, match=r"contract column 'amount': check 'str_matches' has no JSON form"):
        export_contract()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2026-11-23T10:00:00Z", 1_795_428_000),
        ("2026-11-23T10:00:00", 1_795_428_000),  # naive means UTC, as ingest reads it
        ("2026-11-23T11:00:00+01:00", 1_795_428_000),
        (datetime(2026, 11, 23, 10, 0, 0, 999_999, tzinfo=UTC), 1_795_428_000),
        (datetime(2026, 11, 23, 5, 0, tzinfo=timezone(timedelta(hours=-5))), 1_795_428_000),
        ("1969-12-31T23:59:59.5Z", -1),  # floor, not truncation toward zero
    ],
)
def test_timestamps_become_whole_utc_seconds(value: Any, seconds: int) -> None:
    assert epoch_seconds(value) == seconds


def test_explanations_add_up_and_are_ordered(served_dir: Path) -> None:
    served = ServedModel.load(served_dir)
    record = {spec.name: served.reference[spec.name] for spec in served.inputs}
    record.update(amount=4_000.0, channel="online", txn_count_24h=25)
    found = served.explain_record(record)
    assert [c.feature for c in found] != []
    assert {c.feature for c in found} == {spec.name for spec in served.inputs}
    sizes = [abs(c.contribution) for c in found]
    assert sizes == sorted(sizes, reverse=True)
    at_reference = {c.feature: c.contribution for c in found}
    assert at_reference["merchant_category"] == 0.0  # already at its reference value
    top = found[0]
    moved = served.predict_records([{**record, top.feature: top.reference}])[0]
    assert served.predict_records([record])[0] - moved == pytest.approx(top.contribution, abs=1e-12)


# --- every declarable treatment exports exactly ----------------------------------------------------

TREATMENTS = {
    "log off": {"numeric": {"log": []}},
    "scale off": {"numeric": {"scale": False}},
    "impute mean": {"numeric": {"impute": "mean"}},
    "impute none": {"numeric": {"impute": "none"}},
    "no missing indicator": {"numeric": {"missing_indicator": False}},
    "no numeric treatment (identity)": {"numeric": {"impute": "none", "scale": False, "log": []}},
    "day of week, no hour": {"event_time": {"hour": False, "weekend": True, "day_of_week": True}},
    "every time feature": {"event_time": {"hour": True, "weekend": True, "day_of_week": True}},
    "hour only": {"event_time": {"hour": True, "weekend": False}},
    "time off": {"event_time": {"hour": False, "weekend": False, "day_of_week": False}},
    "no rare pooling": {"categorical": {"min_category_frequency": 1}},
    "heavy rare pooling": {"categorical": {"min_category_frequency": 400}},
}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five small simulated weeks, ingested once for the treatment tests."""
    root = tmp_path_factory.mktemp("treatments")
    params = parse_params(small_params_dict())
    generate_history(params, root / "data", weeks=5)
    ingest.run(params, root / "data", root / "artifacts/ingest", root / "reports/data_quality.json")
    return root / "artifacts/ingest"


@pytest.mark.parametrize("name", sorted(TREATMENTS))
def test_each_declared_treatment_exports_exactly(name: str, ingested: Path, tmp_path: Path) -> None:
    # Given a model trained with one declared treatment
    raw = small_params_dict()
    raw["featurize"] = {**raw["featurize"], **{k: {**raw["featurize"][k], **v} for k, v in TREATMENTS[name].items()}}
    raw["train"]["model"].update(max_iter=5)
    raw["train"]["calibration"] = {"method": "isotonic", "folds": 2}
    params = parse_params(raw)
    featurize.run(params, ingested, tmp_path / "features")
    train.run(params, tmp_path / "features", ingested / "weeks.json", tmp_path / "model.joblib")
    # When it is exported (the stage measures probability parity on every evaluation row)
    report = export.run(params, tmp_path / "model.joblib", ingested, tmp_path / "served", tmp_path / "e.json")
    assert report["parity"]["max_abs_diff"] <= onnx_export.PARITY_TOLERANCE
    # Then the graph's features equal the fitted transformer's, bit for bit, on unseen rows too
    bundle = load_bundle(tmp_path / "model.joblib")
    test = pd.read_parquet(ingested / "test.parquet")
    rows = pd.concat([test, _edge_rows(test)], ignore_index=True)
    import onnxruntime as ort  # noqa: PLC0415

    model = onnx_export.build_onnx(bundle.pipeline, with_features=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {k: v.reshape(-1, 1) for k, v in onnx_export.graph_inputs(rows).items()}
    probabilities, found = session.run(None, feeds)
    expected = bundle.pipeline.named_steps["features"].transform(rows)
    assert found.shape == expected.shape
    assert np.array_equal(found, expected.to_numpy(), equal_nan=True)
    np.testing.assert_allclose(probabilities, bundle.predict_proba(rows), rtol=0, atol=onnx_export.PARITY_TOLERANCE)
