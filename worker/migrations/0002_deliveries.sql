-- One row per copy of a message a job has started on (`copy_key`: the message's x-copy-id, or
-- its message_id for the first copy). Never applicant data.
--   runs:       runs of this copy that began and never settled it: a panic, a worker that
--               died mid-job, an outcome the broker would not store. A run that settles the
--               copy, or that lost its connection (not the message's fault), does not count.
--               Over WORKER_MAX_RUNS the worker dead-letters the copy itself (delivery_limit),
--               whatever the broker counts as a delivery.
--   settled_at: the copy's outcome is stored (a follow-up, retry copy or dead letter confirmed,
--               or nothing to store). A redelivery of a settled copy (its ack was lost with its
--               connection) is acknowledged without running again: one lineage per message.
CREATE TABLE ledger_deliveries (
    copy_key   text        PRIMARY KEY,
    message_id text        NOT NULL,
    queue      text        NOT NULL,
    runs       integer     NOT NULL DEFAULT 0,
    settled_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_deliveries_updated ON ledger_deliveries (updated_at);
