//! Read queries on the read pool. Every query walks an index from a bin's newest end (or a
//! primary key), so a page costs the same in a bin of ten requests as in one of a million; and
//! listings read only the first bytes of each body, so a page costs the same whatever size the
//! bodies are.

use sqlx::{sqlite::SqliteRow, Row};

use super::{
    BinRecord, Outcome, RequestPage, Response, Store, StoredRequest, TokenCheck, BODY_HEAD,
};
use crate::{headers, kaizala::KaizalaEvent, settings::answer::Handshake};

/// Columns of a request other than its body, read from [`REQUESTS`]. A duplicate is the same
/// event delivered again: the same `eventId`, `eventType` and `objectId` (Kaizala's own samples
/// reuse one `eventId` across event types, so the id alone is not enough). The writer found its
/// first delivery (see `duplicates.rs`); it is named while it is still stored, and whether its
/// body is byte for byte the first delivery's is read with it.
const META_COLUMNS: &str = "r.seq, r.received_at, r.outcome, r.method, r.path, r.query, \
    r.headers, r.trailers, r.content_type, r.body_size, r.remote_addr, r.kz_event_type, \
    r.kz_event_id, r.kz_object_type, r.kz_object_id, r.handshake, r.kz_token, \
    r.kz_context_ok, r.response_status, r.response_latency_ms, d.seq AS duplicate_of, \
    d.body_head = r.body_head AND d.body_rest = r.body_rest AS duplicate_identical";

/// The requests `r`, each with its first delivery `d` when it is a repeat still stored.
const REQUESTS: &str = "requests r LEFT JOIN requests d \
    ON d.bin_key = r.bin_key AND d.seq = r.duplicate_of";

/// Columns of a bin, for [`bin_from_row`].
const BIN_COLUMNS: &str =
    "key, id, created_at, request_count, dropped_count, dropped_since, settings";

/// Which rows of a bin a listing wants.
#[derive(Debug, Clone, Default)]
pub struct Listing<'a> {
    /// Only requests numbered below this.
    pub before: Option<i64>,
    /// Only this Kaizala event type.
    pub event_type: Option<&'a str>,
    /// At most this many.
    pub limit: u32,
    /// Bytes of each body to read (at most [`BODY_HEAD`]).
    pub body_prefix: usize,
}

impl Store {
    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
    }

    /// One bin, if it exists.
    pub async fn bin(&self, id: &str) -> Result<Option<BinRecord>, sqlx::Error> {
        sqlx::query(&format!("SELECT {BIN_COLUMNS} FROM bins WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .map(|row| bin_from_row(&row))
            .transpose()
    }

    /// The bins among `ids` that still exist, newest first.
    pub async fn bins(&self, ids: &[String]) -> Result<Vec<BinRecord>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            sqlx::QueryBuilder::new(format!("SELECT {BIN_COLUMNS} FROM bins WHERE id IN ("));
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        query.push(") ORDER BY created_at DESC");
        query
            .build()
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(bin_from_row)
            .collect()
    }

    /// A page of a bin's requests, newest first, each with only the first bytes of its body.
    pub async fn requests(
        &self,
        bin: &BinRecord,
        listing: &Listing<'_>,
    ) -> Result<RequestPage, sqlx::Error> {
        let prefix = listing.body_prefix.min(BODY_HEAD);
        let mut query =
            sqlx::QueryBuilder::new(format!("SELECT {META_COLUMNS}, substr(r.body_head, 1, "));
        query
            .push_bind(i64::try_from(prefix).unwrap_or(0))
            .push(format!(") AS body_head FROM {REQUESTS} WHERE r.bin_key = "))
            .push_bind(bin.key);
        if let Some(event_type) = listing.event_type {
            query.push(" AND r.kz_event_type = ").push_bind(event_type);
        }
        if let Some(before) = listing.before {
            query.push(" AND r.seq < ").push_bind(before);
        }
        // One extra row tells whether an older page exists.
        query
            .push(" ORDER BY r.seq DESC LIMIT ")
            .push_bind(i64::from(listing.limit) + 1);
        let rows = query.build().fetch_all(&self.read).await?;
        let mut requests = rows
            .iter()
            .map(|row| {
                let head: Option<Vec<u8>> = row.try_get("body_head")?;
                request_from_row(row, &bin.id, head.unwrap_or_default())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let limit = listing.limit as usize;
        let next_before = if requests.len() > limit {
            requests.truncate(limit);
            requests.last().map(|request| request.id)
        } else {
            None
        };
        Ok(RequestPage {
            requests,
            next_before,
        })
    }

    /// One request of a bin, with only the first `body_prefix` bytes of its body.
    pub async fn request_prefix(
        &self,
        bin: &BinRecord,
        seq: i64,
        body_prefix: usize,
    ) -> Result<Option<StoredRequest>, sqlx::Error> {
        let prefix = i64::try_from(body_prefix.min(BODY_HEAD)).unwrap_or(0);
        let row = sqlx::query(&format!(
            "SELECT {META_COLUMNS}, substr(r.body_head, 1, ?) AS body_head FROM {REQUESTS} \
             WHERE r.bin_key = ? AND r.seq = ?"
        ))
        .bind(prefix)
        .bind(bin.key)
        .bind(seq)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let head: Option<Vec<u8>> = row.try_get("body_head")?;
        request_from_row(&row, &bin.id, head.unwrap_or_default()).map(Some)
    }

    /// One request of a bin, with its whole body.
    pub async fn request(
        &self,
        bin: &BinRecord,
        seq: i64,
    ) -> Result<Option<StoredRequest>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {META_COLUMNS}, r.body_head, r.body_rest FROM {REQUESTS} \
             WHERE r.bin_key = ? AND r.seq = ?"
        ))
        .bind(bin.key)
        .bind(seq)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut body: Vec<u8> = row.try_get("body_head")?;
        let rest: Vec<u8> = row.try_get("body_rest")?;
        body.extend_from_slice(&rest);
        drop(rest);
        request_from_row(&row, &bin.id, body).map(Some)
    }

    /// The stored size of one request's body (to reserve memory before reading it whole).
    pub async fn body_size(&self, bin: &BinRecord, seq: i64) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT length(body_head) + length(body_rest) FROM requests \
             WHERE bin_key = ? AND seq = ?",
        )
        .bind(bin.key)
        .bind(seq)
        .fetch_optional(&self.read)
        .await
    }

    /// The Kaizala event types present in a bin, with how many of each, most frequent first.
    pub async fn event_counts(&self, bin: &BinRecord) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT event_type, count FROM bin_event_counts WHERE bin_key = ? AND count > 0 \
             ORDER BY count DESC, event_type",
        )
        .bind(bin.key)
        .fetch_all(&self.read)
        .await
    }

    /// Bins holding more than `keep` requests, for the sweeper.
    pub async fn bins_over(&self, keep: u64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM bins WHERE request_count > ?")
            .bind(i64::try_from(keep).unwrap_or(i64::MAX))
            .fetch_all(&self.read)
            .await
    }

    /// Bins not captured into or visited since `before` (Unix ms), the longest idle first.
    pub async fn idle_bins(&self, before: i64, limit: u32) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM bins WHERE active_at < ? ORDER BY active_at LIMIT ?")
            .bind(before)
            .bind(limit)
            .fetch_all(&self.read)
            .await
    }

    /// Total stored requests (sums the per-bin counters, no table scan).
    pub async fn total_requests(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COALESCE(SUM(request_count), 0) FROM bins")
            .fetch_one(&self.read)
            .await
    }

    /// The database file's size in bytes, and how many of them are free pages.
    pub async fn file_size(&self) -> Result<(u64, u64), sqlx::Error> {
        let (pages, free, page_size): (i64, i64, i64) = sqlx::query_as(
            "SELECT p.page_count, f.freelist_count, s.page_size \
             FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
        )
        .fetch_one(&self.read)
        .await?;
        let bytes = |pages: i64| u64::try_from(pages * page_size).unwrap_or(0);
        Ok((bytes(pages), bytes(free)))
    }

    /// Pages on SQLite's free list: space freed by deletes, reused before the file grows.
    pub async fn free_pages(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.read)
            .await
    }
}

