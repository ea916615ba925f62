"""The API image, built and run for real in a private Docker engine.

A Debian base made with debootstrap (no registry is reachable), the wheelhouse downloaded on the host,
`docker build --network none` of the repository's Dockerfile around a freshly trained and exported model,
then the container run as production would run it: read-only root, /tmp a tmpfs, no capabilities, two
workers from WEB_CONCURRENCY. Host networking with the server bound to 127.0.0.1: the engine has no
bridge, so no traffic leaves the loopback interface. Everything started is stopped and removed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts import debian_base, image
from tests.support.api_server import API_KEY, VALID_RECORD, free_port
from tests.support.docker_engine import DockerEngine, EngineError, docker_engine, require_tools

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
TAG = "mlops-template:image-test"
APP_UID = "10001"
BUILD_TIMEOUT_S = 1500.0
READY_TIMEOUT_S = 120.0
HEALTHY_TIMEOUT_S = 60.0
STOP_GRACE_S = 20
# The image is the base (~125 MB) plus the serve closure (~190 MB, onnxruntime and numpy the most);
# pandas, scikit-learn or MLflow sneaking in would add hundreds of MB.
MAX_IMAGE_BYTES = 450 * 1024 * 1024
TRAINING_ONLY = ("pandas", "sklearn", "mlflow", "dvc", "pandera", "pyarrow", "pip")
SERVING = ("onnxruntime", "fastapi", "uvicorn", "uvloop", "httptools", "prometheus_client", "numpy", "mlops_template")


@pytest.fixture(scope="module")
def say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A line in the test output as it happens: timings and the image size."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"[image] {text}")

    return write


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    require_tools()
    with docker_engine() as running:
        yield running


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    build_args: dict[str, str]
    served: dict[str, Any]
    card: dict[str, Any]
    size: int


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


@pytest.fixture(scope="module")
def built(
    engine: DockerEngine, served_dir: Path, tmp_path_factory: pytest.TempPathFactory, say: Callable[[str], None]
) -> Iterator[BuiltImage]:
    """The image of the session's exported model, built as `make image` builds it (cold, then cached)."""
    context = tmp_path_factory.mktemp("image-context")
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy2(REPO / name, context / name)
    shutil.copytree(served_dir, context / "served")
    say(f"wheelhouse: {timed(lambda: image.build_wheelhouse(context / image.WHEELHOUSE)):.1f} s")
    started = time.monotonic()
    tarball = debian_base.base_tarball()
    say(f"debian base tarball (from the cache, or built): {time.monotonic() - started:.1f} s")
    base = debian_base.import_image([engine.client], tarball, env=engine.env)
    build_args = image.build_args(served_dir, served_dir / "model_card.json")
    command = image.build_command(
        [],
        context=context,
        tag=TAG,
        model_dir="served",
        card_dir="served",
        labels=build_args,
        base_image=base,
    )
    builder = "BuildKit" if engine.buildkit else "classic builder"
    try:
        cold = timed(lambda: engine.run(*command, timeout=BUILD_TIMEOUT_S))
        cached = timed(lambda: engine.run(*command, timeout=BUILD_TIMEOUT_S))
        size = int(engine.run("image", "inspect", "--format", "{{.Size}}", TAG).stdout)
        say(f"docker build ({builder}, vfs): {cold:.1f} s without cache, {cached:.1f} s with cache")
        say(f"image size: {size / 1e6:.0f} MB ({size} bytes)")
        yield BuiltImage(
            tag=TAG,
            build_args=build_args,
            served=json.loads((served_dir / "served.json").read_text(encoding="utf-8")),
            card=json.loads((served_dir / "model_card.json").read_text(encoding="utf-8")),
            size=size,
        )
    finally:
        engine.run("image", "rm", "--force", TAG, base, check=False)


@dataclass(frozen=True)
class Container:
    name: str
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)


