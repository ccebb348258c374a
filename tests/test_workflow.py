"""The example CI workflow (.github/workflows/scorecard.yml): it publishes only a site that was
built (exit 0 or 1), and it is hardened as zizmor asks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "scorecard.yml"


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


@pytest.mark.parametrize("code", [0, 1, 2, 3, 130, 143, 4])
def test_the_build_step_lets_only_exit_codes_0_and_1_go_on_to_publish(
    tmp_path: Path, code: int
) -> None:
    """The step runs as GitHub runs it (`bash -e`) with a stand-in `carecard` exiting `code`;
    a failed step skips the upload and the publish job that needs it."""
    build = steps("build")
    index = next(i for i, step in enumerate(build) if step.get("id") == "build")
    upload = next(i for i, step in enumerate(build)
                  if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert index < upload and "if" not in build[upload]  # runs only when every step before did
    assert workflow()["jobs"]["publish"]["needs"] == "build"
    assert "if" not in workflow()["jobs"]["publish"]
    fake = tmp_path / "bin" / "carecard"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexit {code}\n", encoding="utf-8")
    fake.chmod(0o755)
    output = tmp_path / "github-output"
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run([bash, "-e", "-c", build[index]["run"]], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode == 0) == (code in (0, 1)), (code, result.returncode)
    assert output.read_text(encoding="utf-8") == f"code={code}\n"


def test_the_build_step_posts_the_digest_as_the_job_summary(tmp_path: Path) -> None:
    """`carecard build --digest` prints data/digest.md; the step appends it to the file GitHub
    shows as the job's summary (a stand-in `carecard` prints its arguments)."""
    build = steps("build")
    run = next(step for step in build if step.get("id") == "build")["run"]
    fake = tmp_path / "bin" / "carecard"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "digest of: $*"\necho "summary line" >&2\n',
                    encoding="utf-8")
    fake.chmod(0o755)
    summary = tmp_path / "summary"
    summary.write_text("earlier steps\n", encoding="utf-8")
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_OUTPUT": str(tmp_path / "github-output"),
           "GITHUB_STEP_SUMMARY": str(summary)}
    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run([bash, "-e", "-c", run], env=env, cwd=tmp_path, check=True, timeout=30)
    assert summary.read_text(encoding="utf-8") == (
        "earlier steps\ndigest of: build --config config.yaml --fail-on red --digest\n")


def test_the_workflow_pins_actions_by_commit_and_grants_each_job_only_what_it_uses() -> None:
    data = workflow()
    assert data["permissions"] == {}
    assert data["jobs"]["build"]["permissions"] == {"contents": "read"}
    assert data["jobs"]["publish"]["permissions"] == {"pages": "write", "id-token": "write"}
    uses = [step["uses"] for job in data["jobs"] for step in steps(job) if "uses" in step]
    assert len(uses) == 5
    for action in uses:
        assert re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}", action), action
    text = WORKFLOW.read_text(encoding="utf-8")
    assert len(re.findall(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+\n", text)) == 5  # the tag, for review
    checkout = next(step for step in steps("build")
                    if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_zizmor_finds_nothing_in_the_workflow() -> None:
    """`make lint` installs zizmor and runs the same check; without it this test is skipped."""
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (make lint installs it)")
    result = subprocess.run([zizmor, "--offline", str(WORKFLOW.parent)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
