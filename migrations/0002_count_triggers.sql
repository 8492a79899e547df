-- The per-bin request count and event-type counts follow every insert and delete through
-- triggers, so a batch of captures is one INSERT statement (its own transaction) and no
-- delete path can forget to recount.

CREATE TRIGGER requests_counted_in AFTER INSERT ON requests
BEGIN
    UPDATE bins SET request_count = request_count + 1 WHERE id = NEW.bin_id;
END;

CREATE TRIGGER requests_event_counted_in AFTER INSERT ON requests
WHEN NEW.kz_event_type IS NOT NULL
BEGIN
    INSERT INTO bin_event_counts (bin_id, event_type, count)
    VALUES (NEW.bin_id, NEW.kz_event_type, 1)
    ON CONFLICT (bin_id, event_type) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER requests_counted_out AFTER DELETE ON requests
BEGIN
    UPDATE bins SET request_count = request_count - 1 WHERE id = OLD.bin_id;
END;

CREATE TRIGGER requests_event_counted_out AFTER DELETE ON requests
WHEN OLD.kz_event_type IS NOT NULL
BEGIN
    UPDATE bin_event_counts SET count = count - 1
    WHERE bin_id = OLD.bin_id AND event_type = OLD.kz_event_type;
    DELETE FROM bin_event_counts
    WHERE bin_id = OLD.bin_id AND event_type = OLD.kz_event_type AND count <= 0;
END;
