//! binspector: a self-hosted request inspector that understands Microsoft Kaizala webhooks.

/// The access token and the login session it opens.
pub mod access;
/// Trusted certificates from an ACME CA, obtained and renewed in the background.
pub mod acme;
/// Memory budgets for bodies in flight, with a share per client address.
pub mod budget;
/// The capture handler: stores every request sent to a bin, then answers.
pub mod capture;
/// Wall-clock time as stored and as shown.
pub mod clock;
/// Command-line flags and environment variables, validated once at startup.
pub mod config;
/// The data directory: private, and locked by one instance at a time.
pub mod datadir;
/// Content-Encoding decoding on demand, bounded in output.
pub mod decode;
/// The request error type and how it is rendered.
pub mod error;
/// What identifies one version of a file that is re-read when it changes.
pub mod file_version;
/// Header fields as received, and their stored JSON shape.
pub mod headers;
/// Recognising and summarising Kaizala webhook events.
pub mod kaizala;
/// Rate limits per client address and per bin, with bounded memory.
pub mod limits;
/// What a trusted proxy's forwarding headers say about the client.
pub mod proxy;
/// Body views computed as data: JSON tokens, form fields, multipart parts, hex rows.
pub mod render;
/// `binspector send-sample`: posting sample Kaizala events to a URL over HTTP(S).
pub mod send_sample;
/// The listeners: TLS, the HTTP/1 tap, and actix-http (HTTP/1.1 and HTTP/2) around the app.
pub mod server;
/// A bin's settings: its answers, handshakes and Kaizala checks.
pub mod settings;
/// Skipping a JSON value unbuilt, as strictly as parsing it.
pub mod skip;
/// Opening the store, TLS, listeners, background tasks and shutdown.
pub mod startup;
/// The state every handler receives.
pub mod state;
/// SQLite storage: the pool, migrations, the single writer task and read queries.
pub mod store;
/// Slots for live-event streams, capped in all and per client address.
pub mod streams;
/// TLS configuration: PEM files or a persisted self-signed certificate.
pub mod tls;
/// The route table, pages, JSON API and health check.
pub mod web;
