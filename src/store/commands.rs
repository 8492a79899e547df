//! The SQL of the writer's commands: creating and deleting bins and requests, the sweeper's
//! trims, and the health check's probe. The count triggers keep `request_count` and the
//! event-type counts right on every delete.

use sqlx::SqliteConnection;

use super::Command;

/// Runs a command in its own transaction; `None` means its target did not exist.
pub(super) async fn run(
    conn: &mut SqliteConnection,
    command: &Command,
) -> Result<Option<u64>, sqlx::Error> {
    let rows = match command {
        Command::CreateBin {
            id,
            created_at,
            settings,
        } => sqlx::query(
            "INSERT INTO bins (id, created_at, active_at, settings) VALUES (?1, ?2, ?2, ?3)",
        )
        .bind(id)
        .bind(created_at)
        .bind(&settings.0)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Command::PutSettings { bin_id, settings } => {
            sqlx::query("UPDATE bins SET settings = ? WHERE id = ?")
                .bind(&settings.0)
                .bind(bin_id)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        }
        Command::DeleteBin { id } => sqlx::query("DELETE FROM bins WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        Command::ClearBin { id } => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let key: Option<i64> = sqlx::query_scalar("SELECT key FROM bins WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(key) = key else { return Ok(None) };
            let rows = sqlx::query("DELETE FROM requests WHERE bin_key = ?")
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            return Ok(Some(rows));
        }
        Command::DeleteRequest { bin_id, id } => sqlx::query(
            "DELETE FROM requests WHERE bin_key = (SELECT key FROM bins WHERE id = ?) \
             AND seq = ?",
        )
        .bind(bin_id)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Command::TrimBin {
            bin_id,
            keep,
            limit,
        } => {
            let bin: Option<(i64, i64)> =
                sqlx::query_as("SELECT key, request_count FROM bins WHERE id = ?")
                    .bind(bin_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some((key, count)) = bin else {
                return Ok(None);
            };
            let excess = u64::try_from(count).unwrap_or(0).saturating_sub(*keep);
            let take = excess.min(u64::from(*limit));
            if take == 0 {
                return Ok(Some(0));
            }
            sqlx::query(
                "DELETE FROM requests WHERE id IN \
                 (SELECT id FROM requests WHERE bin_key = ? ORDER BY seq LIMIT ?)",
            )
            .bind(key)
            .bind(i64::try_from(take).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }
        Command::Expire { before, limit } => {
            // Ids grow with time, so only the oldest `limit` rows can be due: no scan.
            sqlx::query(
                "DELETE FROM requests WHERE id IN (SELECT id FROM \
                 (SELECT id, received_at FROM requests ORDER BY id LIMIT ?) \
                 WHERE received_at < ?)",
            )
            .bind(limit)
            .bind(before)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }
        Command::Shed { limit } => sqlx::query(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY id LIMIT ?)",
        )
        .bind(limit)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Command::TrimIdle {
            bin_id,
            before,
            limit,
        } => sqlx::query(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE bin_key = \
             (SELECT key FROM bins WHERE id = ? AND active_at < ?) ORDER BY seq LIMIT ?)",
        )
        .bind(bin_id)
        .bind(before)
        .bind(limit)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Command::DeleteIdle { bin_id, before } => {
            sqlx::query("DELETE FROM bins WHERE id = ? AND active_at < ?")
                .bind(bin_id)
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        }
        Command::Activity {
            at,
            visited,
            dropped,
        } => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for id in visited {
                sqlx::query("UPDATE bins SET active_at = MAX(active_at, ?) WHERE id = ?")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, drops) in dropped {
                sqlx::query(
                    "UPDATE bins SET dropped_count = dropped_count + ?, \
                     dropped_since = COALESCE(dropped_since, ?) WHERE id = ?",
                )
                .bind(i64::try_from(drops.count).unwrap_or(i64::MAX))
                .bind(drops.since)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            0
        }
        Command::Vacuum { pages } => {
            sqlx::query(&format!("PRAGMA incremental_vacuum({pages})"))
                .execute(&mut *conn)
                .await?;
            0
        }
        Command::Probe { at } => sqlx::query(
            "INSERT INTO write_probe (id, written_at, payload) VALUES (1, ?, zeroblob(65536)) \
             ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, \
             payload = excluded.payload",
        )
        .bind(at)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    let found = match command {
        Command::DeleteBin { .. } | Command::DeleteRequest { .. } | Command::PutSettings { .. } => {
            rows > 0
        }
        _ => true,
    };
    Ok(found.then_some(rows))
}
