"""A missing extra is one line naming the ``pip install`` to run, never a traceback.

Each case runs in a child Python in which the extra's modules cannot be imported (a
meta-path finder refuses them, as an install without the extra would), and checks what
the user sees: the command line's one line on stderr and its exit status 2, or the
library's ``MissingExtraError`` (a ``ModuleNotFoundError``) with the same one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trio_webhook._extras import MissingExtraError, require

ROOT = Path(__file__).resolve().parent.parent
HIDE = """
import importlib.abc, sys

class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Hide())
"""
URL = "https://discord.com/api/webhooks/1/not-a-real-token"
CLI = "pip install 'trio-webhook[cli]'"
DEMO = "pip install 'trio-webhook[demo]'"
REDIS = "pip install 'trio-webhook[redis]'"
# The library cases print what escaped, on one line, as a user's script would see it.
REPORT = """
try:
    main()
except BaseException as exc:
    print(f"{type(exc).__name__}: {exc}")
    print(isinstance(exc, ModuleNotFoundError))
"""


def run(hidden: set[str], code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("TRIO_WEBHOOK_URL", None)
    source = HIDE.format(hidden=sorted(hidden)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, env=env, timeout=60
    )


def run_library(hidden: set[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code``, which defines ``main()``, and print what escapes from it."""
    return run(hidden, textwrap.dedent(code) + REPORT)


def run_cli(hidden: set[str], *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        hidden,
        f"""
        sys.argv = ["trio-webhook", *{list(args)!r}]
        from trio_webhook.cli import main
        main()
        """,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *texts: str) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in texts:
        assert text in lines[0]


# --- the command line ------------------------------------------------------------------


@pytest.mark.parametrize("module", ["click", "rich"])
def test_the_console_script_without_the_cli_extra(module: str) -> None:
    result = run_cli({module}, "--help")
    assert_one_line(result, 2, f"'cli' extra ({module} is not installed)", CLI)
    assert result.stdout == ""


def test_python_dash_m_without_the_cli_extra() -> None:
    result = run({"click"}, "import runpy; runpy.run_module('trio_webhook', run_name='__main__')")
    assert_one_line(result, 2, CLI)


@pytest.mark.parametrize("module", ["hypercorn", "trustme", "python_multipart"])
@pytest.mark.parametrize("command", ["demo", "serve-fake"])
def test_the_fake_commands_without_the_testing_extra(command: str, module: str) -> None:
    result = run_cli({module}, command)
    assert_one_line(result, 2, f"trio-webhook {command}", f"({module} is not installed)", DEMO)


def test_the_worker_without_the_redis_extra() -> None:
    result = run_cli({"coredis"}, "worker", "--redis", "redis://127.0.0.1:1/0", "--webhook", URL)
    assert_one_line(result, 2, "a redis:// outbox", "(coredis is not installed)", REDIS)
    assert "not-a-real-token" not in result.stderr


# --- the library -----------------------------------------------------------------------


def test_the_base_install_imports_every_public_namespace() -> None:
    hidden = {"click", "rich", "coredis", "hypercorn", "trustme", "python_multipart"}
    hidden |= {"hypothesis", "prometheus_client"}
    result = run(
        hidden,
        """
        import trio_webhook, trio_webhook.outbox, trio_webhook.stores, trio_webhook.testing
        import trio_webhook.testing.pytest_plugin
        print("ok")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


# What a user's code does, and the first thing that needs the extra it lacks.
LIBRARY = {
    # Before: the fake took JSON, and the first upload was dead-lettered far from here.
    "FakeDiscord": (
        "python_multipart",
        "testing",
        """
        from trio_webhook.testing import FakeDiscord

        FakeDiscord()
        """,
    ),
    "a redis:// rate-limit store": (
        "coredis",
        "redis",
        f"""
        from trio_webhook import SenderConfig, open_webhook_sender

        config = SenderConfig(rate_limit_store="redis://127.0.0.1:1/0")
        async with open_webhook_sender({URL!r}, config=config):
            pass
        """,
    ),
    "a redis:// outbox": (
        "coredis",
        "redis",
        """
        from trio_webhook.outbox import open_outbox

        async with open_outbox("redis://127.0.0.1:1/0"):
            pass
        """,
    ),
}


@pytest.mark.parametrize("needed_by", LIBRARY)
def test_the_library_without_an_extra(needed_by: str) -> None:
    module, extra, code = LIBRARY[needed_by]
    body = textwrap.indent(textwrap.dedent(code), "    ")
    result = run_library(
        {module}, f"import trio\n\nasync def body():\n{body}\n\ndef main():\n    trio.run(body)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"MissingExtraError: {needed_by} needs the {extra!r} extra ({module} is not installed): "
        f"pip install 'trio-webhook[{extra}]'",
        "True",
    ]


# --- require ---------------------------------------------------------------------------


def test_require_returns_the_module() -> None:
    assert require("json", extra="none", needed_by="this test").dumps([]) == "[]"


def test_require_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"^x needs the 'e' extra \(absent_pkg is not"):
        require("absent_pkg.sub", extra="e", needed_by="x")


def test_a_broken_install_is_not_a_missing_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The extra is there, but one of its own dependencies is not: say that, not "install".
    (tmp_path / "present_pkg.py").write_text("import absent_dependency_of_it\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("present_pkg", extra="e", needed_by="x")
    assert not isinstance(info.value, MissingExtraError)
    assert info.value.name == "absent_dependency_of_it"
