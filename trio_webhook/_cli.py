"""The ``trio-webhook`` command line."""

from __future__ import annotations


def main() -> None:
    """Entry point of ``trio-webhook`` and ``python -m trio_webhook``."""
    print("trio-webhook: the command line arrives with the sender")
