"""A small kustomize renderer for machines with only Python: the subset deploy/k8s/ uses, exactly.

`kubectl kustomize` is the reference. This renderer supports `resources` (files and directories),
`namespace`, `images` (newName, newTag, digest) and `patches` given as inline JSON 6902 operations
with a kind/name target, and refuses anything else by name, so a kustomization that outgrows it fails
loudly instead of rendering something different. tests/deploy/test_deploy.py checks that its
output equals kubectl's for every overlay wherever kubectl is installed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_KEYS = frozenset({"apiVersion", "kind", "resources", "namespace", "images", "patches"})
# Kinds this renderer knows to be namespaced; a cluster-scoped or unknown kind is refused.
NAMESPACED_KINDS = frozenset(
    {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
    }
)
# Where kustomize's image transformer looks for container images, for the kinds above.
POD_TEMPLATE_KINDS = frozenset({"Deployment"})
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

Resource = dict[str, Any]


class KustomizeError(ValueError):
    """A kustomization this renderer cannot render exactly as kustomize would."""


def render(directory: Path) -> list[Resource]:
    """The resources a kustomization directory builds, in the order they are declared."""
    kustomization = _read_kustomization(directory)
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        resources.extend(_load_resource(directory, str(entry)))
    _refuse_duplicates(resources, directory)
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, patch, directory)
    if "namespace" in kustomization:
        _set_namespace(resources, str(kustomization["namespace"]))
    for image in kustomization.get("images", []):
        _set_image(resources, image, directory)
    return resources


def render_yaml(directory: Path) -> str:
    """The build as a multi-document YAML stream, as `kubectl kustomize` prints it."""
    return yaml.safe_dump_all(render(directory), sort_keys=True)


def _read_kustomization(directory: Path) -> dict[str, Any]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            break
    else:
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise KustomizeError(f"{path}: expected a mapping, got {type(loaded).__name__}")
    unsupported = sorted(set(loaded) - SUPPORTED_KEYS)
    if unsupported:
        raise KustomizeError(
            f"{path}: field(s) {unsupported} are not supported by this renderer "
            f"(supported: {sorted(SUPPORTED_KEYS)}); render with `kubectl kustomize`"
        )
    return loaded


def _load_resource(directory: Path, entry: str) -> list[Resource]:
    path = (directory / entry).resolve()
    if path.is_dir():
        return render(path)
    if not path.is_file():
        raise KustomizeError(f"{directory}: resource {entry!r} does not exist")
    documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise KustomizeError(f"{path}: every document must be a Kubernetes object with kind and metadata")
    return documents


def _resource_id(resource: Resource) -> tuple[str, str, str]:
    return (str(resource["kind"]), str(resource["metadata"].get("namespace", "")), str(resource["metadata"]["name"]))


def _refuse_duplicates(resources: list[Resource], directory: Path) -> None:
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        key = _resource_id(resource)
        if key in seen:
            raise KustomizeError(f"{directory}: resource {key} is declared twice")
        seen.add(key)


def _apply_patch(resources: list[Resource], patch: Any, directory: Path) -> None:
    if not isinstance(patch, dict) or set(patch) != {"target", "patch"}:
        raise KustomizeError(f"{directory}: a patch must have exactly `target` and inline `patch` (JSON 6902)")
    target = patch["target"]
    if not isinstance(target, dict) or set(target) != {"kind", "name"}:
        raise KustomizeError(f"{directory}: a patch target must name exactly `kind` and `name`, got {target!r}")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"{directory}: only JSON 6902 patches (a list of operations) are supported")
    matched = [r for r in resources if r["kind"] == target["kind"] and r["metadata"]["name"] == target["name"]]
    if not matched:
        raise KustomizeError(f"{directory}: patch target {target['kind']}/{target['name']} matches no resource")
    for resource in matched:
        for operation in operations:
            _apply_operation(resource, operation, directory)


def _pointer(path: str, directory: Path) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"{directory}: JSON pointer {path!r} must start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _apply_operation(resource: Resource, operation: Any, directory: Path) -> None:
    if not isinstance(operation, dict) or operation.get("op") not in {"add", "replace", "remove"}:
        raise KustomizeError(f"{directory}: unsupported JSON 6902 operation {operation!r} (add, replace, remove)")
    tokens = _pointer(str(operation["path"]), directory)
    parent: Any = resource
    for token in tokens[:-1]:
        parent = parent[int(token)] if isinstance(parent, list) else parent.get(token)
        if parent is None:
            raise KustomizeError(f"{directory}: path {operation['path']!r} does not exist in {_resource_id(resource)}")
    last = tokens[-1]
    op = operation["op"]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            parent[index] = copy.deepcopy(operation["value"])
        else:
            del parent[index]
        return
    if op in {"replace", "remove"} and last not in parent:
        raise KustomizeError(f"{directory}: cannot {op} missing {operation['path']!r} in {_resource_id(resource)}")
    if op == "remove":
        del parent[last]
    else:
        parent[last] = copy.deepcopy(operation["value"])


def _set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        if resource["kind"] not in NAMESPACED_KINDS:
            raise KustomizeError(f"kind {resource['kind']!r} is not known to this renderer to be namespaced")
        resource["metadata"]["namespace"] = namespace


def _image_name(image: str) -> str:
    """The image without its digest or tag (a ':' after the last '/' starts a tag)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _set_image(resources: list[Resource], image: Any, directory: Path) -> None:
    if not isinstance(image, dict) or "name" not in image or set(image) - {"name", "newName", "newTag", "digest"}:
        raise KustomizeError(f"{directory}: an images entry takes name, newName, newTag, digest; got {image!r}")
    if "digest" in image and not DIGEST.match(str(image["digest"])):
        raise KustomizeError(f"{directory}: images digest {image['digest']!r} is not sha256:<64 hex>")
    for resource in resources:
        if resource["kind"] not in POD_TEMPLATE_KINDS:
            continue
        pod = resource["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            current = str(container["image"])
            if _image_name(current) != image["name"]:
                continue
            name = str(image.get("newName", _image_name(current)))
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{name}:{image['newTag']}"
            else:
                container["image"] = name + current[len(_image_name(current)) :]
