-- Quotas: credit usage, budgets, grants (issue 6). Placeholder until the quota store fills it.
SELECT 1;
