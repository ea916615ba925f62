"""What each input is worth: one retrain per input left out (or per declared group of inputs).

Every retrain is the pipeline's own training with one thing changed: the same splits (ingest's
train, valid and test), the same params and seed, `featurize`'s transformer (`model/features.py`)
fitted on train and `train`'s calibrated classifier (`model/estimator.py`) with its threshold chosen
on valid by the same rule. Leaving an input out means the contract the transformer is built from
calls it `ignored` (the event time: every time feature off), so the model never sees it. The retrain
with every input is the pipeline's model: on the default data its test probabilities are the served
artifact's within 3.5e-14 (export's parity), the same threshold (its average precision reads 0.4486
against the served 0.4488 only because such differences break near-ties of calibrated scores).

Each model without an input is compared with the model with all of them on the test rows by the
paired bootstrap (`model/statistics.py`): the change in average precision and in recall at each
model's own threshold, with intervals. An input is worth something when leaving it out makes a
metric worse with an interval that excludes zero. Beside it, permutation importance (scikit-learn's,
as `evaluate` computes it, on the model with every input) measures how much the model *uses* an
input: a model can lean on an input that a retrain without it replaces with a correlated one.

The retrains are independent: `--jobs N` runs them in N processes, one thread each (OpenMP threads
that share busy cores spin, see experiments/workers.py). The results do not depend on N.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's own

from mlops_template.core.config import Params
from mlops_template.core.contract_spec import ContractSpec
from mlops_template.core.errors import ConfigError, StageInputError
from mlops_template.data import schema
from mlops_template.data.splits import SPLITS, read_split
from mlops_template.experiments.compare.scoreboard import verdict
from mlops_template.model.estimator import build_classifier, choose_threshold
from mlops_template.model.features import build_transformer, input_columns
from mlops_template.model.metrics import DIGITS
from mlops_template.model.statistics import average_precision, paired_bootstrap, recall

logger = logging.getLogger(__name__)

ALL_INPUTS = "all inputs"
ABLATION_METRICS = ("average_precision", "recall")
THRESHOLD_DIGITS = 6  # as train records the threshold


@dataclass(frozen=True)
class Retrained:
    """One retrain's test probabilities and threshold (chosen on valid)."""

    name: str
    columns: tuple[str, ...]  # left out; () for the model with every input
    threshold: float
    scores: np.ndarray


