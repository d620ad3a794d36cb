-- A worker that dies (or hangs past the visibility timeout) holding a job gives no outcome;
-- the reclaimer moves the job back to `queued` and records why, as a `reclaimed` event.
-- Adding a value to a CHECK list is a metadata change plus one validating scan of job_audit;
-- older binaries never write the new value, so it is safe during a rolling deploy.
ALTER TABLE job_audit DROP CONSTRAINT job_audit_event_check;
ALTER TABLE job_audit ADD CONSTRAINT job_audit_event_check CHECK (event IN
    ('enqueued', 'started', 'succeeded', 'failed', 'retry_scheduled',
     'dead_lettered', 'replayed', 'cancelled', 'purged', 'reclaimed'));
