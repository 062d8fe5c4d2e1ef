"""The calls on one webhook besides executing it: its messages, and the webhook itself.

Each builds one request (the body from :mod:`trio_webhook._encoding`), sends it through
:meth:`~trio_webhook._exchange.Exchange.send_with_retry` and decodes the answer with the
one converter (:mod:`trio_webhook._models`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trio_webhook._encoding import encode_edit
from trio_webhook._errors import ValidationError
from trio_webhook._exchange import Exchange, response_json
from trio_webhook._limits import validate_edit
from trio_webhook._models import Message, SentMessage

__all__ = ["WebhookOperations"]


class WebhookOperations(Exchange):
    """Get, edit and delete messages; fetch the webhook (the base of ``WebhookClient``)."""

    _max_upload_bytes: int

    async def get_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> SentMessage:
        """Fetch a message this webhook sent.

        Raises:
            MessageNotFound: No such message (the webhook is fine).
        """
        request = self._request("GET", "/messages/{message_id}", message_id, thread_id=thread_id)
        response = await self.send_with_retry(request)
        return SentMessage.from_json(response_json(response, request.route))

    async def edit_message(
        self,
        message_id: int | str,
        message: Message,
        *,
        keep_attachments: Sequence[int | str] | None = None,
        thread_id: int | str | None = None,
    ) -> SentMessage:
        """Edit a message this webhook sent.

        Args:
            message_id: The message to edit.
            message: The new content, embeds, allowed mentions and files to add.
            keep_attachments: Ids of existing attachments to keep (others are removed);
                ``None`` keeps them all.
            thread_id: The thread the message is in.
        """
        violations = validate_edit(message, max_upload_bytes=self._max_upload_bytes)
        if violations:
            raise ValidationError(violations)
        keep = None if keep_attachments is None else [str(i) for i in keep_attachments]
        body = encode_edit(message, keep_attachment_ids=keep)
        request = self._request(
            "PATCH", "/messages/{message_id}", message_id, body=body, thread_id=thread_id
        )
        response = await self.send_with_retry(request)
        return SentMessage.from_json(response_json(response, request.route))

    async def delete_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> None:
        """Delete a message this webhook sent."""
        request = self._request("DELETE", "/messages/{message_id}", message_id, thread_id=thread_id)
        await self.send_with_retry(request)

    async def fetch_webhook(self) -> Mapping[str, Any]:
        """The webhook object (name, channel, guild); ``token`` and ``url`` are removed."""
        request = self._request("GET", "")
        response = await self.send_with_retry(request)
        data = dict(response_json(response, request.route))
        # Both hold the secret; a caller that needs them already has the URL.
        data.pop("token", None)
        data.pop("url", None)
        return data
