"""What every Python block of the docs may take as given, run before it in a fresh process.

A block of the docs is either a whole program or a fragment of one. Fragments may use
the names defined here, which the pages name in prose: ``url`` (the webhook URL, which a
real program reads from ``TRIO_WEBHOOK_URL``), ``url1``/``url2`` (two more webhooks),
``redis_url``, ``png_bytes``, ``user_supplied`` (text from a user), ``send_channel``
(a trio memory channel), and ``fake``/``hook`` (an in-process FakeDiscord and one of its
webhooks). The top-level names of ``trio_webhook`` are imported, as a reader assumes.

The runner (tests/test_docs_examples.py) points every URL at a FakeDiscord served on
loopback and every ``redis://`` URL at a real redis-server.
"""

from __future__ import annotations

import ast
import inspect
import math
import os
import random  # noqa: F401  (fragments use it)
import sys
from typing import Any

import trio

import trio_webhook
from trio_webhook.testing import FakeDiscord

url = WEBHOOK_URL = os.environ["TRIO_WEBHOOK_URL"]
url1 = os.environ["DOCS_WEBHOOK_URL_1"]
url2 = os.environ["DOCS_WEBHOOK_URL_2"]
redis_url = os.environ["TRIO_WEBHOOK_REDIS_URL"]
# A 1x1 transparent PNG.
png_bytes = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
user_supplied = "@everyone look at this"
send_channel, receive_channel = trio.open_memory_channel[Any](math.inf)
fake = FakeDiscord(seed=0)
hook = fake.create_webhook()


def _namespace() -> dict[str, Any]:
    names: dict[str, Any] = {"__name__": "__main__"}
    names.update({name: getattr(trio_webhook, name) for name in trio_webhook.__all__})
    names.update({k: v for k, v in globals().items() if not k.startswith("_")})
    names.pop("annotations", None)
    return names


def _run(path: str, label: str) -> None:
    with open(path, encoding="utf-8") as file:
        source = file.read()
    code = compile(source, label, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace = _namespace()
    if code.co_flags & inspect.CO_COROUTINE:
        # A fragment with a top-level `await` or `async with`: run it as trio would.
        async def main() -> None:
            await eval(code, namespace)

        trio.run(main)
    else:
        exec(code, namespace)


if __name__ == "__main__":
    _run(sys.argv[1], sys.argv[2])
