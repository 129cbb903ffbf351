-- The durable job queue (vod-jobs). One row per job; `seq` orders jobs FIFO among equal
-- `not_before` values. Times are unix milliseconds; payload and result are JSON TEXT.
-- status: queued | running | succeeded | failed | cancelled.
CREATE TABLE jobs (
    seq               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL,
    payload           TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    unique_key        TEXT,
    attempts          BIGINT  NOT NULL DEFAULT 0,
    max_attempts      BIGINT  NOT NULL,
    not_before        BIGINT  NOT NULL,
    give_up_at        BIGINT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    last_error        TEXT,
    result            TEXT,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    finished_at       BIGINT
);
-- At most one active (queued or running) job per unique key.
CREATE UNIQUE INDEX jobs_active_unique_key_uq ON jobs (unique_key)
    WHERE status IN ('queued', 'running') AND unique_key IS NOT NULL;
-- Claiming scans active jobs only.
CREATE INDEX jobs_active_idx ON jobs (kind, not_before, seq) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_status_idx ON jobs (status, seq);
CREATE INDEX jobs_kind_idx ON jobs (kind, seq);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
