-- What the reservation needs about the member travels with the job (no write before the ack).
ALTER TABLE jobs ADD COLUMN role_ids_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN moderator BOOLEAN NOT NULL DEFAULT FALSE;
