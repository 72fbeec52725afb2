-- Quotas (issue 6): credit budgets per server, role and member; grants; reservations per job.
-- Limits: NULL = not configured (the operator's default applies), -1 = unlimited.

-- A server's budgets and quota settings.
CREATE TABLE quota_guilds (
    guild_id BIGINT PRIMARY KEY,
    pool_daily BIGINT,
    pool_monthly BIGINT,
    member_daily BIGINT,
    exempt_moderators BOOLEAN NOT NULL DEFAULT FALSE,
    timezone TEXT,
    updated_at DOUBLE PRECISION NOT NULL
);

-- Per-role daily caps (a member gets the most generous of their roles).
CREATE TABLE quota_role_caps (
    guild_id BIGINT NOT NULL,
    role_id BIGINT NOT NULL,
    daily BIGINT NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);

-- Per-member daily caps (the most specific setting: wins over roles and the server default).
CREATE TABLE quota_member_caps (
    guild_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    daily BIGINT NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- One-off grants: extra credits a member spends once their daily cap is used up.
CREATE TABLE quota_grants (
    guild_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    balance BIGINT NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- What the bot last saw of a member (dropped again by 0007; kept so versions line up).
CREATE TABLE quota_members (
    guild_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    role_ids_json TEXT NOT NULL,
    moderator BOOLEAN NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, member_id)
);

-- Credits held (reserved + committed) per window: period 'day' per member; the server pool
-- is member_id 0 with periods 'pool_day' and 'pool_month'. These rows are what concurrent
-- reservations lock (SELECT ... FOR UPDATE), so the primary key order is the lock order.
CREATE TABLE quota_usage (
    guild_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    period_key TEXT NOT NULL,
    credits BIGINT NOT NULL,
    PRIMARY KEY (guild_id, member_id, period, period_key)
);

-- One row per job that reserved credits; the state moves reserved -> committed | released once.
CREATE TABLE quota_charges (
    job_id BIGINT PRIMARY KEY,
    guild_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    credits BIGINT NOT NULL,
    from_grant BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    day_key TEXT NOT NULL,
    month_key TEXT NOT NULL,
    counts_pool BOOLEAN NOT NULL DEFAULT TRUE,
    counts_member BOOLEAN NOT NULL DEFAULT TRUE,
    reserved_at DOUBLE PRECISION NOT NULL,
    settled_at DOUBLE PRECISION
);

CREATE INDEX quota_charges_guild_day ON quota_charges (guild_id, day_key);
CREATE INDEX quota_charges_member_day ON quota_charges (guild_id, member_id, day_key);
CREATE INDEX quota_charges_guild_month ON quota_charges (guild_id, month_key);
