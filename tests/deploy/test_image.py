"""The two images: ``runtime`` for the stages and operator commands, ``lab`` for the analysts.

No Docker engine runs here, so ``deploy/Dockerfile`` is read, not built: each target is followed
through the stages it is built ``FROM`` and checked for what it carries (the runtime: the wheel
without extras and without ``streams/lab``; the lab: the ``lab`` extra), how it runs (non-root,
``roasloop --help``, nothing installed at start) and where its migrations land. Compose and the
Kubernetes manifests must give each job the image it needs: every stage and ``migrate`` the runtime.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.lab.cli import LAB_EXTRA_MODULES
from streams.stages import STAGE_NAMES
from tests.deploy.files import BASE, DOCKERFILE, PRODUCTION, ROOT, compose, kustomization, pod_specs

TARGETS = ("runtime", "lab")
# The image each target is tagged as, in Compose and Kubernetes alike (deploy/README.md).
IMAGE_OF_TARGET = {"runtime": "roasloop", "lab": "roasloop-lab"}
BUILD_TOOLS = {"gcc", "g++", "cc", "clang", "make", "cmake", "build-essential", "autoconf", "automake",
               "libtool", "pkg-config", "git", "cargo", "rustc"}

Instruction = tuple[str, str]


@dataclass(frozen=True)
class BuildStage:
    name: str
    parent: str  # an image, or an earlier stage's name
    instructions: list[Instruction]


def dockerfile() -> tuple[dict[str, str], list[BuildStage]]:
    """(global ARG defaults, build stages in order); continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    args: dict[str, str] = {}
    stages: list[BuildStage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"#{len(stages)}"
            stages.append(BuildStage(name, words[0], []))
        elif stages:
            stages[-1].instructions.append((instruction, rest))
        elif instruction == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value
    return args, stages


def stage(name: str) -> BuildStage:
    found = [s for s in dockerfile()[1] if s.name == name]
    assert len(found) == 1, f"deploy/Dockerfile: expected one stage named {name!r}"
    return found[0]


def image_of(target: str) -> tuple[str, list[Instruction]]:
    """The base image a target starts from, and every instruction of the stages it is built on."""
    args, stages = dockerfile()
    names = {s.name for s in stages}
    instructions: list[Instruction] = []
    current = stage(target)
    while True:
        instructions = current.instructions + instructions
        if current.parent not in names:
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), current.parent)
            return base, instructions
        current = stage(current.parent)


def exec_form(instructions: list[Instruction], instruction: str) -> list[str]:
    values = [rest for ins, rest in instructions if ins == instruction]
    assert values, f"no {instruction}"
    parsed = json.loads(values[-1])
    assert isinstance(parsed, list), f"{instruction} must use the exec (JSON array) form"
    return [str(v) for v in parsed]


def venv_stage(target: str) -> BuildStage:
    """The builder stage whose virtualenv the target copies."""
    copies = [rest for ins, rest in image_of(target)[1] if ins == "COPY" and rest.endswith(" /opt/venv /opt/venv")]
    assert len(copies) == 1, f"{target}: copy exactly one virtualenv"
    match = re.match(r"--from=(\S+)\s", copies[0])
    assert match, f"{target}: the virtualenv comes from a builder stage"
    return stage(match[1])


def runs(build_stage: BuildStage) -> str:
    return " && ".join(rest for ins, rest in build_stage.instructions if ins == "RUN")


def sql_destination(target: str) -> str:
    copies = [rest.split() for ins, rest in image_of(target)[1]
              if ins == "COPY" and rest.split()[0].rstrip("/") == "sql"]
    assert copies, f"{target}: the image must COPY sql/ into the image"
    return copies[-1][-1].rstrip("/")


def image_name(reference: str) -> str:
    """``registry/path/name:tag`` (or Compose's ``${VAR:-default}``) -> ``name``."""
    reference = re.sub(r"^\$\{\w+:-([^}]*)\}$", r"\1", reference)
    return reference.rsplit("/", 1)[-1].split(":", 1)[0]


# ------------------------------------------------------------------ the two targets


def test_the_dockerfile_builds_a_runtime_and_a_lab_image_and_the_runtime_by_default() -> None:
    names = [s.name for s in dockerfile()[1]]
    assert set(TARGETS) <= set(names)
    assert names[-1] == "runtime", "a plain `docker build` must give the production image"
    header = DOCKERFILE.read_text().split("\nARG ", 1)[0]
    for target in TARGETS:
        assert f"--target {target}" in header, f"the header says how to build and use the {target} image"


