"""Check trio-webhook against a real Discord webhook: ``nox -s live``.

Opt-in, never part of CI: it needs ``TRIO_WEBHOOK_LIVE_URL`` naming a webhook in a test
channel of yours. It sends a message with an embed and two files, a Components V2
message and a poll; reads each back; edits the first, keeping one file and replacing the
other; deletes what it made; and prints a table of what Discord answered, with the
rate-limit headers it saw. Without the variable it says how to run it and exits 2.

``--ca-file`` trusts another CA (the tests point it at FakeDiscord served over TLS).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from typing import Any

import attrs
import trio

from trio_webhook import Embed, FilePart, Message, WebhookClient
from trio_webhook._url import parse_webhook_url
from trio_webhook.components import Container, MediaGallery, MediaGalleryItem, TextDisplay
from trio_webhook.messages import KeepAttachment, MessageEdit
from trio_webhook.polls import Poll
from trio_webhook.transport import HTTPRequest, HTTPResponse, Transport, default_transport

ENV: str = "TRIO_WEBHOOK_LIVE_URL"
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset-after")
# A 1x1 PNG, so that Discord treats the files as images.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@attrs.define
class Recording:
    """A transport that keeps each answer's status and rate-limit headers for the table."""

    inner: Transport
    rows: list[tuple[str, str, str]] = attrs.field(factory=list)

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send through the inner transport and note the answer."""
        response = await self.inner.send(request)
        seen = " ".join(f"{h[12:]}={response.headers[h]}" for h in HEADERS if h in response.headers)
        self.rows.append((request.route, str(response.status), seen))
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


async def check(url: str, ssl_context: ssl.SSLContext | None = None) -> list[tuple[str, str, str]]:
    """Run every step against ``url``; return the table's rows (what, status, headers)."""
    transport = Recording(
        default_transport(parse_webhook_url(url).api_base, ssl_context=ssl_context)
    )
    async with WebhookClient(url, transport=transport) as client:
        first = await client.execute(
            Message(
                embeds=[Embed(title="trio-webhook live check", description="an embed, two files")],
                attachments=[FilePart("keep.png", data=PNG), FilePart("replace.png", data=PNG)],
            )
        )
        v2 = await client.execute(
            Message(
                components=[
                    Container(
                        [
                            TextDisplay("trio-webhook live check: Components V2"),
                            MediaGallery([MediaGalleryItem("attachment://chart.png")]),
                        ]
                    )
                ],
                attachments=[FilePart("chart.png", data=PNG)],
            )
        )
        poll = await client.execute(
            Message(poll=Poll("trio-webhook live check: does it work?", ["yes", "no"], duration=1))
        )
        made = [d.messages[0] for d in (first, v2, poll)]
        for sent in made:
            await client.get_message(sent.id)
        kept = next(a for a in made[0].attachments if a.filename == "keep.png")
        edited = await client.edit_message(
            made[0].id,
            MessageEdit(
                content="edited: one file kept, one replaced",
                attachments=[KeepAttachment(kept.id, description="kept")],
                add_files=[FilePart("replaced.png", data=PNG)],
            ),
        )
        names = sorted(a.filename for a in edited.attachments)
        if names != ["keep.png", "replaced.png"]:
            raise SystemExit(f"the edit left {names}, not keep.png and replaced.png")
        for sent in made:
            await client.delete_message(sent.id)
    return transport.rows


def _table(rows: list[tuple[str, str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{what:<{width}}  {status}  {headers}" for what, status, headers in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the check against ``TRIO_WEBHOOK_LIVE_URL``; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca-file", help="Trust this CA certificate too.")
    args = parser.parse_args(argv)
    url = os.environ.get(ENV)
    if not url:
        print(
            f"set {ENV} to a webhook URL of a test channel to run the live check", file=sys.stderr
        )
        return 2
    context = None
    if args.ca_file:
        context = ssl.create_default_context(cafile=args.ca_file)
    rows: Any = trio.run(check, url, context)
    print(_table(rows))
    print(f"live check passed: {len(rows)} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
