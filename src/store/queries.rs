//! Read queries on the read pool. Every query walks an index from a bin's newest end (or a
//! primary key), so a page costs the same in a bin of ten requests as in one of a million.

use sqlx::{sqlite::SqliteRow, Row};

use super::{BinRecord, Outcome, RequestPage, Store, StoredRequest};
use crate::kaizala::KaizalaEvent;

/// Columns of a request, read from `requests r JOIN bins b` (the bin's public id is `b.id`).
const REQUEST_COLUMNS: &str = "r.id, b.id AS bin_id, r.received_at, r.outcome, r.method, r.path, \
    r.query, r.headers, r.content_type, r.body, r.body_size, r.remote_addr, r.kz_event_type, \
    r.kz_event_id, r.kz_object_type, r.kz_object_id, \
    (SELECT MIN(d.id) FROM requests d WHERE d.bin_key = r.bin_key \
        AND d.kz_event_id = r.kz_event_id AND d.id < r.id) AS duplicate_of";

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
        sqlx::query("SELECT id, created_at, request_count FROM bins WHERE id = ?")
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
            sqlx::QueryBuilder::new("SELECT id, created_at, request_count FROM bins WHERE id IN (");
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

    /// A page of a bin's requests, newest first, older than `before` when given, optionally
    /// only one Kaizala event type.
    pub async fn requests(
        &self,
        bin_id: &str,
        before: Option<i64>,
        limit: u32,
        event_type: Option<&str>,
    ) -> Result<RequestPage, sqlx::Error> {
        let mut query = sqlx::QueryBuilder::new(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests r JOIN bins b ON b.key = r.bin_key \
             WHERE b.id = "
        ));
        query.push_bind(bin_id);
        if let Some(event_type) = event_type {
            query.push(" AND r.kz_event_type = ").push_bind(event_type);
        }
        if let Some(before) = before {
            query.push(" AND r.id < ").push_bind(before);
        }
        // One extra row tells whether an older page exists.
        query
            .push(" ORDER BY r.id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = query.build().fetch_all(&self.read).await?;
        let mut requests = rows
            .iter()
            .map(request_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_before = if requests.len() > limit as usize {
            requests.truncate(limit as usize);
            requests.last().map(|request| request.id)
        } else {
            None
        };
        Ok(RequestPage {
            requests,
            next_before,
        })
    }

    /// One request of a bin.
    pub async fn request(
        &self,
        bin_id: &str,
        id: i64,
    ) -> Result<Option<StoredRequest>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests r JOIN bins b ON b.key = r.bin_key \
             WHERE r.id = ? AND b.id = ?"
        ))
        .bind(id)
        .bind(bin_id)
        .fetch_optional(&self.read)
        .await?
        .map(|row| request_from_row(&row))
        .transpose()
    }

    /// The Kaizala event types present in a bin, with how many of each, most frequent first.
    pub async fn event_counts(&self, bin_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT event_type, count FROM bin_event_counts \
             WHERE bin_key = (SELECT key FROM bins WHERE id = ?) AND count > 0 \
             ORDER BY count DESC, event_type",
        )
        .bind(bin_id)
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

    /// Total stored requests (sums the per-bin counters, no table scan).
    pub async fn total_requests(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COALESCE(SUM(request_count), 0) FROM bins")
            .fetch_one(&self.read)
            .await
    }
}

fn bin_from_row(row: &SqliteRow) -> Result<BinRecord, sqlx::Error> {
    Ok(BinRecord {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        request_count: row.try_get("request_count")?,
    })
}

fn request_from_row(row: &SqliteRow) -> Result<StoredRequest, sqlx::Error> {
    let headers: String = row.try_get("headers")?;
    let outcome: String = row.try_get("outcome")?;
    let event_type: Option<String> = row.try_get("kz_event_type")?;
    let kaizala = event_type.map(|event_type| -> Result<KaizalaEvent, sqlx::Error> {
        Ok(KaizalaEvent {
            event_type,
            event_id: row.try_get("kz_event_id")?,
            object_type: row.try_get("kz_object_type")?,
            object_id: row.try_get("kz_object_id")?,
        })
    });
    Ok(StoredRequest {
        id: row.try_get("id")?,
        bin_id: row.try_get("bin_id")?,
        received_at: row.try_get("received_at")?,
        outcome: Outcome::from_column(&outcome),
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        query: row.try_get("query")?,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        content_type: row.try_get("content_type")?,
        body: row.try_get("body")?,
        body_size: row.try_get("body_size")?,
        remote_addr: row.try_get("remote_addr")?,
        kaizala: kaizala.transpose()?,
        duplicate_of: row.try_get("duplicate_of")?,
    })
}

impl Store {
    /// Pages on SQLite's free list: space freed by deletes, reused before the file grows.
    pub async fn free_pages(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.read)
            .await
    }
}
