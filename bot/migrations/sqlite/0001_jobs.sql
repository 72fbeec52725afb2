-- Jobs: one row per image request, written before any call to the image service.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    charge_state TEXT NOT NULL DEFAULT 'none',
    guild_id INTEGER,
    channel_id INTEGER,
    member_id INTEGER NOT NULL,
    interaction_token TEXT,
    interaction_expires_at REAL,
    response_message_id INTEGER,
    request_json TEXT NOT NULL,
    model TEXT NOT NULL,
    resolution TEXT,
    quality TEXT,
    references_json TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    task_id TEXT,
    raw_status TEXT,
    progress INTEGER,
    result_urls_json TEXT NOT NULL DEFAULT '[]',
    files_json TEXT NOT NULL DEFAULT '[]',
    error_code TEXT,
    error_message TEXT,
    cost REAL,
    notified INTEGER NOT NULL DEFAULT 0,
    not_before REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    submitted_at REAL,
    completed_at REAL,
    finished_at REAL,
    deadline_at REAL,
    result_expires_at REAL
);

CREATE INDEX jobs_active ON jobs (state)
    WHERE state NOT IN ('delivered', 'failed', 'cancelled');
CREATE INDEX jobs_unsettled ON jobs (charge_state)
    WHERE charge_state IN ('commit_pending', 'release_pending');
CREATE INDEX jobs_unnotified ON jobs (state) WHERE state = 'failed' AND notified = 0;
CREATE INDEX jobs_member ON jobs (member_id, created_at);
CREATE INDEX jobs_task ON jobs (task_id);