def input_groups(contract: ContractSpec, declared: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """What to leave out, in turn: each declared group, then every input in no group, on its own."""
    inputs = input_columns(contract)
    grouped: set[str] = set()
    groups: dict[str, tuple[str, ...]] = {}
    for name, columns in declared.items():
        if name in inputs or name == ALL_INPUTS:
            msg = f"--group {name}: the name is taken (an input, or {ALL_INPUTS!r}); name the group otherwise"
            raise ConfigError(msg)
        for column in columns:
            if column not in inputs:
                msg = f"--group {name}: {column!r} is not a model input (rule: one of {list(inputs)})"
                raise ConfigError(msg)
            if column in grouped:
                msg = f"--group {name}: {column!r} is in another group already (rule: a column in one group)"
                raise ConfigError(msg)
            grouped.add(column)
        groups[name] = tuple(columns)
    groups.update({column: (column,) for column in inputs if column not in grouped})
    return groups


def parse_group(text: str) -> tuple[str, tuple[str, ...]]:
    """`NAME=col,col` (an argparse type)."""
    name, _, columns = text.partition("=")
    found = tuple(c.strip() for c in columns.split(",") if c.strip())
    if not name.strip() or not found:
        msg = f"--group {text!r}: expected NAME=column,column (rule: a name and at least one input)"
        raise ConfigError(msg)
    return name.strip(), found


def without(params: Params, contract: ContractSpec, columns: Sequence[str]) -> tuple[Params, ContractSpec]:
    """The params and contract of a model that does not see `columns`."""
    left_out = set(columns)
    featurize = params.featurize
    numeric = featurize.numeric.model_copy(update={"log": tuple(c for c in featurize.numeric.log if c not in left_out)})
    event_time = featurize.event_time
    if contract.one("event_time") in left_out:
        event_time = event_time.model_copy(update={"hour": False, "weekend": False, "day_of_week": False})
    featurize = featurize.model_copy(update={"numeric": numeric, "event_time": event_time})
    ignored = [
        column.model_copy(update={"role": "ignored"})
        if column.name in left_out and column.role != "event_time"
        else column
        for column in contract.columns
    ]
    return params.model_copy(update={"featurize": featurize}), contract.model_copy(update={"columns": ignored})


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[schema.LABEL].to_numpy(dtype=int)


def fit(params: Params, contract: ContractSpec, splits: Mapping[str, pd.DataFrame]) -> tuple[Pipeline, float]:
    """`featurize` + `train` on the splits: the fitted pipeline and its threshold (chosen on valid)."""
    train, valid = splits["train"], splits["valid"]
    y_train = _labels(train)
    folds = params.train.calibration.folds
    if min(int(y_train.sum()), len(y_train) - int(y_train.sum())) < folds:
        msg = f"train.calibration.folds={folds}: the training split holds fewer rows of a class than that"
        raise StageInputError(msg)
    transformer = build_transformer(params.featurize, contract)
    transformer.fit(train)
    classifier = build_classifier(params.train, params.base.seed)
    classifier.fit(transformer.transform(train), y_train)
    pipeline = Pipeline([("features", transformer), ("classifier", classifier)])
    valid_scores = pipeline.predict_proba(valid)[:, 1]
    threshold = round(choose_threshold(_labels(valid), valid_scores, params.train.threshold), THRESHOLD_DIGITS)
    return pipeline, threshold


# --- the work, in one process or several ----------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _start(params: Params, contract: ContractSpec, ingest_dir: Path) -> None:
    """A worker's set-up: the contract in use, the splits read once, one thread."""
    schema.use(contract)
    _STATE.update(
        params=params,
        contract=contract,
        splits={name: read_split(ingest_dir / f"{name}.parquet") for name in SPLITS},
        limits=threadpool_limits(limits=1),
    )


def _retrain(name: str, columns: tuple[str, ...]) -> Retrained:
    params, contract = without(_STATE["params"], _STATE["contract"], columns)
    pipeline, threshold = fit(params, contract, _STATE["splits"])
    scores = np.asarray(pipeline.predict_proba(_STATE["splits"]["test"])[:, 1], dtype=np.float64)
    logger.info("retrained without %s: threshold %.4f", name, threshold)
    return Retrained(name, columns, threshold, scores)


def _average_precision(estimator: Pipeline, rows: pd.DataFrame, labels: np.ndarray) -> float:
    return float(average_precision_score(labels, estimator.predict_proba(rows)[:, 1]))


def _importance() -> dict[str, dict[str, float]]:
    """Permutation importance of each input for average precision on the model with every input (the
    sample, repeats and seed of `evaluate`)."""
    params, contract = _STATE["params"], _STATE["contract"]
    pipeline, _ = fit(params, contract, _STATE["splits"])
    test = _STATE["splits"]["test"]
    seed = params.base.seed
    sample = test.sample(n=min(len(test), params.evaluate.importance_max_rows), random_state=seed)
    inputs = list(input_columns(contract))
    found = permutation_importance(
        pipeline,
        sample[inputs],
        _labels(sample),
        scoring=_average_precision,
        n_repeats=params.evaluate.importance_repeats,
        random_state=seed,
    )
    return {
        name: {"mean": round(float(mean), DIGITS), "std": round(float(std), DIGITS)}
        for name, mean, std in zip(inputs, found.importances_mean, found.importances_std, strict=True)
    }


def _task(task: tuple[str, tuple[str, ...]] | None) -> Retrained | dict[str, dict[str, float]]:
    return _importance() if task is None else _retrain(*task)


def retrain_all(
    params: Params, contract: ContractSpec, ingest_dir: Path, groups: Mapping[str, tuple[str, ...]], jobs: int
) -> tuple[list[Retrained], dict[str, dict[str, float]]]:
    """The model with every input, one per group left out, and the permutation importances."""
    tasks: list[tuple[str, tuple[str, ...]] | None] = [(ALL_INPUTS, ()), *groups.items(), None]
    if jobs == 1:
        _start(params, contract, ingest_dir)
        try:
            results = [_task(task) for task in tasks]
        finally:
            _STATE.pop("limits").restore_original_limits()
            _STATE.clear()
    else:
        context = multiprocessing.get_context("spawn")  # fork after OpenMP has run can hang a child
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_start, initargs=(params, contract, ingest_dir)
        ) as pool:
            results = list(pool.map(_task, tasks))
    importance = results.pop()
    assert isinstance(importance, dict)  # noqa: S101 - the last task is the importance
    return [r for r in results if isinstance(r, Retrained)], importance


# --- the scoreboard -------------------------------------------------------------------------------------


def _statistics(labels: np.ndarray, model: Retrained) -> dict[str, Any]:
    return {
        "average_precision": average_precision(labels, model.scores),
        "recall": recall(labels, model.scores >= model.threshold),
    }


def scoreboard(
    models: Sequence[Retrained],
    importance: Mapping[str, Mapping[str, float]],
    labels: np.ndarray,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Each group's metrics without it, and the paired change against the model with every input."""
    full, left_out = models[0], models[1:]
    reference = _statistics(labels, full)
    rows: list[dict[str, Any]] = []
    full_metrics: dict[str, Any] = {}
    for model in left_out:
        result = paired_bootstrap(
            len(labels), _statistics(labels, model), reference, resamples=resamples, confidence=confidence, seed=seed
        )
        assert result.difference is not None  # noqa: S101 - paired
        assert result.champion is not None  # noqa: S101
        full_metrics = {name: interval.as_dict() for name, interval in result.champion.items()}
        rows.append(
            {
                "left_out": model.name,
                "columns": list(model.columns),
                "threshold": model.threshold,
                "metrics": {name: interval.as_dict() for name, interval in result.candidate.items()},
                "difference": {
                    name: {**interval.as_dict(), "verdict": verdict(name, interval)}
                    for name, interval in result.difference.items()
                },
                "permutation_importance": {column: dict(importance[column]) for column in model.columns},
            }
        )
    rows.sort(key=lambda row: (row["difference"]["average_precision"]["value"], row["left_out"]))
    return {
        "rows": {"rows": len(labels), "positives": int(labels.sum()), "positive_class": schema.POSITIVE_CLASS},
        "bootstrap": {"resamples": resamples, "confidence": confidence, "seed": seed},
        "all_inputs": {"threshold": full.threshold, "metrics": full_metrics},
        "left_out": rows,
    }
