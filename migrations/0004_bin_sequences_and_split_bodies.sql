-- Requests are numbered within their bin, bodies are split so that listings never read a whole
-- body, header bytes and chunked trailers are kept exactly, and writes can be probed.
--
-- seq        the request's number within its bin, shown in URLs and the API. The global id stays
--            the internal key: shown to users, it told anyone how much the whole service stored.
-- body_head  the first 64 KiB of the body: all that listings and inspect pages read.
-- body_rest  the remainder, as the last column, so that reading any other column of a row never
--            walks the overflow pages of a large body.
-- headers    JSON, in arrival order: [name, value] when the value is UTF-8, else
--            [name, value with U+FFFD, base64 of the exact bytes]. Rows written before this
--            migration keep their (name-sorted, lossy) headers.
-- trailers   the same shape, for the trailer section of a chunked body; NULL when none came.

ALTER TABLE bins ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;   -- the newest seq handed out

CREATE TABLE requests_v4 (
    id             INTEGER PRIMARY KEY NOT NULL,
    bin_key        INTEGER NOT NULL REFERENCES bins (key) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    -- 'stored', 'rejected' (body over the limit, not kept) or 'handshake' (answered validationToken)
    outcome        TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    query          TEXT    NOT NULL,
    headers        TEXT    NOT NULL,
    trailers       TEXT,
    content_type   TEXT,
    body_size      INTEGER NOT NULL,              -- bytes received, or declared when rejected
    remote_addr    TEXT,
    kz_event_type  TEXT,
    kz_event_id    TEXT,
    kz_object_type TEXT,
    kz_object_id   TEXT,
    body_head      BLOB    NOT NULL,
    body_rest      BLOB    NOT NULL
) STRICT;

-- substr() of an empty blob is NULL, hence the COALESCEs.
INSERT INTO requests_v4
    SELECT id, bin_key, ROW_NUMBER() OVER (PARTITION BY bin_key ORDER BY id), received_at,
        outcome, method, path, query, headers, NULL, content_type, body_size, remote_addr,
        kz_event_type, kz_event_id, kz_object_type, kz_object_id,
        COALESCE(substr(body, 1, 65536), x''), COALESCE(substr(body, 65537), x'')
    FROM requests
    ORDER BY id;

UPDATE bins SET last_seq = (SELECT COUNT(*) FROM requests_v4 WHERE bin_key = bins.key);

DROP TABLE requests;
ALTER TABLE requests_v4 RENAME TO requests;

CREATE UNIQUE INDEX requests_by_bin ON requests (bin_key, seq);
CREATE INDEX requests_by_event_type ON requests (bin_key, kz_event_type, seq)
    WHERE kz_event_type IS NOT NULL;
CREATE INDEX requests_by_event_id ON requests (bin_key, kz_event_id, seq)
    WHERE kz_event_id IS NOT NULL;

-- The counts follow every insert and delete, as in 0003; the insert also moves last_seq on.
CREATE TRIGGER requests_counted_in AFTER INSERT ON requests
BEGIN
    UPDATE bins SET request_count = request_count + 1, last_seq = MAX(last_seq, NEW.seq)
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

-- One row the health check rewrites through the writer, with a capture-sized payload, to learn
-- whether writes still land.
CREATE TABLE write_probe (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    written_at INTEGER NOT NULL,
    payload    BLOB    NOT NULL
) STRICT;
