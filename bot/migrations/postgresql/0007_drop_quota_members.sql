-- The member's roles and moderator flag travel with each job (0006); nothing reads the last
-- seen snapshot any more.
DROP TABLE IF EXISTS quota_members;
