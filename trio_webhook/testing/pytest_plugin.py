"""pytest fixtures for FakeDiscord (registered through the ``pytest11`` entry point).

Cheap to import: the fake itself is imported only when a fixture is used.
"""
