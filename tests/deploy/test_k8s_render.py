"""The Kubernetes manifests render with ``kubectl kustomize``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.stages import STAGE_NAMES
from tests.deploy.files import KUSTOMIZATIONS, wanted_topics


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("directory", KUSTOMIZATIONS.values(), ids=KUSTOMIZATIONS.keys())
def test_kustomize_renders(directory: Path) -> None:
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert kinds.count("Deployment") == len(STAGE_NAMES)
    assert kinds.count("KafkaTopic") == len(wanted_topics())
