-- Repeat deliveries are found when they are written, and two indexes go.
--
-- requests.kz_event_key   the first 8 bytes of a SHA-256 of the event's type, id and object id
--                         (src/store/duplicates.rs), NULL when it is not a Kaizala event with an
--                         eventId; the writer keeps each bin's recent keys in memory and reads
--                         them back from requests_by_bin. NULL for requests stored before this
--                         migration (SQL cannot compute it), so their repeats arriving later
--                         are not recognised.
-- requests.duplicate_of   the number of the first delivery of the same event in the bin, NULL
--                         for a first delivery; worked out here for the existing requests with
--                         the index it replaces.
--
-- requests_by_event_id inserted a random key per capture: each one dirtied a page of its own,
-- written to the WAL and copied back at the checkpoint, about 20 µs a capture (BENCHMARKS.md).
-- requests_by_event_type cost another ~7 µs for the event-type filter, which now reads the type
-- from requests_by_bin, which holds it. As in 0004 and 0006 the new columns go before the
-- bodies, so the table is rebuilt.


CREATE TABLE requests_v7 (
    id                  INTEGER PRIMARY KEY NOT NULL,
    bin_key             INTEGER NOT NULL REFERENCES bins (key) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    outcome             TEXT    NOT NULL,
    method              TEXT    NOT NULL,
    path                TEXT    NOT NULL,
    query               TEXT    NOT NULL,
    headers             TEXT    NOT NULL,
    trailers            TEXT,
    content_type        TEXT,
    body_size           INTEGER NOT NULL,
    remote_addr         TEXT,
    kz_event_type       TEXT,
    kz_event_id         TEXT,
    kz_object_type      TEXT,
    kz_object_id        TEXT,
    kz_event_key        INTEGER,
    duplicate_of        INTEGER,
    handshake           TEXT,
    kz_token            TEXT,
    kz_context_ok       INTEGER,
    response_status     INTEGER,
    response_latency_ms INTEGER,
    body_head           BLOB    NOT NULL,
    body_rest           BLOB    NOT NULL
) STRICT;

INSERT INTO requests_v7
    SELECT r.id, r.bin_key, r.seq, r.received_at, r.outcome, r.method, r.path, r.query,
        r.headers, r.trailers, r.content_type, r.body_size, r.remote_addr, r.kz_event_type,
        r.kz_event_id, r.kz_object_type, r.kz_object_id, NULL,
        (SELECT MIN(d.seq) FROM requests d WHERE d.bin_key = r.bin_key
            AND d.kz_event_id = r.kz_event_id AND d.kz_event_type = r.kz_event_type
            AND d.kz_object_id IS r.kz_object_id AND d.seq < r.seq),
        r.handshake, r.kz_token, r.kz_context_ok, r.response_status, r.response_latency_ms,
        r.body_head, r.body_rest
    FROM requests r
    ORDER BY r.id;

DROP TABLE requests;
ALTER TABLE requests_v7 RENAME TO requests;

-- Listings walk a bin's requests by number and may filter on the event type; the writer reads
-- a bin's recent event keys. All three come from this one index, without the rows. It no
-- longer enforces that (bin_key, seq) is unique, which would take a second index per capture:
-- only the writer hands numbers out, from bins.last_seq, which the trigger below moves in the
-- same statement as the rows.
CREATE INDEX requests_by_bin ON requests (bin_key, seq, kz_event_type, kz_event_key);

CREATE TRIGGER requests_counted_in AFTER INSERT ON requests
BEGIN
    UPDATE bins SET request_count = request_count + 1, last_seq = MAX(last_seq, NEW.seq),
        active_at = MAX(active_at, NEW.received_at)
    WHERE key = NEW.bin_key;
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
