-- Reference tray (issue 13): images a member collected with "Add to references", per member
-- per server, used by their next /imagine or /edit. One row per image; the tray expires one
-- hour after its newest row (a rule of bot.generation.tray, not of the table).
CREATE TABLE reference_tray (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    width INTEGER,
    height INTEGER,
    added_at REAL NOT NULL
);
CREATE INDEX reference_tray_owner ON reference_tray (guild_id, member_id, id);
-- /history: a member's jobs in one server, newest first.
CREATE INDEX jobs_guild_member ON jobs (guild_id, member_id, id);
