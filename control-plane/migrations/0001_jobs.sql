-- Jobs and their append-only audit trail: the source of truth for every background job.
-- Statuses and events are text with CHECK constraints rather than PostgreSQL enums, so a
-- later migration can add a value inside a transaction and clients need no custom types.

CREATE TABLE jobs (
    -- UUIDv7, shown as `job_<32 hex>`: time-ordered, so `ORDER BY id` is creation order and
    -- keyset pagination needs no separate sort column.
    id           uuid        PRIMARY KEY,
    queue        text        NOT NULL CHECK (queue ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    job_type     text        NOT NULL CHECK (job_type ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    payload      jsonb       NOT NULL,
    status       text        NOT NULL CHECK (status IN
                     ('queued', 'scheduled', 'running', 'succeeded', 'dead', 'cancelled')),
    -- Number of attempts started so far; a replay resets it to 0.
    attempt      integer     NOT NULL DEFAULT 0,
    max_attempts integer     NOT NULL CHECK (max_attempts >= 1),
    run_at       timestamptz NOT NULL,
    dedup_key    text        CHECK (length(dedup_key) BETWEEN 1 AND 256),
    last_error   text,
    -- The worker holding the current attempt (set by mark_started, kept for inspection).
    worker_id    text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    CHECK (attempt BETWEEN 0 AND max_attempts)
);

-- Dedup keys are unique per queue only while the job is unfinished: once it succeeded, died
-- or was cancelled, the same key enqueues a new job.
CREATE UNIQUE INDEX jobs_dedup_unfinished ON jobs (queue, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('queued', 'scheduled', 'running');

-- Admin listings (by status, newest first) and dead-letter filters.
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_type_id ON jobs (job_type, id);
CREATE INDEX jobs_queue_id ON jobs (queue, id);

-- What the Redis promoter and the reconciler scan: unfinished work by due time.
CREATE INDEX jobs_pending_run_at ON jobs (run_at) WHERE status IN ('queued', 'scheduled');

-- Append-only history. No foreign key to jobs: purging a dead letter deletes its job row, and
-- the trail (ending in `purged`) must outlive it. Retention pruning deletes old rows by `id`.
CREATE TABLE job_audit (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id    uuid        NOT NULL,
    at        timestamptz NOT NULL,
    event     text        NOT NULL CHECK (event IN
                  ('enqueued', 'started', 'succeeded', 'failed', 'retry_scheduled',
                   'dead_lettered', 'replayed', 'cancelled', 'purged')),
    attempt   integer     NOT NULL,
    worker_id text,
    error     text,
    retry_at  timestamptz
);

CREATE INDEX job_audit_job_id ON job_audit (job_id, id);

-- History is never rewritten: refuse UPDATE outright (DELETE stays possible for retention).
CREATE FUNCTION job_audit_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'job_audit is append-only';
END;
$$;

CREATE TRIGGER job_audit_append_only BEFORE UPDATE ON job_audit
    FOR EACH ROW EXECUTE FUNCTION job_audit_refuse_update();
