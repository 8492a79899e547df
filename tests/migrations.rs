//! Upgrading a database written by an earlier schema keeps every bin, request and count.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use binspector::store::{new_bin_id, Store};
use sqlx::{Connection, SqliteConnection};

/// Migrations up to and including `last`, as an older binspector would have applied them.
fn migrations_up_to(last: i64) -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|migration| migration.version <= last)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator
}

#[actix_web::test]
async fn integer_bin_keys_keep_every_request_count_and_duplicate_link() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("binspector.db").display()
    );
    let (kept, other) = (new_bin_id(), new_bin_id());

    // A database as the 0002 schema left it: bins keyed by their UUID, counts kept by triggers.
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    migrations_up_to(2).run(&mut conn).await.unwrap();
    for (bin, created_at) in [(&kept, 1), (&other, 2)] {
        sqlx::query("INSERT INTO bins (id, created_at) VALUES (?, ?)")
            .bind(bin)
            .bind(created_at)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let rows: [(i64, &String, Option<&str>, Option<&str>); 4] = [
        (1, &kept, Some("TextMessageCreated"), Some("evt-1")),
        (2, &other, None, None),
        (3, &kept, Some("TextMessageCreated"), Some("evt-1")),
        (4, &kept, Some("MemberAdded"), Some("evt-2")),
    ];
    for (id, bin, event_type, event_id) in rows {
        sqlx::query(
            "INSERT INTO requests (id, bin_id, received_at, outcome, method, path, query, \
             headers, body, body_size, kz_event_type, kz_event_id) \
             VALUES (?, ?, ?, 'stored', 'POST', '/', '', '[]', x'7b7d', 2, ?, ?)",
        )
        .bind(id)
        .bind(bin)
        .bind(1_795_733_333_000 + id)
        .bind(event_type)
        .bind(event_id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    // Opening the store applies the rest.
    let store = Store::open(&url, 16).await.unwrap();
    let bin = store.bin(&kept).await.unwrap().unwrap();
    assert_eq!((bin.created_at, bin.request_count), (1, 3));
    let page = store.requests(&kept, None, 10, None).await.unwrap();
    let ids: Vec<i64> = page.requests.iter().map(|r| r.id).collect();
    assert_eq!(ids, [4, 3, 1]);
    assert!(page.requests.iter().all(|r| r.bin_id == kept));
    assert_eq!(page.requests[1].duplicate_of, Some(1));
    assert_eq!(
        store.event_counts(&kept).await.unwrap(),
        [
            ("TextMessageCreated".to_owned(), 2),
            ("MemberAdded".to_owned(), 1)
        ]
    );
    let filtered = store
        .requests(&kept, None, 10, Some("MemberAdded"))
        .await
        .unwrap();
    assert_eq!(filtered.requests.len(), 1);
    assert_eq!(
        store
            .requests(&other, None, 10, None)
            .await
            .unwrap()
            .requests
            .len(),
        1
    );

    // The upgraded schema still counts and cascades.
    store
        .writer()
        .run(binspector::store::Command::DeleteBin { id: other.clone() })
        .await
        .unwrap();
    assert_eq!(store.total_requests().await.unwrap(), 3);
    store.close().await;
}
