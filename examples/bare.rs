//! The bare control server for the benchmarks: the same stack as binspector (actix-web over
//! rustls 0.23, configured by binspector's own `tls::from_pem_files` from the same PEM
//! certificate, and the same worker count), but every request to any path is read fully and
//! answered 200 with a small JSON body, storing nothing.
//!
//! Run: `cargo run --release --example bare -- --listen 127.0.0.1:9443 \
//!   --cert DATA/tls/cert.pem --key DATA/tls/key.pem --workers 2`

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use bytes::BytesMut;
use clap::Parser;
use futures_util::StreamExt;

mod common;

/// Flags of the control server.
#[derive(Debug, Parser)]
#[command(
    name = "bare",
    about = "Bare actix-web + rustls control server for benchmarks."
)]
struct Args {
    #[command(flatten)]
    server: common::Listener,
}

/// Reads the whole body, then answers with a small JSON body.
async fn answer(mut payload: web::Payload) -> actix_web::Result<HttpResponse> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(format!("{{\"stored\":false,\"bytes\":{}}}", body.len())))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let Args { server } = Args::parse();
    let tls = server.tls()?;
    println!(
        "bare control server listening on https://{}/",
        server.listen
    );
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .workers(server.workers.max(1))
        .keep_alive(Duration::from_secs(30))
        .bind_rustls_0_23(server.listen, tls)?
        .run()
        .await
}
