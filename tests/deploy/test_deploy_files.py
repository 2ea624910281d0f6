"""The deploy files stay honest: topics, settings, image and manifests agree with the code.

Everything here is static (no Docker engine, no cluster): the catalog in ``schemas/topics.py``
and the settings classes are the source of truth, and the files under ``deploy/`` must match them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from schemas.topics import CATALOG
from streams.core.settings import Settings, env_name
from streams.stages import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DAY_MS = 86_400_000

# Production settings the issue asks to be switched on by configuration.
PRODUCTION_VALUES = {
    "KAFKA_ACKS": "all",
    "KAFKA_ENABLE_IDEMPOTENCE": "true",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "ROASLOOP_ENVIRONMENT": "production",
}
# Core settings that have defaults but must be decided per deployment (pool sizes, listen address).
DEPLOYMENT_DECIDED = ("kafka_acks", "kafka_enable_idempotence", "kafka_security_protocol",
                      "db_pool_min_size", "db_pool_max_size", "environment", "http_host")
BUILD_TOOLS = {"gcc", "g++", "cc", "clang", "make", "cmake", "build-essential", "autoconf", "automake",
               "libtool", "pkg-config", "git", "cargo", "rustc"}


# ------------------------------------------------------------------ helpers: what the code says


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings classes read os.environ: validate the files' values alone, not this shell's."""
    for name in list(os.environ):
        if name.startswith(("ROASLOOP_", "KAFKA_", "META_", "HUBSPOT_", "FIREBASE_", "GCS_", "DATABASE_")):
            monkeypatch.delenv(name)



def wanted_topics() -> dict[str, tuple[int, int]]:
    """Every catalog topic and DLQ -> (partitions, retention.ms); a DLQ is partitioned as its origin."""
    wanted = {}
    for topic in CATALOG:
        for name in (topic.name, topic.dlq):
            wanted[name] = (topic.partitions, topic.retention_days * DAY_MS)
    return wanted


def _is_secret(field: Any) -> bool:
    return "SecretStr" in repr(field.annotation)


def core_required_env() -> dict[str, str]:
    """Core settings a deployment must provide: no default, secrets, and the per-deployment switches."""
    required = {}
    for name, field in Settings.model_fields.items():
        if field.default is None or _is_secret(field) or name in DEPLOYMENT_DECIDED:
            required[env_name(name)] = name
    return required


def stage_settings_classes() -> Iterator[tuple[str, type[BaseSettings]]]:
    """The ``BaseSettings`` classes in ``streams/<stage>/settings.py`` that have landed."""
    for stage in STAGE_NAMES:
        module_name = f"streams.{stage}.settings"
        if importlib.util.find_spec(f"streams.{stage}") is None or importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, BaseSettings) and obj.__module__ == module_name):
                yield stage, obj


def stage_env(cls: type[BaseSettings]) -> dict[str, str]:
    prefix = str(cls.model_config.get("env_prefix") or "")
    return {prefix + name.upper(): name for name in cls.model_fields}


def from_env(cls: type[BaseSettings], env: str, value: str) -> Any:
    """The field's value when ``env=value`` is in the environment, as a deployed process reads it."""
    field = stage_env(cls)[env]
    saved = os.environ.get(env)
    os.environ[env] = value
    try:
        return getattr(cls(), field)
    finally:
        if saved is None:
            del os.environ[env]
        else:
            os.environ[env] = saved


def env_unsettable() -> set[str]:
    """Stage settings whose own default fails validation when read from the environment.

    Such a setting cannot be configured at all (a stage bug, e.g. ``Literal[1, 7, 28]`` never
    matches the string "7"); the deploy files must leave it out rather than crash the stage.
    """
    broken = set()
    for _, cls in stage_settings_classes():
        for env, field in stage_env(cls).items():
            default = cls.model_fields[field].default
            if default is None:
                continue
            try:
                from_env(cls, env, render(default))
            except ValidationError:
                broken.add(env)
    return broken


