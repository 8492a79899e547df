//! binspector: a self-hosted request inspector that understands Microsoft Kaizala webhooks.

/// The capture handler: stores every request sent to a bin, then answers.
pub mod capture;
/// Wall-clock time as stored and as shown.
pub mod clock;
/// Command-line flags and environment variables, validated once at startup.
pub mod config;
/// The request error type and how it is rendered.
pub mod error;
/// Recognising and summarising Kaizala webhook events.
pub mod kaizala;
/// Body views computed as data: JSON tokens, form fields, multipart parts, hex rows.
pub mod render;
/// Opening the store, TLS, listeners, background tasks and shutdown.
pub mod startup;
/// SQLite storage: the pool, migrations, the single writer task and read queries.
pub mod store;
/// TLS configuration: PEM files or a persisted self-signed certificate.
pub mod tls;
/// The route table, pages, JSON API and health check.
pub mod web;
