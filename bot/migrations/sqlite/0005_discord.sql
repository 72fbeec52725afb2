-- Discord layer (issue 5).
-- Uploaded reference images by content hash, so the same bytes are uploaded once while fresh.
CREATE TABLE upload_cache (
    sha256 TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    uploaded_at REAL NOT NULL
);

-- Small named values: the hash of the last globally synced command tree, and the like.
CREATE TABLE bot_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);

-- What the Discord layer remembers about a job besides the job row itself.
CREATE TABLE job_discord (
    job_id INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    command TEXT NOT NULL,
    requester_name TEXT NOT NULL DEFAULT '',
    filesize_limit INTEGER,
    parent_job_id INTEGER,
    created_at REAL NOT NULL
);
