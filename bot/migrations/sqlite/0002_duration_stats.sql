-- Learned task durations per model/resolution/quality, so the poller starts warm after a restart.
CREATE TABLE duration_stats (
    profile TEXT PRIMARY KEY,
    mean_log REAL NOT NULL,
    var_log REAL NOT NULL,
    samples INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
