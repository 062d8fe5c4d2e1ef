"""Polls: a question, up to 10 answers and a duration in hours, sent with a message.

Example::

    from trio_webhook import Message
    from trio_webhook.polls import Emoji, Poll, PollAnswer

    Message(poll=Poll("Deploy on Friday?", ["yes", PollAnswer("no", emoji=Emoji("🙅"))],
                      duration=4))
"""

from trio_webhook._components import Emoji
from trio_webhook._polls import Poll, PollAnswer, PollLayout

__all__ = ["Emoji", "Poll", "PollAnswer", "PollLayout"]
