"""Dead letters: the records of messages that could not be delivered, and their sinks.

Example::

    from trio_webhook import deadletter

    for record in deadletter.read("dead.jsonl"):
        print(record.reason, record.status, record.message.content)

    result = await deadletter.replay("dead.jsonl", url)
"""

from trio_webhook._errors import DeadLetterFormatError
from trio_webhook._records import AttachmentInfo, DeadLetter
from trio_webhook._replay import ReplayResult, replay
from trio_webhook._sinks import (
    CallbackSink,
    ChannelSink,
    DeadLetterSink,
    JsonlSink,
    MemorySink,
    make_sink,
    read,
)

__all__ = [
    "AttachmentInfo",
    "CallbackSink",
    "ChannelSink",
    "DeadLetter",
    "DeadLetterFormatError",
    "DeadLetterSink",
    "JsonlSink",
    "MemorySink",
    "ReplayResult",
    "make_sink",
    "read",
    "replay",
]
