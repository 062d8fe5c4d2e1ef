"""Reading messages back, editing them, and the webhook itself: the models of those calls.

:class:`ReceivedMessage` (also ``trio_webhook.SentMessage``) is what
:meth:`~trio_webhook.WebhookClient.execute`, ``get_message`` and ``edit_message`` return;
:class:`MessageEdit` and :class:`KeepAttachment` say what an edit changes (a field left
:data:`UNSET` is left as it is); :class:`WebhookInfo` is what ``fetch_webhook`` and
``modify_webhook`` return.

Example::

    from trio_webhook.messages import KeepAttachment, MessageEdit

    sent = await client.get_message(message_id)
    await client.edit_message(
        sent.id,
        MessageEdit(embeds=[], attachments=[KeepAttachment(sent.attachments[0].id)]),
    )
"""

from trio_webhook._edits import UNSET, KeepAttachment, MessageEdit, Unset
from trio_webhook._received import ReceivedAttachment, ReceivedMessage, WebhookInfo
from trio_webhook._webhook_update import AvatarSource

__all__ = [
    "UNSET",
    "AvatarSource",
    "KeepAttachment",
    "MessageEdit",
    "ReceivedAttachment",
    "ReceivedMessage",
    "Unset",
    "WebhookInfo",
]
