"""The network seam: one protocol, the values that cross it, and its implementations.

Everything above this package speaks :class:`HTTPRequest` and :class:`HTTPResponse`;
a :class:`Transport` turns them into HTTP. Give a client one to change how it reaches
Discord::

    from trio_webhook.transport import DryRunTransport

    async with WebhookClient(url, transport=DryRunTransport()) as client:
        ...

Implementations: :class:`H11Transport` (the default on real sockets: HTTP/1.1 on this
package's lean codec, or h11 with ``codec="h11"``),
:class:`HttpxTransport` (used when a proxy is configured, and for in-process ASGI
servers such as FakeDiscord's :meth:`~trio_webhook.testing.FakeDiscord.transport`) and
:class:`DryRunTransport`. :func:`default_transport` makes the default;
:func:`default_ssl_context` is the trust of every transport given no ``ssl_context``.
"""

from trio_webhook.transport._base import DEFAULT_USER_AGENT, Transport
from trio_webhook.transport._default import default_transport
from trio_webhook.transport._dryrun import DryRunTransport
from trio_webhook.transport._h11 import H11Transport
from trio_webhook.transport._httpx import HttpxTransport
from trio_webhook.transport._tls import default_ssl_context
from trio_webhook.transport._values import HTTPRequest, HTTPResponse, MultipartFile

__all__ = [
    "DEFAULT_USER_AGENT",
    "DryRunTransport",
    "H11Transport",
    "HTTPRequest",
    "HTTPResponse",
    "HttpxTransport",
    "MultipartFile",
    "Transport",
    "default_ssl_context",
    "default_transport",
]
