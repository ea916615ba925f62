"""The audit trail: every trained model, gate decision, deployment and rollback, append-only.

Where it lives, and why a reviewer can trust it:

- **One JSON Lines file, `audit.jsonl`, on a dedicated `audit` branch** of the repository. Only the
  workflows append to it (`.github/scripts/audit-append.sh`: one commit per entry, pushed as a fast
  forward, never forced). `mlops-template github bootstrap` protects the branch: no force push, no
  deletion. So its git history can only grow, and every version of the file stays readable.
- **Each entry carries the sha256 of the previous entry's line** (`prev`; the first carries 64
  zeros) and its position (`seq`). Editing, deleting, reordering or cutting short any entry breaks
  the chain at that entry, and `audit verify` names it.
- **A chain alone can be recomputed** by whoever may push: so `audit verify --ref` also checks the
  branch's history, commit by commit: each version of the file must begin with the previous one
  (append-only). A rewrite pushed as a new commit is named by its commit. The hash of each new
  entry is also written to the run's summary (and the deployment record), where a later `verify
  --expect HASH` proves that the log still holds it: cutting entries off the end is caught too.
- Why not MLflow tags or GitHub deployments as the record: both are mutable by anyone with write
  access and keep no history of their own edits; they are indexes that point here, not the record.
  Why not a workflow artifact: artifacts expire (90 days at most) and can be deleted.

What an entry holds (never a secret: the fields are fixed, read from the pipeline's files and the
run's public `GITHUB_*` variables, and a value that looks like a token is refused):

- every entry: `seq`, `kind`, `time` (UTC), `prev`, `run` (workflow, run URL, event, actor,
  `triggering_actor`, commit of the workflow), `model_version` (the served artifact's version);
- `trained`: commit, data version (md5 of `data/` in data.dvc), params (sha256 of params.yaml and the
  params themselves), test metrics;
- `gate`: decision, reason, champion version, and the whole of reports/gate.json with its sha256;
- `deploy` / `rollback`: environment, image (by digest), approver. The approver is the reviewer who
  approved the `production` environment in that run, from GitHub's approvals of the run
  (`GET /repos/{repo}/actions/runs/{id}/approvals`); `github.triggering_actor` is who started or
  re-ran the run, which is not the same person, so both are kept. Staging has no reviewer.

`mlops-template audit show [version]` prints one model's history (no version: the model of the
latest entry), after verifying the chain. This module needs nothing beyond the standard library
(PyYAML only for `record trained`), so a job without the project's environment can append to it.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_template.core.command import run_command
from mlops_template.core.errors import MlopsTemplateError

BRANCH = "audit"
FILE = "audit.jsonl"
DEFAULT_REF = f"origin/{BRANCH}"
GENESIS = "0" * 64
FORMAT = 1
ENVIRONMENTS = ("staging", "production")
METRICS = ("roc_auc", "average_precision", "precision", "recall", "f1", "brier", "calibration_error")
_COMMON = ("format", "seq", "kind", "time", "prev", "run", "model_version")
_DEPLOY = ("environment", "image", "digest", "approver", "commit", "data_version")
KINDS: dict[str, tuple[str, ...]] = {
    "trained": ("commit", "data_version", "params_sha256", "params", "metrics"),
    "gate": ("commit", "decision", "reason", "champion_version", "evidence_sha256", "evidence"),
    "deploy": _DEPLOY,
    "rollback": _DEPLOY,
}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]*@(sha256:[0-9a-f]{64})$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Values that look like credentials are refused (defence in depth: no field is meant to hold one).
_SECRET = re.compile(
    r"gh[opsur]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|"
    r"x-access-token:|AUTHORIZATION:\s*(?:basic|bearer)\s+\S",
    re.IGNORECASE,
)


class AuditError(MlopsTemplateError):
    """Bad input to an audit command: a missing file, an unknown version, a malformed value."""


class AuditChainError(AuditError):
    """The log is not an intact append-only chain; the message names the first bad entry."""


# --- the chain (pure) ----------------------------------------------------------------------------------


def canonical(entry: Mapping[str, Any]) -> str:
    """The one serialisation of an entry: sorted keys, no spaces, ASCII only (no character that a
    tool could take for a line break, such as U+2028), no NaN."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _lines(text: str) -> list[str]:
    """The entries' lines: split on "\\n" only (the log's one line break), the final newline dropped."""
    return text.split("\n")[:-1] if text else []


