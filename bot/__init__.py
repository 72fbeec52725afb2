"""Atelier: a Discord bot that turns a community server into an image studio."""

__version__ = "0.1.0"