fn bin_from_row(row: &SqliteRow) -> Result<BinRecord, sqlx::Error> {
    Ok(BinRecord {
        key: row.try_get("key")?,
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        request_count: row.try_get("request_count")?,
        dropped_count: row.try_get("dropped_count")?,
        dropped_since: row.try_get("dropped_since")?,
        settings: row.try_get("settings")?,
    })
}

fn request_from_row(
    row: &SqliteRow,
    bin_id: &str,
    body: Vec<u8>,
) -> Result<StoredRequest, sqlx::Error> {
    let headers: String = row.try_get("headers")?;
    let trailers: Option<String> = row.try_get("trailers")?;
    let outcome: String = row.try_get("outcome")?;
    let outcome = Outcome::from_column(&outcome);
    let event_type: Option<String> = row.try_get("kz_event_type")?;
    let kaizala = event_type.map(|event_type| -> Result<KaizalaEvent, sqlx::Error> {
        Ok(KaizalaEvent {
            event_type,
            event_id: row.try_get("kz_event_id")?,
            object_type: row.try_get("kz_object_type")?,
            object_id: row.try_get("kz_object_id")?,
            context: None,
        })
    });
    let body_size: i64 = row.try_get("body_size")?;
    Ok(StoredRequest {
        id: row.try_get("seq")?,
        bin_id: bin_id.to_owned(),
        received_at: row.try_get("received_at")?,
        outcome,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        query: row.try_get("query")?,
        headers: headers::from_json(&headers),
        trailers: trailers
            .as_deref()
            .map(headers::from_json)
            .unwrap_or_default(),
        content_type: row.try_get("content_type")?,
        body_truncated: outcome != Outcome::Rejected
            && i64::try_from(body.len()).unwrap_or(i64::MAX) < body_size,
        body,
        body_size,
        remote_addr: row.try_get("remote_addr")?,
        kaizala: kaizala.transpose()?,
        duplicate_of: row.try_get("duplicate_of")?,
        duplicate_identical: row.try_get("duplicate_identical")?,
        handshake: row
            .try_get::<Option<String>, _>("handshake")?
            .as_deref()
            .and_then(Handshake::from_column),
        token_check: row
            .try_get::<Option<String>, _>("kz_token")?
            .as_deref()
            .and_then(TokenCheck::from_column),
        context_ok: row.try_get("kz_context_ok")?,
        response: match (
            row.try_get::<Option<i64>, _>("response_status")?,
            row.try_get::<Option<i64>, _>("response_latency_ms")?,
        ) {
            (Some(status), Some(latency_ms)) => Some(Response {
                status: u16::try_from(status).unwrap_or(0),
                latency_ms,
            }),
            _ => None,
        },
    })
}
