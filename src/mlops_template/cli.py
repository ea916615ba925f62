"""`mlops-template <command>`: the pipeline's stages, the data source, params, metrics and `serve`.

`serve` runs in the model image, which has no pandas, scikit-learn, DVC or MLflow, and uvicorn's
workers import this module again: so it imports the pipeline's modules only in the commands that
use them, never at the top.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from mlops_template.core.command import EXIT_NO_NEW_BATCH, EXIT_OK, EXIT_USER_ERROR, params_argument, run_command
from mlops_template.core.errors import StageInputError

STAGES = ("ingest", "featurize", "train", "export", "profile", "evaluate", "register")
# Commands with their own parser (`<command> --help`), in their own modules.
FORWARDED = {
    "gate": "compare the candidate with the champion: bootstrap intervals, pass/fail (`gate --help`)",
    "promote": "move the registry's champion alias, or roll it back (`promote --help`)",
    "report": "the PR report in Markdown from git and DVC (`report --help`)",
    "fetch-model": "download a registered version's served artifact, verified (`fetch-model --help`)",
    "audit": "the append-only audit trail: record an entry, verify the chain, show a model's history",
    "github": "set up GitHub: `github bootstrap` creates the deploy environments and protects main",
    "log": "the prediction log: `log ship` copies an API's SQLite log to Parquet segments (S3 or a directory)",
    "monitor": "judge a window of the prediction log against the reference profile (`monitor --help`)",
    "tune": "search train.model's params over walk-forward folds; report and propose a params.yaml diff",
    "compare": "models side by side on the test rows (REFs: revisions, aliases, dirs, baseline); --ablate",
    "simulate": "run the closed loop week by week: serve, monitor, retrain, gate (`simulate --help`)",
    "init": "make the template yours: rename the package, command, image and model (`init --help`)",
}
FORWARDED_MODULES = {
    "fetch-model": "release.fetch_model",
    "audit": "release.audit",
    "gate": "release.gate",
    "promote": "release.champion",
    "report": "release.pr_report.cli",
    "github": "release.github.bootstrap",
    "log": "monitoring.segments.shipper",
    "monitor": "monitoring.monitor",
    "tune": "experiments.tune",
    "compare": "experiments.compare.command",
    "simulate": "tools.simulate.command",
    "init": "tools.init",
}
METRIC_ROWS = ("roc_auc", "average_precision", "precision", "recall", "f1", "brier", "calibration_error")


def _parser() -> argparse.ArgumentParser:
    """Every command, for `--help`; the cli's own (data, params, metrics) carry the function that runs them."""
    parser = argparse.ArgumentParser(
        prog="mlops-template",
        description="Train, evaluate, track and serve the model. Stages: "
        + ", ".join(STAGES)
        + " (`mlops-template <stage> --help`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for stage in STAGES:
        commands.add_parser(stage, help=f"run the {stage} stage (as dvc.yaml does)", add_help=False)

    data = commands.add_parser("data", help="add batches to data/ from the configured source")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="command")
    nxt = data_commands.add_parser(
        "next-batch",
        help="append the next batch (next ISO week, or next file)",
        description="Append the next batch to data/ and print its path (exit 0). A batch that breaks the "
        "contract, or whose event times lie outside the ISO week its file is named after or in the future, "
        "is refused (exit 2). When there is nothing new (the next week has not ended, every file is in data/ "
        "already, or every row id is), print one line 'no new batch: ...', write nothing and exit "
        f"{EXIT_NO_NEW_BATCH}: a scheduled retrain opens no PR.",
    )
    generate = data_commands.add_parser("generate", help="write a history of simulated weeks from source.first_week")
    generate.add_argument("--weeks", type=int, required=True)
    for sub in (nxt, generate):
        params_argument(sub)
        sub.add_argument("--data", type=Path, default=Path("data"))
    nxt.set_defaults(run=_next_batch, name="data next-batch")
    generate.set_defaults(run=_generate, name="data generate")

    check = commands.add_parser(
        "params",
        help="validate params.yaml, and against the data contract",
        description="Validate params.yaml, then check it against the data contract (contract.yaml in the "
        "working directory, else $MLOPS_TEMPLATE_CONTRACT, else the packaged default): every key that names "
        "a column must name one of the right role. One line per mistake; exit 2 if any.",
    )
    check.add_argument("action", choices=["check"])
    params_argument(check)
    check.add_argument("--contract", type=Path, default=None, help="contract file (default: the one in use)")
    check.set_defaults(run=_check_params, name="params check")

    commands.add_parser("serve", help="serve the exported model over HTTP (`serve --help`)", add_help=False)
    for name, about in FORWARDED.items():
        commands.add_parser(name, help=about, add_help=False)

    metrics = commands.add_parser("metrics", help="print the test metrics against the baseline")
    metrics.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    metrics.set_defaults(run=_print_metrics, name="metrics")
    return parser


