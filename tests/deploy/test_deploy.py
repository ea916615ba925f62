"""deploy/: the Kubernetes overlays, the compose stack, Prometheus and the Grafana dashboard, checked
with the real tools (kubectl kustomize, kubernetes-validate --strict, check-jsonschema, promtool).

Each checker has a negative test beside it that feeds it a broken file, so a check that silently
passes everything would fail here. A missing tool skips its tests with the reason, and fails them
when CI=true (scripts/system-deps.sh installs promtool; kubectl comes with the machine image).
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.support.deploy_checks import (
    DASHBOARD,
    DEPLOY,
    RULE_SERIES,
    Obj,
    dashboard,
    dashboard_queries,
    exposed_series,
    promtool,
    require_tool,
    run,
)
from tests.support.kustomize_lite import KustomizeError, render
from tests.support.workspace import REPO

K8S = DEPLOY / "k8s"
OVERLAYS = ("staging", "production")
# The oldest Kubernetes the manifests target (the preStop `sleep` action is on by default from 1.30)
# and the newest that kubernetes-validate knows.
K8S_VERSIONS = ("1.30.0", "1.37.0")
DIGEST_IMAGE = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$")


# --- tools -----------------------------------------------------------------------------------------


def test_a_missing_tool_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-here` is not installed: apt-get it"):
        require_tool("no-such-tool-here", "apt-get it")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-tool-here` is not installed"):
        require_tool("no-such-tool-here", "apt-get it")


def kubectl() -> str:
    return require_tool("kubectl", "install kubectl (its `kubectl kustomize` is the reference renderer)")


def kubernetes_validate(paths: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("kubernetes-validate", "run `make install` (a dev dependency)")
    return run([tool, "--strict", "--kubernetes-version", version, *map(str, paths)])


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("check-jsonschema", "run `make install` (a dev dependency)")
    return run([tool, "--builtin-schema", "vendor.compose-spec", str(path)])


# --- rendering -------------------------------------------------------------------------------------


def render_kubectl(directory: Path) -> list[Obj]:
    result = run([kubectl(), "kustomize", str(directory)])
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def render_overlay(directory: Path) -> list[Obj]:
    """kubectl's render where kubectl is installed, else the Python renderer (proven equal below)."""
    if shutil.which("kubectl"):
        return render_kubectl(directory)
    return render(directory)


def identity(obj: Obj) -> tuple[str, str, str]:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def only(objects: list[Obj], kind: str) -> Obj:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Obj]]:
    name: str = request.param
    return name, render_overlay(K8S / "overlays" / name)


