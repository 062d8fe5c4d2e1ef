"""The opt-in live check (``nox -s live``) works: run here against FakeDiscord over TLS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import fake_in_thread

from trio_webhook.testing import FakeDiscord

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "live_check.py"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_the_variable_it_says_how_to_run_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRIO_WEBHOOK_LIVE_URL"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "set TRIO_WEBHOOK_LIVE_URL to a webhook URL of a test channel to run the live check"
    )


@pytest.mark.tls
def test_the_live_check_passes_against_the_fake(tmp_path: Path) -> None:
    fake = FakeDiscord(seed=1)
    hook = fake.create_webhook()
    ca = tmp_path / "ca.pem"
    with fake_in_thread(fake, ca) as server:
        result = _run({"TRIO_WEBHOOK_LIVE_URL": server.webhook_url(hook)}, "--ca-file", str(ca))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "live check passed: 10 requests" in result.stdout
    assert "remaining=" in result.stdout  # the rate-limit headers seen
    assert fake.history(hook.channel_id) == []  # it deleted what it made
    assert hook.token not in result.stdout + result.stderr
