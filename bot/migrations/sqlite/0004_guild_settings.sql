-- Guild settings (issue 6): art channels, gallery, defaults, limits, blocklist, audit log.

CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    gallery_channel_id INTEGER,
    default_model TEXT,
    default_quality TEXT,
    default_resolution TEXT,
    max_count INTEGER,
    max_resolution TEXT,
    updated_at REAL NOT NULL
);

-- When a server lists any, generation works only in these channels.
CREATE TABLE guild_art_channels (
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

-- Terms refused in prompts, stored case-folded.
CREATE TABLE guild_blocklist (
    guild_id INTEGER NOT NULL,
    term TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (guild_id, term)
);

-- Every moderator change to settings and quotas: who, what, before -> after, when.
CREATE TABLE guild_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    actor_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    before_value TEXT,
    after_value TEXT,
    at REAL NOT NULL
);

CREATE INDEX guild_audit_guild ON guild_audit (guild_id, id);
