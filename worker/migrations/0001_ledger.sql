-- The worker's ledger: claims (who works on what right now), intents and outcomes
-- (applications and their screening groups, reports and their uploads), and the journal of
-- every job outcome. Never applicant data: ids, states, reasons and times only.

-- At most one job per key (an application, a screening group) across the fleet. A row is a
-- lease: its holder renews `expires_at` while it works; a holder that dies stops renewing and
-- the claim can be taken over once it has expired.
CREATE TABLE ledger_claims (
    claim_key  text PRIMARY KEY,
    owner      text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One row per Entrata application the worker has started to screen.
--   received: known, no create attempted (or the last one certainly failed)
--   creating: the intent to create is recorded and no group id yet: an earlier create's
--             outcome is unknown until the Payscore lookup resolves it
--   created:  the group exists; `group_id` is its id
CREATE TABLE ledger_applications (
    property_id        text        NOT NULL,
    application_id     text        NOT NULL,
    state              text        NOT NULL CHECK (state IN ('received', 'creating', 'created')),
    group_id           text,
    create_attempts    integer     NOT NULL DEFAULT 0,
    create_started_at  timestamptz,
    group_recorded_at  timestamptz,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, application_id)
);
CREATE UNIQUE INDEX ledger_applications_group ON ledger_applications (group_id)
    WHERE group_id IS NOT NULL;
CREATE INDEX ledger_applications_application ON ledger_applications (application_id);

-- One row per report: the intent to upload (`uploading`) before the upload, the outcome
-- (`uploaded`) after. `report_key` is the short hash of the report's bytes.
CREATE TABLE ledger_reports (
    group_id        text        NOT NULL,
    report_key      text        NOT NULL,
    file_name       text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('uploading', 'uploaded')),
    property_id     text        NOT NULL,
    application_id  text        NOT NULL,
    upload_attempts integer     NOT NULL DEFAULT 0,
    started_at      timestamptz,
    uploaded_at     timestamptz,
    PRIMARY KEY (group_id, report_key)
);

-- Every job outcome, kept LEDGER_RETENTION_DAYS.
CREATE TABLE ledger_journal (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    queue          text        NOT NULL,
    message_id     text        NOT NULL,
    source         text,
    kind           text,
    received_at    timestamptz,
    property_id    text,
    application_id text,
    group_id       text,
    attempt        integer     NOT NULL,
    outcome        text        NOT NULL,
    reason         text,
    detail         text,
    file_name      text
);
CREATE INDEX ledger_journal_application ON ledger_journal (application_id, at);
CREATE INDEX ledger_journal_group ON ledger_journal (group_id, at) WHERE group_id IS NOT NULL;
CREATE INDEX ledger_journal_at ON ledger_journal (at);
