"""The Discord-facing core (discord.py): bot wiring, delivery, errors, buttons, rendering.

Named ``app`` rather than ``discord`` so that it never shadows the discord.py package.
"""