def render(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def required_env() -> set[str]:
    names = set(core_required_env())
    for _, cls in stage_settings_classes():
        names |= set(stage_env(cls))
    broken = env_unsettable()
    if broken:
        warnings.warn(f"stage settings that cannot be set from the environment: {sorted(broken)}", stacklevel=2)
    return names - broken


# ------------------------------------------------------------------ helpers: what the files say


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


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per build stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def exec_form(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    values = [rest for ins, rest in stage if ins == instruction]
    assert values, f"final stage has no {instruction}"
    parsed = json.loads(values[-1])
    assert isinstance(parsed, list), f"{instruction} must use the exec (JSON array) form"
    return [str(v) for v in parsed]


def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def compose_topic_script() -> str:
    service = compose()["services"]["topics"]
    command = service["command"]
    script = command if isinstance(command, str) else "\n".join(command)
    return script.replace("$$", "$")  # Compose's escape for a literal $


# ------------------------------------------------------------------ YAML and structure


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(d, (dict, list)) for d in docs)


def test_yaml_files_exist_where_the_issue_wants_them() -> None:
    names = {str(p.relative_to(DEPLOY)) for p in yaml_files()}
    assert {"compose.yaml", "k8s/base/kustomization.yaml", "k8s/overlays/production/kustomization.yaml"} <= names


@pytest.mark.parametrize("directory", [BASE, PRODUCTION], ids=["base", "production"])
def test_kustomization_references_existing_files(directory: Path) -> None:
    kust = kustomization(directory)
    referenced = list(kust.get("resources", []))
    referenced += [p["path"] for p in kust.get("patches", []) if "path" in p]
    referenced += [p for p in kust.get("patchesStrategicMerge", [])]
    assert referenced
    for ref in referenced:
        target = (directory / ref).resolve()
        assert target.exists(), f"{directory.relative_to(ROOT)}/kustomization.yaml references missing {ref}"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{ref} is a directory without kustomization.yaml"


def test_overlay_builds_on_the_base() -> None:
    assert "../../base" in kustomization(PRODUCTION)["resources"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("directory", [BASE, PRODUCTION], ids=["base", "production"])
def test_kustomize_renders(directory: Path) -> None:
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert kinds.count("Deployment") == len(STAGE_NAMES)
    assert kinds.count("KafkaTopic") == len(wanted_topics())


# ------------------------------------------------------------------ topics


def test_every_catalog_topic_is_a_kafkatopic_with_the_catalog_partitions_and_retention() -> None:
    declared = {}
    for topic in by_kind("KafkaTopic"):
        if "spec" in topic and "topicName" in topic["spec"]:
            spec = topic["spec"]
            declared[spec["topicName"]] = (int(spec["partitions"]), int(spec["config"]["retention.ms"]))
            assert topic["metadata"]["labels"].get("strimzi.io/cluster"), f"{spec['topicName']}: no cluster label"
    assert declared == wanted_topics()


def test_production_topics_are_replicated() -> None:
    patch = yaml.safe_load((PRODUCTION / "topics-production.yaml").read_text())
    ops = {op["path"]: op["value"] for op in patch}
    assert ops["/spec/replicas"] >= 3
    assert ops["/spec/config/min.insync.replicas"] >= 2
    patches = kustomization(PRODUCTION)["patches"]
    targets = [p.get("target", {}) for p in patches if p["path"] == "topics-production.yaml"]
    assert targets and targets[0].get("kind") == "KafkaTopic"


def test_compose_topic_job_creates_every_catalog_topic_with_its_partitions() -> None:
    script = compose_topic_script()
    created = {
        m[1]: (int(m[2]), int(m[3]))
        for m in re.finditer(r"^\s*create\s+(\S+)\s+(\d+)\s+(\d+)\s*$", script, flags=re.MULTILINE)
    }
    assert created == wanted_topics()
    # ... and the helper really passes those columns to kafka-topics.sh.
    assert re.search(r'--partitions\s+"\$2"', script)
    assert re.search(r'retention\.ms="\$3"', script)
    assert "--create" in script and "--if-not-exists" in script


def test_compose_topic_job_runs_once_after_kafka_is_healthy() -> None:
    services = compose()["services"]
    topics = services["topics"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


# ------------------------------------------------------------------ settings


def test_required_settings_include_the_infrastructure_and_external_services() -> None:
    required = core_required_env()
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SASL_PASSWORD", "META_ACCESS_TOKEN",
                 "HUBSPOT_CLIENT_SECRET", "FIREBASE_PROJECT_ID", "GCS_BUCKET_NAME", "ROASLOOP_HASH_KEY"):
        assert name in required


def test_every_required_setting_is_in_the_env_example() -> None:
    active, documented = env_example()
    missing = sorted(required_env() - set(active) - documented)
    assert not missing, f"add to deploy/.env.example: {missing}"
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        assert active.get(name), f"{name} must be set (not commented) in deploy/.env.example"


def test_every_required_setting_is_referenced_by_the_manifests() -> None:
    missing = sorted(required_env() - k8s_referenced_env())
    assert not missing, f"reference these in deploy/k8s (ConfigMap via envFrom, or env/secretKeyRef): {missing}"


def test_env_example_is_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    active, _ = env_example()
    for name, value in active.items():
        monkeypatch.setenv(name, value)
    try:
        settings = Settings()
        for _, cls in stage_settings_classes():
            cls()
    except ValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"deploy/.env.example does not validate: {exc}")
    assert settings.meta_dry_run, "the example must leave Meta credentials unset (dry run), not empty"
    assert settings.http_host == "0.0.0.0", "containers must listen on all interfaces"


def test_env_example_holds_no_secrets() -> None:
    active, _ = env_example()
    secret_names = {env_name(n) for n, f in Settings.model_fields.items() if _is_secret(f)}
    secret_names |= {n for n in active if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", n)}
    for name in secret_names & set(active):
        assert "CHANGE-ME" in active[name], f"{name} in .env.example must be a CHANGE-ME placeholder"
    database_url = active["DATABASE_URL"]
    assert "CHANGE-ME" in database_url, "the example DATABASE_URL's password must be a placeholder"
    assert active["POSTGRES_PASSWORD"] in database_url, "POSTGRES_PASSWORD and DATABASE_URL disagree"


def test_env_example_documents_each_stage_setting_with_the_code_default() -> None:
    active, _ = env_example()
    commented = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#\s*(ROASLOOP_[A-Z0-9_]+)=(.*)$", line.strip())
        if match:
            commented[match[1]] = match[2]
    broken = env_unsettable()
    for stage, cls in stage_settings_classes():
        for env, field in stage_env(cls).items():
            default = cls.model_fields[field].default
            value = active.get(env, commented.get(env))
            assert value is not None, f"{env} ({stage}) missing from deploy/.env.example"
            if env in active or default is None or env in broken:
                continue
            assert from_env(cls, env, value) == default, (
                f"deploy/.env.example documents {env}={value}, the code's default is {default!r}"
            )


def test_base_stage_configmaps_hold_the_code_defaults() -> None:
    """The base pins each stage tunable at the code's default; tuning belongs in an overlay."""
    broken = env_unsettable()
    for stage, cls in stage_settings_classes():
        data = configmap_data(f"roasloop-{stage}-config")
        for env, field in stage_env(cls).items():
            default = cls.model_fields[field].default
            if default is None or env in broken:
                assert env not in data, f"{env} has no default or cannot be read from the environment: leave it out"
                continue
            assert env in data, f"{env} missing from roasloop-{stage}-config: run deploy/render_stage_settings.py"
            assert from_env(cls, env, data[env]) == default, (
                f"roasloop-{stage}-config has {env}={data[env]!r}, the code's default is {default!r}"
            )


def test_production_switches_are_on(monkeypatch: pytest.MonkeyPatch) -> None:
    data = configmap_data("roasloop-config")
    for name, value in PRODUCTION_VALUES.items():
        assert data.get(name) == value, f"production: {name} should be {value}, is {data.get(name)!r}"
    assert int(data["ROASLOOP_DB_POOL_MAX_SIZE"]) >= int(data["ROASLOOP_DB_POOL_MIN_SIZE"]) >= 1
    assert data.get("KAFKA_SASL_MECHANISM") and data.get("KAFKA_SASL_USERNAME") and data.get("KAFKA_SSL_CAFILE")
    for name, value in {**data, "KAFKA_SASL_PASSWORD": "x", "ROASLOOP_HASH_KEY": "a-real-secret",
                        "DATABASE_URL": "postgresql://u:p@db:5432/roasloop"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.kafka_acks == "all" and settings.kafka_enable_idempotence
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.environment == "production"


def test_secrets_are_referenced_never_inlined() -> None:
    assert not by_kind("Secret"), "no Secret objects in the manifests: reference roasloop-secrets instead"
    secret_names = {env_name(n) for n, f in Settings.model_fields.items() if _is_secret(f)} | {"DATABASE_URL"}
    for name, spec in pod_specs():
        for container in spec["containers"]:
            for entry in container.get("env", []):
                if entry["name"] in secret_names:
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    assert ref and ref["name"] == "roasloop-secrets", f"{name}: {entry['name']} must be a secretKeyRef"
                    assert "value" not in entry
    for cm in by_kind("ConfigMap"):
        assert not secret_names & set(cm.get("data") or {}), f"secret in ConfigMap {cm['metadata']['name']}"


def test_every_referenced_secret_key_is_synced_by_the_externalsecret() -> None:
    (external,) = by_kind("ExternalSecret")
    assert external["spec"]["target"]["name"] == "roasloop-secrets"
    synced = {d["secretKey"] for d in external["spec"]["data"]}
    used = set()
    for _, spec in pod_specs():
        for container in spec["containers"]:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    used.add(ref["key"])
    assert used and used <= synced, f"not synced: {sorted(used - synced)}"


# ------------------------------------------------------------------ workloads


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_each_stage_has_a_deployment_with_probes_and_resources(stage: str) -> None:
    spec = deployment(stage)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["args"] == ["run", stage]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{stage}: resources.{kind}"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_consumers_are_not_scaled_past_their_partitions() -> None:
    replicas = {r["name"]: r["count"] for r in kustomization(PRODUCTION).get("replicas", [])}
    for stage in ("attribution", "revenue", "sampler", "executor"):
        count = replicas.get(f"roasloop-{stage}", deployment(stage)["spec"]["replicas"])
        assert 1 <= count <= max(t.partitions for t in CATALOG)


def test_executor_has_a_disruption_budget() -> None:
    selector = deployment("executor")["spec"]["selector"]["matchLabels"]
    budgets = [p for p in by_kind("PodDisruptionBudget") if p["spec"]["selector"]["matchLabels"] == selector]
    assert len(budgets) == 1
    assert budgets[0]["spec"].get("maxUnavailable") or budgets[0]["spec"].get("minAvailable")


def test_migrations_run_as_a_job_and_ingest_has_a_service() -> None:
    (job,) = by_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    (service,) = by_kind("Service")
    assert service["spec"]["selector"] == deployment("ingest")["spec"]["selector"]["matchLabels"]


def test_production_mounts_the_kafka_ca_where_the_config_points() -> None:
    patch = yaml.safe_load((PRODUCTION / "kafka-ca.yaml").read_text())
    mount = next(op["value"] for op in patch if op["path"].endswith("/volumeMounts/-"))
    cafile = configmap_data("roasloop-config")["KAFKA_SSL_CAFILE"]
    assert cafile.startswith(mount["mountPath"].rstrip("/") + "/")


def test_compose_runs_each_stage_as_a_service_and_scales_executor_and_sampler() -> None:
    services = compose()["services"]
    for stage in STAGE_NAMES:
        service = services[stage]
        assert service["command"] == ["run", stage]
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        conditions = {name: dep["condition"] for name, dep in service["depends_on"].items()}
        assert conditions["migrate"] == "service_completed_successfully"
        assert conditions["topics"] == "service_completed_successfully"
        assert service["env_file"] == ".env"
    for stage in ("executor", "sampler"):
        assert "container_name" not in services[stage] and "ports" not in services[stage]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "postgres-data" in compose()["volumes"]


def test_three_broker_override_lists_a_three_voter_quorum() -> None:
    override = yaml.safe_load((DEPLOY / "compose.kafka-3.yaml").read_text())["services"]
    voters = override["kafka"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 3 and {"kafka-2", "kafka-3"} <= set(override)


# ------------------------------------------------------------------ image


def test_image_entrypoint_runs_roasloop_help() -> None:
    stage = final_stage()
    argv = exec_form(stage, "ENTRYPOINT") + exec_form(stage, "CMD")
    assert argv == ["roasloop", "--help"]
    script = Path(sys.executable).parent / argv[0]  # the venv's console script, as in the image
    assert script.exists(), f"{script} missing: is roasloop installed in this venv?"
    result = subprocess.run([str(script), *argv[1:]], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: roasloop")
    for command in ("migrate", "topics", "run"):
        assert re.search(rf"^\s+{command}\s", result.stdout, flags=re.MULTILINE), f"`roasloop {command}` missing"


def test_image_is_multi_stage_slim_and_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "builder + runtime stages"
    text = DOCKERFILE.read_text()
    assert "python:3.11-slim" in text
    final = final_stage()
    users = [rest for ins, rest in final if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the final stage must switch to a non-root USER"
    assert any(ins == "COPY" and "--from=builder" in rest for ins, rest in final), "runtime copies the venv"


def test_image_builds_nothing_at_run_time() -> None:
    final = final_stage()
    for instruction in ("ENTRYPOINT", "CMD"):
        argv = " ".join(exec_form(final, instruction))
        assert not re.search(r"\b(pip|apt-get|apt|uv|poetry|python -m pip|curl|wget)\b", argv), argv
    for ins, rest in final:
        if ins != "RUN":
            continue
        for match in re.finditer(r"apt-get install([^&;|]*)", rest):
            packages = {w for w in shlex.split(match[1]) if not w.startswith("-")}
            assert not packages & BUILD_TOOLS, f"build tools in the final stage: {packages & BUILD_TOOLS}"
            assert not {p for p in packages if p.endswith("-dev")}, "headers (-dev) in the final stage"
        assert "pip install" not in rest, "the final stage installs nothing with pip: the builder does"


def test_image_puts_migrations_where_migrate_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recreate the image's site-packages layout and ask the real default_directory()."""
    copies = [rest.split() for ins, rest in final_stage() if ins == "COPY" and rest.split()[0].rstrip("/") == "sql"]
    assert copies, "the final stage must COPY sql/ into the image"
    destination = copies[0][-1].rstrip("/")
    version = re.search(r"python:(\d+\.\d+)", DOCKERFILE.read_text())
    assert version and f"/python{version[1]}/site-packages/" in destination
    site = tmp_path / "site-packages"
    relative = destination.split("/site-packages/", 1)[1]
    migrate_py = site / "streams" / "core" / "migrate.py"
    migrate_py.parent.mkdir(parents=True)
    shutil.copy(ROOT / "streams" / "core" / "migrate.py", migrate_py)
    shutil.copytree(ROOT / "sql", site / relative)
    spec = importlib.util.spec_from_file_location("image_migrate", migrate_py)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "image_migrate", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    found = module.default_directory()
    assert found == (site / relative).resolve()
    assert sorted(p.name for p in found.glob("*.sql")) == sorted(p.name for p in (ROOT / "sql").glob("*.sql"))


def test_dockerignore_keeps_secrets_and_the_venv_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", ".env", "**/.env"} <= ignored
    assert not {"sql", "streams", "schemas", "pyproject.toml"} & ignored
