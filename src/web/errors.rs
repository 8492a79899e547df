//! The one place errors become pages: a browser asking for HTML gets the error template with
//! the same status; everyone else keeps the JSON body the error rendered.

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    HttpResponse,
};
use askama::Template;

use super::pages::ErrorPage;
use crate::error::AppError;

/// Middleware: swaps error responses for the HTML error page when the client accepts HTML.
pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let response = next.call(req).await?;
    let status = response.status();
    let Some(error) = response.response().error() else {
        return Ok(response.map_into_boxed_body());
    };
    if !wants_html {
        return Ok(response.map_into_boxed_body());
    }
    let message = match error.as_error::<AppError>() {
        Some(app_error) => app_error.to_string(),
        None if status.is_server_error() => "something went wrong on our side".to_owned(),
        None => error.to_string(),
    };
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        message,
    };
    let body = match page.render() {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "error page failed to render");
            return Ok(response.map_into_boxed_body());
        }
    };
    let mut page = HttpResponse::build(status);
    page.content_type("text/html; charset=utf-8");
    if let Some(retry_after) = retry_after {
        page.insert_header((header::RETRY_AFTER, retry_after));
    }
    let (req, _) = response.into_parts();
    Ok(ServiceResponse::new(req, page.body(body)))
}

/// The headers every response carries: a strict CSP (no inline script or style, `'self'`
/// only), no sniffing, no referrer, no framing.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}