def entry_hash(line: str) -> str:
    """sha256 of an entry's line as stored (without its newline): the next entry's `prev`."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _fields_problem(entry: Mapping[str, Any]) -> str | None:
    kind = entry.get("kind")
    if kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    missing = [name for name in (*_COMMON, *KINDS[kind]) if name not in entry]
    if missing:
        return f"{kind} entry lacks the field(s) {', '.join(missing)}"
    if entry["format"] != FORMAT:
        return f"format {entry['format']!r} is not {FORMAT}"
    if not isinstance(entry["time"], str) or not _TIME.match(entry["time"]):
        return f"time {entry['time']!r} is not a UTC time like 2026-11-23T05:17:00Z"
    return None


def _seq_problem(entries: Sequence[Mapping[str, Any]], index: int) -> str:
    seq = entries[index].get("seq")
    later = [i for i, e in enumerate(entries) if e.get("seq") == index and i > index]
    if later:
        return f"holds entry {seq!r} where entry {index} belongs; entry {index} is at line {later[0] + 1}: reordered"
    if isinstance(seq, int) and not isinstance(seq, bool) and seq > index:
        gone = f"entry {index}" if seq == index + 1 else f"entries {index} to {seq - 1}"
        return f"holds entry {seq} where entry {index} belongs: {gone} deleted"
    return f"holds seq {seq!r} where {index} belongs: duplicated or edited"


def parse(text: str) -> list[dict[str, Any]]:
    """The entries of a log, checked as a chain; AuditChainError names the first bad entry."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1]:
        msg = f"line {len(lines)}: truncated: the log does not end with a newline (a write cut short)"
        raise AuditChainError(msg)
    lines.pop()
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError as exc:
            msg = f"line {number}: not JSON ({exc}): the entry was cut short or edited"
            raise AuditChainError(msg) from exc
        if not isinstance(entry, dict):
            msg = f"line {number}: not a JSON object (an entry is an object)"
            raise AuditChainError(msg)
        entries.append(entry)
    for index, (line, entry) in enumerate(zip(lines, entries, strict=True)):
        where = f"line {index + 1}"
        if entry.get("seq") != index or isinstance(entry.get("seq"), bool):
            msg = f"{where}: {_seq_problem(entries, index)}"
            raise AuditChainError(msg)
        expected = GENESIS if index == 0 else entry_hash(lines[index - 1])
        if entry.get("prev") != expected:
            if index == 0:
                found = entry.get("prev")
                msg = f"{where}: entry 0 must have prev {GENESIS[:8]}... (the start of the chain); it has {found!r}"
            else:
                msg = (
                    f"entry {index - 1} (line {index}) was changed after entry {index} was written: it hashes to "
                    f"{expected[:16]}..., but entry {index} recorded prev {str(entry.get('prev'))[:16]}..."
                )
            raise AuditChainError(msg)
        if canonical(entry) != line:
            msg = f"entry {index} ({where}): not in canonical form (sorted keys, no spaces): edited by hand"
            raise AuditChainError(msg)
        problem = _fields_problem(entry)
        if problem:
            msg = f"entry {index} ({where}): {problem}"
            raise AuditChainError(msg)
    return entries


def head(text: str) -> str:
    """The hash of the last entry (GENESIS for an empty log): what the next entry's `prev` will be."""
    lines = _lines(text)
    return entry_hash(lines[-1]) if lines else GENESIS


def verify(text: str, expect: Sequence[str] = ()) -> list[dict[str, Any]]:
    """`parse`, and every hash in `expect` (published elsewhere) must be an entry of the log."""
    entries = parse(text)
    hashes = {entry_hash(line) for line in _lines(text)}
    for anchor in expect:
        if anchor not in hashes:
            msg = (
                f"--expect {anchor}: no entry of the log ({len(entries)} entries) has this hash; the entry it "
                "names was published (a run summary, a deployment record) and is gone: the log was cut short "
                "or rewritten"
            )
            raise AuditChainError(msg)
    return entries


def verify_history(versions: Sequence[tuple[str, str]]) -> None:
    """Each (commit, log text), oldest first, must begin with the one before it: append-only history."""
    for (before, old), (commit, new) in itertools.pairwise(versions):
        if not new.startswith(old):
            old_lines, new_lines = _lines(old), _lines(new)
            index = next(
                (i for i, line in enumerate(old_lines) if i >= len(new_lines) or new_lines[i] != line),
                len(old_lines),
            )
            msg = (
                f"commit {commit[:12]} rewrote the log: entry {index} as of commit {before[:12]} is changed "
                f"or gone ({len(old_lines)} entries before, {len(new_lines)} after); the log may only grow"
            )
            raise AuditChainError(msg)


