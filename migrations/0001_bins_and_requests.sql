-- Bins and the requests captured into them.
-- Times are Unix milliseconds (UTC). Request ids are assigned by the single writer and only grow,
-- so "newest first" is "highest id first" and keyset pagination walks the primary key.

CREATE TABLE bins (
    id            TEXT    PRIMARY KEY NOT NULL,   -- lowercase hyphenated UUID v4
    created_at    INTEGER NOT NULL,
    request_count INTEGER NOT NULL DEFAULT 0      -- kept by the writer, so no page counts rows
) STRICT;

CREATE TABLE requests (
    id             INTEGER PRIMARY KEY NOT NULL,
    bin_id         TEXT    NOT NULL REFERENCES bins (id) ON DELETE CASCADE,
    received_at    INTEGER NOT NULL,
    -- 'stored', 'rejected' (body over the limit, not kept) or 'handshake' (answered validationToken)
    outcome        TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    query          TEXT    NOT NULL,
    headers        TEXT    NOT NULL,              -- JSON array of [name, value]; repeats kept in order
    content_type   TEXT,
    body           BLOB    NOT NULL,
    body_size      INTEGER NOT NULL,              -- bytes received, or declared when rejected
    remote_addr    TEXT,
    kz_event_type  TEXT,
    kz_event_id    TEXT,
    kz_object_type TEXT,
    kz_object_id   TEXT
) STRICT;

CREATE INDEX requests_by_bin ON requests (bin_id, id);
CREATE INDEX requests_by_event_type ON requests (bin_id, kz_event_type, id)
    WHERE kz_event_type IS NOT NULL;
CREATE INDEX requests_by_event_id ON requests (bin_id, kz_event_id, id)
    WHERE kz_event_id IS NOT NULL;

-- Per-bin counts of each Kaizala event type, for the filter chips; kept by the writer.
CREATE TABLE bin_event_counts (
    bin_id     TEXT    NOT NULL REFERENCES bins (id) ON DELETE CASCADE,
    event_type TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (bin_id, event_type)
) STRICT, WITHOUT ROWID;
