"""Which transport a client gets when it is given none: the choice lives here alone."""

from __future__ import annotations

import os
import ssl
from collections.abc import Hashable
from typing import Final

from trio_webhook.transport._base import DEFAULT_MAX_RESPONSE_BYTES, Transport
from trio_webhook.transport._h11 import H11Transport
from trio_webhook.transport._httpx import HttpxTransport
from trio_webhook.transport._pool import DEFAULT_MAX_CONNECTIONS
from trio_webhook.transport._tls import default_ssl_context

__all__ = ["default_transport"]

# The variables httpx follows for an https URL; H11Transport speaks only to the host.
PROXY_VARIABLES: Final = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
# The shared transports made so far, one per API root, timeouts, bound and trust: they
# are stateless views of the shared pool, so every client with the same settings gets
# the same one (opening a sender then builds no transport at all).
_SHARED: Final[dict[Hashable, H11Transport]] = {}


def default_transport(
    api_base: str,
    *,
    connect_timeout: float = 2.0,
    total_timeout: float = 10.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """The transport for ``api_base``: H11Transport, or httpx when a proxy is configured.

    The H11Transport is ``shared``: every client of the process given no transport
    sends through one pool per host, at most 100 connections at once
    (``DEFAULT_MAX_CONNECTIONS``, as aiohttp's connector); a request waits for a free
    connection within its ``total_timeout`` (``pool_timeout`` past it), never within the
    ``connect_timeout``, which starts when connecting does. Idle connections close after
    15 s and when the trio run ends; its ``aclose()`` leaves the pool to the others.

    H11Transport, on this package's lean HTTP/1.1 codec, costs a fraction of httpx's CPU
    per request (``benchmarks/bench_codec.py``, ``benchmarks/bench_peers.py``), but it
    speaks only directly to the host: with a proxy in the environment (``HTTPS_PROXY``,
    ``ALL_PROXY``), httpx, which follows it, is used. Without an ``ssl_context`` both
    trust :func:`default_ssl_context`: the system's store, or the CAs that
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` name, as ``ssl.create_default_context()`` does,
    and certifi's bundle only where the system has no store. So the choice never changes
    which certificates are accepted.

    Args:
        api_base: The API root, as ``https://discord.com/api/v10``.
        connect_timeout: Deadline on connecting, seconds.
        total_timeout: Deadline on one whole request, seconds.
        max_response_bytes: The largest answer body read.
        ssl_context: Trust for the server's certificate (verification is never off);
            :func:`default_ssl_context` without one.
    """
    context = ssl_context if ssl_context is not None else default_ssl_context()
    if any(os.environ.get(v) for v in PROXY_VARIABLES):
        return HttpxTransport(
            api_base,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            ssl_context=context,
        )
    key = (api_base, connect_timeout, total_timeout, max_response_bytes, context)
    transport = _SHARED.get(key)
    if transport is None:
        transport = _SHARED[key] = H11Transport(
            api_base,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            ssl_context=context,
            max_connections=DEFAULT_MAX_CONNECTIONS,
            max_keepalive=DEFAULT_MAX_CONNECTIONS,
            shared=True,
        )
    return transport