def _refuse_secrets(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_secrets(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secrets(item, f"{path}[{index}]")
    elif isinstance(value, str) and _SECRET.search(value):
        msg = f"{path}: the value looks like a credential (a token or key pattern); the audit log never holds secrets"
        raise AuditError(msg)


def append(text: str, record: Mapping[str, Any]) -> tuple[str, str]:
    """The log with `record` appended as the next entry, and the new entry's hash.

    The existing log is verified first: a broken chain is never extended.
    """
    entries = parse(text)
    _refuse_secrets(record, "")
    entry = {**record, "format": FORMAT, "seq": len(entries), "prev": head(text)}
    problem = _fields_problem(entry)
    if problem:
        raise AuditError(f"the new entry: {problem}")
    try:
        line = canonical(entry)
    except ValueError as exc:
        msg = f"the new {entry['kind']} entry: not JSON-serialisable without NaN or infinity ({exc})"
        raise AuditError(msg) from exc
    return text + line + "\n", entry_hash(line)


# --- one model's history (pure) -----------------------------------------------------------------------


def model_history(entries: Sequence[Mapping[str, Any]], version: str | None) -> tuple[str, list[Mapping[str, Any]]]:
    """(version, its entries in order); no version: the model of the latest entry."""
    if not entries:
        raise AuditError("the audit log is empty: no model has been recorded yet")
    chosen = version or str(entries[-1]["model_version"])
    found = [e for e in entries if e["model_version"] == chosen]
    if not found:
        known = list(dict.fromkeys(str(e["model_version"]) for e in entries))
        msg = f"model version {chosen!r}: not in the audit log (versions recorded: {', '.join(known[-10:])})"
        raise AuditError(msg)
    return chosen, found


def _short(value: Any, width: int = 12) -> str:
    return "n/a" if value is None else str(value)[:width]


def _describe(entry: Mapping[str, Any]) -> list[str]:
    kind = entry["kind"]
    if kind == "trained":
        metrics = entry["metrics"]
        shown = ", ".join(f"{n} {metrics[n]:.4f}" for n in METRICS if isinstance(metrics.get(n), float))
        return [
            (
                f"commit {_short(entry['commit'])}, data {_short(entry['data_version'], 16)}, "
                f"params sha256 {_short(entry['params_sha256'])}"
            ),
            shown,
        ]
    if kind == "gate":
        return [
            (
                f"{str(entry['decision']).upper()} against champion {_short(entry['champion_version'])} "
                f"(commit {_short(entry['commit'])}, evidence sha256 {_short(entry['evidence_sha256'])})"
            ),
            str(entry["reason"]),
        ]
    approval = "" if entry["environment"] != "production" else f", approved by {entry['approver'] or 'nobody'}"
    return [f"{entry['environment']}: {entry['image']}{approval}"]


_INDENT = len("2026-11-23T05:17:00Z  #0000 trained   ")


def render_history(version: str, found: Sequence[Mapping[str, Any]], *, total: int, head_hash: str) -> str:
    """One model's history, readable: one block per entry, oldest first."""
    lines = [
        f"model {version}: {len(found)} of {total} audit entries (chain verified; head {head_hash[:16]}...)",
        "",
    ]
    for entry in found:
        run = entry.get("run") or {}
        who = run.get("triggering_actor") or run.get("actor")
        origin = f"{run.get('workflow', 'local')} {run.get('url', '')}".strip() + (f" by {who}" if who else "")
        details = _describe(entry)
        lines.append(f"{entry['time']}  #{entry['seq']:<4} {entry['kind']:<9} {details[0]}")
        lines.extend(f"{'':{_INDENT}}{detail}" for detail in details[1:] if detail)
        lines.append(f"{'':{_INDENT}}{origin}")
    return "\n".join(lines) + "\n"


# --- records from the pipeline's files ------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise AuditError(f"{path}: not found ({what})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AuditError(f"{path}: not JSON ({exc})") from exc


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_context(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The GitHub Actions run that records the entry (public GITHUB_* values only); None outside Actions."""
    run_id = environ.get("GITHUB_RUN_ID")
    if not run_id:
        return None
    server, repository = environ.get("GITHUB_SERVER_URL", "https://github.com"), environ.get("GITHUB_REPOSITORY", "")
    names = {
        "workflow": "GITHUB_WORKFLOW",
        "job": "GITHUB_JOB",
        "event": "GITHUB_EVENT_NAME",
        "attempt": "GITHUB_RUN_ATTEMPT",
        "actor": "GITHUB_ACTOR",
        "triggering_actor": "GITHUB_TRIGGERING_ACTOR",
        "ref": "GITHUB_REF",
        "workflow_sha": "GITHUB_SHA",
    }
    found = {key: environ.get(variable, "") for key, variable in names.items()}
    return {"url": f"{server}/{repository}/actions/runs/{run_id}", "run_id": run_id, **found}


def trained_record(
    *, commit: str, served: Path, metrics_path: Path, params_path: Path, data_dvc: Path
) -> dict[str, Any]:
    import yaml  # noqa: PLC0415 (only this kind needs PyYAML; the others run on a bare runner)

    version = _read_json(served / "served.json", "the exported model: run the export stage").get("version")
    metrics = _read_json(metrics_path, "the evaluate stage's metrics")
    if not params_path.is_file():
        raise AuditError(f"{params_path}: not found (the params of the trained model)")
    params_bytes = params_path.read_bytes()
    if not data_dvc.is_file():
        raise AuditError(f"{data_dvc}: not found (the data version)")
    outs = (yaml.safe_load(data_dvc.read_text(encoding="utf-8")) or {}).get("outs") or [{}]
    model = metrics.get("model", {})
    return {
        "kind": "trained",
        "model_version": version,
        "commit": commit,
        "data_version": outs[0].get("md5"),
        "params_sha256": hashlib.sha256(params_bytes).hexdigest(),
        "params": yaml.safe_load(params_bytes),
        "metrics": {
            **{name: model.get(name) for name in METRICS},
            "threshold": metrics.get("threshold"),
            "test_rows": metrics.get("test", {}).get("rows"),
        },
    }


def gate_record(*, commit: str, gate_path: Path) -> dict[str, Any]:
    evidence = _read_json(gate_path, "the promotion gate's evidence: run `mlops-template gate`")
    if not isinstance(evidence, dict) or "decision" not in evidence or "candidate" not in evidence:
        raise AuditError(f"{gate_path}: not the gate's evidence (no decision or candidate)")
    champion = evidence.get("champion") or {}
    return {
        "kind": "gate",
        "model_version": evidence["candidate"].get("version"),
        "commit": commit,
        "decision": evidence["decision"],
        "reason": evidence.get("reason"),
        "champion_version": champion.get("version"),
        "evidence_sha256": hashlib.sha256(gate_path.read_bytes()).hexdigest(),
        "evidence": evidence,
    }


def deploy_record(
    kind: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    environment: str,
    image: str,
    model_version: str | None,
    approver: str | None,
    commit: str | None,
    data_version: str | None,
) -> dict[str, Any]:
    matched = _IMAGE.match(image)
    if matched is None:
        msg = f"--image {image!r}: not an image by digest (NAME@sha256:<64 hex digits>)"
        raise AuditError(msg)
    digest = matched.group(1)
    if model_version is None:
        # A rollback names only a digest: the model is the one an earlier entry deployed with it.
        earlier = [e for e in entries if e.get("digest") == digest]
        if not earlier:
            msg = f"--model-version: not given, and no earlier entry deployed {digest}; pass it"
            raise AuditError(msg)
        model_version = str(earlier[-1]["model_version"])
        commit = commit or earlier[-1].get("commit")
        data_version = data_version or earlier[-1].get("data_version")
    return {
        "kind": kind,
        "model_version": model_version,
        "environment": environment,
        "image": image,
        "digest": digest,
        "approver": approver or None,
        "commit": commit or None,
        "data_version": data_version or None,
    }


# --- I/O: the log in a file or at a git ref -------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607


def read_ref(ref: str) -> list[tuple[str, str]]:
    """Every version of the log on `ref`'s first-parent history, oldest first: (commit, text)."""
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        msg = f"--ref {ref}: no such git revision (fetch it: `git fetch origin {BRANCH}`), or pass --log PATH"
        raise AuditError(msg)
    listed = _git("rev-list", "--reverse", "--first-parent", ref, "--", FILE)
    versions = []
    for commit in listed.stdout.split():
        shown = _git("show", f"{commit}:{FILE}")
        versions.append((commit, shown.stdout if shown.returncode == 0 else ""))
    if not versions:
        raise AuditError(f"--ref {ref}: no commit has {FILE}")
    return versions


def _load(args: argparse.Namespace) -> str:
    """The log's text, from --log, or from --ref with its history checked."""
    if args.log is not None:
        if not args.log.is_file():
            raise AuditError(f"--log {args.log}: not found")
        text: str = args.log.read_text(encoding="utf-8")
        return text
    versions = read_ref(args.ref)
    verify_history(versions)
    return versions[-1][1]


def _commit(given: str | None) -> str:
    if given:
        return given
    found = _git("rev-parse", "HEAD")
    if found.returncode != 0:
        raise AuditError("--commit: not given, and this is not a git checkout (git rev-parse HEAD failed)")
    return found.stdout.strip()


def _record(args: argparse.Namespace, out: Callable[[str], object]) -> None:
    text = args.log.read_text(encoding="utf-8") if args.log.is_file() else ""
    entries = parse(text)
    if args.kind == "trained":
        record = trained_record(
            commit=_commit(args.commit),
            served=args.served,
            metrics_path=args.metrics,
            params_path=args.params,
            data_dvc=args.data_dvc,
        )
    elif args.kind == "gate":
        record = gate_record(commit=_commit(args.commit), gate_path=args.gate)
    else:
        if args.environment is None or args.image is None:
            raise AuditError(f"record {args.kind}: --environment and --image are required")
        record = deploy_record(
            args.kind,
            entries,
            environment=args.environment,
            image=args.image,
            model_version=args.model_version,
            approver=args.approver,
            commit=args.commit,
            data_version=args.data_version,
        )
    time = args.time or _now()
    if not _TIME.match(time):
        raise AuditError(f"--time {time!r}: not a UTC time like 2026-11-23T05:17:00Z")
    new_text, new_hash = append(text, {**record, "time": time, "run": run_context(os.environ)})
    args.log.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.log.with_name(f".{args.log.name}.tmp")
    temporary.write_text(new_text, encoding="utf-8")
    temporary.replace(args.log)
    out(f"audit: entry {len(entries)} ({args.kind}, model {record['model_version']}) sha256 {new_hash}")


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template audit",
        description=f"The append-only audit trail ({FILE} on the `{BRANCH}` branch): record, verify, show.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    record = commands.add_parser("record", help="append one entry to a log file (the workflows use it)")
    record.set_defaults(run=_record)
    record.add_argument("kind", choices=list(KINDS))
    record.add_argument("--log", type=Path, required=True, help="the log file to append to (created if absent)")
    record.add_argument("--commit", help="the commit of the model (default: git rev-parse HEAD)")
    record.add_argument("--time", help="UTC time of the event, 2026-11-23T05:17:00Z (default: now)")
    record.add_argument("--served", type=Path, default=Path("models/served"), help="trained: served model dir")
    record.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"), help="trained: metrics")
    record.add_argument("--params", type=Path, default=Path("params.yaml"), help="trained: params file")
    record.add_argument("--data-dvc", type=Path, default=Path("data.dvc"), help="trained: the data version")
    record.add_argument("--gate", type=Path, default=Path("reports/gate.json"), help="gate: the evidence")
    record.add_argument("--environment", choices=ENVIRONMENTS, help="deploy/rollback: where")
    record.add_argument("--image", help="deploy/rollback: the image by digest, NAME@sha256:...")
    record.add_argument("--model-version", help="deploy/rollback: the served version (rollback: looked up)")
    record.add_argument("--data-version", help="deploy/rollback: the data version (the image label)")
    record.add_argument("--approver", help="deploy/rollback to production: the approving reviewer's login")
    for name, about in (("verify", "check the chain (and with --ref the branch's history)"), ("show", "")):
        sub = commands.add_parser(name, help=about or "print one model's history (default: the latest model)")
        sub.set_defaults(run=_verify if name == "verify" else _show)
        source = sub.add_mutually_exclusive_group()
        source.add_argument("--log", type=Path, help="a log file")
        source.add_argument("--ref", default=DEFAULT_REF, help="a git ref holding the log (default: %(default)s)")
        if name == "verify":
            sub.add_argument(
                "--expect", action="append", default=[], metavar="SHA256", help="an entry hash published elsewhere"
            )
        else:
            sub.add_argument("version", nargs="?", help="a served model version (default: the latest entry's)")
    return parser


def _verify(args: argparse.Namespace, out: Callable[[str], object]) -> None:
    for anchor in args.expect:
        if not _HEX64.match(anchor):
            raise AuditError(f"--expect {anchor!r}: not a sha256 (64 lowercase hex digits)")
    text = _load(args)
    entries = verify(text, args.expect)
    where = f"--log {args.log}" if args.log is not None else f"--ref {args.ref} (history append-only)"
    out(f"audit: {len(entries)} entries, chain intact; {where}; head {head(text)}")


def _show(args: argparse.Namespace, out: Callable[[str], object]) -> None:
    text = _load(args)
    entries = parse(text)
    version, found = model_history(entries, args.version)
    out(render_history(version, found, total=len(entries), head_hash=head(text)).rstrip("\n"))


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda args: f"audit {args.command}", _arguments(), argv, lambda args: args.run(args, _out))


if __name__ == "__main__":
    raise SystemExit(main())
