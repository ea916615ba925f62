"""The fitted pipeline (feature transform + calibrated classifier) as one float64 ONNX graph.

Why hand-built and float64: skl2onnx has no converter for the feature steps, and its float32 trees
compare thresholds in float32, which moves 1% of test rows by up to 0.03. Here every step is the same
float64 arithmetic scikit-learn does, in the same order, and the trees use ONNX's `TreeEnsemble`
(ai.onnx.ml opset 5), which compares in float64. Parity with scikit-learn is measured, not assumed:
the export stage fails if any evaluation row differs by more than `PARITY_TOLERANCE`.

Graph inputs are one tensor per model input column, shape [N, 1]: float64 for numeric columns,
string for categorical ones, int64 seconds since the Unix epoch (UTC) for the event time. The output
`probability` [N] is the calibrated probability of the positive class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlops_template.core.errors import StageInputError
from mlops_template.data import schema
from mlops_template.model import features

PARITY_TOLERANCE = 1e-5
OPSET = 21
ML_OPSET = 5  # TreeEnsemble with float64 thresholds and outputs
IR_VERSION = 10
OUTPUT = "probability"
FEATURES_OUTPUT = "features"  # the transformed features, for tests and debugging
SECONDS_PER_DAY = 86_400
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0, as pandas counts)
BRANCH_LEQ = 0


class ExportError(StageInputError):
    """The fitted pipeline holds a step this exporter cannot turn into an exact ONNX graph."""


@dataclass
class _Graph:
    """Nodes and constants being assembled, with unique names."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def name(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, hint: str, value: Any, dtype: Any = np.float64) -> str:
        array = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def op(
        self, op_type: str, inputs: list[str], hint: str | None = None, domain: str = "", output: str = "", **attrs: Any
    ) -> str:
        out = output or self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out

    def cast_double(self, name: str) -> str:
        return self.op("Cast", [name], "as_double", to=TensorProto.DOUBLE)


# --- feature steps --------------------------------------------------------------------------------


def _scaler(graph: _Graph, x: str, scaler: StandardScaler) -> str:
    # scikit-learn: X -= mean_; X /= scale_ (in that order, in float64).
    if scaler.mean_ is not None and scaler.with_mean:
        x = graph.op("Sub", [x, graph.const("mean", scaler.mean_[None, :])], "centred")
    if scaler.scale_ is not None and scaler.with_std:
        x = graph.op("Div", [x, graph.const("scale", scaler.scale_[None, :])], "scaled")
    return x


def _imputer(graph: _Graph, x: str, imputer: SimpleImputer) -> str:
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    if np.isnan(statistics).any() or not (
        isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)
    ):
        msg = "featurize: the imputer must replace NaN with learned values (a column was empty in training?)"
        raise ExportError(msg)
    missing = graph.op("IsNaN", [x], "missing")
    filled = graph.op("Where", [missing, graph.const("fill", statistics[None, :]), x], "imputed")
    if imputer.indicator_ is None:
        return filled
    kept = np.asarray(imputer.indicator_.features_, dtype=np.int64)
    flags = graph.op("Gather", [graph.cast_double(missing), graph.const("flagged", kept, np.int64)], "flags", axis=1)
    return graph.op("Concat", [filled, flags], "with_flags", axis=1)


def _function(graph: _Graph, x: str, step: FunctionTransformer) -> str:
    if step.func is None:  # identity: a numeric block with no treatment declared
        return x
    if step.func is features.log1p_float32:
        # ONNX has no log1p: log(1 + x) differs in the last bits of a float64, not after float32 rounding.
        logged = graph.op("Log", [graph.op("Add", [x, graph.const("one", 1.0)])], "log1p")
        as_float = graph.op("Cast", [logged], "float32", to=TensorProto.FLOAT)
        return graph.cast_double(as_float)
    msg = f"featurize: FunctionTransformer({getattr(step.func, '__name__', step.func)}) has no ONNX form here"
    raise ExportError(msg)


