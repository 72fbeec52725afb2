"""discord.py extensions: thin adapters from interactions to the services in ``bot``."""
