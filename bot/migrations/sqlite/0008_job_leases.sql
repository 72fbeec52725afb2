-- Leases (issue 10): the process that owns a job, until when, and a fencing counter that every
-- claim increments, so a process whose lease was taken over can no longer write the job.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;
ALTER TABLE jobs ADD COLUMN lease_fence INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_lease ON jobs (lease_until);

-- Live engine processes, so they can share one request budget toward ToAPIs.
CREATE TABLE engine_nodes (
    owner TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
