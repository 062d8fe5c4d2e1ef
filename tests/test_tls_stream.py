"""The transport's own TLS stream against a real TLS server (trio's, with a trustme CA).

``TLSStream`` calls the C object behind ``ssl.SSLObject`` where the ssl module has one;
these tests hold it to what the public object does: the certificate and the host name
checked at the handshake, the bytes both ways, and a peer's EOF read as the end.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator

import pytest
import trio
import trustme

from trio_webhook.transport._stream import TLSStream, open_stream


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def echo_port(ca: trustme.CA) -> AsyncIterator[int]:
    """A TLS server for ``localhost`` that answers each read with it upper-cased, then EOF."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)

    async def answer(stream: trio.SSLStream[trio.SocketStream]) -> None:
        try:
            data = await stream.receive_some()
            await stream.send_all(data.upper())
            await stream.aclose()  # no close_notify awaited: https-compatible
        except trio.BrokenResourceError:
            pass  # the client refused the handshake

    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_ssl_over_tcp, host="127.0.0.1")
        listeners = await nursery.start(serve, answer, 0, server_context)
        yield listeners[0].transport_listener.socket.getsockname()[1]
        nursery.cancel_scope.cancel()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def exchange(stream: TLSStream) -> bytes:
    await stream.handshake()
    await stream.send_all(b"hello")
    received = b""
    while chunk := await stream.receive_some(first=not received):
        received += chunk
    await stream.aclose()
    return received


async def test_bytes_cross_both_ways_and_eof_ends_the_stream(
    ca: trustme.CA, echo_port: int
) -> None:
    stream = await open_stream("localhost", echo_port, client_context(ca))
    assert isinstance(stream, TLSStream)
    assert await exchange(stream) == b"HELLO"


async def test_the_public_ssl_object_does_the_same(ca: trustme.CA, echo_port: int) -> None:
    # The fallback of an ssl module without ``_sslobj``: the same calls on the public object.
    stream = await open_stream("localhost", echo_port, client_context(ca))
    assert isinstance(stream, TLSStream)
    stream._tls = stream._owner
    assert await exchange(stream) == b"HELLO"


async def test_a_certificate_for_another_host_fails_the_handshake(
    ca: trustme.CA, echo_port: int
) -> None:
    # The server's certificate names localhost only; the stream asked for 127.0.0.1.
    stream = await open_stream("127.0.0.1", echo_port, client_context(ca))
    assert isinstance(stream, TLSStream)
    with pytest.raises(trio.BrokenResourceError) as caught:
        await stream.handshake()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    await stream.aclose()


async def test_an_untrusted_ca_fails_the_handshake(echo_port: int) -> None:
    stream = await open_stream("localhost", echo_port, client_context(trustme.CA()))
    assert isinstance(stream, TLSStream)
    with pytest.raises(trio.BrokenResourceError) as caught:
        await stream.handshake()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    await stream.aclose()
