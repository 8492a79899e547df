-- Requests and event counts refer to their bin by a small integer key instead of the bin's
-- 36-character UUID. Every index entry of a request shrinks by about 35 bytes, so each
-- capture writes fewer index pages and the count triggers find their bin by rowid.
-- The UUID stays the bin's public id (unique, looked up once per query).

CREATE TABLE bins_v3 (
    key           INTEGER PRIMARY KEY NOT NULL,
    id            TEXT    NOT NULL UNIQUE,        -- lowercase hyphenated UUID v4
    created_at    INTEGER NOT NULL,
    request_count INTEGER NOT NULL DEFAULT 0      -- kept by triggers, so no page counts rows
) STRICT;
INSERT INTO bins_v3 (id, created_at, request_count)
    SELECT id, created_at, request_count FROM bins ORDER BY created_at, id;

CREATE TABLE requests_v3 (
    id             INTEGER PRIMARY KEY NOT NULL,
    bin_key        INTEGER NOT NULL REFERENCES bins_v3 (key) ON DELETE CASCADE,
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
INSERT INTO requests_v3
    SELECT r.id, b.key, r.received_at, r.outcome, r.method, r.path, r.query, r.headers,
        r.content_type, r.body, r.body_size, r.remote_addr, r.kz_event_type, r.kz_event_id,
        r.kz_object_type, r.kz_object_id
    FROM requests r JOIN bins_v3 b ON b.id = r.bin_id
    ORDER BY r.id;

CREATE TABLE bin_event_counts_v3 (
    bin_key    INTEGER NOT NULL REFERENCES bins_v3 (key) ON DELETE CASCADE,
    event_type TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (bin_key, event_type)
) STRICT, WITHOUT ROWID;
INSERT INTO bin_event_counts_v3
    SELECT b.key, c.event_type, c.count
    FROM bin_event_counts c JOIN bins_v3 b ON b.id = c.bin_id;

-- Children first: dropping a parent deletes through its cascades.
DROP TABLE bin_event_counts;
DROP TABLE requests;
DROP TABLE bins;
ALTER TABLE bins_v3 RENAME TO bins;
ALTER TABLE requests_v3 RENAME TO requests;
ALTER TABLE bin_event_counts_v3 RENAME TO bin_event_counts;

CREATE INDEX requests_by_bin ON requests (bin_key, id);
CREATE INDEX requests_by_event_type ON requests (bin_key, kz_event_type, id)
    WHERE kz_event_type IS NOT NULL;
CREATE INDEX requests_by_event_id ON requests (bin_key, kz_event_id, id)
    WHERE kz_event_id IS NOT NULL;

-- The counts follow every insert and delete, as in 0002.
CREATE TRIGGER requests_counted_in AFTER INSERT ON requests
BEGIN
    UPDATE bins SET request_count = request_count + 1 WHERE key = NEW.bin_key;
END;

CREATE TRIGGER requests_event_counted_in AFTER INSERT ON requests
WHEN NEW.kz_event_type IS NOT NULL
BEGIN
    INSERT INTO bin_event_counts (bin_key, event_type, count)
    VALUES (NEW.bin_key, NEW.kz_event_type, 1)
    ON CONFLICT (bin_key, event_type) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER requests_counted_out AFTER DELETE ON requests
BEGIN
    UPDATE bins SET request_count = request_count - 1 WHERE key = OLD.bin_key;
END;

CREATE TRIGGER requests_event_counted_out AFTER DELETE ON requests
WHEN OLD.kz_event_type IS NOT NULL
BEGIN
    UPDATE bin_event_counts SET count = count - 1
    WHERE bin_key = OLD.bin_key AND event_type = OLD.kz_event_type;
    DELETE FROM bin_event_counts
    WHERE bin_key = OLD.bin_key AND event_type = OLD.kz_event_type AND count <= 0;
END;
