"""Run the project's workflows with `act` on this machine, with no network.

`act -P ubuntu-latest=-self-hosted` runs each job on the host. What a job would fetch from GitHub is
replaced by small local stand-ins:
- remote actions (actions/checkout, actions/upload-artifact, ...) through `--local-repository
  owner/repo@sha=dir`: checkout clones the "GitHub repository" (a local bare repo) into the job's
  workspace; upload-artifact copies the files to `artifacts/<name>/`;
- the project's local actions, swapped in the temporary clone (that is why they are local actions):
  setup-project puts the existing .venv/bin on PATH instead of `make install`; setup-cml puts a `cml`
  on PATH that records what it would post and keeps the PR's comments the way GitHub would;
- `gh` (retrain opens its PR with it): a recorder that keeps the PRs it was asked to open or edit.
act's cache server is off and its artifact server is not started (no --artifact-server-path); where
`unshare -n` is permitted, act and its jobs run in a network namespace with no network at all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.workspace import GIT_IDENTITY, VENV_BIN, copy_project, offline_prefix

REPOSITORY = "acme/mlops-template"  # what act derives github.repository from (the clone's origin URL)
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
ACT_TIMEOUT_S = 1800

CHECKOUT = """\
name: checkout (test stand-in)
description: clones the local bare repository that plays GitHub into the workspace
inputs:
  ref: {default: ""}
  fetch-depth: {default: "1"}
  persist-credentials: {default: "true"}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REF: ${{ inputs.ref }}
      run: |
        set -euo pipefail
        find . -mindepth 1 -delete
        git clone --quiet "@BARE@" .
        git checkout --quiet --detach "${REF:-$GITHUB_SHA}"
        echo "checkout stand-in: $(git rev-parse HEAD) from @BARE@"
