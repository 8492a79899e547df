//! The floor server for the benchmarks: the least a durable capture can cost on binspector's
//! stack. It is the reference design, "a single writer with group commit" and
//! multi-row INSERTs, with nothing else: each request's body goes over a bounded channel to
//! one writer task, which inserts what is queued (up to 64 rows) into a table with no index,
//! trigger or other column, commits (SQLite WAL, `synchronous=NORMAL`, SQLite's own
//! checkpoints), and only then lets the request be answered 200. HTTPS is set up exactly as
//! binspector's and the control's (`binspector::tls::from_pem_files`).
//!
//! It parses nothing, recognises nothing and keeps no counts, so the gap between it and the
//! bare control is what durable group commit itself costs here.
//!
//! Run: `cargo run --release --example floor -- --listen 127.0.0.1:9444 \
//!   --cert DATA/tls/cert.pem --key DATA/tls/key.pem --workers 2 --database /tmp/floor.db`

use std::{collections::HashMap, path::PathBuf};

use actix_web::{web, App, HttpResponse, HttpServer};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use futures_util::StreamExt;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    ConnectOptions, SqliteConnection,
};
use tokio::sync::{mpsc, oneshot};

/// Rows per INSERT at most, as in the reference figure.
const MAX_BATCH: usize = 64;

mod common;

/// Flags of the floor server.
#[derive(Debug, Parser)]
#[command(
    name = "floor",
    about = "Durable group-commit floor server for benchmarks."
)]
struct Args {
    #[command(flatten)]
    server: common::Listener,
    /// SQLite database file (created if missing).
    #[arg(long)]
    database: PathBuf,
}

/// A body waiting to be written, and who waits for its commit.
type Job = (Bytes, oneshot::Sender<bool>);

/// Reads the whole body, waits until the writer has committed it, then answers.
async fn answer(
    mut payload: web::Payload,
    writer: web::Data<mpsc::Sender<Job>>,
) -> actix_web::Result<HttpResponse> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
    }
    let bytes = body.len();
    let (ack, committed) = oneshot::channel();
    let stored = writer.send((body.freeze(), ack)).await.is_ok() && committed.await == Ok(true);
    Ok(if stored {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(format!("{{\"stored\":true,\"bytes\":{bytes}}}"))
    } else {
        HttpResponse::ServiceUnavailable().body("not stored\n")
    })
}

/// Drains the queue in batches of up to [`MAX_BATCH`], one INSERT and one commit each.
async fn write(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Job>) {
    let mut statements: HashMap<usize, String> = HashMap::new();
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let sql = statements.entry(batch.len()).or_insert_with_key(|rows| {
            format!(
                "INSERT INTO requests (body) VALUES {}",
                vec!["(?)"; *rows].join(", ")
            )
        });
        let mut insert = sqlx::query(sql.as_str());
        let mut acks = Vec::with_capacity(batch.len());
        for (body, ack) in batch.drain(..) {
            insert = insert.bind(Vec::from(body));
            acks.push(ack);
        }
        let stored = match insert.execute(&mut conn).await {
            Ok(_) => true,
            Err(err) => {
                eprintln!("floor: writing a batch failed: {err}");
                false
            }
        };
        for ack in acks {
            let _ = ack.send(stored);
        }
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let tls = args.server.tls()?;
    let mut conn = SqliteConnectOptions::new()
        .filename(&args.database)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .connect()
        .await
        .map_err(std::io::Error::other)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        .execute(&mut conn)
        .await
        .map_err(std::io::Error::other)?;
    let (jobs, queue) = mpsc::channel::<Job>(1_024);
    drop(tokio::spawn(write(conn, queue)));
    let jobs = web::Data::new(jobs);
    println!("floor server listening on https://{}/", args.server.listen);
    HttpServer::new(move || {
        App::new()
            .app_data(jobs.clone())
            .default_service(web::to(answer))
    })
    .workers(args.server.workers.max(1))
    .keep_alive(std::time::Duration::from_secs(30))
    .bind_rustls_0_23(args.server.listen, tls)?
    .run()
    .await
}
