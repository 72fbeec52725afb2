-- Quotas (issue 6): credit budgets per server, role and member; grants; reservations per job.
-- Limits: NULL = not configured (the operator's default applies), -1 = unlimited.

-- A server's budgets and quota settings.
CREATE TABLE quota_guilds (
    guild_id INTEGER PRIMARY KEY,
    pool_daily INTEGER,
    pool_monthly INTEGER,
    member_daily INTEGER,
    exempt_moderators INTEGER NOT NULL DEFAULT 0,
    timezone TEXT,
    updated_at REAL NOT NULL
);

-- Per-role daily caps (a member gets the most generous of their roles).
CREATE TABLE quota_role_caps (
    guild_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    daily INTEGER NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);

-- Per-member daily caps (the most specific setting: wins over roles and the server default).
CREATE TABLE quota_member_caps (
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    daily INTEGER NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- One-off grants: extra credits a member spends once their daily cap is used up.
CREATE TABLE quota_grants (
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    balance INTEGER NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- What the bot last saw of a member (roles, moderator) when checking a request, read when the
-- job engine reserves the job's cost.
CREATE TABLE quota_members (
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    role_ids_json TEXT NOT NULL,
    moderator INTEGER NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- Credits held (reserved + committed) per window: period 'day' per member; the server pool
-- is member_id 0 with periods 'pool_day' and 'pool_month'.
CREATE TABLE quota_usage (
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    period TEXT NOT NULL,
    period_key TEXT NOT NULL,
    credits INTEGER NOT NULL,
    PRIMARY KEY (guild_id, member_id, period, period_key)
);

-- One row per job that reserved credits; the state moves reserved -> committed | released once.
CREATE TABLE quota_charges (
    job_id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    credits INTEGER NOT NULL,
    from_grant INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    day_key TEXT NOT NULL,
    month_key TEXT NOT NULL,
    counts_pool INTEGER NOT NULL DEFAULT 1,
    counts_member INTEGER NOT NULL DEFAULT 1,
    reserved_at REAL NOT NULL,
    settled_at REAL
);

CREATE INDEX quota_charges_guild_day ON quota_charges (guild_id, day_key);
CREATE INDEX quota_charges_member_day ON quota_charges (guild_id, member_id, day_key);
CREATE INDEX quota_charges_guild_month ON quota_charges (guild_id, month_key);
