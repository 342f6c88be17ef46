"""The edge client stays light: importing cam1 loads no TensorFlow, DeepFace or cloud code."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module", ["edge_client.cam1.__main__", "edge_client.cam1.app", "edge_client.sources"]
)
def test_cam1_imports_no_heavy_or_cloud_packages(module: str) -> None:
    probe = (
        f"import sys, {module}; "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'tf_keras', 'keras', 'deepface', 'torch', 'ultralytics', "
        "'cloud_functions', 'sqlalchemy'}); "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
