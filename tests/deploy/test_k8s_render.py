"""The Kubernetes manifests really render, and what they render is valid Kubernetes.

Each kustomization (the base and the production overlay) is rendered with ``kubectl kustomize``,
exactly as ``kubectl apply -k`` would, and every rendered object is validated offline against the
Kubernetes JSON schemas bundled by ``kubernetes-validate``, in strict mode (an unknown field, a
typo in ``readinessProbe``, is an error). The custom resources have no bundled schema: their
schemas below are written from their CRDs (Strimzi's KafkaTopic, the External Secrets Operator's
ExternalSecret), covering the fields these manifests use, with no other field allowed.

``make test`` puts kubectl on PATH (Debian's ``kubernetes-client``); the suite never skips this.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streams.stages import STAGE_NAMES
from tests.deploy.files import KUSTOMIZATIONS, wanted_topics

# The Kubernetes API the manifests are checked against (a cluster older than this may lack a field).
KUBERNETES_VERSION = "1.32"
INSTALL_KUBECTL = "`make test` installs it; by hand, as root on Debian: apt-get install kubernetes-client"
KUBECTL_TOO_OLD = ("if this kubectl is older than 1.22: these kustomizations use `labels`, `replicas` and "
                   "targeted `patches`, which need the kustomize v4.1+ of kubectl 1.22 or newer (Debian "
                   "bookworm's kubernetes-client is 1.20, too old): put a newer kubectl first on PATH")

_NAME = {"type": "string", "minLength": 1}
_METADATA = {"type": "object", "required": ["name"], "properties": {"name": _NAME}}
CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": {**_METADATA, "required": ["name", "labels"], "properties": {
                "name": _NAME,
                # The Topic Operator only manages topics labelled with its Kafka cluster.
                "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
            }},
            "spec": {
                "type": "object", "additionalProperties": False, "required": ["partitions", "replicas"],
                "properties": {
                    "topicName": _NAME,
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                    "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean"]}},
                },
            },
        },
    },
    ("external-secrets.io/v1", "ExternalSecret"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": _METADATA,
            "spec": {
                "type": "object", "additionalProperties": False, "required": ["secretStoreRef", "target", "data"],
                "properties": {
                    "refreshInterval": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"},
                    "refreshPolicy": {"enum": ["CreatedOnce", "Periodic", "OnChange"]},
                    "secretStoreRef": {
                        "type": "object", "additionalProperties": False, "required": ["name"],
                        "properties": {"name": _NAME, "kind": {"enum": ["SecretStore", "ClusterSecretStore"]}},
                    },
                    "target": {
                        "type": "object", "required": ["name"],
                        "properties": {"name": _NAME, "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]}},
                    },
                    "data": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "additionalProperties": False, "required": ["secretKey", "remoteRef"],
                        "properties": {"secretKey": _NAME, "remoteRef": {
                            "type": "object", "required": ["key"], "properties": {"key": _NAME},
                        }},
                    }},
                    "dataFrom": {"type": "array"},
                },
            },
        },
    },
}


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(f"kubectl is not on PATH, and the manifests cannot be rendered without it: {INSTALL_KUBECTL}")
    return path


@functools.cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    """The objects ``kubectl kustomize`` renders for one kustomization."""
    command = [kubectl(), "kustomize", str(KUSTOMIZATIONS[name])]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        version = subprocess.run([kubectl(), "version", "--client"], capture_output=True, text=True, timeout=30)
        pytest.fail(f"`kubectl kustomize` failed for {name}: {result.stderr.strip()}\n"
                    f"kubectl: {version.stdout.strip()}\n{KUBECTL_TOO_OLD}")
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def problems(obj: dict[str, Any]) -> list[str]:
    """Why ``obj`` is not valid Kubernetes (empty when it is)."""
    label = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    custom = CUSTOM_RESOURCE_SCHEMAS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if custom is not None:
        validator = jsonschema.Draft202012Validator(custom)
        return [f"{label}: {'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{label}: {'.'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{label}: {obj.get('apiVersion')} is neither in Kubernetes {KUBERNETES_VERSION} nor a known "
                "custom resource (add its schema to CUSTOM_RESOURCE_SCHEMAS from its CRD)"]
    return []


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_renders_every_stage_and_topic(name: str) -> None:
    kinds = [obj["kind"] for obj in rendered(name)]
    assert kinds.count("Deployment") == len(STAGE_NAMES)
    assert kinds.count("Job") == 1
    assert kinds.count("KafkaTopic") == len(wanted_topics())


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    found = [problem for obj in rendered(name) for problem in problems(obj)]
    assert not found, "\n".join(found)


def test_production_renders_the_custom_resources_it_needs() -> None:
    kinds = {(obj["apiVersion"], obj["kind"]) for obj in rendered("production")}
    assert set(CUSTOM_RESOURCE_SCHEMAS) <= kinds


def test_the_validation_catches_a_misspelt_field_and_a_wrong_type() -> None:
    deployment = next(o for o in rendered("base") if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    typo = {**deployment, "spec": {**deployment["spec"], "template": {**deployment["spec"]["template"], "spec": {
        **deployment["spec"]["template"]["spec"], "containers": [{**container, "readynessProbe": {}}]}}}}
    assert problems(typo) and "readynessProbe" in problems(typo)[0]
    topic = next(o for o in rendered("base") if o["kind"] == "KafkaTopic")
    assert problems({**topic, "spec": {**topic["spec"], "partitions": "12"}})
    assert problems({**topic, "spec": {**topic["spec"], "partition": 12}})
    assert problems({**topic, "apiVersion": "kafka.strimzi.io/v1alpha1"}), "an unknown API version is an error"
