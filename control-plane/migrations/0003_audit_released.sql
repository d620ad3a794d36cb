-- A worker that stops gracefully (SIGTERM) before its in-flight attempt finishes hands the
-- job back: `running` -> `queued` without spending the attempt, recorded as `released`.
-- Like 0002, only the CHECK list widens; older binaries never write the new value, so it is
-- safe during a rolling deploy.
ALTER TABLE job_audit DROP CONSTRAINT job_audit_event_check;
ALTER TABLE job_audit ADD CONSTRAINT job_audit_event_check CHECK (event IN
    ('enqueued', 'started', 'succeeded', 'failed', 'retry_scheduled',
     'dead_lettered', 'replayed', 'cancelled', 'purged', 'reclaimed', 'released'));
