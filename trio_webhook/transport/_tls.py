"""The trust every transport uses when it is given no ``ssl_context``: built once, lazily.

What users expect is what ``ssl.create_default_context()`` trusts: the system's store
(OpenSSL's default file and directory; the Windows store), or instead the CAs named by
``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when those are set, so a company CA works without
code. Only where the system has no store at all (a python.org build on macOS, a bare
container) is certifi's bundle the trust instead. Loading a bundle costs about 30 ms of
CPU, so the context is built on first use and shared.
"""

from __future__ import annotations

import functools
import os
import ssl

import certifi

__all__ = ["default_ssl_context", "system_has_trust_store"]


def system_has_trust_store(context: ssl.SSLContext) -> bool:
    """Whether ``context`` (from ``create_default_context()``) found any CA to trust.

    A CA file is loaded at once (``cert_store_stats()["x509_ca"]``); a CA directory is
    read only when a certificate is checked, so an existing one that holds any file
    counts too.
    """
    if context.cert_store_stats()["x509_ca"]:
        return True
    capath = ssl.get_default_verify_paths().capath
    if not capath:  # None at run time when the directory does not exist
        return False
    try:
        with os.scandir(capath) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The default trust: the system's store and ``SSL_CERT_FILE``/``SSL_CERT_DIR``.

    As ``ssl.create_default_context()`` builds it; where that finds no CA at all, certifi's
    bundle. Built on the first call and shared after (the environment is read then).
    Verification is on, with host-name checks.
    """
    context = ssl.create_default_context()
    if system_has_trust_store(context):
        return context
    return ssl.create_default_context(cafile=certifi.where())
