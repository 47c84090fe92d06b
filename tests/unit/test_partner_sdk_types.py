"""partner_sdk promises full annotations: mypy --strict must find nothing."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import partner_sdk
from partner_sdk._transport import USER_AGENT

ROOT = Path(__file__).resolve().parents[2]


def test_partner_sdk_is_clean_under_mypy_strict(tmp_path):
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), "partner_sdk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout


def test_the_package_the_user_agent_and_pyproject_name_one_version():
    declared = tomllib.loads((ROOT / "partner_sdk" / "pyproject.toml").read_text())["project"]["version"]

    assert partner_sdk.__version__ == declared == "0.8.0"
    assert USER_AGENT == f"partner-sdk/{declared}"
