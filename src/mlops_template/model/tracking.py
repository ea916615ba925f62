"""Experiment tracking and model registry with MLflow: one run per evaluated model.

MLflow is imported only here, lazily, so that nothing else (serving included) pays for it.
Default store: a SQLite file in the repository (`mlruns.db`, artifacts in `mlartifacts/`), the same
one for DVC experiments run in temporary copies of the project; `MLFLOW_TRACKING_URI` switches to a
server. Telemetry is off unless you turn it on.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mlops_template.core.config import Params, Settings
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.model.estimator import ModelBundle

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole mlops_template package
# Explicit requirements: inferring them imports the model in a subprocess and costs seconds.
MODEL_REQUIREMENTS = ("scikit-learn", "pandas", "numpy", "pandera", "pyarrow", "pydantic", "pyyaml")


SERVED_ARTIFACT_PATH = "served"  # the run's artifact folder holding the exported model


class TrackingError(MlopsTemplateError):
    """The tracking store refused or could not be reached."""


# MLflow messages that are expected here and say nothing actionable: we log with cloudpickle on
# purpose (like the DVC artifact), uv environments have no pip, and we pass requirements explicitly.
KNOWN_NOISE = {
    "mlflow.sklearn": "Saving scikit-learn models in the pickle or cloudpickle format",
    "mlflow.utils.environment": "Failed to resolve installed pip version",
    "mlflow.utils.uv_utils": "Detected uv project",
}


class _DropKnownNoise(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def quiet_known_noise() -> None:
    """Drop exactly the messages in KNOWN_NOISE; every other MLflow warning still shows."""
    for name, prefix in KNOWN_NOISE.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, _DropKnownNoise) for f in target.filters):
            target.addFilter(_DropKnownNoise(prefix))


def flatten(payload: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists become comma-separated strings."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(map(str, value))
        else:
            flat[name] = value
    return flat


def _git(root: Path, *args: str) -> str:
    # git from PATH, as the user runs it; the arguments are constants of this module.
    found = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)  # noqa: S603, S607
    return found.stdout.strip()


def git_state(root: Path) -> dict[str, str]:
    """The commit the working tree is at, and whether it has uncommitted changes."""
    try:
        commit = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": str(bool(dirty)).lower()}


# Set by DVC in every command of an experiment (`dvc exp run`, queued or not): a run tagged with them
# is found from the row `dvc exp show` prints, and the other way round.
DVC_EXPERIMENT_TAGS = {"dvc_experiment": "DVC_EXP_NAME", "dvc_baseline_rev": "DVC_EXP_BASELINE_REV"}


def dvc_experiment() -> dict[str, str]:
    """The DVC experiment this process runs in, as MLflow tags (empty under a plain `dvc repro`)."""
    return {tag: os.environ[variable] for tag, variable in DVC_EXPERIMENT_TAGS.items() if os.environ.get(variable)}


def _requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


def log_run(
    params: Params,
    bundle: ModelBundle,
    *,
    metrics: dict[str, Any],
    card: dict[str, Any],
    card_markdown: str,
    root: Path,
    served_dir: Path | None = None,
    settings: Settings | None = None,
) -> str:
    """Log params, metrics, card and model as one run; register a model version. Returns the run id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow  # noqa: PLC0415 - heavy, and only training needs it
    import mlflow.sklearn  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    quiet_known_noise()
    settings = settings or Settings()
    uri = settings.tracking_uri(root)
    try:
        mlflow.set_tracking_uri(uri)
        if settings.mlflow_registry_uri:
            mlflow.set_registry_uri(settings.mlflow_registry_uri)
        experiment = mlflow.get_experiment_by_name(params.tracking.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else mlflow.create_experiment(
                params.tracking.experiment, artifact_location=settings.artifact_location(root)
            )
        )
        data_md5 = str(card["data"]["version"].get("md5"))
        tags = {
            **git_state(root),
            **dvc_experiment(),
            "data_version": data_md5,
            "model_kind": params.train.model.kind,
        }
        if served_dir is not None:  # the served artifact's version, so a registered version is found by it
            tags["served_version"] = str(card.get("served", {}).get("version", "unknown"))
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{params.train.model.kind}-{data_md5[:8]}", tags=tags
        ) as run:
            mlflow.log_params(flatten(params.model_dump(mode="json")))
            numeric = {
                k: v for k, v in flatten(metrics).items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
            mlflow.log_metrics(numeric)
            logged_card = {**card, "run": {"mlflow_run_id": run.info.run_id, **tags}}
            mlflow.log_dict(logged_card, "model_card.json")
            mlflow.log_text(card_markdown, "model_card.md")
            if served_dir is not None:
                # The served artifact (ONNX + contract + hashes), what an image build fetches by alias.
                mlflow.log_artifacts(str(served_dir), SERVED_ARTIFACT_PATH)
            info = mlflow.sklearn.log_model(
                bundle.pipeline,
                name="model",
                pip_requirements=_requirements(),
                # The DVC artifact is a pickle too; skops would need an allow-list per sklearn version.
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                code_paths=[str(PACKAGE_DIR)],
                registered_model_name=params.tracking.registered_model,
                metadata={
                    "threshold": bundle.threshold,
                    "threshold_rule": bundle.threshold_rule,
                    "served_artifact": SERVED_ARTIFACT_PATH,
                },
            )
            run_id: str = run.info.run_id
    except MlflowException as exc:
        msg = f"MLflow at {uri} refused the run: {exc.message}"
        raise TrackingError(msg) from exc
    logger.info(
        "logged MLflow run %s (model version %s of %r) to %s",
        run_id,
        info.registered_model_version,
        params.tracking.registered_model,
        uri,
    )
    return run_id


def _parse_model_uri(uri: str) -> tuple[str, str, str]:
    """`models:/name@alias` or `models:/name/version` -> (name, "alias" | "version", value)."""
    body = uri.removeprefix("models:/")
    if body == uri or not body:
        msg = f"model uri {uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>"
        raise TrackingError(msg)
    if "@" in body:
        name, alias = body.split("@", 1)
        return name, "alias", alias
    name, _, number = body.rpartition("/")
    if not name or not number.isdigit():
        msg = f"model uri {uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>"
        raise TrackingError(msg)
    return name, "version", number


def download_served(model_uri: str, out_dir: Path, *, root: Path, settings: Settings | None = None) -> Path:
    """Fetch the served artifact logged with a registered version (by alias or number) into `out_dir`.

    For image builds: `mlops-template fetch-model models:/<tracking.registered_model>@champion --out build/model`.
    The caller verifies it (ServedModel.load checks every sha256); `out_dir` must not exist yet.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    settings = settings or Settings()
    uri = settings.tracking_uri(root)
    name, kind, value = _parse_model_uri(model_uri)
    if out_dir.exists():
        msg = f"{out_dir}: already exists (fetch-model writes a new directory, it never overwrites)"
        raise TrackingError(msg)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=settings.mlflow_registry_uri or uri)
    try:
        version = (
            client.get_model_version_by_alias(name, value) if kind == "alias" else client.get_model_version(name, value)
        )
        staging = Path(
            mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=SERVED_ARTIFACT_PATH, tracking_uri=uri
            )
        )
    except MlflowException as exc:
        msg = f"{model_uri}: not found in the registry at {uri} ({exc.message})"
        raise TrackingError(msg) from exc
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(staging, out_dir)
    logger.info("fetched %s (version %s, run %s) into %s", model_uri, version.version, version.run_id, out_dir)
    return out_dir