def _numeric_step(graph: _Graph, x: str, step: Any) -> str:
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            x = _numeric_step(graph, x, inner)
        return x
    if isinstance(step, StandardScaler):
        return _scaler(graph, x, step)
    if isinstance(step, SimpleImputer):
        return _imputer(graph, x, step)
    if isinstance(step, FunctionTransformer):
        return _function(graph, x, step)
    msg = f"featurize: step {type(step).__name__} has no ONNX form here"
    raise ExportError(msg)


def _one_hot(graph: _Graph, inputs: list[str], encoder: OneHotEncoder) -> str:
    """Frequent categories in fitted order, then one 'infrequent' column (which unknown values join)."""
    if encoder.drop is not None:
        msg = "featurize: OneHotEncoder(drop=...) has no ONNX form here"
        raise ExportError(msg)
    blocks = []
    infrequent = encoder.infrequent_categories_ if hasattr(encoder, "infrequent_categories_") else None
    for position, (x, categories) in enumerate(zip(inputs, encoder.categories_, strict=True)):
        rare = set() if infrequent is None or infrequent[position] is None else set(infrequent[position])
        frequent = [str(c) for c in categories if c not in rare]
        matches = graph.op("Equal", [x, graph.const("categories", np.array([frequent], dtype=object), object)])
        hot = graph.cast_double(matches)
        blocks.append(hot)
        if rare:
            # Exactly one column is hot: a frequent category's, else the infrequent one.
            count = graph.op("ReduceSum", [hot, graph.const("axis", [1], np.int64)], "hot_count", keepdims=1)
            blocks.append(graph.op("Sub", [graph.const("one", [[1.0]]), count], "infrequent"))
    return graph.op("Concat", blocks, "one_hot", axis=1) if len(blocks) > 1 else blocks[0]


def _time_features(graph: _Graph, seconds: str, hour: bool, weekend: bool, day_of_week: bool) -> str:
    """`features.time_features` on int64 epoch seconds: the same table rows, the same integer steps."""
    day = graph.const("day", SECONDS_PER_DAY, np.int64)
    of_day = graph.op("Mod", [seconds, day], "second_of_day")  # sign of the divisor, like Python's %
    blocks = []
    if hour:
        minute = graph.op("Div", [of_day, graph.const("sixty", 60, np.int64)], "minute_of_day")  # of_day >= 0
        by_minute = graph.op("Gather", [graph.const("minute_table", features.MINUTE_OF_DAY_TABLE), minute], axis=0)
        blocks.append(graph.op("Reshape", [by_minute, graph.const("rows", [-1, 3], np.int64)], "hour_features"))
    if weekend or day_of_week:
        days = graph.op("Div", [graph.op("Sub", [seconds, of_day]), day], "days")
        weekday = graph.op(
            "Mod", [graph.op("Add", [days, graph.const("w", EPOCH_WEEKDAY, np.int64)]), graph.const("d", 7, np.int64)]
        )
        if weekend:
            saturday = graph.const("saturday", features.SATURDAY, np.int64)
            blocks.append(graph.cast_double(graph.op("GreaterOrEqual", [weekday, saturday])))
        if day_of_week:
            by_day = graph.op("Gather", [graph.const("day_table", features.DAY_OF_WEEK_TABLE), weekday], axis=0)
            blocks.append(graph.op("Reshape", [by_day, graph.const("rows", [-1, 2], np.int64)], "day_features"))
    return graph.op("Concat", blocks, "time", axis=1) if len(blocks) > 1 else blocks[0]


def _columns(graph: _Graph, transformer: ColumnTransformer, sources: dict[str, str]) -> str:
    blocks = []
    for name, step, columns in transformer.transformers_:
        if step == "drop" or len(columns) == 0:
            continue
        if step == "passthrough":
            msg = f"featurize: passthrough columns ({name}) have no ONNX form here"
            raise ExportError(msg)
        if isinstance(step, FunctionTransformer) and step.func is features.time_features:
            flags = {"hour": True, "weekend": True, "day_of_week": False, **(step.kw_args or {})}
            blocks.append(_time_features(graph, sources[columns[0]], **flags))
        elif isinstance(step, OneHotEncoder):
            blocks.append(_one_hot(graph, [sources[c] for c in columns], step))
        else:
            inputs = [sources[c] for c in columns]
            x = graph.op("Concat", inputs, name, axis=1) if len(inputs) > 1 else inputs[0]
            blocks.append(_numeric_step(graph, x, step))
    return graph.op("Concat", blocks, FEATURES_OUTPUT, axis=1)