def start_container(engine: DockerEngine, tag: str, name: str, **env: str) -> Container:
    """`docker run` the image as production would, and wait (bounded) until /ready answers 200."""
    port = free_port()
    environment = {"MLOPS_HOST": "127.0.0.1", "MLOPS_PORT": str(port), "MLOPS_API_KEYS": API_KEY, **env}
    engine.run(
        "run", "--detach", "--name", name,
        "--network", "host", "--read-only", "--tmpfs", "/tmp:rw,size=64m",  # noqa: S108 (the container's own /tmp)
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--health-interval", "1s", "--health-start-period", "60s",
        *(arg for key, value in environment.items() for arg in ("--env", f"{key}={value}")),
        tag,
    )  # fmt: skip
    running = Container(name=name, base_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        state = engine.run("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "running":
            logs = engine.run("logs", name, check=False)
            pytest.fail(f"container {name} is {state}:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        try:
            if httpx.get(f"{running.base_url}/ready", timeout=2).status_code == 200:
                return running
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            logs = engine.run("logs", name, check=False)
            pytest.fail(f"/ready not 200 within {READY_TIMEOUT_S:.0f} s:\n{logs.stderr[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def container(engine: DockerEngine, built: BuiltImage, say: Callable[[str], None]) -> Iterator[Container]:
    name = "mlops-api-image-test"
    try:
        started = time.monotonic()
        running = start_container(engine, built.tag, name, WEB_CONCURRENCY="2")
        say(f"docker run to /ready: {time.monotonic() - started:.1f} s")
        yield running
    finally:
        engine.run("rm", "--force", "--volumes", name, check=False)


def test_labels_name_the_source_revision_model_and_data(engine: DockerEngine, built: BuiltImage) -> None:
    labels = json.loads(engine.run("image", "inspect", "--format", "{{json .Config.Labels}}", built.tag).stdout)
    oci = "org.opencontainers.image"
    assert labels[f"{oci}.revision"] == built.build_args["REVISION"] != "unknown"
    assert labels[f"{oci}.version"] == built.build_args["VERSION"]
    assert labels[f"{oci}.source"] == built.build_args["SOURCE"]
    # The commit's time, not the clock's: rebuilding the same commit gives the same labels.
    commit = built.build_args["REVISION"].removesuffix("-dirty")
    assert labels[f"{oci}.created"] == image._git("show", "--no-patch", "--format=%cI", commit)
    assert labels["mlops-template.model.version"] == built.served["version"]
    # The fixture's project has no data.dvc, so its card has no md5: the label says so rather than guess.
    assert labels["mlops-template.data.version"] == (built.card["data"]["version"]["md5"] or "unknown")


def test_the_image_is_small_and_holds_no_training_stack(
    engine: DockerEngine, built: BuiltImage, container: Container
) -> None:
    assert built.size < MAX_IMAGE_BYTES, f"image is {built.size / 1e6:.0f} MB"
    probe = (
        "import importlib.util as u, json; "
        f"print(json.dumps({{m: u.find_spec(m) is not None for m in {[*TRAINING_ONLY, *SERVING]!r}}}))"
    )
    found = json.loads(engine.run("exec", container.name, "python", "-c", probe).stdout)
    assert {m for m in TRAINING_ONLY if found[m]} == set()
    assert {m for m in SERVING if not found[m]} == set()


def test_the_serving_code_ships_compiled(engine: DockerEngine, container: Container) -> None:
    """The root file system is read-only: a module without its bytecode would be compiled at every start."""
    probe = (
        "import importlib.util as u, json, os, sys; import mlops_template.serving.app; "
        "files = [m.__file__ for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or '')"
        ".startswith('/opt/venv/') and m.__file__.endswith('.py')]; "
        "print(json.dumps([len(files), sorted(f for f in files if not os.path.exists(u.cache_from_source(f)))]))"
    )
    imported, uncompiled = json.loads(engine.run("exec", container.name, "python", "-c", probe).stdout)
    assert imported > 100  # fastapi, pydantic, numpy, onnxruntime, the app: the probe saw the real stack
    assert uncompiled == []


def test_it_runs_as_a_fixed_non_root_user(engine: DockerEngine, built: BuiltImage, container: Container) -> None:
    assert engine.run("image", "inspect", "--format", "{{.Config.User}}", built.tag).stdout.strip() == "10001:10001"
    assert engine.run("exec", container.name, "id", "-u").stdout.strip() == APP_UID
    # Every process of the container, the uvicorn manager and both workers from WEB_CONCURRENCY=2.
    table = engine.run("top", container.name, "-eo", "pid,uid,args").stdout.splitlines()[1:]
    assert {row.split()[1] for row in table} == {APP_UID}, table
    assert sum("multiprocessing" in row for row in table) >= 2, table


def test_predict_needs_a_key_and_returns_a_probability(container: Container) -> None:
    with container.client() as client:
        answer = client.post(
            "/v1/predict", json={"record": VALID_RECORD}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()["results"][0]
        assert 0.0 <= result["probability"] <= 1.0
        assert client.post("/v1/predict", json={"record": VALID_RECORD}).status_code == 401


def test_the_image_serves_the_page_from_its_own_files(container: Container) -> None:
    with container.client() as client:
        page = client.get("/")  # no key: the page's files are public, every call it makes presents one
        script = client.get("/page/page.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="page/page.js" defer></script>' in page.text
    assert script.status_code == 200
    assert "sessionStorage" in script.text


def test_metrics_count_the_requests(container: Container) -> None:
    with container.client() as client:
        for _ in range(3):
            ok = client.post("/v1/predict", json={"record": VALID_RECORD}, headers={"X-API-Key": API_KEY})
            assert ok.status_code == 200
        scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in scrape.text.splitlines()
        if line.startswith("mlops_http_requests_total{") and 'route="/v1/predict"' in line and 'status="200"' in line
    ]
    # Summed over both workers (the multiprocess files live in the tmpfs /tmp).
    assert sum(counted) >= 3, scrape.text[:2000]


def test_read_only_root_with_the_log_on_its_volume(engine: DockerEngine, container: Container) -> None:
    with container.client() as client:
        assert (
            client.post("/v1/predict", json={"record": VALID_RECORD}, headers={"X-API-Key": API_KEY}).status_code == 200
        )
    assert engine.run("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container.name).stdout.strip() == "true"
    listing = engine.run("exec", container.name, "ls", "/var/lib/mlops-template").stdout.split()
    assert "predictions.sqlite3" in listing
    # Even root in the container cannot write outside /tmp and the volume.
    refused = engine.run("exec", "--user", "0", container.name, "touch", "/opt/model/served.json", check=False)
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr
    assert engine.run("exec", container.name, "touch", "/tmp/writable").returncode == 0  # noqa: S108
    assert API_KEY not in engine.run("logs", container.name).stderr


def test_the_healthcheck_reports_healthy(engine: DockerEngine, container: Container) -> None:
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    while (status := engine.run("inspect", "--format", "{{.State.Health.Status}}", container.name).stdout.strip()) != (
        "healthy"
    ):
        assert status == "starting", status
        assert time.monotonic() < deadline, f"not healthy within {HEALTHY_TIMEOUT_S:.0f} s"
        time.sleep(0.5)


def test_sigterm_stops_the_server_cleanly(engine: DockerEngine, built: BuiltImage) -> None:
    """The server is PID 1 (the CMD's shell execs it), so `docker stop` is a graceful shutdown, not a kill."""
    name = "mlops-api-image-stop"
    try:
        start_container(engine, built.tag, name)
        seconds = timed(lambda: engine.run("stop", "--time", str(STOP_GRACE_S), name, timeout=STOP_GRACE_S + 30))
        assert seconds < STOP_GRACE_S, "docker stop had to kill the container"
        assert engine.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        engine.run("rm", "--force", "--volumes", name, check=False)


def test_engine_errors_name_the_command(engine: DockerEngine) -> None:
    with pytest.raises(EngineError, match="image inspect"):
        engine.run("image", "inspect", "mlops-template:no-such-image")