"""

UPLOAD_ARTIFACT = """\
name: upload-artifact (test stand-in)
description: copies the files to the test's artifacts directory
inputs:
  name: {required: true}
  path: {required: true}
  if-no-files-found: {default: warn}
  retention-days: {default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        PATHS: ${{ inputs.path }}
        IF_NONE: ${{ inputs.if-no-files-found }}
      run: |
        set -euo pipefail
        dest="@ARTIFACTS@/$NAME"
        mkdir -p "$dest"
        copied=0
        while IFS= read -r item; do
          if [[ -n $item && -e $item ]]; then
            cp -r "$item" "$dest/"
            copied=$((copied + 1))
          fi
        done <<<"$PATHS"
        if [[ $copied -eq 0 && $IF_NONE == error ]]; then
          echo "upload-artifact stand-in: no files for $NAME" >&2
          exit 1
        fi
        echo "upload-artifact stand-in: $copied path(s) -> $dest"
"""

SETUP_PROJECT = """\
name: Set up the project (test stand-in)
description: the existing .venv instead of `make install` (no network here)
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        echo "@VENV_BIN@" >>"$GITHUB_PATH"
        echo "@STUBS@" >>"$GITHUB_PATH"
"""

SETUP_CML = """\
name: Set up CML (test stand-in)
description: a cml that records what it would post
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        echo "@CML_BIN@" >>"$GITHUB_PATH"
        echo "ITERATIVE_DO_NOT_TRACK=true" >>"$GITHUB_ENV"
"""

# `cml comment create|update [options] FILE`: records the call (arguments, body, the workspace's gate
# and metrics files) and keeps the PR's comments as GitHub would: `update` rewrites the comment that
# carries the same watermark title, or adds one when there is none.
CML = """\
#!@PYTHON@
import json, os, sys
from pathlib import Path

records = Path("@RECORDS@")
args = sys.argv[1:]
if args[:1] == ["--version"]:
    print("0.20.6 (test stand-in)")
    sys.exit(0)
if args[:1] != ["comment"] or len(args) < 3 or args[1] not in ("create", "update"):
    sys.exit(f"cml stand-in: unsupported call {args}")
options, files = {}, []
for arg in args[2:]:
    if arg.startswith("--"):
        key, sep, value = arg[2:].partition("=")
        options[key] = value if sep else True
    else:
        files.append(arg)
body = Path(files[0]).read_text()
snapshot = {}
for name in ("reports/gate.json", "reports/metrics.json"):
    if Path(name).is_file():
        snapshot[name] = json.loads(Path(name).read_text())
call = {"command": args[1], "options": options, "body": body, "workspace": snapshot,
        "telemetry_off": os.environ.get("ITERATIVE_DO_NOT_TRACK") == "true"}
with (records / "cml-calls.jsonl").open("a") as log:
    log.write(json.dumps(call) + "\\n")
store = records / "pr-comments.json"
comments = json.loads(store.read_text()) if store.exists() else []
watermark = options.get("watermark-title", "")
same = [c for c in comments if args[1] == "update" and c["watermark"] == watermark]
if same:
    same[-1]["body"] = body
    same[-1]["updates"] += 1
else:
    comments.append({"watermark": watermark, "body": body, "updates": 0, "target": options.get("target")})
store.write_text(json.dumps(comments, indent=2))
print("https://github.com/@REPOSITORY@/pull/1#issuecomment-stand-in")
"""

# `gh pr list|create|edit`: records the call and keeps the repository's open PRs by head branch.
GH = """\
#!@PYTHON@
import json, sys
from pathlib import Path

records = Path("@RECORDS@")
args = sys.argv[1:]
with (records / "gh-calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")
store = records / "pull-requests.json"
prs = json.loads(store.read_text()) if store.exists() else []

def option(name):
    return args[args.index(name) + 1] if name in args else None

if args[:2] == ["pr", "list"]:
    found = [p for p in prs if p["head"] == option("--head")]
    if found:
        print(found[-1]["number"])
elif args[:2] == ["pr", "create"]:
    number = len(prs) + 1
    prs.append({"number": number, "head": option("--head"), "base": option("--base"), "title": option("--title"),
                "body": Path(option("--body-file")).read_text(), "edits": 0})
    print(f"https://github.com/@REPOSITORY@/pull/{number}")
elif args[:2] == ["pr", "edit"]:
    pr = next(p for p in prs if str(p["number"]) == args[2])
    pr.update(title=option("--title"), body=Path(option("--body-file")).read_text(), edits=pr["edits"] + 1)
else:
    sys.exit(f"gh stand-in: unsupported call {args}")
store.write_text(json.dumps(prs, indent=2))
"""


@dataclass(frozen=True)
class ActRun:
    returncode: int
    output: str
    seconds: float


@dataclass(frozen=True)
class ActHarness:
    root: Path

    @property
    def clone(self) -> Path:
        return self.root / "clone"

    @property
    def bare(self) -> Path:
        return self.root / "github.git"

    @property
    def records(self) -> Path:
        return self.root / "records"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *GIT_IDENTITY, *args], cwd=cwd or self.clone, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def records_of(self, name: str) -> Any:
        path = self.records / name
        return json.loads(path.read_text()) if path.exists() else None

    def calls(self, name: str) -> list[Any]:
        path = self.records / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def run(self, event_name: str, workflow: str, event: dict[str, Any]) -> ActRun:
        """`act EVENT` for one workflow of the clone, with the stand-ins; output and duration."""
        event_path = self.root / f"event-{event_name}.json"
        event_path.write_text(json.dumps(event))
        mapped = []
        text = (self.clone / ".github" / "workflows" / workflow).read_text()
        for repo, sha in sorted(set(USES.findall(text))):
            standin = self.root / "standins" / repo.replace("/", "+")
            if not (standin / "action.yml").is_file():
                msg = f"{workflow} uses {repo}@{sha}, which has no local stand-in (add one to {__file__})"
                raise AssertionError(msg)
            mapped += ["--local-repository", f"{repo}@{sha}={standin}"]
        command = [
            *offline_prefix(),  # no network for act and every job it runs, where `unshare -n` is permitted
            str(VENV_BIN / "act"),
            event_name,
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(event_path),
            "--platform", "ubuntu-latest=-self-hosted",
            "--no-cache-server",
            "--no-skip-checkout",  # else act copies the clone (and its origin) instead of running checkout
            "--action-offline-mode",
            "--action-cache-path", str(self.root / "act-cache"),
            "--container-daemon-socket", "-",
            *mapped,
        ]  # fmt: skip
        # The host's own CI variables must not leak into the jobs act runs.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_"))}
        env = {k: v for k, v in env.items() if not k.startswith(("MLFLOW_", "DVC_", "AWS_"))}
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=ACT_TIMEOUT_S,
            check=False,
        )
        return ActRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def _write(path: Path, text: str, **values: str) -> None:
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_harness(root: Path) -> ActHarness:
    """A temporary clone on `main`, its "GitHub" (a bare repo with main pushed), and the stand-ins."""
    harness = ActHarness(root)
    for directory in (harness.clone, harness.records, harness.artifacts):
        directory.mkdir(parents=True)
    copy_project(harness.clone)
    stubs, cml_bin = root / "stubs", root / "cml-bin"
    values = {
        "BARE": str(harness.bare),
        "ARTIFACTS": str(harness.artifacts),
        "VENV_BIN": str(VENV_BIN),
        "STUBS": str(stubs),
        "CML_BIN": str(cml_bin),
        "PYTHON": sys.executable,
        "RECORDS": str(harness.records),
        "REPOSITORY": REPOSITORY,
    }
    _write(root / "standins" / "actions+checkout" / "action.yml", CHECKOUT, **values)
    _write(root / "standins" / "actions+upload-artifact" / "action.yml", UPLOAD_ARTIFACT, **values)
    _write(harness.clone / ".github" / "actions" / "setup-project" / "action.yml", SETUP_PROJECT, **values)
    _write(harness.clone / ".github" / "actions" / "setup-cml" / "action.yml", SETUP_CML, **values)
    _write(cml_bin / "cml", CML, **values)
    _write(stubs / "gh", GH, **values)
    for tool in (cml_bin / "cml", stubs / "gh"):
        tool.chmod(0o755)
    harness.git("branch", "-M", "main")
    harness.git("add", "-A")
    harness.git("commit", "-qm", "test harness: stand-ins for setup-project and setup-cml")
    harness.git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")  # named only; never contacted
    subprocess.run(["git", "init", "-q", "--bare", str(harness.bare)], check=True, capture_output=True)
    harness.git("push", "-q", str(harness.bare), "main")
    return harness


def report_durations(name: str, run: ActRun) -> str:
    return textwrap.dedent(f"act run {name}: {run.seconds:.1f} s (exit {run.returncode})")
