//! The one error type for requests: it picks the status and a message safe to show.
//! Internal causes are logged here and never sent to the client.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::WriterError;

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
    /// The client sent something we cannot act on; the text says what.
    #[error("{0}")]
    BadRequest(String),
    /// A state-changing form arrived from another site.
    #[error("this form must be sent from binspector's own pages")]
    CrossSite,
    /// The write queue stayed full; the client should retry.
    #[error("binspector is busy storing other requests; retry in a moment")]
    Busy,
    /// The store is shutting down.
    #[error("binspector is shutting down")]
    ShuttingDown,
    /// The database failed.
    #[error("something went wrong on our side")]
    Database(#[from] sqlx::Error),
    /// A page template failed to render.
    #[error("something went wrong on our side")]
    Render(#[from] askama::Error),
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
        }
    }
}

/// The JSON shape of every error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    status: u16,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BinNotFound | AppError::RequestNotFound | AppError::NotFound => {
                StatusCode::NOT_FOUND
            }
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::CrossSite => StatusCode::FORBIDDEN,
            AppError::Busy | AppError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Render(_) | AppError::WriteFailed => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
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
        if matches!(self, AppError::Busy | AppError::ShuttingDown) {
            response.insert_header(("Retry-After", "1"));
        }
        response.json(ErrorBody {
            error: &message,
            status: status.as_u16(),
        })
    }
}
