"""What the deploy files say, read once for the tests of tests/deploy.

The Dockerfile has its own reader in ``test_image.py``; everything else under ``deploy/`` (Compose,
the Kubernetes base and overlay, ``.env.example``) is read here, raw, as written - the rendered
manifests are ``test_k8s_render.py``'s.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from schemas.topics import CATALOG

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
KUSTOMIZATIONS = {"base": BASE, "production": PRODUCTION}
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DAY_MS = 86_400_000


def wanted_topics() -> dict[str, tuple[int, int]]:
    """Every catalog topic and DLQ -> (partitions, retention.ms); a DLQ is partitioned as its origin."""
    wanted = {}
    for topic in CATALOG:
        for name in (topic.name, topic.dlq):
            wanted[name] = (topic.partitions, topic.retention_days * DAY_MS)
    return wanted


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def kustomization(directory: Path) -> dict[str, Any]:
    doc = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def k8s_objects() -> list[dict[str, Any]]:
    """Every object the base and the production overlay declare (resources and patches)."""
    objects = []
    for directory in (BASE, PRODUCTION):
        kust = kustomization(directory)
        paths = [directory / r for r in kust.get("resources", [])]
        paths += [directory / p["path"] for p in kust.get("patches", []) if "path" in p]
        for path in paths:
            if path.is_file():
                objects += [d for d in load_docs(path) if isinstance(d, dict) and "kind" in d]
    return objects


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in k8s_objects() if o["kind"] == kind]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for obj in k8s_objects():
        if obj["kind"] in ("Deployment", "Job") and "template" in obj.get("spec", {}):
            specs.append((obj["metadata"]["name"], obj["spec"]["template"]["spec"]))
    return specs


def deployment(stage: str) -> dict[str, Any]:
    found = [d for d in by_kind("Deployment") if d["metadata"]["name"] == f"roasloop-{stage}"]
    assert len(found) == 1, f"expected one Deployment roasloop-{stage}, found {len(found)}"
    return found[0]


def configmap_data(name: str) -> dict[str, str]:
    """A ConfigMap's data, base first, then the overlay's strategic-merge patch on top."""
    data: dict[str, str] = {}
    for cm in by_kind("ConfigMap"):
        if cm["metadata"]["name"] == name:
            data.update(cm.get("data") or {})
    return data


def k8s_referenced_env() -> set[str]:
    """Env names the manifests give a container: ConfigMap keys loaded via envFrom, and env entries."""
    configmaps: dict[str, set[str]] = {}
    for cm in by_kind("ConfigMap"):
        configmaps.setdefault(cm["metadata"]["name"], set()).update((cm.get("data") or {}).keys())
    names: set[str] = set()
    for _, spec in pod_specs():
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef")
                if ref:
                    names |= configmaps.get(ref["name"], set())
            names |= {e["name"] for e in container.get("env", [])}
    return names


def env_example() -> tuple[dict[str, str], set[str]]:
    """(set lines: name -> value, documented-but-commented names)."""
    active, documented = {}, set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if not match:
            continue
        if match[1]:
            documented.add(match[2])
        else:
            assert match[2] not in active, f"{match[2]} is set twice in .env.example"
            active[match[2]] = match[3]
    return active, documented


def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def compose_topic_script() -> str:
    service = compose()["services"]["topics"]
    command = service["command"]
    script = command if isinstance(command, str) else "\n".join(command)
    return script.replace("$$", "$")  # Compose's escape for a literal $
