-- The workbench: each bin's settings, and what each request was answered and how its Kaizala
-- token and context compared.
--
-- bins.settings           the bin's settings as JSON (DESIGN §7: response, fail_next, handshakes,
--                         kaizala), written whole by PUT and the form; fail_next.count goes down
--                         in the same transaction as each capture it fails. Existing bins get
--                         the defaults and a random callback token, as new bins do.
-- requests.handshake      which handshake answered it ('validation_token', 'slack', 'meta',
--                         'dropbox'), NULL for other outcomes.
-- requests.kz_token       'ok', 'mismatch' or 'missing': the kz-callback-token header against the
--                         bin's callback token when it came; NULL when not Kaizala or no token.
-- requests.kz_context_ok  1 or 0: the body's context against the bin's; NULL when none was set.
-- requests.response_status, requests.response_latency_ms
--                         the status it was answered and how long after it arrived (including
--                         any configured delay); NULL for requests stored before this migration.
--
-- The new request columns go before the bodies, which must stay the last columns: reading a
-- column after a large body walks its overflow pages. So the table is rebuilt, as in 0004.

ALTER TABLE bins ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
UPDATE bins SET settings = json_object('kaizala',
    json_object('callback_token', lower(hex(randomblob(16)))));

CREATE TABLE requests_v6 (
    id                  INTEGER PRIMARY KEY NOT NULL,
    bin_key             INTEGER NOT NULL REFERENCES bins (key) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    -- 'stored', 'rejected' (body over the limit, not kept) or 'handshake' (see handshake)
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
    handshake           TEXT,
    kz_token            TEXT,
    kz_context_ok       INTEGER,
    response_status     INTEGER,
    response_latency_ms INTEGER,
    body_head           BLOB    NOT NULL,
    body_rest           BLOB    NOT NULL
) STRICT;

-- Handshakes before this migration could only be validationToken ones.
INSERT INTO requests_v6
    SELECT id, bin_key, seq, received_at, outcome, method, path, query, headers, trailers,
        content_type, body_size, remote_addr, kz_event_type, kz_event_id, kz_object_type,
        kz_object_id, CASE outcome WHEN 'handshake' THEN 'validation_token' END, NULL, NULL,
        NULL, NULL, body_head, body_rest
    FROM requests
    ORDER BY id;

DROP TABLE requests;
ALTER TABLE requests_v6 RENAME TO requests;

CREATE UNIQUE INDEX requests_by_bin ON requests (bin_key, seq);
CREATE INDEX requests_by_event_type ON requests (bin_key, kz_event_type, seq)
    WHERE kz_event_type IS NOT NULL;
CREATE INDEX requests_by_event_id ON requests (bin_key, kz_event_id, seq)
    WHERE kz_event_id IS NOT NULL;

-- The triggers went with the old table; these are 0005's and 0004's, unchanged.
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
