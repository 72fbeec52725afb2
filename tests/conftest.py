"""Shared pytest configuration: each fake registers its fixtures as a plugin module."""

pytest_plugins: list[str] = [
    "tests.fakes.discord.plugin",
    "tests.fakes.toapis_plugin",
    "tests.app.plugin",
    "tests.storage.backends",
]
