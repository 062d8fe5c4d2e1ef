"""Every Python block in the docs and the README runs, as a reader would run it.

Each block runs in a fresh process (``tests/docs/prelude.py`` says what a fragment may
take as given), in an empty folder holding the files the examples name, against a
FakeDiscord served on loopback and a real redis-server. A block that defines pytest
tests is run by pytest, in a project configured as the testing guide says.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import attrs
import pytest
import trio
from redis_server import RedisServer

from trio_webhook.testing import FakeDiscord
from trio_webhook.testing._server import serve_fake_discord

ROOT = Path(__file__).resolve().parent.parent
PRELUDE = Path(__file__).resolve().parent / "docs" / "prelude.py"
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# The hosts the examples name, pointed at the fake and at the test's redis-server.
DISCORD = re.compile(r"https://discord\.com/api/webhooks/[^\s\"')]+")
REDIS = re.compile(r"redis://[\w.\-]+:\d+/\d+")
# The files the examples read.
FILES = {
    "CHANGELOG.md": "# Changelog\n\n- everything\n",
    "build.log": "step 1 ok\nstep 2 ok\n",
    "report.csv": "a,b\n1,2\n",
    "screenshot.png": "not really a png\n",
    "dead.jsonl": "",
    "pyproject.toml": "[tool.trio_webhook]\nqueue_cap = 50\n",
    "app.toml": "[trio_webhook]\nstrategy = 'proactive'\n",
}
TIMEOUT = 90


@attrs.frozen
class Block:
    page: Path
    line: int
    source: str

    @property
    def label(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append(Block(page, line, match.group(1)))
    return found


BLOCKS = _blocks()


def test_the_docs_have_python_blocks() -> None:
    # Guards the collector: a change of fence style must not silently run nothing.
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize("block", BLOCKS, ids=[b.label for b in BLOCKS])
async def test_doc_block_runs(block: Block, tmp_path: Path, redis_server: RedisServer) -> None:
    for name, content in FILES.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    fake = FakeDiscord(seed=0)
    hooks = [fake.create_webhook() for _ in range(3)]
    async with serve_fake_discord(fake, tls=False) as server:
        urls = [server.webhook_url(h) for h in hooks]
        source = DISCORD.sub(urls[0], block.source)
        source = REDIS.sub(redis_server.url, source)
        env = {
            **os.environ,
            "TRIO_WEBHOOK_URL": urls[0],
            "DOCS_WEBHOOK_URL_1": urls[1],
            "DOCS_WEBHOOK_URL_2": urls[2],
            "TRIO_WEBHOOK_REDIS_URL": redis_server.url,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        if re.search(r"^(async )?def test_", source, re.M):
            (tmp_path / "test_example.py").write_text(source, encoding="utf-8")
            (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        else:
            (tmp_path / "example.py").write_text(source, encoding="utf-8")
            command = [sys.executable, str(PRELUDE), "example.py", block.label]
        with trio.fail_after(TIMEOUT):
            result = await trio.run_process(
                command,
                cwd=tmp_path,
                env=env,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, f"{block.label} failed:\n{source}\n---\n{output}"