# --- the classifier -------------------------------------------------------------------------------


_TREE_ATTRS = (
    "tree_roots", "nodes_featureids", "nodes_modes", "nodes_splits", "nodes_truenodeids", "nodes_trueleafs",
    "nodes_falsenodeids", "nodes_falseleafs", "nodes_missing_value_tracks_true", "leaf_targetids", "leaf_weights",
)  # fmt: skip


def _tree_ensemble(graph: _Graph, x: str, estimator: HistGradientBoostingClassifier) -> str:
    """One fold's trees as one TreeEnsemble (one target): the summed leaf values [N, 1]."""
    if estimator.is_categorical_ is not None and np.any(estimator.is_categorical_):
        msg = "train: native categorical splits have no exact ONNX form here"
        raise ExportError(msg)
    attrs: dict[str, list[Any]] = {k: [] for k in _TREE_ATTRS}
    for (predictor,) in estimator._predictors:
        _add_tree(attrs, predictor.nodes)
    arrays = {
        "nodes_modes": np.uint8,
        "nodes_splits": np.float64,
        "leaf_weights": np.float64,
    }
    tensors: dict[str, Any] = {k: numpy_helper.from_array(np.asarray(attrs[k], dtype=v)) for k, v in arrays.items()}
    plain: dict[str, Any] = {k: v for k, v in attrs.items() if k not in arrays}
    return graph.op(
        "TreeEnsemble",
        [x],
        "trees",
        domain="ai.onnx.ml",
        n_targets=1,
        aggregate_function=1,  # SUM
        post_transform=0,
        **plain,
        **tensors,
    )


def _trees(graph: _Graph, x: str, estimators: list[HistGradientBoostingClassifier]) -> str:
    """Each fold's raw score before its baseline, side by side: [N, folds]."""
    sums = [_tree_ensemble(graph, x, estimator) for estimator in estimators]
    return graph.op("Concat", sums, "raw", axis=1) if len(sums) > 1 else sums[0]


def _add_tree(attrs: dict[str, list[Any]], nodes: np.ndarray) -> None:
    """Append one scikit-learn tree: x <= threshold goes left, NaN goes where the tree learned."""
    node_base, leaf_base = len(attrs["nodes_featureids"]), len(attrs["leaf_weights"])
    split_ids = {int(i): node_base + k for k, i in enumerate(np.flatnonzero(nodes["is_leaf"] == 0))}
    leaf_ids = {int(i): leaf_base + k for k, i in enumerate(np.flatnonzero(nodes["is_leaf"] == 1))}
    for index in sorted(leaf_ids):
        attrs["leaf_targetids"].append(0)
        attrs["leaf_weights"].append(float(nodes["value"][index]))
    if not split_ids:  # a single leaf: one split whose branches both reach it
        attrs["tree_roots"].append(node_base)
        for key, value in (("nodes_featureids", 0), ("nodes_modes", BRANCH_LEQ), ("nodes_splits", 0.0)):
            attrs[key].append(value)
        for side in ("true", "false"):
            attrs[f"nodes_{side}nodeids"].append(leaf_base)
            attrs[f"nodes_{side}leafs"].append(1)
        attrs["nodes_missing_value_tracks_true"].append(0)
        return
    attrs["tree_roots"].append(split_ids[0])
    for index in sorted(split_ids):
        node = nodes[index]
        attrs["nodes_featureids"].append(int(node["feature_idx"]))
        attrs["nodes_modes"].append(BRANCH_LEQ)
        attrs["nodes_splits"].append(float(node["num_threshold"]))
        for side, child in (("true", int(node["left"])), ("false", int(node["right"]))):
            is_leaf = child in leaf_ids
            attrs[f"nodes_{side}nodeids"].append(leaf_ids[child] if is_leaf else split_ids[child])
            attrs[f"nodes_{side}leafs"].append(int(is_leaf))
        attrs["nodes_missing_value_tracks_true"].append(int(node["missing_go_to_left"]))


