"""Dead letters: the records of messages that could not be delivered, and their sinks.

Example::

    from trio_webhook import deadletter

    for record in deadletter.read("dead.jsonl"):
        print(record.reason, record.status, record.message.content)
"""

from trio_webhook._deadletter import (
    AttachmentInfo,
    CallbackSink,
    ChannelSink,
    DeadLetter,
    DeadLetterSink,
    JsonlSink,
    MemorySink,
    make_sink,
    read,
)
from trio_webhook._errors import DeadLetterFormatError

__all__ = [
    "AttachmentInfo",
    "CallbackSink",
    "ChannelSink",
    "DeadLetter",
    "DeadLetterFormatError",
    "DeadLetterSink",
    "JsonlSink",
    "MemorySink",
    "make_sink",
    "read",
]
