"""The audit trail: the hash chain, tamper detection, the branch history check, records and `audit show`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template import cli
from mlops_template.release import audit
from mlops_template.release.audit import AuditChainError, AuditError
from tests.support.workspace import GIT_IDENTITY, REPO

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
IMAGE = f"ghcr.io/acme/fraud-model@{DIGEST}"
TIME = "2026-11-23T05:17:00Z"


def _deploy(version: str, environment: str = "staging", image: str = IMAGE, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "deploy",
        "time": TIME,
        "run": None,
        "model_version": version,
        "environment": environment,
        "image": image,
        "digest": image.rsplit("@", 1)[1],
        "approver": extra.get("approver"),
        "commit": "c0ffee",
        "data_version": "466db64d.dir",
    }


def _log(count: int) -> str:
    text = ""
    for index in range(count):
        text, _ = audit.append(text, _deploy(f"v{index:03d}"))
    return text


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


# --- the chain -------------------------------------------------------------------------------------------


def test_append_links_each_entry_to_the_previous_one() -> None:
    # Given an empty log, when three entries are appended
    text = _log(3)
    entries = audit.verify(text)
    # Then they are numbered, the first starts the chain and each names its predecessor's hash
    assert [e["seq"] for e in entries] == [0, 1, 2]
    assert entries[0]["prev"] == audit.GENESIS
    lines = _lines(text)
    assert entries[1]["prev"] == audit.entry_hash(lines[0])
    assert entries[2]["prev"] == audit.entry_hash(lines[1])
    assert audit.head(text) == audit.entry_hash(lines[2])


def test_an_empty_log_verifies_and_has_the_genesis_head() -> None:
    assert audit.verify("") == []
    assert audit.head("") == audit.GENESIS


def test_an_edited_entry_is_named() -> None:
    lines = _lines(_log(5))
    edited = json.loads(lines[2])
    edited["model_version"] = "forged"
    lines[2] = audit.canonical(edited)
    with pytest.raises(AuditChainError, match=r"^entry 2 \(line 3\) was changed after entry 3 was written"):
        audit.verify(_join(lines))


def test_an_entry_edited_by_hand_is_named_even_when_it_is_the_last() -> None:
    lines = _lines(_log(3))
    lines[2] = lines[2].replace('"kind":"deploy"', '"kind": "deploy"')
    with pytest.raises(AuditChainError, match=r"^entry 2 \(line 3\): not in canonical form .*edited by hand"):
        audit.verify(_join(lines))


@pytest.mark.parametrize(("deleted", "message"), [(0, "entry 0 deleted"), (2, "entry 2 deleted")])
def test_a_deleted_entry_is_named(deleted: int, message: str) -> None:
    lines = _lines(_log(5))
    del lines[deleted]
    with pytest.raises(AuditChainError, match=rf"^line {deleted + 1}: holds entry {deleted + 1} .*{message}"):
        audit.verify(_join(lines))


def test_several_deleted_entries_are_named() -> None:
    lines = _lines(_log(6))
    del lines[1:4]
    with pytest.raises(AuditChainError, match=r"^line 2: holds entry 4 where entry 1 belongs: entries 1 to 3 deleted"):
        audit.verify(_join(lines))


def test_reordered_entries_are_named() -> None:
    lines = _lines(_log(5))
    lines[1], lines[3] = lines[3], lines[1]
    with pytest.raises(AuditChainError, match=r"^line 2: holds entry 3 where entry 1 belongs; entry 1 is at line 4"):
        audit.verify(_join(lines))


def test_an_entry_cut_short_is_named() -> None:
    text = _log(3)
    with pytest.raises(AuditChainError, match=r"^line 3: truncated: the log does not end with a newline"):
        audit.verify(text[:-40])
    lines = _lines(text)
    lines[2] = lines[2][:-40]
    with pytest.raises(AuditChainError, match=r"^line 3: not JSON .*cut short or edited"):
        audit.verify(_join(lines))


def test_entries_cut_off_the_end_are_caught_by_a_published_hash() -> None:
    # Given the hash of entry 3, published when it was recorded (a run summary)
    text = _log(5)
    published = audit.entry_hash(_lines(text)[3])
    assert len(audit.verify(text, [published])) == 5
    # When the last two entries are cut off, the chain alone still looks whole
    cut = _join(_lines(text)[:3])
    assert len(audit.verify(cut)) == 3
    # Then the published hash is missing, and verify says so
    with pytest.raises(AuditChainError, match=rf"^--expect {published}: no entry of the log \(3 entries\)"):
        audit.verify(cut, [published])


def test_a_log_that_does_not_start_at_the_genesis_is_refused() -> None:
    lines = _lines(_log(2))
    first = json.loads(lines[0])
    first["prev"] = "1" * 64
    with pytest.raises(AuditChainError, match=r"^line 1: entry 0 must have prev 00000000"):
        audit.verify(_join([audit.canonical(first)]))


def test_an_entry_with_a_missing_field_or_unknown_kind_is_refused() -> None:
    with pytest.raises(AuditError, match=r"the new entry: deploy entry lacks the field\(s\) approver"):
        audit.append("", {k: v for k, v in _deploy("v1").items() if k != "approver"})
    with pytest.raises(AuditError, match=r"the new entry: kind 'shipped' is not one of trained, gate, deploy"):
        audit.append("", {**_deploy("v1"), "kind": "shipped"})


def test_a_broken_chain_is_never_extended() -> None:
    lines = _lines(_log(3))
    del lines[1]
    with pytest.raises(AuditChainError, match="entry 1 deleted"):
        audit.append(_join(lines), _deploy("v9"))


@pytest.mark.parametrize(
    "value",
    [
        "ghp_" + "A1b2" * 9,
        "github_pat_" + "x" * 30,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW4=",
    ],
)
def test_values_that_look_like_secrets_are_refused(value: str) -> None:
    with pytest.raises(AuditError, match=r"^approver: the value looks like a credential"):
        audit.append("", _deploy("v1", approver=value))


# --- properties ----------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_RECORDS = st.builds(
    lambda version, environment, approver, extra: {**_deploy(version, environment, approver=approver), "note": extra},
    _TEXT,
    st.sampled_from(audit.ENVIRONMENTS),
    st.none() | st.text(alphabet="abcdefghij-", min_size=1, max_size=8),
    _VALUES,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RECORDS, max_size=8))
def test_any_sequence_of_appends_verifies(records: list[dict[str, Any]]) -> None:
    text = ""
    hashes = []
    for record in records:
        text, new_hash = audit.append(text, record)
        hashes.append(new_hash)
    entries = audit.verify(text, hashes)
    assert [e["seq"] for e in entries] == list(range(len(records)))
    assert [e["note"] for e in entries] == [r["note"] for r in records]
    assert audit.head(text) == (hashes[-1] if hashes else audit.GENESIS)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=8), st.data())
def test_deleting_or_changing_any_entry_but_the_last_is_detected(count: int, data: st.DataObject) -> None:
    lines = _lines(_log(count))
    index = data.draw(st.integers(min_value=0, max_value=count - 2))
    changed = json.loads(lines[index])
    changed["approver"] = data.draw(st.text(alphabet="xyz", min_size=1, max_size=5))
    edited = [*lines[:index], audit.canonical(changed), *lines[index + 1 :]]
    with pytest.raises(AuditChainError, match=rf"^entry {index} \(line {index + 1}\) was changed"):
        audit.verify(_join(edited))
    with pytest.raises(AuditChainError, match=rf"^line {index + 1}: "):
        audit.verify(_join(lines[:index] + lines[index + 1 :]))


# --- the branch history ----------------------------------------------------------------------------------


def test_history_that_only_grows_passes_and_a_rewrite_names_its_commit() -> None:
    text = _log(4)
    versions = [("a" * 40, ""), ("b" * 40, _join(_lines(text)[:2])), ("c" * 40, text)]
    audit.verify_history(versions)
    # A new commit whose log recomputes a consistent chain without entry 1 (the chain alone verifies)
    rewritten = ""
    for index, line in enumerate(_lines(text)):
        if index != 1:
            entry = json.loads(line)
            rewritten, _ = audit.append(rewritten, {k: entry[k] for k in entry if k not in ("seq", "prev", "format")})
    audit.verify(rewritten)
    with pytest.raises(AuditChainError, match=r"^commit dddddddddddd rewrote the log: entry 1 as of commit cccccccc"):
        audit.verify_history([*versions, ("d" * 40, rewritten)])


# --- the command ----------------------------------------------------------------------------------------


def _pipeline_files(root: Path) -> dict[str, Path]:
    (root / "served").mkdir(parents=True)
    (root / "served" / "served.json").write_text(json.dumps({"version": "864af1dab6de", "files": {}}))
    metrics = {"threshold": 0.2051, "test": {"rows": 4996}, "model": dict.fromkeys(audit.METRICS, 0.5)}
    metrics["model"]["average_precision"] = 0.4488
    (root / "metrics.json").write_text(json.dumps(metrics))
    (root / "params.yaml").write_text("train:\n  model:\n    learning_rate: 0.05\n")
    (root / "data.dvc").write_text(yaml.safe_dump({"outs": [{"md5": "466db64d.dir", "path": "data"}]}))
    gate = {
        "decision": "pass",
        "reason": "no meaningful gain over the champion, no regression beyond the margins (note)",
        "candidate": {"version": "864af1dab6de", "threshold": 0.2051},
        "champion": {"version": "7f3e00000000", "threshold": 0.2},
    }
    (root / "gate.json").write_text(json.dumps(gate))
    return {name: root / name for name in ("served", "metrics.json", "params.yaml", "data.dvc", "gate.json")}


def _audit(*args: str) -> int:
    return cli.main(["audit", *args])


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log with a model's whole life: trained, gated, staging, production, then a rollback to it."""
    for name in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_TRIGGERING_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    files, log = _pipeline_files(tmp_path / "files"), tmp_path / "audit.jsonl"
    common = ("--log", str(log), "--commit", "0e2a160c6a8f0000")
    trained = ("--served", str(files["served"]), "--metrics", str(files["metrics.json"]))
    sources = ("--params", str(files["params.yaml"]), "--data-dvc", str(files["data.dvc"]))
    assert _audit("record", "trained", *common, *trained, *sources, "--time", "2026-11-23T05:17:00Z") == 0
    assert _audit("record", "gate", *common, "--gate", str(files["gate.json"]), "--time", "2026-11-23T05:20:00Z") == 0
    deploy = ("--image", IMAGE, "--model-version", "864af1dab6de")
    staging = ("--environment", "staging", "--time", "2026-11-24T09:00:00Z")
    assert _audit("record", "deploy", *common, *staging, *deploy) == 0
    other = ("--image", f"ghcr.io/acme/fraud-model@{OTHER_DIGEST}", "--model-version", "99aa00000000")
    assert _audit("record", "deploy", "--log", str(log), "--environment", "staging", *other, "--time", TIME) == 0
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/fraud-model")
    monkeypatch.setenv("GITHUB_WORKFLOW", "deploy")
    monkeypatch.setenv("GITHUB_TRIGGERING_ACTOR", "carol")
    production = ("--environment", "production", "--image", IMAGE, "--approver", "alice")
    assert _audit("record", "rollback", "--log", str(log), *production, "--time", "2026-11-30T10:00:00Z") == 0
    return log


