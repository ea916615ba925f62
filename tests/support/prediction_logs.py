"""Real prediction logs for the monitoring tests: the API's PredictionLog class, rows as predict.py writes them."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops_template.serving.predlog import PredictionLog, PredictionRow, new_request_id
from tests.support.api_server import VALID_RECORD

CATEGORIES = ("grocery", "fuel", "travel", "cash")


def log_time(value: datetime) -> str:
    """The API's created_at form (serving/predlog.py utc_now)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def record(rng: random.Random, when: datetime) -> dict[str, Any]:
    """A valid request record with varied values and some nulls (what the API validated and logged)."""
    return {
        **VALID_RECORD,
        "transaction_id": f"tx-{rng.randrange(10**9)}",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "amount": round(rng.uniform(1, 900), 2),
        "merchant_category": rng.choice(CATEGORIES),
        "customer_age": rng.choice([None, rng.randrange(18, 90)]),
        "account_age_days": rng.randrange(0, 3000),
        "distance_from_home_km": rng.choice([None, round(rng.uniform(0, 500), 3)]),
        "device_type": rng.choice([None, "mobile", "desktop"]),
    }


def prediction_rows(rng: random.Random, count: int, first: datetime, step: timedelta) -> list[PredictionRow]:
    rows: list[PredictionRow] = []
    for n in range(count):
        when = first + n * step
        probability = rng.random()
        inputs = json.dumps(record(rng, when), separators=(",", ":"))
        value = 1 if probability >= 0.5 else 0
        rows.append(
            (new_request_id(), "batch", log_time(when), "v7", inputs, probability, value, 0.5, rng.uniform(1, 9))
        )
    return rows


class Writer:
    """One replica's log, written through the API's PredictionLog (grouped commits, WAL)."""

    def __init__(self, path: Path) -> None:
        self.log = PredictionLog(path, busy_ms=2000, checkpoint_seconds=0.05)
        self.log.open()
        self.path = path

    def predict(self, rows: list[PredictionRow]) -> list[str]:
        asyncio.run(self.log.add_predictions(rows))
        return [row[0] for row in rows]

    def label(self, request_ids: list[str], label: int) -> None:
        async def send() -> None:
            for request_id in request_ids:
                await self.log.add_feedback(request_id, label)

        asyncio.run(send())

    def close(self) -> None:
        self.log.close()


def fill(path: Path, seed: int, count: int, first: datetime, step: timedelta = timedelta(minutes=1)) -> list[str]:
    """A closed log with `count` predictions from `first`, a third of them labelled, some labelled twice."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    writer = Writer(path)
    try:
        ids = writer.predict(prediction_rows(rng, count, first, step))
        writer.label(ids[::3], 0)
        writer.label(ids[::6], 1)  # a later label for every other labelled request supersedes the first
    finally:
        writer.close()
    return ids
