"""Which transport a client gets when it is given none: the choice lives here alone."""

from __future__ import annotations

import functools
import os
import ssl
from typing import Final

import certifi

from trio_webhook.transport._base import DEFAULT_MAX_RESPONSE_BYTES, Transport
from trio_webhook.transport._h11 import H11Transport
from trio_webhook.transport._httpx import HttpxTransport

__all__ = ["default_transport"]

# The variables httpx follows for an https URL; H11Transport speaks only to the host.
PROXY_VARIABLES: Final = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@functools.cache
def _certifi_context() -> ssl.SSLContext:
    # Loading the CA bundle takes milliseconds; one context serves every client.
    return ssl.create_default_context(cafile=certifi.where())


def default_transport(
    api_base: str,
    *,
    connect_timeout: float = 2.0,
    total_timeout: float = 10.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """The transport for ``api_base``: H11Transport, or httpx when a proxy is configured.

    H11Transport costs half of httpx's CPU per request (benchmarks/bench_peers.py, (c)),
    but it speaks only directly to the host: with a proxy in the environment
    (``HTTPS_PROXY``, ``ALL_PROXY``), httpx, which follows it, is used. Without an
    ``ssl_context`` both trust certifi's bundle, as httpx always has, so the choice never
    changes which certificates are accepted.

    Args:
        api_base: The API root, as ``https://discord.com/api/v10``.
        connect_timeout: Deadline on connecting, seconds.
        total_timeout: Deadline on one whole request, seconds.
        max_response_bytes: The largest answer body read.
        ssl_context: Trust for the server's certificate (verification is never off).
    """
    context = ssl_context if ssl_context is not None else _certifi_context()
    if any(os.environ.get(v) for v in PROXY_VARIABLES):
        return HttpxTransport(
            api_base,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            ssl_context=context,
        )
    return H11Transport(
        api_base,
        connect_timeout=connect_timeout,
        total_timeout=total_timeout,
        max_response_bytes=max_response_bytes,
        ssl_context=context,
    )