def _print_metrics(args: argparse.Namespace) -> None:
    from mlops_template.core import io  # noqa: PLC0415
    from mlops_template.data import schema  # noqa: PLC0415 - the task's words, from the contract

    path: Path = args.metrics
    if not path.is_file():
        msg = f"{path}: not found (run `dvc repro` first)"
        raise StageInputError(msg)
    found: dict[str, Any] = io.read_json(path)
    test = found["test"]
    positives = f"{test['positives']} {schema.POSITIVE_CLASS}"
    print(f"Test split: {test['rows']} rows, {positives}; threshold {found['threshold']:.4f}")
    print(f"{'metric':<20}{'model':>10}{'baseline':>10}")
    for name in METRIC_ROWS:
        model, baseline = found["model"][name], found["baseline"][name]
        show = [f"{v:>10.4f}" if isinstance(v, float) else f"{'n/a':>10}" for v in (model, baseline)]
        print(f"{name:<20}{show[0]}{show[1]}")


def _generate(args: argparse.Namespace) -> None:
    # Imported here so that `--help` and `params check` do not pay for pandas and pandera.
    from mlops_template.core.config import load_params  # noqa: PLC0415
    from mlops_template.data.sources import generate_history  # noqa: PLC0415

    generate_history(load_params(args.params), args.data, args.weeks)


def _next_batch(args: argparse.Namespace) -> int:
    from mlops_template.core.config import load_params  # noqa: PLC0415
    from mlops_template.core.errors import NoNewBatchError  # noqa: PLC0415
    from mlops_template.data.sources import next_batch  # noqa: PLC0415

    try:
        print(next_batch(load_params(args.params), args.data))
    except NoNewBatchError as exc:  # not an error: a scheduled retrain has nothing to do
        print(f"no new batch: {exc}")
        return EXIT_NO_NEW_BATCH
    return EXIT_OK


def _check_params(args: argparse.Namespace) -> None:
    from mlops_template.core import contract_spec, params_check  # noqa: PLC0415
    from mlops_template.core.config import load_params  # noqa: PLC0415
    from mlops_template.core.errors import ConfigError  # noqa: PLC0415

    path: Path = args.params
    params = load_params(path)
    contract_path = args.contract or contract_spec.contract_path()
    spec = contract_spec.load_contract(contract_path)
    found = params_check.problems(params, spec, contract_spec.default_contract(), str(contract_path))
    if found:
        lines = [f"{path}: {len(found)} mistake(s) against the contract {contract_path}", *(f"  {p}" for p in found)]
        raise ConfigError("\n".join(lines))
    print(
        f"{path}: valid (model {params.train.model.kind}, source {params.source.kind}) "
        f"against the contract {contract_path} ({spec.name})"
    )


# The extra that brings each third-party module a command may need beyond the core.
EXTRA_OF_MODULE = {
    **dict.fromkeys(
        ("pandas", "pandera", "pyarrow", "sklearn", "scipy", "joblib", "dvc", "mlflow", "onnx", "optuna", "matplotlib"),
        "train",
    ),
    **dict.fromkeys(("fastapi", "starlette", "uvicorn", "prometheus_client", "onnxruntime"), "serve"),
    **dict.fromkeys(("boto3", "duckdb"), "log"),
}


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(args_list)
    except ModuleNotFoundError as exc:
        # The core install has the CLI, config and params check; the rest comes with an extra.
        top = (exc.name or "").partition(".")[0]
        if top not in EXTRA_OF_MODULE:
            raise
        extra = "serve" if args_list[:1] == ["serve"] else EXTRA_OF_MODULE[top]
        command = args_list[0] if args_list else "mlops-template"
        print(
            f"error: {command}: needs the {extra!r} extra ({top} is not installed): "
            f"pip install 'mlops-template[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR


def _dispatch(args_list: list[str]) -> int:
    if args_list and args_list[0] == "serve":
        from mlops_template.serving.__main__ import main as serve  # noqa: PLC0415

        return serve(args_list[1:])
    if args_list and args_list[0] in FORWARDED:
        forwarded = importlib.import_module(f"mlops_template.{FORWARDED_MODULES[args_list[0]]}")
        found: int = forwarded.main(args_list[1:])
        return found
    if args_list and args_list[0] in STAGES:
        stage = importlib.import_module(f"mlops_template.stages.{args_list[0]}")
        code: int = stage.main(args_list[1:])
        return code
    return run_command(lambda args: args.name, _parser(), args_list, lambda args: args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