# --- what must hold in every rendered overlay (pure: a list of problems, empty when all is well) ---


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    text = str(value)
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _contains(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def container_problems(container: Obj) -> list[str]:
    name = container.get("name", "?")
    problems: list[str] = []
    security = container.get("securityContext", {})
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append(f"container {name}: readOnlyRootFilesystem must be true")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append(f"container {name}: allowPrivilegeEscalation must be false")
    if security.get("privileged"):
        problems.append(f"container {name}: must not be privileged")
    capabilities = security.get("capabilities", {})
    if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
        problems.append(f"container {name}: capabilities must drop ALL and add none")
    resources = container.get("resources", {})
    for kind in ("cpu", "memory", "ephemeral-storage"):
        request = resources.get("requests", {}).get(kind)
        limit = resources.get("limits", {}).get(kind)
        if request is None or limit is None:
            problems.append(f"container {name}: resources.requests and .limits must both set {kind}")
        elif _quantity(limit) < _quantity(request):
            problems.append(f"container {name}: {kind} limit {limit} is below its request {request}")
    ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
    for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path:
            problems.append(f"container {name}: {probe} must GET {path}, got {get.get('path')!r}")
        elif get.get("port") not in ports and get.get("port") not in ports.values():
            problems.append(f"container {name}: {probe} port {get.get('port')!r} is not a container port")
    return problems


def volume_problems(pod: Obj, container: Obj) -> list[str]:
    """Every path the API writes is a mounted emptyDir; the keys come read-only from a Secret."""
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
    problems = [
        f"volumeMount {mount['mountPath']} names missing volume {mount['name']!r}"
        for mount in mounts.values()
        if mount["name"] not in volumes
    ]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    if "MLOPS_API_KEYS" in env:
        problems.append("MLOPS_API_KEYS must not be set in the manifest: keys come from the mounted Secret")
    writable = {
        "/tmp": "/tmp",  # noqa: S108 - the mount point itself, not a temp file
        "MLOPS_PREDICTION_LOG": str(PurePosixPath(env.get("MLOPS_PREDICTION_LOG") or "/missing").parent),
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or "/missing",
    }
    for what, path in writable.items():
        mount = mounts.get(path)
        volume = volumes.get(mount["name"], {}) if mount else {}
        if "emptyDir" not in volume:
            problems.append(f"{what} ({path}) must be on a mounted emptyDir volume")
        elif "sizeLimit" not in (volume["emptyDir"] or {}):
            problems.append(f"{what} ({path}): the emptyDir needs a sizeLimit")
    keys_file = PurePosixPath(env.get("MLOPS_API_KEYS_FILE") or "/missing/api-keys")
    mount = mounts.get(str(keys_file.parent))
    secret = volumes.get(mount["name"], {}).get("secret") if mount else None
    if not secret or not mount or mount.get("readOnly") is not True or "subPath" in mount:
        problems.append(f"MLOPS_API_KEYS_FILE ({keys_file}) must be in a read-only Secret mount without subPath")
    elif keys_file.name not in [item["path"] for item in secret.get("items", [])]:
        problems.append(f"the Secret volume does not project a file named {keys_file.name}")
    return problems


def pod_problems(deployment: Obj) -> list[str]:
    """The pod runs unprivileged, with probes and resources, from an image pinned by digest."""
    pod = deployment["spec"]["template"]["spec"]
    problems: list[str] = []
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken must be false")
    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True or not pod_security.get("runAsUser"):
        problems.append("the pod must runAsNonRoot with a numeric non-zero runAsUser")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("the pod's seccompProfile must be RuntimeDefault")
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        problems.extend(container_problems(container))
        if not DIGEST_IMAGE.match(container["image"]):
            problems.append(f"image {container['image']!r} is not addressed by digest (name@sha256:<64 hex>)")
    problems.extend(volume_problems(pod, pod["containers"][0]))
    return problems


def scaling_problems(hpa: Obj, pdb: Obj, environment: str) -> list[str]:
    """The HPA owns a sane replica range; production keeps >= 2 and its budget lets drains proceed."""
    problems: list[str] = []
    target = hpa["spec"]["scaleTargetRef"]
    if hpa["apiVersion"] != "autoscaling/v2" or (target["kind"], target["name"]) != ("Deployment", "mlops-api"):
        problems.append("the HPA must be autoscaling/v2 and target the mlops-api Deployment")
    low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
    if not 1 <= low <= high:
        problems.append(f"HPA bounds must satisfy 1 <= minReplicas ({low}) <= maxReplicas ({high})")
    if environment != "production":
        return problems
    if low < 2:
        problems.append(f"production must run at least 2 replicas, HPA minReplicas is {low}")
    # The budget must let a drain proceed (at least one eviction) and keep one pod serving meanwhile.
    spec = pdb["spec"]
    if "maxUnavailable" in spec:
        allowed, kept = int(spec["maxUnavailable"]), low - int(spec["maxUnavailable"])
    else:
        allowed, kept = low - int(spec["minAvailable"]), int(spec["minAvailable"])
    if allowed < 1 or kept < 1:
        problems.append(f"at {low} replicas the PDB allows {allowed} evictions and keeps {kept} pods")
    return problems


def manifest_problems(objects: list[Obj], environment: str) -> list[str]:
    """Everything that makes a rendered overlay safe to apply; an empty list when it is."""
    problems = [
        f"{identity(obj)} is not in namespace mlops-{environment}"
        for obj in objects
        if obj["metadata"].get("namespace") != f"mlops-{environment}"
    ]
    if any(obj["kind"] == "Secret" for obj in objects):
        problems.append("a Secret is rendered: secret values must never be in git (see deploy/README.md)")
    deployment = only(objects, "Deployment")
    pdb = only(objects, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    if "replicas" in deployment["spec"]:
        problems.append("the Deployment sets replicas: the HPA owns the count (apply would reset it)")
    for what, selector in (
        ("Deployment selector", deployment["spec"]["selector"].get("matchLabels", {})),
        ("Service selector", only(objects, "Service")["spec"].get("selector", {})),
        ("PodDisruptionBudget selector", pdb["spec"]["selector"].get("matchLabels", {})),
    ):
        if not _contains(labels, selector):
            problems.append(f"{what} {selector} does not select the pod labels {labels}")
    problems.extend(pod_problems(deployment))
    problems.extend(scaling_problems(only(objects, "HorizontalPodAutoscaler"), pdb, environment))
    return problems


def test_every_overlay_is_safe_to_apply(overlay: tuple[str, list[Obj]]) -> None:
    environment, objects = overlay
    assert manifest_problems(objects, environment) == []
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "ServiceAccount"]


def test_production_scales_wider_than_staging() -> None:
    bounds = {}
    for name in OVERLAYS:
        spec = only(render_overlay(K8S / "overlays" / name), "HorizontalPodAutoscaler")["spec"]
        bounds[name] = (spec["minReplicas"], spec["maxReplicas"])
    assert bounds["production"][0] >= 2
    assert bounds["production"][0] > bounds["staging"][0]
    assert bounds["production"][1] > bounds["staging"][1]


def _mutations() -> Iterator[tuple[str, Callable[[list[Obj]], None], str]]:
    def deployment(objects: list[Obj]) -> Obj:
        return only(objects, "Deployment")

    def container(objects: list[Obj]) -> Obj:
        found: Obj = deployment(objects)["spec"]["template"]["spec"]["containers"][0]
        return found

    yield "no readiness probe", lambda o: container(o).pop("readinessProbe"), "readinessProbe must GET /ready"
    yield "writable root", lambda o: container(o)["securityContext"].update(readOnlyRootFilesystem=False), "readOnly"
    yield "root", lambda o: deployment(o)["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"), "NonRoot"
    yield "no memory limit", lambda o: container(o)["resources"]["limits"].pop("memory"), "set memory"
    yield "tagged image", lambda o: container(o).update(image="ghcr.io/x/mlops-template:latest"), "by digest"
    yield "keys in env", lambda o: container(o)["env"].append({"name": "MLOPS_API_KEYS", "value": "k"}), "Secret"
    yield "one replica", lambda o: only(o, "HorizontalPodAutoscaler")["spec"].update(minReplicas=1), "at least 2"
    yield "no PDB", lambda o: o.remove(only(o, "PodDisruptionBudget")), "expected one PodDisruptionBudget"
    blocking = {"minAvailable": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": "mlops-api"}}}
    yield "drain-blocking PDB", lambda o: only(o, "PodDisruptionBudget").update(spec=blocking), "allows 0"
    yield "log on root fs", lambda o: container(o)["volumeMounts"].pop(1), "MLOPS_PREDICTION_LOG"
    yield "replicas pinned", lambda o: deployment(o)["spec"].update(replicas=2), "HPA owns the count"
    yield "cap added", lambda o: container(o)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]), "add none"


