"""The durable job engine: job records, their state machine, one poller for all tasks, recovery.

Import what you need from the submodules (``bot.jobs.engine``, ``bot.jobs.hooks``, ...); this
package module stays empty so that the storage layer can import the record types without a cycle.
"""
