//! Upgrading a database written by an earlier schema keeps every bin, request and count.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use binspector::store::{new_bin_id, Listing, Store};
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
async fn upgrades_keep_every_request_count_duplicate_link_and_body_and_number_requests_per_bin() {
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
    // One body larger than the part listings read, to see it split and joined again.
    let large: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
    for (id, bin, event_type, event_id) in rows {
        let body = if id == 4 {
            large.clone()
        } else {
            b"{}".to_vec()
        };
        sqlx::query(
            "INSERT INTO requests (id, bin_id, received_at, outcome, method, path, query, \
             headers, body, body_size, kz_event_type, kz_event_id) \
             VALUES (?, ?, ?, 'stored', 'POST', '/', '', '[[\"a\",\"b\"]]', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(bin)
        .bind(1_795_733_333_000 + id)
        .bind(&body)
        .bind(body.len() as i64)
        .bind(event_type)
        .bind(event_id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    // Opening the store applies the rest.
    let store = Store::open(&url, 16, None, Default::default())
        .await
        .unwrap();
    let bin = store.bin(&kept).await.unwrap().unwrap();
    assert_eq!((bin.created_at, bin.request_count), (1, 3));
    let all = Listing {
        limit: 10,
        body_prefix: 1024,
        ..Listing::default()
    };
    let page = store.requests(&bin, &all).await.unwrap();
    // Requests are numbered within their bin, in the order they came.
    let ids: Vec<i64> = page.requests.iter().map(|r| r.id).collect();
    assert_eq!(ids, [3, 2, 1]);
    assert!(page.requests.iter().all(|r| r.bin_id == kept));
    assert_eq!(page.requests[1].duplicate_of, Some(1));
    assert_eq!(page.requests[1].headers[0].value, b"b");
    // The listing read the start of the large body; the request itself has all of it.
    assert_eq!(page.requests[0].body.len(), 1024);
    assert!(page.requests[0].body_truncated);
    assert_eq!(store.request(&bin, 3).await.unwrap().unwrap().body, large);
    assert_eq!(
        store.event_counts(&bin).await.unwrap(),
        [
            ("TextMessageCreated".to_owned(), 2),
            ("MemberAdded".to_owned(), 1)
        ]
    );
    let filtered = Listing {
        event_type: Some("MemberAdded"),
        ..all.clone()
    };
    assert_eq!(
        store
            .requests(&bin, &filtered)
            .await
            .unwrap()
            .requests
            .len(),
        1
    );
    let other_bin = store.bin(&other).await.unwrap().unwrap();
    let others = store.requests(&other_bin, &all).await.unwrap().requests;
    assert_eq!(others.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);

    // The next capture in a bin continues its numbers.
    let next = store
        .writer()
        .capture(
            binspector::store::NewRequest {
                bin_id: kept.clone(),
                received_at: 1_795_733_334_000,
                outcome: binspector::store::Outcome::Stored,
                method: "POST".to_owned(),
                path: "/".to_owned(),
                query: String::new(),
                headers_json: "[]".to_owned(),
                trailers_json: None,
                content_type: None,
                body: bytes::Bytes::from_static(b"next"),
                body_size: 4,
                remote_addr: None,
                kaizala: None,
                event_key: None,
                asks: Default::default(),
                callback_token: None,
                started: std::time::Instant::now(),
            },
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(next.id, 4);

    // The upgraded schema still counts and cascades.
    store
        .writer()
        .run(binspector::store::Command::DeleteBin { id: other.clone() })
        .await
        .unwrap();
    assert_eq!(store.total_requests().await.unwrap(), 4);
    store.close().await;
}

#[actix_web::test]
async fn bins_from_before_settings_get_defaults_and_a_token_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("binspector.db").display()
    );
    let (one, two) = (new_bin_id(), new_bin_id());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    migrations_up_to(5).run(&mut conn).await.unwrap();
    for bin in [&one, &two] {
        sqlx::query("INSERT INTO bins (id, created_at) VALUES (?, 1)")
            .bind(bin)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // A validationToken handshake, the only kind there was.
    sqlx::query(
        "INSERT INTO requests (id, bin_key, seq, received_at, outcome, method, path, query, \
         headers, body_size, body_head, body_rest) SELECT 1, key, 1, 5, 'handshake', 'GET', '/', \
         'validationToken=t', '[]', 0, x'', x'' FROM bins WHERE id = ?",
    )
    .bind(&one)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = Store::open(&url, 16, None, Default::default())
        .await
        .unwrap();
    let bin = store.bin(&one).await.unwrap().unwrap();
    let settings = bin.settings();
    let token = settings.kaizala.callback_token.clone().unwrap();
    assert_eq!(token.len(), 32);
    assert!(settings.handshakes.validation_token && settings.response.is_none());
    let other = store.bin(&two).await.unwrap().unwrap().settings();
    assert_ne!(other.kaizala.callback_token, Some(token));
    let request = store.request(&bin, 1).await.unwrap().unwrap();
    assert_eq!(
        request.handshake,
        Some(binspector::settings::answer::Handshake::ValidationToken)
    );
    assert_eq!(request.response, None, "no answer was recorded then");
    store.close().await;
}
