"""The prediction log: WAL, grouped commits, versioned schema, shared files, append-only feedback."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from mlops_template.core.errors import ConfigError
from mlops_template.serving.predlog import (
    SCHEMA_VERSION,
    PredictionLog,
    PredictionLogError,
    PredictionRow,
    UnknownRequestError,
    new_request_id,
)


def row(request_id: str, probability: float = 0.25) -> PredictionRow:
    return (request_id, "batch", "2026-11-23T10:00:00.000000Z", "v1", '{"amount": 1.0}', probability, 0, 0.5, 0.3)


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    """What another process (monitoring) sees: a fresh connection."""
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    opened = PredictionLog(tmp_path / "logs" / "predictions.sqlite3", busy_ms=2000, checkpoint_seconds=0.05)
    opened.open()
    yield opened
    opened.close()


def test_the_log_is_sqlite_in_wal_mode_with_a_versioned_schema(log: PredictionLog) -> None:
    assert read(log.path, "PRAGMA journal_mode") == [("wal",)]
    assert read(log.path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert log.connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    tables = {name for (name,) in read(log.path, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    assert {"predictions", "feedback", "latest_feedback"} <= tables


def test_a_write_is_visible_to_other_readers_once_it_returns(log: PredictionLog) -> None:
    asyncio.run(log.add_predictions([row("a"), row("b", 0.75)]))
    assert read(log.path, "SELECT request_id, probability FROM predictions ORDER BY request_id") == [
        ("a", 0.25),
        ("b", 0.75),
    ]


def test_concurrent_requests_share_one_commit(log: PredictionLog) -> None:
    async def many() -> None:
        await asyncio.gather(*(log.add_predictions([row(f"r{n}")]) for n in range(50)))

    asyncio.run(many())
    assert log.commits == 1
    assert read(log.path, "SELECT count(*) FROM predictions") == [(50,)]


def test_sequential_requests_commit_one_by_one(log: PredictionLog) -> None:
    async def one_by_one() -> None:
        for n in range(5):
            await log.add_predictions([row(f"s{n}")])
            assert read(log.path, "SELECT count(*) FROM predictions") == [(n + 1,)]

    asyncio.run(one_by_one())
    assert log.commits == 5


def test_a_failed_commit_fails_every_waiter_and_writes_nothing(log: PredictionLog) -> None:
    async def duplicate() -> list[BaseException | None]:
        await log.add_predictions([row("dup")])
        results = await asyncio.gather(
            log.add_predictions([row("new")]), log.add_predictions([row("dup")]), return_exceptions=True
        )
        return list(results)  # type: ignore[arg-type]

    results = asyncio.run(duplicate())
    assert all(isinstance(result, PredictionLogError) for result in results)
    assert read(log.path, "SELECT request_id FROM predictions") == [("dup",)]


def test_feedback_needs_a_logged_prediction_and_later_labels_supersede(log: PredictionLog) -> None:
    async def scenario() -> tuple[int, int]:
        await log.add_predictions([row("known")])
        with pytest.raises(UnknownRequestError, match="'unknown': no prediction with this id"):
            await log.add_feedback("unknown", 1)
        first = await log.add_feedback("known", 1)
        second = await log.add_feedback("known", 0)
        return first.supersedes, second.supersedes

    assert asyncio.run(scenario()) == (0, 1)
    assert read(log.path, "SELECT request_id, label FROM feedback ORDER BY id") == [("known", 1), ("known", 0)]
    assert read(log.path, "SELECT request_id, label FROM latest_feedback") == [("known", 0)]


def test_two_workers_share_one_file(log: PredictionLog) -> None:
    other = PredictionLog(log.path, busy_ms=2000)
    other.open()  # the schema exists already: no error, no second creation
    try:

        async def both() -> None:
            await asyncio.gather(log.add_predictions([row("w1")]), other.add_predictions([row("w2")]))
            await other.add_feedback("w1", 1)  # a label may reach another worker than its prediction

        asyncio.run(both())
    finally:
        other.close()
    assert read(log.path, "SELECT count(*) FROM predictions") == [(2,)]
    assert read(log.path, "SELECT request_id FROM feedback") == [("w1",)]


def test_checkpoints_run_in_the_background(log: PredictionLog) -> None:
    asyncio.run(log.add_predictions([row(f"c{n}") for n in range(200)]))
    checkpointer = log._checkpointer
    assert checkpointer is not None
    deadline = 200
    while checkpointer.checkpoints == 0 and deadline:
        checkpointer.stopped.wait(0.05)
        deadline -= 1
    assert checkpointer.checkpoints > 0


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version=99")
    with pytest.raises(ConfigError, match="schema version 99, this server writes version 1"):
        PredictionLog(path).open()


def test_an_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"MLOPS_PREDICTION_LOG=.*cannot open it for writing"):
        PredictionLog(blocker / "predictions.sqlite3").open()


def test_request_ids_are_unique_time_ordered_version_7_uuids() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_request_id() for _ in range(1000)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == 1000
    for found in ids:
        parsed = uuid.UUID(hex=found)
        assert (parsed.version, parsed.variant, parsed.hex) == (7, uuid.RFC_4122, found)
        assert before_ms <= int(found[:12], 16) <= after_ms  # the leading 48 bits are the time in ms
    # Ordered to the millisecond (ids within one millisecond differ in their random bits only).
    assert [found[:12] for found in ids] == sorted(found[:12] for found in ids)
    assert len({found[12:] for found in ids}) == 1000
