"""The prediction log past one replica: immutable Parquet segments in an object store (S3, or a directory).

Each API replica writes its own SQLite log (serving/predlog.py: fast, durable, no network in a
request). A sidecar beside it, `mlops-template log ship` (shipper.py), copies the rows the store does
not have yet into Parquet segments; the monitor reads every replica's segments (monitoring/logsource.py).
The API process never imports this package: pyarrow and boto3 stay out of the serving image.

- layout.py: where a segment sits under the prefix (its key) and the folder rules readers rely on;
- stores.py: the two places segments live, a directory and an S3 prefix, and opening one from a URL;
- tables.py: the log's two tables, read from SQLite and converted to the segments' Arrow schemas;
- shipper.py: copying a log's new rows to a store, and its command.
"""

from __future__ import annotations

from mlops_template.core.errors import MlopsTemplateError


class LogSourceError(MlopsTemplateError):
    """A prediction log (SQLite file, segment directory or bucket) cannot be read or written as asked."""
