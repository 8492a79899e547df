//! The one error type for requests: it picks the status and a message safe to show.
//! Internal causes are logged here and never sent to the client.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;

use crate::{budget::BudgetError, settings::Invalid, store::WriterError, streams::SlotError};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The bin id is malformed or the bin does not exist.
    #[error("no such bin")]
    BinNotFound,
    /// The request id is malformed or not in this bin.
    #[error("no such request")]
    RequestNotFound,
    /// Any other path that leads nowhere.
    #[error("nothing here")]
    NotFound,
    /// The path exists, but not for this method; `allow` lists the methods it takes.
    #[error("this method is not allowed here (allowed: {allow})")]
    MethodNotAllowed { allow: &'static str },
    /// The client sent something we cannot act on; the text says what.
    #[error("{0}")]
    BadRequest(String),
    /// A request head the server would not take (400, 408, 414 or 431); the text says why.
    #[error("{message}")]
    HeadRefused { status: u16, message: String },
    /// The body stopped arriving, or did not arrive within the body timeout.
    #[error("{0}")]
    BodyTimeout(String),
    /// The access token is on and this request brought neither it nor a session.
    #[error("this needs the access token: send Authorization: Bearer TOKEN, or log in at /login")]
    Unauthorized,
    /// A rate limit refused this request; `retry_after` is in whole seconds.
    #[error("{message}; retry in {retry_after} s")]
    RateLimited { message: String, retry_after: u64 },
    /// A bin setting out of its range; the field is named.
    #[error("{0}")]
    InvalidSetting(#[from] Invalid),
    /// A sample event could not be sent to the bin; the text says why.
    #[error("the sample could not be sent: {0}")]
    SampleNotSent(String),
    /// A state-changing form arrived from another site.
    #[error("this form must be sent from binspector's own pages")]
    CrossSite,
    /// The write queue stayed full; the client should retry.
    #[error("binspector is busy storing other requests; retry in a moment")]
    Busy,
    /// A memory budget for bodies stayed exhausted, or this client holds its share of it.
    #[error("{0}; retry in a moment")]
    MemoryBusy(#[from] BudgetError),
    /// No live-stream slot is free.
    #[error("{0}")]
    StreamsFull(#[from] SlotError),
    /// The store is shutting down.
    #[error("binspector is shutting down")]
    ShuttingDown,
    /// Writes no longer reach the database file; the writer logged why.
    #[error("binspector cannot store requests right now; retry later")]
    StorageUnavailable,
    /// The database failed.
    #[error("something went wrong on our side")]
    Database(#[from] sqlx::Error),
    /// A page template failed to render.
    #[error("something went wrong on our side")]
    Render(#[from] askama::Error),
    /// Work handed to the blocking pool did not come back (the pool is shutting down).
    #[error("something went wrong on our side")]
    Blocking(#[from] actix_web::error::BlockingError),
    /// A write failed; the writer logged why.
    #[error("something went wrong on our side")]
    WriteFailed,
}

impl From<WriterError> for AppError {
    fn from(err: WriterError) -> Self {
        match err {
            WriterError::BinNotFound => AppError::BinNotFound,
            WriterError::RequestNotFound => AppError::RequestNotFound,
            WriterError::QueueFull => AppError::Busy,
            WriterError::Closed => AppError::ShuttingDown,
            WriterError::Failed => AppError::WriteFailed,
            WriterError::Unavailable(_) => AppError::StorageUnavailable,
            WriterError::RateLimited(wait) => AppError::RateLimited {
                message: "this bin is over its capture limit".to_owned(),
                retry_after: crate::limits::retry_after_secs(wait),
            },
        }
    }
}

/// The JSON shape of every error.
#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub status: u16,
    /// For a refused setting: its path in the settings object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl AppError {
    /// Seconds a client should wait before trying again, for errors that pass.
    fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Busy
            | AppError::MemoryBusy(_)
            | AppError::StreamsFull(_)
            | AppError::ShuttingDown => Some(1),
            AppError::StorageUnavailable => Some(60),
            AppError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BinNotFound | AppError::RequestNotFound | AppError::NotFound => {
                StatusCode::NOT_FOUND
            }
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::InvalidSetting(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::SampleNotSent(_) => StatusCode::BAD_GATEWAY,
            AppError::HeadRefused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            AppError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::CrossSite => StatusCode::FORBIDDEN,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy
            | AppError::MemoryBusy(_)
            | AppError::StreamsFull(_)
            | AppError::ShuttingDown
            | AppError::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_)
            | AppError::Render(_)
            | AppError::Blocking(_)
            | AppError::WriteFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// JSON by default; the pages middleware swaps in an HTML page for browsers.
    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Database(cause) => tracing::error!(error = %cause, "database error"),
            AppError::Render(cause) => tracing::error!(error = %cause, "template error"),
            _ => {}
        }
        let status = self.status_code();
        let message = self.to_string();
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.retry_after() {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        if let AppError::Unauthorized = self {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"binspector\""));
        }
        if matches!(
            self,
            AppError::HeadRefused { .. } | AppError::BodyTimeout(_) | AppError::StreamsFull(_)
        ) {
            // The connection is in an unknown state (or is one a stranger should not keep).
            response.force_close();
        }
        if let AppError::MethodNotAllowed { allow } = self {
            response.insert_header(("Allow", *allow));
        }
        response.json(ErrorBody {
            error: &message,
            status: status.as_u16(),
            field: match self {
                AppError::InvalidSetting(invalid) => Some(&invalid.field),
                _ => None,
            },
        })
    }
}
