//! The route table shared by the server and the tests, the state handlers receive, and the
//! small helpers every page and API answer uses.

mod api;
mod errors;
mod events;
mod pages;
mod view;

pub use errors::{html_errors, security_headers};
pub use view::{human_size, RequestCard};

use std::{path::Path, sync::Arc};

use actix_web::{web, HttpRequest, HttpResponse};

use crate::{capture, config::Config, error::AppError, store::Store};

/// What every handler receives.
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Permits for body bytes held by captures in flight, so memory stays bounded under load.
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Turns true when the server begins to shut down, so live streams can end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    /// The base of capture URLs: `--public-url`, else the scheme and Host this request came with.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        match &self.config.public_url {
            Some(url) => url.clone(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }
}

/// Registers every route. Specific paths come first; captures take the rest.
pub fn routes(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    cfg.route("/healthz", web::get().to(health))
        .service(actix_files::Files::new("/static", static_dir).prefer_utf8(true))
        .service(api::scope())
        .route("/", web::get().to(pages::home))
        .route("/bins", web::post().to(pages::create_bin))
        .service(
            web::scope("/inspect")
                .route("/{bin}", web::get().to(pages::inspect))
                .route("/{bin}/events", web::get().to(events::events))
                .route("/{bin}/clear", web::post().to(pages::clear_form))
                .route("/{bin}/delete", web::post().to(pages::delete_form))
                .route(
                    "/{bin}/cards/{request}",
                    web::get().to(pages::card_fragment),
                )
                .route("/{bin}/{request}", web::get().to(pages::inspect_request))
                .route(
                    "/{bin}/{request}/delete",
                    web::post().to(pages::delete_request_form),
                )
                .default_service(web::to(not_found)),
        )
        // Everything else is a capture (`/{bin}` and any path below it). As the default
        // service it costs no pattern matching, which is most of routing's price.
        .default_service(web::to(capture::capture));
}

/// `GET /healthz`: 200 when the store answers.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(err) => {
            tracing::error!(error = %err, "health check: store did not answer");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("store unavailable\n")
        }
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
