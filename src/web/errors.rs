//! The middleware around every answer: errors become pages for browsers and JSON for everyone
//! else (including actix's own empty errors), captured data is never cached, HSTS goes with a
//! trusted certificate, every answer is locked down, and each request gets its head as the
//! tap read it.

use std::sync::Arc;

use actix_web::{
    body::{BodySize, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    web, HttpMessage, HttpResponse,
};
use askama::Template;

use super::{origin, pages::ErrorPage};
use crate::{
    capture,
    error::{AppError, ErrorBody},
    server::tap::{self, TapShared},
    state::AppState,
};

/// HSTS for a year, sent over HTTPS with a trusted certificate.
const HSTS: &str = "max-age=31536000";

/// Middleware: gives each request what the tap saw of its head, answers the tap's synthetic
/// request for a head it refused, and closes a connection the tap lost track of once its
/// request is answered.
pub async fn raw_heads(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let tap = req.conn_data::<Arc<TapShared>>().cloned();
    let refusal = match &tap {
        Some(tap) => tap.refusal_for(req.path()).cloned(),
        // HTTP/2: the head is already decoded, and is held to the same limits here.
        None => tap::beyond_limits(req.head()),
    };
    if let Some(refusal) = refusal {
        tracing::info!(status = refusal.status, reason = %refusal.message, "request head refused");
        let error = AppError::HeadRefused {
            status: refusal.status,
            message: refusal.message,
        };
        return Ok(req.error_response(error));
    }
    if let Some(tap) = &tap {
        match tap.next() {
            Some(head) if head.is_for(req.method().as_str(), req.uri()) => {
                req.extensions_mut().insert(head);
            }
            Some(_) => tap.lose_track(),
            None => {}
        }
    }
    let mut response = next.call(req).await?;
    if tap.is_some_and(|tap| tap.lost()) {
        // Its later heads would pass unchecked: the client gets a fresh connection instead.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(response.map_into_boxed_body())
}

/// Middleware: swaps error responses for the HTML error page when the client accepts HTML, and
/// gives bodiless errors (actix's own) the `{"error","status"}` shape.
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
    let configured = response
        .response()
        .extensions()
        .contains::<capture::AsConfigured>();
    if !(status.is_client_error() || status.is_server_error()) || configured {
        return Ok(response.map_into_boxed_body());
    }
    let mut field = None;
    let message = match response.response().error() {
        Some(error) => match error.as_error::<AppError>() {
            Some(app_error) => {
                if let AppError::InvalidSetting(invalid) = app_error {
                    field = Some(invalid.field.clone());
                }
                app_error.to_string()
            }
            None if status.is_server_error() => "something went wrong on our side".to_owned(),
            None => error.to_string(),
        },
        // An answer the app built on purpose (a 413 with its message, a handshake's 403).
        None if !matches!(response.response().body().size(), BodySize::Sized(0)) => {
            return Ok(response.map_into_boxed_body())
        }
        None => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    };
    let kept: Vec<(header::HeaderName, HeaderValue)> =
        [header::RETRY_AFTER, header::ALLOW, header::WWW_AUTHENTICATE]
            .into_iter()
            .filter_map(|name| Some((name.clone(), response.headers().get(&name)?.clone())))
            .collect();
    let closes =
        response.response().head().connection_type() == actix_web::http::ConnectionType::Close;
    let mut page = HttpResponse::build(status);
    for header in kept {
        page.insert_header(header);
    }
    if closes {
        page.force_close();
    }
    let page = if wants_html {
        let body = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            message,
        }
        .render();
        match body {
            Ok(body) => page.content_type("text/html; charset=utf-8").body(body),
            Err(err) => {
                tracing::error!(error = %err, "error page failed to render");
                return Ok(response.map_into_boxed_body());
            }
        }
    } else {
        page.json(ErrorBody {
            error: &message,
            status: status.as_u16(),
            field: field.as_deref(),
        })
    };
    let (req, _) = response.into_parts();
    Ok(ServiceResponse::new(req, page))
}

/// Middleware: HSTS on answers over HTTPS while the certificate served is trusted (given files
/// or ACME). Never with the generated self-signed certificate, which browsers would then refuse
/// to let anyone click through.
pub async fn hsts(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.certificates.is_trusted());
    let https = trusted && origin::is_https(req.request());
    let mut response = next.call(req).await?;
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    Ok(response.map_into_boxed_body())
}

/// The headers every response carries unless it chose its own: a strict CSP (no inline script
/// or style, `'self'` only), no sniffing, no referrer, no framing, and no caching (pages, the
/// API and captures all carry captured data; static files say otherwise).
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((header::CACHE_CONTROL, "no-store"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}