@pytest.mark.parametrize(("case", "mutate", "expected"), list(_mutations()), ids=[m[0] for m in _mutations()])
def test_manifest_checker_catches_each_regression(
    case: str, mutate: Callable[[list[Obj]], None], expected: str
) -> None:
    objects = copy.deepcopy(render(K8S / "overlays" / "production"))
    try:
        mutate(objects)
        problems = manifest_problems(objects, "production")
    except AssertionError as error:  # `only` refuses a missing object outright
        problems = [str(error)]
    assert any(expected in problem for problem in problems), problems


# --- kubernetes-validate --strict ------------------------------------------------------------------


def test_rendered_objects_pass_strict_schema_validation(tmp_path: Path) -> None:
    files, count = [], 0
    for target in ("base", *OVERLAYS):
        objects = render_overlay(K8S / target if target == "base" else K8S / "overlays" / target)
        files.append(tmp_path / f"{target}.yaml")
        files[-1].write_text(yaml.safe_dump_all(objects), encoding="utf-8")
        count += len(objects)
    for version in K8S_VERSIONS:
        result = kubernetes_validate(files, version)
        assert result.returncode == 0, result.stdout + result.stderr
        # Every object was checked, not skipped: one "passed" line each.
        assert result.stdout.count("passed for resource") == count == 15, result.stdout


