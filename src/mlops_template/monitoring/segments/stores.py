"""The two places segments live, a directory and an S3 prefix, with the same methods; `open_store` picks one.

Atomic for readers: an S3 PUT makes a whole object visible at once, or nothing; in a directory the
segment is written to a hidden temporary name beside its target, flushed, fsynced and renamed (the
reader ignores hidden names). A reader therefore sees whole segments or none, never a partial one.

`Store` is the union of the two classes, not a Protocol: there are exactly two stores and `open_store`
makes them, so mypy checks every caller against both, and no second description of their methods has
to be kept in step with them. Where the two differ (a directory can be missing, holds files a reader
opens in place, and can hold a killed writer's leftovers), each class answers for itself, so no caller
asks which one it has.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlparse

from mlops_template.core.errors import ConfigError
from mlops_template.monitoring.segments import LogSourceError


@dataclass
class DirectoryStore:
    """Segments as files under a local directory (a shared volume, or tests)."""

    root: Path
    url: str = ""

    def __post_init__(self) -> None:
        self.url = self.url or self.root.as_uri()

    def location(self, key: str) -> str:
        return str(self.root / key)

    def exists(self) -> bool:
        """Whether the directory is there (the shipper creates it on its first segment; a reader needs it)."""
        return self.root.is_dir()

    def put(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # hidden: readers skip it
        try:
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(target)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash of the machine
        finally:
            os.close(directory)

    def list_keys(self, under: str = "") -> list[str]:
        base = self.root / under if under else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            relative = path.relative_to(self.root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                found.append(relative.as_posix())
        return sorted(found)

    def list_folder(self, under: str) -> tuple[list[str], list[str]]:
        """The sub-folder names and the file keys directly under `under` (hidden names skipped)."""
        base = self.root / under if under else self.root
        entries = sorted(base.iterdir()) if base.is_dir() else []
        shown = [path for path in entries if not path.name.startswith(".")]
        return [p.name for p in shown if p.is_dir()], [
            p.relative_to(self.root).as_posix() for p in shown if p.is_file()
        ]

    def local_file(self, key: str, download_to: Path) -> Path:  # noqa: ARG002 (S3Store downloads there)
        """The segment as a local file: the file itself, read in place (nothing is copied)."""
        return self.root / key

    def remove_unfinished(self, under: str) -> int:
        """Delete temporary files a killed writer left under `under` (nobody reads them)."""
        base = self.root / under
        stale = list(base.glob(".*.tmp")) if base.is_dir() else []
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


@dataclass
class S3Store:
    """Segments as objects under s3://bucket/prefix (any S3 API: AWS, MinIO, moto)."""

    bucket: str
    prefix: str
    endpoint_url: str | None = None
    url: str = ""
    _client: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.prefix = self.prefix.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 (only S3 needs it)

            # No endpoint given: boto3 reads AWS_ENDPOINT_URL(_S3) and credentials from the environment.
            self._client = boto3.client("s3", endpoint_url=self.endpoint_url)
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def exists(self) -> bool:
        """Always: a prefix is no thing that can be missing (an empty one lists nothing); a missing bucket
        or denied access fails the first listing, with S3's own reason."""
        return True

    def put(self, key: str, data: bytes) -> None:
        self._call("write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data))

    def list_keys(self, under: str = "") -> list[str]:
        start = f"{self._full(under).rstrip('/')}/" if under else (f"{self.prefix}/" if self.prefix else "")

        def listing() -> list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
            strip = len(self.prefix) + 1 if self.prefix else 0
            return sorted(item["Key"][strip:] for page in pages for item in page.get("Contents", []))

        found: list[str] = self._call("list", under or "", listing)
        return found

    def list_folder(self, under: str) -> tuple[list[str], list[str]]:
        """The "sub-folder" names (common prefixes) and the object keys directly under `under`."""
        start = f"{self._full(under).rstrip('/')}/" if under else (f"{self.prefix}/" if self.prefix else "")

        def listing() -> tuple[list[str], list[str]]:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start, Delimiter="/"
            )
            folders, keys, strip = [], [], len(self.prefix) + 1 if self.prefix else 0
            for page in pages:
                folders += [item["Prefix"][len(start) :].rstrip("/") for item in page.get("CommonPrefixes", [])]
                keys += [item["Key"][strip:] for item in page.get("Contents", [])]
            return sorted(folders), sorted(keys)

        found: tuple[list[str], list[str]] = self._call("list", under, listing)
        return found

    def local_file(self, key: str, download_to: Path) -> Path:
        """The segment as a local file: the object downloaded to `download_to`."""

        def download() -> None:
            body = self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
            download_to.write_bytes(body.read())

        self._call("read", key, download)
        return download_to

    def remove_unfinished(self, under: str) -> int:  # noqa: ARG002 (there is nothing to look for)
        """Nothing to remove: a PUT cut short leaves no object behind."""
        return 0

    def _call(self, action: str, key: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            return call()
        except (BotoCoreError, ClientError) as exc:
            msg = f"{self.location(key) if key else self.url}: cannot {action} it ({exc})"
            raise LogSourceError(msg) from None


Store: TypeAlias = DirectoryStore | S3Store


def open_store(url: str, endpoint_url: str | None = None) -> Store:
    """`s3://bucket/prefix`, `file:///abs/dir` or a plain directory path."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            msg = f"{url!r}: no bucket (rule: s3://bucket/prefix)"
            raise ConfigError(msg)
        return S3Store(parsed.netloc, parsed.path, endpoint_url)
    if parsed.scheme == "file":
        return DirectoryStore(Path(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (a Windows drive letter is no scheme)
        return DirectoryStore(Path(url).resolve())
    msg = f"{url!r}: unsupported scheme {parsed.scheme!r} (rule: s3://bucket/prefix, file:///dir or a directory)"
    raise ConfigError(msg)
