-- Learned task durations per model/resolution/quality, so the poller starts warm after a restart.
CREATE TABLE duration_stats (
    profile TEXT PRIMARY KEY,
    mean_log DOUBLE PRECISION NOT NULL,
    var_log DOUBLE PRECISION NOT NULL,
    samples INTEGER NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
