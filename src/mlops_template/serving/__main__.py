"""`mlops-template serve` (or `python -m mlops_template.serving`): run the API under uvicorn.

Settings and keys are checked here first, so a misconfiguration is one readable line and exit code 2
instead of a traceback from every worker. With several workers the Prometheus samples are shared
through files (`PROMETHEUS_MULTIPROC_DIR`, made in the temp dir when unset and emptied at start).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from mlops_template.core.command import positive_int, run_command
from mlops_template.core.errors import ConfigError

APP = "mlops_template.serving.app:create_app"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")

logger = logging.getLogger("mlops_template.serving")


def default_workers() -> int:
    raw = os.environ.get("WEB_CONCURRENCY", "1")
    if not raw.strip().isdigit() or int(raw) < 1:
        msg = f"WEB_CONCURRENCY={raw!r}: not a whole number of workers (rule: at least 1)"
        raise ConfigError(msg)
    return int(raw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="exported model (default: $MLOPS_MODEL_DIR or models/served)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="worker processes (default: $WEB_CONCURRENCY or 1)"
    )
    parser.add_argument("--log-level", default=os.environ.get("MLOPS_TEMPLATE_LOG_LEVEL", "info").lower())
    parser.add_argument("--access-log", action="store_true", help="log every request (off: /metrics counts them)")


def log_config(level: str, *, access_log: bool) -> dict[str, Any]:
    """Logging for every worker (uvicorn applies it in each process): uvicorn's and ours, on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    loggers = {
        name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
        for name in ("uvicorn", "mlops_template")
    }
    loggers["uvicorn.access"] = {"handlers": ["stderr"] if access_log else [], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}},
        "handlers": {"stderr": handler},
        "loggers": loggers,
    }


def prepare_multiprocess_metrics(workers: int) -> None:
    """Several workers share metrics through files: make (or empty) the directory before they start."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory and workers == 1:
        return
    if not directory:
        directory = tempfile.mkdtemp(prefix="mlops-template-metrics-")
        os.environ[MULTIPROC_ENV] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for pattern in METRIC_FILES:  # samples of an earlier run would be summed in
        for stale in path.glob(pattern):
            stale.unlink()


def serve(
    model_dir: Path | None, host: str, port: int, workers: int | None, *, log_level: str, access_log: bool
) -> None:
    # Workers build the app from the environment, so the CLI's choices travel there.
    if model_dir is not None:
        os.environ["MLOPS_MODEL_DIR"] = str(model_dir)
    from mlops_template.serving.auth import load_api_keys  # noqa: PLC0415 (keeps `--help` light)
    from mlops_template.serving.settings import load_settings  # noqa: PLC0415

    load_api_keys(load_settings())
    count = workers if workers is not None else default_workers()
    prepare_multiprocess_metrics(count)
    import uvicorn  # noqa: PLC0415

    uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=count,
        log_config=log_config(log_level, access_log=access_log),
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


def _serve(args: argparse.Namespace) -> None:
    # This process's own lines before uvicorn takes over (the key check's) follow --log-level too.
    logging.getLogger().setLevel(args.log_level.upper())
    serve(args.model_dir, args.host, args.port, args.workers, log_level=args.log_level, access_log=args.access_log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-template serve", description="Serve the exported model over HTTP.")
    add_arguments(parser)
    return run_command("serve", parser, argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
