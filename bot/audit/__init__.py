"""The audit log: who changed which setting or budget, before and after, when."""