def _linear(graph: _Graph, x: str, estimators: list[LogisticRegression]) -> str:
    coef = np.stack([np.asarray(e.coef_, dtype=np.float64).ravel() for e in estimators], axis=1)
    intercept = np.array([[float(np.ravel(e.intercept_)[0]) for e in estimators]])
    return graph.op("Add", [graph.op("MatMul", [x, graph.const("coef", coef)]), graph.const("intercept", intercept)])


def _isotonic(graph: _Graph, raw: str, calibrators: list[IsotonicRegression]) -> str:
    """Each fold's `np.clip` to its fitted range, then `np.interp` over its thresholds: [N, folds].

    All folds at once (their thresholds padded with +inf, which no clipped score reaches): one set of
    nodes instead of one per fold, because at one row the graph's cost is its node count.
    """
    xs = [np.asarray(c.X_thresholds_, dtype=np.float64) for c in calibrators]
    ys = [np.asarray(c.y_thresholds_, dtype=np.float64) for c in calibrators]
    # A constant calibrator (one threshold) becomes a flat segment: interpolation gives its value.
    ys = [np.repeat(y, 2) if len(y) == 1 else y for y in ys]
    xs = [np.array([x[0], x[0] + 1.0]) if len(x) == 1 else x for x in xs]
    widest = max(len(x) for x in xs)
    padded = np.full((1, len(xs), widest), np.inf)
    for fold, x in enumerate(xs):
        padded[0, fold, : len(x)] = x
    lows = np.array([[float(c.X_min_) for c in calibrators]])
    highs = np.array([[float(c.X_max_) for c in calibrators]])
    clipped = graph.op("Min", [graph.op("Max", [raw, graph.const("lo", lows)]), graph.const("hi", highs)], "clipped")
    # The segment [x[j], x[j+1]] that holds the score: j = (number of thresholds <= it) - 1, in [0, n-2].
    column = graph.op("Unsqueeze", [clipped, graph.const("axis", [2], np.int64)])
    below = graph.op("Cast", [graph.op("LessOrEqual", [graph.const("xs", padded), column])], to=TensorProto.INT64)
    count = graph.op("ReduceSum", [below, graph.const("axis", [2], np.int64)], "count", keepdims=0)
    last = np.array([[len(x) - 2 for x in xs]], dtype=np.int64)
    segment = graph.op(
        "Min",
        [
            graph.op(
                "Max", [graph.op("Sub", [count, graph.const("one", 1, np.int64)]), graph.const("zero", 0, np.int64)]
            ),
            graph.const("last", last, np.int64),
        ],
    )
    offsets = np.array([[0, *np.cumsum([len(x) for x in xs])[:-1]]], dtype=np.int64)
    at = graph.op("Add", [segment, graph.const("offsets", offsets, np.int64)], "at")
    after = graph.op("Add", [at, graph.const("one", 1, np.int64)], "after")
    flat_x, flat_y = graph.const("xs", np.concatenate(xs)), graph.const("ys", np.concatenate(ys))
    x0, x1 = graph.op("Gather", [flat_x, at]), graph.op("Gather", [flat_x, after])
    y0, y1 = graph.op("Gather", [flat_y, at]), graph.op("Gather", [flat_y, after])
    slope = graph.op("Div", [graph.op("Sub", [y1, y0]), graph.op("Sub", [x1, x0])], "slope")
    return graph.op("Add", [graph.op("Mul", [slope, graph.op("Sub", [clipped, x0])]), y0], "isotonic")


def _sigmoid(graph: _Graph, raw: str, calibrators: list[Any]) -> str:
    """scikit-learn's `expit(-(a * T + b))`, all folds at once: [N, folds]."""
    a = graph.const("a", [[float(c.a_) for c in calibrators]])
    b = graph.const("b", [[float(c.b_) for c in calibrators]])
    linear = graph.op("Add", [graph.op("Mul", [a, raw]), b])
    return graph.op("Sigmoid", [graph.op("Neg", [linear])], "sigmoid")