def test_record_reads_the_pipelines_files(recorded: Path) -> None:
    entries = audit.verify(recorded.read_text())
    assert [e["kind"] for e in entries] == ["trained", "gate", "deploy", "deploy", "rollback"]
    trained, gate, _, _, rollback = entries
    assert trained["model_version"] == "864af1dab6de"
    assert trained["data_version"] == "466db64d.dir"
    assert trained["params"] == {"train": {"model": {"learning_rate": 0.05}}}
    assert len(trained["params_sha256"]) == 64
    assert trained["metrics"]["average_precision"] == 0.4488
    assert trained["metrics"]["threshold"] == 0.2051
    assert gate["decision"] == "pass"
    assert gate["champion_version"] == "7f3e00000000"
    assert gate["evidence"]["candidate"]["version"] == "864af1dab6de"
    # A rollback names only a digest: its model, commit and data are those of the entry that shipped it
    assert rollback["model_version"] == "864af1dab6de"
    assert rollback["commit"] == "0e2a160c6a8f0000"
    assert rollback["digest"] == DIGEST
    assert rollback["approver"] == "alice"
    assert rollback["run"]["url"] == "https://github.com/acme/fraud-model/actions/runs/4242"
    assert rollback["run"]["triggering_actor"] == "carol"


def test_record_prints_the_new_entrys_hash(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ("--log", str(recorded), "--environment", "staging", "--image", IMAGE, "--time", TIME)
    assert _audit("record", "rollback", *args) == 0
    out = capsys.readouterr().out
    assert out == f"audit: entry 5 (rollback, model 864af1dab6de) sha256 {audit.head(recorded.read_text())}\n"


def test_show_prints_one_models_history(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _audit("show", "--log", str(recorded), "864af1dab6de") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("model 864af1dab6de: 4 of 5 audit entries (chain verified; head ")
    kinds = [line.split()[2] for line in lines if line.startswith("2026-")]
    assert kinds == ["trained", "gate", "deploy", "rollback"]
    assert "commit 0e2a160c6a8f, data 466db64d.dir, params sha256" in out
    assert "average_precision 0.4488" in out
    assert "PASS against champion 7f3e00000000" in out
    assert "no meaningful gain over the champion" in out
    assert f"staging: {IMAGE}\n" in out
    assert f"production: {IMAGE}, approved by alice" in out
    assert "deploy https://github.com/acme/fraud-model/actions/runs/4242 by carol" in out
    assert "99aa00000000" not in out


def test_show_without_a_version_shows_the_latest_entrys_model(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _audit("show", "--log", str(recorded)) == 0
    assert capsys.readouterr().out.startswith("model 864af1dab6de: 4 of 5")


def test_show_an_unknown_version_names_the_known_ones(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _audit("show", "--log", str(recorded), "nope") == 2
    err = capsys.readouterr().err
    assert err == (
        "error: audit show: model version 'nope': not in the audit log (versions recorded: 864af1dab6de, "
        "99aa00000000)\n"
    )


def test_show_and_verify_refuse_a_broken_log(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(recorded.read_text())
    recorded.write_text(_join([lines[0], *lines[2:]]))
    capsys.readouterr()
    assert _audit("verify", "--log", str(recorded)) == 2
    expected = "error: audit verify: line 2: holds entry 2 where entry 1 belongs: entry 1 deleted\n"
    assert capsys.readouterr().err == expected
    assert _audit("show", "--log", str(recorded)) == 2
    assert "entry 1 deleted" in capsys.readouterr().err


def test_verify_prints_the_count_and_head(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    head = audit.head(recorded.read_text())
    assert _audit("verify", "--log", str(recorded), "--expect", head) == 0
    assert capsys.readouterr().out == f"audit: 5 entries, chain intact; --log {recorded}; head {head}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("record", "deploy", "--environment", "staging", "--image", "ghcr.io/acme/x:latest"),
            "--image 'ghcr.io/acme/x:latest': not an image by digest (NAME@sha256:<64 hex digits>)",
        ),
        (("record", "deploy", "--image", IMAGE), "record deploy: --environment and --image are required"),
        (
            ("record", "rollback", "--environment", "production", "--image", f"ghcr.io/a/b@{OTHER_DIGEST}"),
            f"--model-version: not given, and no earlier entry deployed {OTHER_DIGEST}; pass it",
        ),
        (
            ("record", "deploy", "--environment", "staging", "--image", IMAGE, "--model-version", "v", "--time", "now"),
            "--time 'now': not a UTC time like 2026-11-23T05:17:00Z",
        ),
        (("record", "gate", "--gate", "missing.json", "--commit", "c"), "missing.json: not found (the promotion gate"),
        (("verify", "--expect", "abc"), "--expect 'abc': not a sha256 (64 lowercase hex digits)"),
    ],
)
def test_bad_input_is_one_line_naming_the_value_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    log = ("--log", str(tmp_path / "audit.jsonl"))
    command = (*args[:2], *log, *args[2:]) if args[0] == "record" else (*args, *log)
    assert _audit(*command) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: audit {args[0]}: {message}"), err
    assert err.count("\n") == 1
    assert not (tmp_path / "audit.jsonl").exists()


# --- the log on a git branch ---------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit_log(repo: Path, text: str, message: str) -> str:
    (repo / audit.FILE).write_text(text)
    _git(repo, "add", audit.FILE)
    _git(repo, "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def test_verify_ref_checks_every_commit_of_the_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an audit branch where each commit appended entries
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", audit.BRANCH)
    text = _log(3)
    for count in (1, 2, 3):
        _commit_log(repo, _join(_lines(text)[:count]), f"audit: entry {count - 1}")
    monkeypatch.chdir(repo)
    assert _audit("verify", "--ref", audit.BRANCH) == 0
    assert "audit: 3 entries, chain intact; --ref audit (history append-only)" in capsys.readouterr().out
    assert _audit("show", "--ref", audit.BRANCH, "v001") == 0
    assert capsys.readouterr().out.startswith("model v001: 1 of 3 audit entries")
    # When a later commit rewrites the log into a consistent chain of its own (the last entry dropped)
    rewrite = _commit_log(repo, _join(_lines(text)[:2]), "tidy the log")
    assert audit.verify((repo / audit.FILE).read_text())
    # Then verify --ref names that commit
    assert _audit("verify", "--ref", audit.BRANCH) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: audit verify: commit {rewrite[:12]} rewrote the log: entry 2 as of commit ")
    # And a ref that does not exist says how to get it
    assert _audit("verify", "--ref", "origin/audit") == 2
    assert "--ref origin/audit: no such git revision (fetch it: `git fetch origin audit`)" in capsys.readouterr().err


def test_the_module_runs_on_a_bare_python_without_the_projects_dependencies(tmp_path: Path) -> None:
    """The staging and production jobs append with the runner's own python3: only the standard library."""
    code = (
        "import sys; import mlops_template.release.audit as a; "
        "heavy = sorted({'yaml', 'pydantic', 'pandas', 'numpy', 'httpx'} & set(sys.modules)); "
        "assert not heavy, heavy; sys.exit(a.main(sys.argv[1:]))"
    )
    log = tmp_path / "audit.jsonl"
    args = ("record", "deploy", "--log", str(log), "--environment", "staging", "--image", IMAGE)
    args = (*args, "--model-version", "v1")
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, *args],  # -S: no site-packages at all
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [e["model_version"] for e in audit.verify(log.read_text())] == ["v1"]


# --- the workflows' append script (.github/scripts/audit-append.sh) ----------------------------------------

SCRIPT = REPO / ".github" / "scripts" / "audit-append.sh"
# A "GitHub" that refuses the first push to the audit branch, as if another workflow had appended first.
REFUSE_ONCE = """#!/bin/sh
if [ ! -e "$GIT_DIR/refused-once" ]; then
    touch "$GIT_DIR/refused-once"
    echo "simulated race: another entry landed first" >&2
    exit 1
fi
"""


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A job's checkout (the project's src/ linked in) and its origin, a bare repository."""
    origin, checkout = tmp_path / "github.git", tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    checkout.mkdir()
    (checkout / "src").symlink_to(REPO / "src")
    _git(checkout, "init", "-q", "-b", "main")
    _git(checkout, "add", "src")
    _git(checkout, "commit", "-q", "-m", "the project")
    _git(checkout, "remote", "add", "origin", str(origin))
    return checkout, origin


def _append(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "RUNNER_TEMP": str(checkout.parent),
        "HOME": str(checkout.parent),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=checkout, env=env, capture_output=True, text=True, check=False, timeout=60
    )


def _origin_log(origin: Path) -> list[dict[str, Any]]:
    shown = subprocess.run(
        ["git", "show", f"{audit.BRANCH}:{audit.FILE}"], cwd=origin, capture_output=True, text=True, check=True
    )
    return audit.verify(shown.stdout)


def test_the_script_appends_one_commit_per_entry_and_retries_a_lost_race(workspace: tuple[Path, Path]) -> None:
    checkout, origin = workspace
    deploy = ("--environment", "staging", "--image", IMAGE)
    # The first entry creates the branch: an orphan holding only the log
    first = _append(checkout, "deploy", *deploy, "--model-version", "v1")
    assert first.returncode == 0, first.stderr
    assert _git(origin, "ls-tree", "--name-only", audit.BRANCH) == audit.FILE
    # A push refused once (a race) is redone on the tip, and the rollback finds its model by digest
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(REFUSE_ONCE)
    hook.chmod(0o755)
    second = _append(checkout, "rollback", "--environment", "production", "--image", IMAGE, "--approver", "alice")
    assert second.returncode == 0, second.stderr
    assert "the push lost a race (attempt 1)" in second.stdout
    entries = _origin_log(origin)
    assert [(e["kind"], e["model_version"], e["approver"]) for e in entries] == [
        ("deploy", "v1", None),
        ("rollback", "v1", "alice"),
    ]
    assert _git(origin, "rev-list", "--count", audit.BRANCH) == "2"
    tip = _git(origin, "rev-parse", audit.BRANCH)
    assert second.stdout.strip().splitlines()[-1].endswith(f" (commit {tip} on audit)")
    # The job's checkout is untouched: still on main, nothing staged or written
    assert _git(checkout, "status", "--porcelain") == ""
    assert _git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_the_script_refuses_to_start_over_after_the_log_was_deleted(workspace: tuple[Path, Path]) -> None:
    checkout, origin = workspace
    assert (
        _append(checkout, "deploy", "--environment", "staging", "--image", IMAGE, "--model-version", "v1").returncode
        == 0
    )
    # Someone pushes a commit that deletes the log (a fast forward: protection alone would not stop it)
    clone = origin.parent / "vandal"
    subprocess.run(["git", "clone", "-q", "-b", audit.BRANCH, str(origin), str(clone)], check=True)
    _git(clone, "rm", "-q", audit.FILE)
    _git(clone, "commit", "-qm", "clean up")
    _git(clone, "push", "-q", "origin", audit.BRANCH)
    refused = _append(checkout, "deploy", "--environment", "staging", "--image", IMAGE, "--model-version", "v2")
    assert refused.returncode == 1
    assert "audit.jsonl was deleted on audit" in refused.stdout