def test_strict_validation_rejects_an_unknown_field_and_a_wrong_type(tmp_path: Path) -> None:
    objects = render(K8S / "overlays" / "production")
    container = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # a typo: the capital S
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    only(objects, "HorizontalPodAutoscaler")["spec"]["maxReplicas"] = "ten"
    wrong_type = tmp_path / "wrong-type.yaml"
    wrong_type.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    for broken, culprit in ((typo, "readOnlyRootFileSystem"), (wrong_type, "ten")):
        result = kubernetes_validate([broken], K8S_VERSIONS[-1])
        assert result.returncode != 0
        assert culprit in result.stdout + result.stderr


# --- the Python renderer against kubectl -----------------------------------------------------------


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_python_renderer_equals_kubectl_kustomize(target: str) -> None:
    directory = K8S / target if target == "base" else K8S / "overlays" / target
    ours = sorted(render(directory), key=identity)
    reference = sorted(render_kubectl(directory), key=identity)
    assert ours == reference


def test_python_renderer_refuses_what_it_cannot_render_exactly(tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(K8S / "base", base)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = overlay / "kustomization.yaml"
    kustomization.write_text("resources: [../base]\ncommonLabels: {team: ml}\n", encoding="utf-8")
    with pytest.raises(KustomizeError, match=r"commonLabels"):
        render(overlay)
    kustomization.write_text(
        "resources: [../base]\npatches:\n  - target: {kind: Deployment, name: nope}\n"
        "    patch: '[{op: replace, path: /spec/paused, value: true}]'\n",
        encoding="utf-8",
    )
    with pytest.raises(KustomizeError, match=r"matches no resource"):
        render(overlay)
    kustomization.write_text(
        "resources: [../base]\nimages: [{name: mlops-template, digest: 'sha256:abc'}]\n", encoding="utf-8"
    )
    with pytest.raises(KustomizeError, match=r"not sha256:<64 hex>"):
        render(overlay)


def test_overlay_digest_is_the_one_the_workflow_sets(tmp_path: Path) -> None:
    """`kustomize edit set image` writes newName and digest into the overlay; the render follows it."""
    overlay = tmp_path / "overlays" / "staging"
    shutil.copytree(K8S / "base", tmp_path / "base")
    shutil.copytree(K8S / "overlays" / "staging", overlay)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
    digest = "sha256:" + "ab" * 32
    kustomization["images"] = [{"name": "mlops-template", "newName": "ghcr.io/acme/fraud", "digest": digest}]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    container = only(render_overlay(overlay), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/acme/fraud@{digest}"


def dockerfile_uid() -> int:
    """The numeric uid the image runs as (the Dockerfile's USER), which the manifests must match."""
    users = re.findall(r"^USER\s+(\d+)", (REPO / "Dockerfile").read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert users, "the Dockerfile must end with a numeric USER, so Kubernetes can verify runAsNonRoot"
    return int(users[-1])


def test_manifests_and_compose_run_as_the_images_user() -> None:
    pod = only(render(K8S / "base"), "Deployment")["spec"]["template"]["spec"]
    api = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]["api"]
    uid = dockerfile_uid()
    assert pod["securityContext"]["runAsUser"] == uid
    assert api["user"].split(":")[0] == str(uid)


# --- the compose stack -----------------------------------------------------------------------------


def compose() -> Obj:
    loaded: Obj = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_compose(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_checker_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["api"]["restart_policy"] = "always"  # not a compose key (it is `restart`)
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = check_compose(path)
    assert result.returncode != 0
    assert "restart_policy" in result.stdout + result.stderr


def _mounts(service: Obj) -> dict[str, str]:
    """target -> source of a service's short-syntax volumes."""
    return {entry.split(":")[1]: entry.split(":")[0] for entry in service.get("volumes", [])}


def test_compose_stack_is_wired_together() -> None:
    stack = compose()
    services = stack["services"]
    assert set(services) == {"api", "mlflow", "prometheus", "grafana"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the loopback interface"

    api = services["api"]
    assert (DEPLOY / api["build"]["context"]).resolve() / api["build"]["dockerfile"] == REPO / "Dockerfile"
    assert api["read_only"] is True
    assert api["cap_drop"] == ["ALL"]
    env = api["environment"]
    (secret,) = api["secrets"]
    assert env["MLOPS_API_KEYS_FILE"] == f"/run/secrets/{secret}"
    keys_file = DEPLOY / stack["secrets"][secret]["file"]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(keys_file)], cwd=REPO, check=False)
    assert ignored.returncode == 0, f"{keys_file} holds API keys and must be git-ignored"
    tmpfs = {entry.split(":")[0] for entry in api["tmpfs"]}
    assert {"/tmp", env["PROMETHEUS_MULTIPROC_DIR"]} <= tmpfs  # noqa: S108 - mount points
    assert str(PurePosixPath(env["MLOPS_PREDICTION_LOG"]).parent) in _mounts(api)

    prometheus = services["prometheus"]
    config_file = PurePosixPath(next(a for a in prometheus["command"] if a.startswith("--config.file=")).split("=")[1])
    assert (DEPLOY / _mounts(prometheus)[str(config_file.parent)] / config_file.name).is_file()
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    job = next(job for job in scrape["scrape_configs"] if job["job_name"] == "mlops-api")
    assert job["static_configs"][0]["targets"] == ["api:8000"]  # the compose service, the API's port
    assert api["ports"] == ["127.0.0.1:8000:8000"]

    grafana = _mounts(services["grafana"])
    provisioning = DEPLOY / grafana["/etc/grafana/provisioning"]
    provider = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text(encoding="utf-8"))
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert (DEPLOY / grafana[dashboards_dir] / DASHBOARD.name).is_file()
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    (source,) = datasource["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in prometheus["ports"]
    uids = {panel["datasource"]["uid"] for panel in dashboard()["panels"]}
    uids |= {target["datasource"]["uid"] for panel in dashboard()["panels"] for target in panel["targets"]}
    assert uids == {source["uid"]}


# --- Prometheus ------------------------------------------------------------------------------------


def test_prometheus_config_passes_promtool() -> None:
    result = run([promtool(), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"]["scrape_interval"] = "15 parsecs"
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run([promtool(), "check", "config", str(path)])
    assert result.returncode != 0
    assert "parsecs" in result.stdout + result.stderr


# --- the Grafana dashboard -------------------------------------------------------------------------


def check_promql(queries: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """promtool parses each query as the expression of a recording rule: `check rules` is the parser."""
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, (_, expr) in enumerate(queries)]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    return run([promtool(), "check", "rules", str(path)])


def test_dashboard_queries_parse_with_promtool(tmp_path: Path) -> None:
    queries = dashboard_queries(dashboard())
    assert all("$" not in expr for _, expr in queries), "a dashboard variable has no current value"
    result = check_promql(queries, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_rejects_a_query_that_does_not_parse(tmp_path: Path) -> None:
    queries = [*dashboard_queries(dashboard()), ("broken", "sum(rate(mlops_http_requests_total[5m])")]
    result = check_promql(queries, tmp_path)
    assert result.returncode != 0
    assert "unclosed left parenthesis" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, frozenset[str]]:
    return exposed_series(tmp_path_factory.mktemp("multiproc"))


def metric_problems(expr: str, exposed: dict[str, frozenset[str]]) -> list[str]:
    """Metric and label names in one of our queries that the API does not expose."""
    problems: list[str] = []
    used = re.findall(r"\b(mlops_[a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr)
    if not used:
        problems.append(f"{expr!r} reads none of the API's mlops_* metrics")
    problems += [f"{expr!r}: the API exposes no metric {name}" for name, _ in used if name not in exposed]
    problems += [
        f"{expr!r}: {name} has no label {label!r} (it has {sorted(exposed[name])})"
        for name, matchers in used
        if name in exposed
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"", matchers)
        if label not in exposed[name]
    ]
    available = set().union(*(exposed.get(name, frozenset()) for name, _ in used))
    grouped = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
    problems += [
        f"{expr!r}: groups by {label!r}, which none of its metrics has"
        for clause in grouped
        for label in filter(None, (part.strip() for part in clause.split(",")))
        if label not in available
    ]
    return problems


def test_dashboard_reads_only_metrics_and_labels_the_api_exposes(exposed: dict[str, frozenset[str]]) -> None:
    board = dashboard()
    queries = [(title, expr) for title, expr in dashboard_queries(board) if not RULE_SERIES.search(expr)]
    problems = [p for _, expr in queries for p in metric_problems(expr, exposed)]
    assert problems == []
    for panel in board["panels"]:
        for target in panel["targets"]:
            if RULE_SERIES.search(target["expr"]):
                continue
            legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            labels = set().union(*(exposed.get(name, set()) for name in re.findall(r"mlops_\w+", target["expr"])))
            assert legend <= labels, f"{panel['title']}: legend {legend} names labels its metrics lack"


def test_metric_checker_catches_unknown_metrics_and_labels(exposed: dict[str, frozenset[str]]) -> None:
    assert metric_problems("sum(rate(mlops_http_requests_total[5m]))", exposed) == []
    assert metric_problems("sum(rate(mlops_requests_total[5m]))", exposed)  # not the API's name
    assert metric_problems('sum(rate(mlops_http_requests_total{path="/v1/predict"}[5m]))', exposed)
    assert metric_problems("sum by (path) (rate(mlops_http_requests_total[5m]))", exposed)
    assert metric_problems("sum(rate(http_requests_total[5m]))", exposed)


def test_dashboard_shows_every_signal_an_operator_needs() -> None:
    board = dashboard()
    panels = board["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"
    assert board["uid"] == "mlops-api"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} overflows the 24-column grid"
    exprs = " ".join(expr for _, expr in dashboard_queries(board))
    signals = {
        "request rate": r"rate\(mlops_http_requests_total\[",
        "error rate": r"mlops_http_errors_total\{kind=\"server\"\}",
        "p50 latency": r"histogram_quantile\(0\.5, sum by \(le\) \(rate\(mlops_http_request_duration_seconds_bucket",
        "p99 latency": r"histogram_quantile\(0\.99, sum by \(le\) \(rate\(mlops_http_request_duration_seconds_bucket",
        "predictions by label": r"sum by \(label\) \(rate\(mlops_predictions_total",
        "flagged share": r"mlops_predictions_total\{label=\"fraud\"\}\[5m\]\)\) / sum\(rate\(mlops_predictions_total",
        "mean score": r"mlops_prediction_score_sum",
        "model version": r"by \(version\) \(mlops_model_info",
        "alert states": r"ALERTS\{alertname=~\"Mlops\.\+\"",
        "flagged share vs its baseline": r"job:mlops_flagged_share:ratio_same_hour_7d",
        "mean score vs its baseline": r"job:mlops_prediction_score:mean_same_hour_7d",
        "monitor statistic": r"\(mlops_monitor_value\)",
        "monitor band": r"mlops_monitor_band\{side=\"low\"\}.*mlops_monitor_band\{side=\"high\"\}",
        "monitor breach": r"by \(kind, detector\) \(mlops_monitor_breach\)",
    }
    missing = [signal for signal, pattern in signals.items() if not re.search(pattern, exprs)]
    assert missing == []
    heatmaps = [panel for panel in panels if panel["type"] == "heatmap"]
    assert any("mlops_prediction_score_bucket" in t["expr"] for p in heatmaps for t in p["targets"])