def _classifier(graph: _Graph, x: str, classifier: CalibratedClassifierCV) -> str:
    folds = classifier.calibrated_classifiers_
    estimators = [fold.estimator for fold in folds]
    if all(isinstance(e, HistGradientBoostingClassifier) for e in estimators):
        baselines = np.array([[float(np.ravel(e._baseline_prediction)[0]) for e in estimators]])
        raw = graph.op("Add", [_trees(graph, x, estimators), graph.const("baseline", baselines)], "decision")
    elif all(isinstance(e, LogisticRegression) for e in estimators):
        raw = _linear(graph, x, estimators)
    else:
        msg = f"train: estimator {type(estimators[0]).__name__} has no ONNX form here"
        raise ExportError(msg)
    calibrate: dict[str, Callable[[_Graph, str, list[Any]], str]] = {"isotonic": _isotonic, "sigmoid": _sigmoid}
    methods = {fold.method for fold in folds}
    if len(methods) != 1 or next(iter(methods)) not in calibrate:
        msg = f"train.calibration.method={sorted(methods)}: no ONNX form here"
        raise ExportError(msg)
    probabilities = calibrate[folds[0].method](graph, raw, [fold.calibrators[0] for fold in folds])
    # scikit-learn sums the folds in order, then divides by their count.
    total = graph.op("ReduceSum", [probabilities, graph.const("axis", [1], np.int64)], "fold_sum", keepdims=0)
    return graph.op("Div", [total, graph.const("folds", float(len(folds)))], output=OUTPUT)


# --- the whole model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputColumn:
    name: str
    kind: str  # numeric | categorical | timestamp


def graph_input_columns() -> tuple[InputColumn, ...]:
    """The graph's inputs: the contract's inputs in its column order (the event time even when no time
    feature is on, so the API's request shape depends on the contract alone)."""
    kinds = {"numeric": "numeric", "categorical": "categorical", "event_time": "timestamp"}
    spec = schema.active()
    return tuple(InputColumn(name, kinds[spec.column(name).role]) for name in features.input_columns(spec))


_ELEMENT = {"numeric": TensorProto.DOUBLE, "categorical": TensorProto.STRING, "timestamp": TensorProto.INT64}


def build_onnx(pipeline: Pipeline, *, with_features: bool = False) -> onnx.ModelProto:
    """The fitted `features -> classifier` pipeline as one ONNX model (see the module docstring)."""
    transformer, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    columns = transformer.named_steps["columns"]
    if not isinstance(columns, ColumnTransformer) or not isinstance(classifier, CalibratedClassifierCV):
        msg = "models/model.joblib: not the features -> calibrated classifier pipeline that train writes"
        raise ExportError(msg)
    graph = _Graph()
    inputs = graph_input_columns()
    sources = {column.name: column.name for column in inputs}
    x = _columns(graph, columns, sources)
    _classifier(graph, x, classifier)
    outputs = [helper.make_tensor_value_info(OUTPUT, TensorProto.DOUBLE, ["N"])]
    if with_features:
        outputs.append(helper.make_tensor_value_info(x, TensorProto.DOUBLE, ["N", None]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "model",
            [helper.make_tensor_value_info(c.name, _ELEMENT[c.kind], ["N", 1]) for c in inputs],
            outputs,
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="mlops-template",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def graph_inputs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Contract rows as the graph's typed input columns (what the API builds from JSON records)."""
    inputs = features.model_inputs(frame)
    columns: dict[str, np.ndarray] = {}
    for column in graph_input_columns():
        if column.kind == "timestamp":
            stamps = pd.to_datetime(frame[column.name], utc=True).dt.as_unit("ns")
            columns[column.name] = stamps.astype("int64").to_numpy() // 1_000_000_000  # floor, as datetime does
        elif column.kind == "categorical":
            columns[column.name] = inputs[column.name].astype(str).to_numpy(dtype=object)
        else:
            columns[column.name] = inputs[column.name].to_numpy(dtype=np.float64)
    return columns
