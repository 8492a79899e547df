-- What the access and abuse limits need to know about each bin.
--
-- active_at      the newest capture or visit (Unix ms): --bin-retention deletes bins idle longer.
--                Captures move it through the insert trigger (the row it already updates);
--                visits are gathered in memory and written by the sweeper.
-- dropped_count  captures refused by --capture-limit: answered 429 and not stored.
-- dropped_since  when the first of them was refused (Unix ms), NULL while none was.

ALTER TABLE bins ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bins ADD COLUMN dropped_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bins ADD COLUMN dropped_since INTEGER;

UPDATE bins SET active_at = MAX(created_at,
    COALESCE((SELECT MAX(received_at) FROM requests WHERE bin_key = bins.key), 0));

-- No index on active_at: every capture moves it, and the sweeper looks for idle bins only
-- now and then (a scan of the bins table, not of requests).

DROP TRIGGER requests_counted_in;
CREATE TRIGGER requests_counted_in AFTER INSERT ON requests
BEGIN
    UPDATE bins SET request_count = request_count + 1, last_seq = MAX(last_seq, NEW.seq),
        active_at = MAX(active_at, NEW.received_at)
    WHERE key = NEW.bin_key;
END;
