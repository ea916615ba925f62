"""API keys and scopes: where they come from, how they are kept, and the 401/403 matrix on every route."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Route

from mlops_template.core.errors import ConfigError
from mlops_template.serving.app import create_app
from mlops_template.serving.auth import (
    BARE_KEY_SCOPES,
    KEY_PATHS,
    PUBLIC_PATHS,
    RESERVED_SCOPES,
    ROUTE_SCOPES,
    SCOPES,
    ApiKeys,
    key_entries,
    lacks_scope_detail,
    load_api_keys,
    presented_key,
    route_path,
)
from mlops_template.serving.settings import ServingSettings, load_settings
from tests.support.api_server import API_KEY, API_KEY_SPEC, AUTH
from tests.support.serving_settings import MakeSettings

OTHER_KEY = "second-key-abcdefghijklmnop"
WRONG_KEY = "wrong-key-000000000000000"

# Every route that needs a key, with a request that would otherwise succeed or fail validation.
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/predict", {"record": {}}),
    ("POST", "/v1/explain", {"record": {}}),
    ("POST", "/v1/feedback", {"request_id": "0" * 32, "label": 1}),
    ("GET", "/v1/model", None),
    ("POST", "/v1/admin/reload", None),
    ("GET", "/openapi.json", None),
    ("GET", "/v1/monitor", None),
    ("GET", "/v1/review/queue", None),
    ("GET", "/v1/review/summary", None),
    ("GET", "/v1/me", None),  # any valid key (KEY_PATHS)
    ("GET", "/no/such/path", None),  # unknown paths too: no key, no map of the API
]
# One key per scope, each holding that scope only (built in the matrix test's app).
SCOPE_KEYS = {scope: f"only-{scope}-0123456789abcdef" for scope in SCOPES}


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServingSettings:
    for name in ("MLOPS_API_KEYS", "MLOPS_API_KEYS_FILE", "MLOPS_AUTH_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_keys_from_the_environment_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_env(monkeypatch, MLOPS_API_KEYS=f" {API_KEY} ,{OTHER_KEY},")
    keys = load_api_keys(settings)
    assert keys is not None
    assert keys.matches(API_KEY.encode())
    assert keys.matches(OTHER_KEY.encode())
    assert not keys.matches(WRONG_KEY.encode())


def test_keys_from_a_mounted_file_one_a_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{API_KEY}\n\n  {OTHER_KEY}  \n", encoding="utf-8")
    keys = load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS_FILE=str(path)))
    assert keys is not None
    assert len(keys.digests) == 2
    assert keys.matches(OTHER_KEY.encode())


def test_keys_are_kept_only_as_digests() -> None:
    keys = ApiKeys.from_keys([(API_KEY, {"predict"})])
    assert all(len(digest) == 32 for digest in keys.digests)
    assert API_KEY not in repr(keys)
    assert API_KEY.encode() not in b"".join(keys.digests)


def test_no_keys_refuses_to_start_unless_auth_is_disabled_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"no API keys configured.*MLOPS_AUTH_DISABLED=true"):
        load_api_keys(settings_from_env(monkeypatch))
    assert load_api_keys(settings_from_env(monkeypatch, MLOPS_AUTH_DISABLED="true")) is None


def test_disabling_auth_while_keys_are_set_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="choose one"):
        load_api_keys(settings_from_env(monkeypatch, MLOPS_AUTH_DISABLED="true", MLOPS_API_KEYS=API_KEY))


@pytest.mark.parametrize(
    ("value", "rule"),
    [("short", "at least 16"), ("has a space in it ok", "printable ASCII"), ("caf\u00e9-key-0123456789", "ASCII")],
)
def test_weak_or_unsendable_keys_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, value: str, rule: str
) -> None:
    with pytest.raises(ConfigError, match=rule) as caught:
        load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS=f"{API_KEY},{value}"))
    assert "key #2" in str(caught.value)
    assert value not in str(caught.value)


def test_an_unreadable_key_file_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MLOPS_API_KEYS_FILE=.*cannot read it"):
        load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS_FILE=str(tmp_path / "absent")))


def test_a_bad_setting_names_the_variable_and_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_MAX_BATCH", "0")
    with pytest.raises(ConfigError, match=r"MLOPS_MAX_BATCH='0': Input should be greater than or equal to 1"):
        load_settings()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-api-key", b"abc")], b"abc"),
        ([(b"authorization", b"Bearer abc")], b"abc"),
        ([(b"authorization", b"bearer   abc ")], b"abc"),
        ([(b"authorization", b"Basic abc")], None),
        ([(b"authorization", b"Bearer xyz"), (b"x-api-key", b"abc")], b"abc"),
        ([(b"x-api-key", b"")], None),
        ([], None),
    ],
)
def test_the_presented_key(headers: list[tuple[bytes, bytes]], expected: bytes | None) -> None:
    assert presented_key(headers) == expected


@pytest.fixture
def all_scopes(make_settings: MakeSettings) -> Iterator[TestClient]:
    """The app with the test key holding every scope."""
    with TestClient(create_app(make_settings(api_keys=SecretStr(API_KEY_SPEC)))) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_protected_routes_need_a_valid_key(
    client: TestClient, all_scopes: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "missing API key" in missing.json()["detail"]

    for wrong in ({"X-API-Key": WRONG_KEY}, {"Authorization": f"Bearer {WRONG_KEY}"}):
        refused = client.request(method, path, json=body, headers=wrong)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "invalid API key"}

    for good in (AUTH, {"Authorization": f"Bearer {API_KEY}"}):
        accepted = all_scopes.request(method, path, json=body, headers=good)
        assert accepted.status_code not in (401, 403)


@pytest.mark.parametrize("path", sorted(PUBLIC_PATHS))
def test_health_ready_and_metrics_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_auth_comes_before_the_body_is_read(client: TestClient) -> None:
    answer = client.post("/v1/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 401


def test_keys_never_reach_the_log(make_settings: MakeSettings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(make_settings(api_keys=SecretStr(f"{API_KEY},{OTHER_KEY}:admin")))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/v1/model", headers={"X-API-Key": WRONG_KEY})
        client.get("/v1/model", headers=AUTH)
        client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "key(s) accepted" in logged
    for key in (API_KEY, OTHER_KEY, WRONG_KEY):
        assert key not in logged


def test_docs_are_offered_only_without_auth(make_settings: MakeSettings, client: TestClient) -> None:
    assert client.get("/docs", headers=AUTH).status_code == 404
    app = create_app(make_settings(api_keys=None, auth_disabled=True))
    with TestClient(app) as open_client:
        assert open_client.get("/docs").status_code == 200
        assert open_client.get("/v1/model").status_code == 200


PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = client.options("/v1/predict", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    answer = client.post("/v1/predict", json={"record": {}}, headers={**AUTH, "Origin": "https://app.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_cors_opens_only_to_the_configured_origins(make_settings: MakeSettings) -> None:
    app = create_app(make_settings(cors_origins="https://app.example, https://admin.example"))
    with TestClient(app) as client:
        allowed = client.options("/v1/predict", headers=PREFLIGHT)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "X-API-Key" in allowed.headers["access-control-allow-headers"]
        other = client.options("/v1/predict", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        # CORS opens the browser's door, not the API's: a request still needs its key.
        assert client.get("/v1/model", headers={"Origin": "https://app.example"}).status_code == 401


# --- scopes: who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "scopes", "declared"),
    [
        (API_KEY, BARE_KEY_SCOPES, False),
        (f"{API_KEY}:admin", {"admin"}, True),
        (f"{API_KEY}: predict + feedback ", {"predict", "feedback"}, True),
        (f"{API_KEY}:review+feedback+review", {"review", "feedback"}, True),
        (API_KEY_SPEC, set(SCOPES), True),
    ],
)
def test_a_key_declares_its_scopes_beside_it(
    monkeypatch: pytest.MonkeyPatch, entry: str, scopes: set[str], declared: bool
) -> None:
    (parsed,) = key_entries(settings_from_env(monkeypatch, MLOPS_API_KEYS=entry))
    assert (parsed.key, parsed.scopes, parsed.declared) == (API_KEY, scopes, declared)
    assert API_KEY not in repr(parsed)


def test_a_bare_key_may_predict_and_give_feedback_but_not_reload_or_review() -> None:
    assert {"predict", "feedback"} == BARE_KEY_SCOPES


def test_the_keys_file_takes_the_same_entries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# ops\n{OTHER_KEY}:admin\n{API_KEY}\n", encoding="utf-8")
    keys = load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS_FILE=str(path)))
    assert keys is not None
    assert keys.scopes_of(OTHER_KEY.encode()) == {"admin"}
    assert keys.scopes_of(API_KEY.encode()) == BARE_KEY_SCOPES
    assert keys.scopes_of(WRONG_KEY.encode()) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"{OTHER_KEY},{API_KEY}:predict+deploy", "MLOPS_API_KEYS: key #2 has an unknown scope 'deploy' (rule: one of"),
        (f"{API_KEY}:Admin", "key #1 has an unknown scope 'Admin'"),
        (f"{API_KEY}:{OTHER_KEY}", "key #1 has an unknown scope of 27 characters (not shown)"),
        (f"{API_KEY}:", "key #1 has ':' but no scope after it"),
        (f"{API_KEY}: + ", "key #1 has ':' but no scope after it"),
        (
            f"{API_KEY}:predict,feedback",
            "key #2 is the scope 'feedback', not a key (rule: join a key's scopes with '+'",
        ),
        (f"{API_KEY}:predict,{OTHER_KEY},{API_KEY}:admin", "key #3 repeats MLOPS_API_KEYS: key #1"),
        ("short:predict", "key #1 has 5 characters (rule: at least 16"),
    ],
)
def test_a_bad_key_entry_is_a_start_up_error_naming_its_position_never_the_key(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS=value))
    assert message in str(caught.value)
    for key in (API_KEY, OTHER_KEY, "short"):
        assert key not in str(caught.value)


def test_a_key_in_both_the_environment_and_the_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"{OTHER_KEY}\n{API_KEY}:admin\n", encoding="utf-8")
    settings = settings_from_env(monkeypatch, MLOPS_API_KEYS=API_KEY, MLOPS_API_KEYS_FILE=str(path))
    with pytest.raises(ConfigError, match=r"MLOPS_API_KEYS_FILE=.*: key #2 repeats MLOPS_API_KEYS: key #1"):
        load_api_keys(settings)


def test_start_up_logs_one_line_per_key_with_its_scopes_and_warns_about_bare_keys(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_template.serving.auth")
    load_api_keys(settings_from_env(monkeypatch, MLOPS_API_KEYS=f"{API_KEY},{OTHER_KEY}:admin+predict"))
    lines = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert lines[0][0] == "WARNING"
    assert lines[0][1].startswith("API key MLOPS_API_KEYS: key #1: scopes predict+feedback (a bare key: declare")
    assert lines[1] == ("INFO", "API key MLOPS_API_KEYS: key #2: scopes predict+admin")
    assert lines[2] == ("INFO", "API key authentication on: 2 key(s) accepted")
    assert not any(key in message for _, message in lines for key in (API_KEY, OTHER_KEY))


def test_every_route_the_app_serves_is_public_or_has_one_scope(app: FastAPI) -> None:
    served = {route.path for route in app.routes if isinstance(route, Route)}
    assert served - PUBLIC_PATHS - KEY_PATHS == set(ROUTE_SCOPES)  # nothing unscoped, nothing stale in the table
    assert not KEY_PATHS & set(ROUTE_SCOPES)
    assert set(ROUTE_SCOPES.values()) <= set(SCOPES)
    # Every scope opens a route, except the ones declared ahead of theirs (none since the review queue).
    assert set(SCOPES) - set(ROUTE_SCOPES.values()) == RESERVED_SCOPES == set()


def test_the_route_to_scope_table() -> None:
    assert dict(ROUTE_SCOPES) == {
        "/v1/predict": "predict",
        "/v1/explain": "predict",
        "/v1/model": "predict",
        "/openapi.json": "predict",
        "/v1/feedback": "feedback",
        "/v1/monitor": "predict",
        "/v1/review/queue": "review",
        "/v1/review/summary": "review",
        "/v1/admin/reload": "admin",
    }


@pytest.fixture
def scoped(make_settings: MakeSettings) -> Iterator[TestClient]:
    """The app with one key per scope (SCOPE_KEYS), each holding that scope only."""
    spec = ",".join(f"{key}:{scope}" for scope, key in SCOPE_KEYS.items())
    with TestClient(create_app(make_settings(api_keys=SecretStr(spec))), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_each_route_opens_only_to_a_key_with_its_scope(
    scoped: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    needed = ROUTE_SCOPES.get(path)
    for scope, key in SCOPE_KEYS.items():
        answer = scoped.request(method, path, json=body, headers={"X-API-Key": key})
        if needed is None or scope == needed:  # an unknown path is the router's (404) for any valid key
            assert answer.status_code not in (401, 403), (scope, answer.text)
        else:
            assert answer.status_code == 403, (scope, answer.text)
            assert answer.json() == {"detail": lacks_scope_detail(needed, path)}
            assert answer.headers["content-type"] == "application/json"


def test_the_403_names_the_scope_the_key_lacks(client: TestClient) -> None:
    refused = client.post("/v1/admin/reload", headers=AUTH)  # the test key, bare: predict and feedback
    assert refused.status_code == 403
    assert refused.json() == {"detail": "this API key lacks the scope 'admin' (/v1/admin/reload needs it)"}


def test_the_scope_is_checked_before_the_body_is_read(scoped: TestClient) -> None:
    headers = {"X-API-Key": SCOPE_KEYS["feedback"], "content-type": "application/json"}
    answer = scoped.post("/v1/predict", content=b"{not json", headers=headers)
    assert answer.status_code == 403
    assert "'predict'" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/v1/admin/reload", "", "/v1/admin/reload"),
        ("/api/v1/admin/reload", "/api", "/v1/admin/reload"),
        ("/api", "/api", ""),
        ("/apiv1/admin/reload", "/api", "/apiv1/admin/reload"),
    ],
)
def test_the_scope_is_looked_up_on_the_path_the_router_matches(path: str, root_path: str, expected: str) -> None:
    assert route_path({"type": "http", "path": path, "root_path": root_path}) == expected


def test_the_openapi_names_each_operations_scope(client: TestClient) -> None:
    schema = client.get("/openapi.json", headers=AUTH).json()
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyHeader", "BearerAuth"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if path in PUBLIC_PATHS:
                assert "security" not in operation
                continue
            if path in KEY_PATHS:
                assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerAuth": []}]
                continue
            needed = ROUTE_SCOPES[path]
            assert operation["security"] == [{"ApiKeyHeader": [needed]}, {"BearerAuth": [needed]}]
            assert f"`{needed}`" in operation["responses"]["403"]["description"]
    assert "`review` (/v1/review/queue, /v1/review/summary)" in schema["info"]["description"]
