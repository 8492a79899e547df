//! The middleware that asks for the access token: captures, handshakes, `/healthz`, the
//! login page, static files and ACME challenges stay open; the API wants a bearer token or a
//! session; pages without a session are sent to log in.

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
    web, HttpResponse,
};

use crate::{access::COOKIE, capture, error::AppError, state::AppState};

/// What a path needs before it is served.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    /// Open to everyone.
    Nothing,
    /// The API: a bearer token or a session, else a 401 in JSON.
    Api,
    /// Fetched by the inspect page's script (live events, card fragments): a session, else 401.
    Fragment,
    /// A page: a session, else a redirect to the login form.
    Page,
}

fn need(path: &str) -> Need {
    let open = path == "/healthz"
        || path == "/login"
        || path == "/logout"
        || path.starts_with("/static/")
        || path.starts_with("/.well-known/acme-challenge/");
    if open {
        Need::Nothing
    } else if path == "/api" || path.starts_with("/api/") {
        Need::Api
    } else if capture::is_capture_path(path) {
        Need::Nothing
    } else if path.starts_with("/inspect/")
        && (path.ends_with("/events") || path.contains("/cards/"))
    {
        Need::Fragment
    } else {
        Need::Page
    }
}

/// Middleware: lets a request through when binspector is open, when its path is open, or
/// when it brings an accepted bearer token or a valid session.
pub async fn require_access(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(access) = state.access.as_ref() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let need = need(req.path());
    if need == Need::Nothing {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let session = req
        .cookie(COOKIE)
        .is_some_and(|cookie| access.session_valid(cookie.value()));
    let allowed = match bearer {
        Some(token) => {
            let accepted = access.check(token).is_some();
            if !accepted {
                let client = state.client_ip(req.peer_addr(), req.headers());
                tracing::warn!(client = ?client, path = req.path(), "refused a wrong access token");
            }
            accepted
        }
        None => session,
    };
    if allowed {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match need {
        Need::Page => {
            // A page asked for directly comes back after the login; a form sent without a
            // session leads back to the home page.
            let next_path = if matches!(*req.method(), Method::GET | Method::HEAD) {
                match req.query_string() {
                    "" => req.path().to_owned(),
                    query => format!("{}?{query}", req.path()),
                }
            } else {
                "/".to_owned()
            };
            let location = format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next_path.as_str())]).unwrap_or_default()
            );
            let response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
            Ok(req.into_response(response))
        }
        _ => Ok(req.error_response(AppError::Unauthorized)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_probes_are_open_and_everything_else_is_not() {
        let bin = "/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a";
        for open in [
            "/healthz",
            "/login",
            "/logout",
            "/static/app.css",
            "/.well-known/acme-challenge/abc",
            bin,
            "/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a/sub/path",
        ] {
            assert_eq!(need(open), Need::Nothing, "{open}");
        }
        for api in ["/api", "/api/v1/bins", "/api/v1/bins/x/requests/1/raw"] {
            assert_eq!(need(api), Need::Api, "{api}");
        }
        for fragment in [
            "/inspect/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a/events",
            "/inspect/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a/cards/3",
        ] {
            assert_eq!(need(fragment), Need::Fragment, "{fragment}");
        }
        for page in [
            "/",
            "/bins",
            "/inspect/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a",
            "/inspect/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a/4",
            "/inspect/2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a/clear",
        ] {
            assert_eq!(need(page), Need::Page, "{page}");
        }
    }
}
