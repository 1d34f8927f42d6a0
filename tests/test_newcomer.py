"""A newcomer's first session, end to end, as a shell script (tests/scripts/newcomer.sh):
the README's quick start and tour, completion installed as the README says, search,
register, download, diff and gc, with the installed ``regctl`` command."""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO


def test_the_newcomer_walkthrough_works_step_by_step():
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    bin_dir = os.path.dirname(sys.executable)  # the environment regctl is installed in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGCTL_", "MLFLOW_"))}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    done = subprocess.run(["bash", str(REPO / "tests" / "scripts" / "newcomer.sh")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("newcomer: every step worked")
