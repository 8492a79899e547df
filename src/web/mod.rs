//! The app: its route table (shared by the server and the tests), the middleware around it, and
//! the health check.

mod access;
mod api;
mod errors;
mod events;
mod extract;
mod h2_bodies;
mod json;
mod login;
pub mod origin;
mod pages;
mod view;
mod workbench;

pub use errors::{html_errors, security_headers};
pub use extract::{ListParams, DEFAULT_LIMIT, MAX_LIMIT};
pub use view::{human_size, RequestCard};

use std::path::Path;

use actix_web::{
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    guard, middleware, web, App, HttpResponse,
};

use crate::{capture, error::AppError, state::AppState};

/// Largest settings form taken.
const SETTINGS_FORM_LIMIT: usize = 1024 * 1024;

/// The whole app for one worker: state, middleware and routes.
pub fn app(
    state: web::Data<AppState>,
    static_dir: &Path,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let static_dir = static_dir.to_owned();
    App::new()
        .app_data(state.clone())
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            AppError::BadRequest(format!("the query string is not valid: {err}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(web::FormConfig::default().error_handler(|err, _| {
            AppError::BadRequest(format!("the form is not valid: {err}")).into()
        }))
        .app_data(web::JsonConfig::default().error_handler(|err, _| {
            AppError::BadRequest(format!("the JSON body is not valid: {err}")).into()
        }))
        .wrap(middleware::from_fn(h2_bodies::finish_bodies))
        .wrap(middleware::from_fn(errors::raw_heads))
        .wrap(middleware::from_fn(html_errors))
        .wrap(middleware::from_fn(errors::hsts))
        .wrap(security_headers())
        .configure(|cfg| routes(cfg, &static_dir))
}

/// A route for GET and HEAD (actix answers HEAD without the body).
fn read() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A resource whose other methods are answered 405 with `Allow`, in the error shape.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(AppError::MethodNotAllowed { allow })
    }))
}

/// Registers every route. Specific paths come first; captures take the rest.
pub fn routes(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    cfg.service(resource("/healthz", "GET, HEAD").route(read().to(health)))
        .service(
            resource("/.well-known/acme-challenge/{token}", "GET, HEAD")
                .route(read().to(acme_http01)),
        )
        .service(
            web::scope("/static")
                // Static files can be cached (and revalidated); nothing in them is captured data.
                .wrap(middleware::DefaultHeaders::new().add(("Cache-Control", "no-cache")))
                .service(actix_files::Files::new("", static_dir).prefer_utf8(true)),
        )
        .service(
            resource("/login", "GET, HEAD, POST")
                .route(read().to(login::login_form))
                .route(web::post().to(login::login)),
        )
        .service(resource("/logout", "POST").route(web::post().to(login::logout)))
        .service(api::scope().wrap(middleware::from_fn(access::api)))
        .service(
            resource("/", "GET, HEAD")
                .route(read().to(pages::home))
                .wrap(middleware::from_fn(access::pages)),
        )
        .service(
            resource("/bins", "POST")
                .route(web::post().to(pages::create_bin))
                .wrap(middleware::from_fn(access::pages)),
        )
        .service(
            web::scope("/inspect")
                .wrap(middleware::from_fn(access::pages))
                .service(resource("/{bin}", "GET, HEAD").route(read().to(pages::inspect)))
                // GET only: a HEAD would hold a stream's slot while sending nothing.
                .service(resource("/{bin}/events", "GET").route(web::get().to(events::events)))
                .service(resource("/{bin}/clear", "POST").route(web::post().to(pages::clear_form)))
                .service(
                    resource("/{bin}/settings", "GET, HEAD, POST")
                        // A 64 KiB response body can take several times that form-encoded.
                        .app_data(
                            web::FormConfig::default()
                                .limit(SETTINGS_FORM_LIMIT)
                                .error_handler(|err, _| {
                                    AppError::BadRequest(format!("the form is not valid: {err}"))
                                        .into()
                                }),
                        )
                        .route(read().to(workbench::settings_page))
                        .route(web::post().to(workbench::settings_form)),
                )
                .service(
                    resource("/{bin}/samples", "POST")
                        .route(web::post().to(workbench::samples_form)),
                )
                .service(
                    resource("/{bin}/delete", "POST").route(web::post().to(pages::delete_form)),
                )
                .service(
                    resource("/{bin}/cards/{request}", "GET, HEAD")
                        .route(read().to(pages::card_fragment)),
                )
                .service(
                    resource("/{bin}/{request}", "GET, HEAD")
                        .route(read().to(pages::inspect_request)),
                )
                .service(
                    resource("/{bin}/{request}/delete", "POST")
                        .route(web::post().to(pages::delete_request_form)),
                )
                .default_service(web::to(not_found)),
        )
        // Everything else is a capture (`/{bin}` and any path below it). As the default
        // service it costs no pattern matching, which is most of routing's price.
        .default_service(web::to(capture::capture));
}

/// `GET /healthz`: 200 when the database file is in place, writes land and reads answer;
/// otherwise 503 and why.
async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.store.check_health().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(reason) => {
            tracing::error!(%reason, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body(format!("unhealthy: {reason}\n"))
        }
    }
}

/// `GET /.well-known/acme-challenge/{token}`: the key authorization of an HTTP-01 challenge
/// being validated (the ACME CA asks on port 80, so this matters on `--http-listen`).
async fn acme_http01(
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    match state.acme_tokens.answer(&token) {
        Some(key_authorization) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(key_authorization)),
        None => Err(AppError::NotFound),
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
