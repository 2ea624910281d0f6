"""The deploy files stay honest: topics, settings and manifests agree with the code.

Everything here is static (no Docker engine, no cluster): the catalog in ``schemas/topics.py``
and the settings classes are the source of truth, and the files under ``deploy/`` must match them.
The image is ``test_image.py``'s, the rendered and schema-checked manifests ``test_k8s_render.py``'s.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
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
from tests.deploy.files import (
    BASE,
    DEPLOY,
    ENV_EXAMPLE,
    PRODUCTION,
    ROOT,
    by_kind,
    compose,
    compose_topic_script,
    configmap_data,
    deployment,
    env_example,
    k8s_referenced_env,
    kustomization,
    load_docs,
    pod_specs,
    wanted_topics,
    yaml_files,
)

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


# ------------------------------------------------------------------ helpers: what the code says


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings classes read os.environ: validate the files' values alone, not this shell's."""
    for name in list(os.environ):
        if name.startswith(("ROASLOOP_", "KAFKA_", "META_", "HUBSPOT_", "FIREBASE_", "GCS_", "DATABASE_")):
            monkeypatch.delenv(name)



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


def test_migrations_run_as_a_job_and_the_http_stages_have_services() -> None:
    (job,) = by_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    selectors = [service["spec"]["selector"] for service in by_kind("Service")]
    assert sorted(s["app.kubernetes.io/component"] for s in selectors) == ["console", "ingest"]
    for selector in selectors:
        assert selector == deployment(selector["app.kubernetes.io/component"])["spec"]["selector"]["matchLabels"]


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
