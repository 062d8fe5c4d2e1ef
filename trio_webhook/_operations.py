"""The calls on one webhook besides executing it: its messages, and the webhook itself.

Each builds one request (the body from :mod:`trio_webhook._encoding` or
:mod:`trio_webhook._webhook_update`), sends it through
:meth:`~trio_webhook._exchange.Exchange.send_with_retry` and reads the answer with the
one converter (:mod:`trio_webhook._converter`).
"""

from __future__ import annotations

from collections.abc import Sequence

from trio_webhook._edits import UNSET, MessageEdit, Unset
from trio_webhook._encoding import encode_edit
from trio_webhook._errors import ValidationError, WebhookNotFound
from trio_webhook._exchange import Exchange, response_json
from trio_webhook._limits import validate_edit
from trio_webhook._models import Message, SentMessage, WebhookInfo
from trio_webhook._webhook_update import AvatarSource, encode_webhook_update

__all__ = ["WebhookOperations"]


class WebhookOperations(Exchange):
    """Get, edit and delete messages; fetch, modify and delete the webhook.

    The base of :class:`~trio_webhook.WebhookClient`; every call goes through the rate
    limiter and the retry policy, and a dead webhook raises at once.
    """

    _max_upload_bytes: int
    _max_request_bytes: int

    async def get_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> SentMessage:
        """Fetch a message this webhook sent, as Discord stores it.

        Raises:
            MessageNotFound: No such message (the webhook is fine).
        """
        request = self._request("GET", "/messages/{message_id}", message_id, thread_id=thread_id)
        response = await self.send_with_retry(request)
        return SentMessage.from_json(response_json(response, request.route))

    async def edit_message(
        self,
        message_id: int | str,
        message: Message | MessageEdit,
        *,
        keep_attachments: Sequence[int | str] | None = None,
        thread_id: int | str | None = None,
    ) -> SentMessage:
        """Edit a message this webhook sent.

        Args:
            message_id: The message to edit.
            message: The changes. A :class:`~trio_webhook.messages.MessageEdit` changes
                exactly the fields it sets (``embeds=[]`` removes the embeds, its
                ``attachments`` list the files after the edit). A
                :class:`~trio_webhook.Message` changes what it sets (content, embeds,
                allowed mentions, flags) and adds its files.
            keep_attachments: With a ``Message`` only: ids of existing attachments to
                keep (the others are removed); ``None`` keeps them all.
            thread_id: The thread the message is in.

        Returns:
            The message after the edit.

        Raises:
            ValidationError: The edit breaks a limit (nothing is sent).
            TypeError: ``keep_attachments`` given with a ``MessageEdit``.
            MessageNotFound: No such message (the webhook is fine).
        """
        if isinstance(message, Message):
            keep = None if keep_attachments is None else [str(i) for i in keep_attachments]
            edit = MessageEdit.from_message(message, keep_attachments=keep)
        elif keep_attachments is not None:
            raise TypeError(
                "keep_attachments goes with a Message; list KeepAttachment in "
                "MessageEdit.attachments instead"
            )
        else:
            edit = message
        violations = validate_edit(
            edit,
            max_upload_bytes=self._max_upload_bytes,
            max_request_bytes=self._max_request_bytes,
        )
        if violations:
            raise ValidationError(violations)
        request = self._request(
            "PATCH",
            "/messages/{message_id}",
            message_id,
            body=encode_edit(edit),
            query=[("with_components", "true")] if edit.with_components else [],
            thread_id=thread_id,
        )
        response = await self.send_with_retry(request)
        return SentMessage.from_json(response_json(response, request.route))

    async def delete_message(
        self, message_id: int | str, *, thread_id: int | str | None = None
    ) -> None:
        """Delete a message this webhook sent."""
        request = self._request("DELETE", "/messages/{message_id}", message_id, thread_id=thread_id)
        await self.send_with_retry(request)

    async def fetch_webhook(self) -> WebhookInfo:
        """The webhook itself: its name, avatar, channel and guild (never its token).

        Raises:
            WebhookNotFound: The webhook was deleted (the client is dead from then on).
        """
        request = self._request("GET", "")
        response = await self.send_with_retry(request)
        return WebhookInfo.from_json(response_json(response, request.route))

    async def modify_webhook(
        self,
        *,
        name: str | Unset = UNSET,
        avatar: AvatarSource | Unset | None = UNSET,
    ) -> WebhookInfo:
        """Change the webhook's default name or avatar (*Modify Webhook with Token*).

        Args:
            name: The new default name (1-80 characters); not given leaves it.
            avatar: The new default avatar: PNG, JPEG or GIF bytes, or a path to such a
                file (sent as image data, its type read from the bytes); ``None``
                removes the avatar; not given leaves it.

        Returns:
            The webhook after the change.

        Raises:
            ValidationError: The name or the avatar breaks a limit (nothing is sent).
            OSError: The avatar's path could not be read.
            WebhookNotFound: The webhook was deleted.
        """
        body = encode_webhook_update(name=name, avatar=avatar)
        request = self._request("PATCH", "", body=body)
        response = await self.send_with_retry(request)
        return WebhookInfo.from_json(response_json(response, request.route))

    async def delete_webhook(self) -> None:
        """Delete the webhook (*Delete Webhook with Token*) for good.

        The client is dead afterwards (:attr:`dead` is a
        :class:`~trio_webhook.errors.WebhookNotFound`): later calls raise it at once,
        without touching the network.

        Raises:
            WebhookNotFound: The webhook was already gone.
        """
        request = self._request("DELETE", "")
        await self.send_with_retry(request)
        self._mark_dead(
            WebhookNotFound(
                404, 10015, "Unknown Webhook (deleted by this client)", None, request.route
            )
        )
