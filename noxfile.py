"""Every developer task: `nox -l` lists them."""

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "conformance"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PRUNED_OPENAPI = Path("tests", "schemas", "discord-webhooks.json")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (everything but the conformance tests)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "not conformance", *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """Validate every JSON body we emit against Discord's OpenAPI description.

    Uses the pruned copy in tests/schemas/ (scripts/prune_openapi.py makes it), so a
    fresh clone needs nothing beside it. With DISCORD_OPENAPI naming the full
    description, validates against that instead and fails if the copy has drifted from
    it (tests/test_schemas.py); set but missing is an error.
    """
    full = os.environ.get("DISCORD_OPENAPI")
    if full and not Path(full).is_file():
        session.error(f"DISCORD_OPENAPI: no file at {full}")
    if full:
        session.log(f"conformance: against {full}, and the copy's drift check")
    else:
        session.log(f"conformance: DISCORD_OPENAPI is not set; against the copy {PRUNED_OPENAPI}")
    session.install("-e", ".[dev]")
    session.run("pytest", "-m", "conformance", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")  # pinned: formatting rules change between releases
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and the tests."""
    session.install("-e", ".[dev,redis]", "mypy>=1.13", "types-regex")
    session.run("mypy", "trio_webhook", "tests", "benchmarks", "scripts")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs with Sphinx; warnings are errors."""
    session.install("-e", ".[dev]", "sphinx>=7", "myst-parser>=2", "furo>=2024.8")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in benchmarks/ (not tests: they print figures).

    The peers (discord.py, hikari, discord-webhook) are installed here only, pinned in
    benchmarks/requirements-peers.txt.
    """
    session.install("-e", ".[dev,redis]")
    peers = ROOT / "benchmarks" / "requirements-peers.txt"
    if peers.is_file():
        session.install("-r", str(peers))
    # Arguments after `--` (such as --quick) are bench_peers.py's; the others take none.
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        args = session.posargs if script.name == "bench_peers.py" else []
        session.run("python", str(script), *args)


@nox.session
def live(session: nox.Session) -> None:
    """Check against real Discord (opt-in, never in CI): needs TRIO_WEBHOOK_LIVE_URL.

    Sends an embed with two files, a Components V2 message and a poll, reads them back,
    edits one (one file kept, one replaced), deletes them, and prints what Discord
    answered with its rate-limit headers. Without the variable it says how to run it.
    """
    if not os.environ.get("TRIO_WEBHOOK_LIVE_URL"):
        session.error("set TRIO_WEBHOOK_LIVE_URL to a webhook URL of a test channel")
    session.install("-e", ".")
    session.run("python", "scripts/live_check.py", *session.posargs)