def test_the_runtime_image_carries_the_wheel_without_extras_and_without_the_lab() -> None:
    script = runs(venv_stage("runtime"))
    installs = re.findall(r"pip install (\S+)", script)
    assert installs == ["/wheels/roasloop-*.whl"], f"the runtime installs the wheel alone, no extras: {installs}"
    streams_dir = str(Path(sql_destination("runtime")).parent)
    assert f"rm -rf {streams_dir}/lab " in script + " ", "the runtime image leaves streams/lab out"
    for module in ("streams.lab", *LAB_EXTRA_MODULES):
        assert f"'{module}'" in script, f"the build checks {module} is absent"
    assert "roasloop --help" in script


def test_the_lab_image_adds_the_lab_extra() -> None:
    script = runs(venv_stage("lab"))
    assert 'pip install "$(ls /wheels/roasloop-*.whl)[lab]"' in script, "the lab installs the wheel with its extra"
    assert "rm -rf" not in script


@pytest.mark.parametrize("target", TARGETS)
def test_image_is_slim_and_non_root(target: str) -> None:
    base, instructions = image_of(target)
    assert base == "python:3.11-slim"
    users = [rest for ins, rest in instructions if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{target} must switch to a non-root USER"


@pytest.mark.parametrize("target", TARGETS)
def test_image_builds_nothing_at_run_time(target: str) -> None:
    _, instructions = image_of(target)
    for instruction in ("ENTRYPOINT", "CMD"):
        argv = " ".join(exec_form(instructions, instruction))
        assert not re.search(r"\b(pip|apt-get|apt|uv|poetry|python -m pip|curl|wget)\b", argv), argv
    for ins, rest in instructions:
        if ins != "RUN":
            continue
        for match in re.finditer(r"apt-get install([^&;|]*)", rest):
            packages = {w for w in shlex.split(match[1]) if not w.startswith("-")}
            assert not packages & BUILD_TOOLS, f"build tools in the {target} image: {packages & BUILD_TOOLS}"
            assert not {p for p in packages if p.endswith("-dev")}, f"headers (-dev) in the {target} image"
        assert "pip install" not in rest, f"the {target} image installs nothing with pip: a builder does"


def test_both_images_run_roasloop_help_by_default() -> None:
    argvs = {t: exec_form(image_of(t)[1], "ENTRYPOINT") + exec_form(image_of(t)[1], "CMD") for t in TARGETS}
    assert argvs == {target: ["roasloop", "--help"] for target in TARGETS}
    script = Path(sys.executable).parent / "roasloop"  # the venv's console script, as in the image
    assert script.exists(), f"{script} missing: is roasloop installed in this venv?"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: roasloop")
    for command in ("migrate", "topics", "run"):
        assert re.search(rf"^\s+{command}\s", result.stdout, flags=re.MULTILINE), f"`roasloop {command}` missing"


@pytest.mark.parametrize("target", TARGETS)
def test_image_puts_migrations_where_migrate_finds_them(target: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Recreate the image's site-packages layout and ask the real default_directory()."""
    destination = sql_destination(target)
    version = re.search(r"python:(\d+\.\d+)", image_of(target)[0])
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


# ------------------------------------------------------------------ which job runs which image


def compose_target(service: dict[str, Any]) -> str:
    build = service["build"]
    assert build["dockerfile"] == "deploy/Dockerfile" and build["context"] == ".."
    target: str = build["target"]
    assert target in TARGETS
    assert image_name(service["image"]) == IMAGE_OF_TARGET[target], f"tag the {target} image as such"
    return target


def test_compose_runs_the_stages_and_migrate_on_the_runtime_image_and_keeps_the_lab_on_request() -> None:
    services = compose()["services"]
    built = {name: compose_target(s) for name, s in services.items() if "build" in s}
    assert built == {**dict.fromkeys((*STAGE_NAMES, "migrate", "priors"), "runtime"), "lab": "lab"}
    lab = services["lab"]
    assert lab["profiles"] == ["lab"], "`docker compose up` must not start the lab"
    assert lab["restart"] == "no" and "healthcheck" not in lab


def test_kubernetes_runs_every_workload_on_the_runtime_image() -> None:
    runtime = IMAGE_OF_TARGET["runtime"]
    for name, spec in pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"] == runtime, f"{name}: the stages and migrate run the runtime image"
    for directory in (BASE, PRODUCTION):
        images = kustomization(directory)["images"]
        assert [i["name"] for i in images] == [runtime]
        assert image_name(images[0].get("newName", runtime)) == runtime, "the overlay points at the runtime image"
