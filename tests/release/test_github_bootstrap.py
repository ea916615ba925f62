"""`mlops-template github bootstrap` against a fake GitHub API on 127.0.0.1 that checks every request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from mlops_template import cli
from mlops_template.release.github import settings
from tests.support.fake_github import FakeGitHub, serve
from tests.support.workspace import REPO

TOKEN = "ghp_fake-token-that-must-never-be-printed"  # noqa: S105 (a test value)
USERS = {"alice": 101, "bob": 202, "carol": 303}
SLUG = "acme/fraud-model"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    for name in (*settings.TOKEN_VARIABLES, "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    fake = FakeGitHub(token=TOKEN, users=dict(USERS), repos={SLUG}, branches={SLUG: {"main"}})
    with serve(fake) as running:
        yield running


def _bootstrap(fake: FakeGitHub, *extra: str, repo: str = SLUG, reviewers: tuple[str, ...] = ("alice", "bob")) -> int:
    return cli.main(["github", "bootstrap", "--repo", repo, "--reviewer", *reviewers, "--api-url", fake.url, *extra])


def test_bootstrap_sets_environments_policy_and_protection(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    # When bootstrap runs against an empty repository
    assert _bootstrap(github) == 0
    out, err = capsys.readouterr()
    # Then every request was valid, and the state is the approval gate
    assert github.violations == []
    assert [(r.method, r.path) for r in github.requests] == [
        ("GET", "/repos/acme/fraud-model"),
        ("GET", "/users/alice"),
        ("GET", "/users/bob"),
        ("PUT", "/repos/acme/fraud-model/environments/staging"),
        ("PUT", "/repos/acme/fraud-model/environments/production"),
        ("GET", "/repos/acme/fraud-model/environments/production/deployment-branch-policies"),
        ("POST", "/repos/acme/fraud-model/environments/production/deployment-branch-policies"),
        ("PUT", "/repos/acme/fraud-model/branches/main/protection"),
        ("PUT", "/repos/acme/fraud-model/branches/audit/protection"),
    ]
    production = github.environments[SLUG, "production"]
    assert production["reviewers"] == [{"type": "User", "id": 101}, {"type": "User", "id": 202}]
    assert production["prevent_self_review"] is True
    assert production["deployment_branch_policy"] == {"protected_branches": False, "custom_branch_policies": True}
    assert [(p["name"], p["type"]) for p in github.policies[SLUG, "production"]] == [("main", "branch")]
    assert github.environments[SLUG, "staging"]["reviewers"] == []
    protection = github.protection[SLUG, "main"]
    assert [c["context"] for c in protection["required_status_checks"]["checks"]] == list(settings.REQUIRED_CHECKS)
    assert protection["required_status_checks"]["strict"] is True
    assert protection["required_pull_request_reviews"]["required_approving_review_count"] == 1
    assert protection["required_pull_request_reviews"]["dismiss_stale_reviews"] is True
    # And each change is one line; the token appears nowhere
    lines = out.strip().splitlines()
    assert lines == [
        "environment staging: set (any branch may deploy, no reviewers)",
        (
            "environment production: set (required reviewers alice (id 101), bob (id 202); self-review prevented; "
            "custom branches)"
        ),
        "environment production: deployment branch policy 'main' added",
        (
            "branch main: protected (required checks: lint, fast tier, slow tier, wheel and sdist; "
            "1 approving review; stale reviews dismissed)"
        ),
        (
            "branch audit: not created yet (the first workflow that records an audit entry creates it); "
            "run bootstrap again then to protect it"
        ),
    ]
    assert TOKEN not in out + err


def test_the_audit_branch_is_protected_once_it_exists(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a repository where a workflow has created the audit branch
    github.branches[SLUG].add("audit")
    # When bootstrap runs
    assert _bootstrap(github) == 0
    # Then the branch may only grow: no force push, no deletion, admins included; no checks or reviews
    assert github.violations == []
    protection = github.protection[SLUG, "audit"]
    assert protection["allow_force_pushes"] is False
    assert protection["allow_deletions"] is False
    assert protection["enforce_admins"] is True
    assert protection["required_pull_request_reviews"] is None  # the workflows push to it directly
    assert protection["required_status_checks"] is None
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "branch audit: protected (no force push, no deletion, admins included)"


def test_a_refused_audit_protection_is_an_error_not_a_missing_branch(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    path = "/repos/acme/fraud-model/branches/audit/protection"
    github.fail["PUT", path] = (403, "Resource not accessible by personal access token")
    assert _bootstrap(github) == 2
    assert f"PUT {path}: 403, the token may not do this" in _error_line(capsys)


def test_every_request_carries_the_documented_headers(github: FakeGitHub) -> None:
    assert _bootstrap(github) == 0
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["user-agent"]


def test_running_twice_is_fine(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert _bootstrap(github) == 0
    first = {
        "environments": dict(github.environments),
        "policies": {k: list(v) for k, v in github.policies.items()},
        "protection": dict(github.protection),
    }
    capsys.readouterr()
    assert _bootstrap(github) == 0
    out = capsys.readouterr().out
    assert github.violations == []  # no duplicate policy was posted
    assert "environment production: deployment branch policy 'main' already present" in out
    assert [r.method for r in github.requests].count("POST") == 1
    assert github.environments == first["environments"]
    assert github.policies == first["policies"]
    assert github.protection == first["protection"]


def test_dry_run_sends_nothing_and_prints_the_requests(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")  # a dry run needs no token
    assert _bootstrap(github, "--dry-run") == 0
    out = capsys.readouterr().out
    assert github.requests == []
    lines = out.strip().splitlines()
    assert lines[0] == f"dry run: nothing is sent to {github.url}"
    assert lines[1] == f"would send: GET {github.url}/repos/acme/fraud-model"
    assert f"would send: PUT {github.url}/repos/acme/fraud-model/branches/main/protection " in out
    assert '"reviewers": [{"type": "User", "id": "<id of alice>"}, {"type": "User", "id": "<id of bob>"}]' in out
    assert len(lines) == 10  # the header and the nine requests, each on one line


def test_missing_token_is_one_line_and_exit_2(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    assert _bootstrap(github) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: github bootstrap: no GitHub token: set GITHUB_TOKEN or GH_TOKEN")
    assert len(err.strip().splitlines()) == 1
    assert github.requests == []


def test_gh_token_is_accepted_too(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    assert _bootstrap(github) == 0
    assert github.violations == []


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: github bootstrap: ")
    return lines[0]


def test_a_bad_token_is_401(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_wrong")
    assert _bootstrap(github) == 2
    line = _error_line(capsys)
    assert "GET /repos/acme/fraud-model: 401, GitHub refused the token (Bad credentials)" in line
    assert "ghp_wrong" not in line


def test_missing_admin_rights_is_403(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    path = "/repos/acme/fraud-model/branches/main/protection"
    github.fail["PUT", path] = (403, "Resource not accessible by personal access token")
    assert _bootstrap(github) == 2
    line = _error_line(capsys)
    assert f"PUT {path}: 403, the token may not do this (Resource not accessible by personal access token" in line
    assert "Administration read and write" in line


def test_an_unknown_reviewer_is_404_naming_the_user(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert _bootstrap(github, reviewers=("alice", "mallory")) == 2
    line = _error_line(capsys)
    assert "GET /users/mallory: 404, no GitHub user 'mallory' (--reviewer) (Not Found)" in line
    assert not any(r.method == "PUT" for r in github.requests)  # nothing changed before the failure


def test_an_unknown_repository_is_404_naming_it(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert _bootstrap(github, repo="acme/nope") == 2
    line = _error_line(capsys)
    assert "GET /repos/acme/nope: 404, no repository acme/nope, or the token cannot see it" in line
    assert len(github.requests) == 1


def test_a_missing_main_branch_is_404_naming_it(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    github.branches[SLUG] = set()
    assert _bootstrap(github) == 2
    assert "404, no branch 'main' in acme/fraud-model (push it first)" in _error_line(capsys)


def test_a_rejected_body_is_422_with_githubs_reasons(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    path = "/repos/acme/fraud-model/environments/production"
    github.fail["PUT", path] = (422, "Validation Failed")
    assert _bootstrap(github) == 2
    line = _error_line(capsys)
    assert (
        f"PUT {path}: 422, GitHub rejected the request as invalid (Validation Failed (Validation Failed (detail)))"
        in (line)
    )


def test_an_unreachable_api_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with serve(FakeGitHub(token=TOKEN, users={}, repos=set(), branches={})) as gone:
        url = gone.url
    assert cli.main(["github", "bootstrap", "--repo", SLUG, "--reviewer", "alice", "--api-url", url]) == 2
    assert f"GET /repos/acme/fraud-model: cannot reach {url} (ConnectError" in _error_line(capsys)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--repo", "not-a-slug", "expected OWNER/NAME"),
        ("--repo", "acme/../etc", "expected OWNER/NAME"),
        ("--reviewer", "bad login!", "not a GitHub login"),
    ],
)
def test_bad_arguments_exit_2_naming_the_flag(
    flag: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = {"--repo": SLUG, "--reviewer": "alice"} | {flag: value}
    with pytest.raises(SystemExit) as exited:
        cli.main(["github", "bootstrap", "--repo", argv["--repo"], "--reviewer", argv["--reviewer"], "--dry-run"])
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_more_than_six_reviewers_are_refused(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    many = tuple(f"user{i}" for i in range(7))
    assert _bootstrap(github, reviewers=many) == 2
    assert "--reviewer: 7 logins given; GitHub allows at most 6" in _error_line(capsys)
    assert github.requests == []


def test_the_fake_refuses_what_github_refuses(github: FakeGitHub) -> None:
    """The fake is only worth its checks: a body GitHub would refuse is refused and recorded."""
    import httpx  # noqa: PLC0415

    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-GitHub-Api-Version": "2022-11-28",
        "Accept": "application/vnd.github+json",
        "User-Agent": "test",
    }
    with httpx.Client(base_url=github.url, headers=headers) as client:
        both = {"deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": True}}
        assert client.put(f"/repos/{SLUG}/environments/production", json=both).status_code == 422
        partial = {"required_status_checks": None, "enforce_admins": None}
        assert client.put(f"/repos/{SLUG}/branches/main/protection", json=partial).status_code == 422
        unversioned = headers | {"X-GitHub-Api-Version": "2020-01-01"}
        assert client.get(f"/repos/{SLUG}", headers=unversioned).status_code == 400
    assert len(github.violations) == 3


def test_required_checks_are_the_ci_workflows_job_names() -> None:
    # GitHub names a job's check by the job's `name:` (its key when it has none).
    jobs = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))["jobs"]
    assert sorted(job.get("name", key) for key, job in jobs.items()) == sorted(settings.REQUIRED_CHECKS)
