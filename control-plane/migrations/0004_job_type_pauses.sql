-- Paused job types (backpressure: an operator, or later a webhook circuit breaker, stops a
-- type without losing its jobs). A delivery of a paused type is not started: its job stays
-- `queued` in this table's sense of "parked" (absent from Redis, skipped by the
-- reconciler) until the type is resumed, which publishes it again. Nothing about a job row
-- changes while it is parked, so pausing costs no write per job.
CREATE TABLE job_type_pauses (
    job_type  text        PRIMARY KEY CHECK (job_type ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    paused_at timestamptz NOT NULL,
    reason    text        CHECK (length(reason) <= 1024)
);
