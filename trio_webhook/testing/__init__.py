"""Test helpers for code that uses trio-webhook: a faithful fake Discord and strategies."""
