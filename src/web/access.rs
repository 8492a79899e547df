//! The middleware that asks for the access token, wrapped around the API scope and the pages
//! (captures, handshakes, `/healthz`, the login page, static files and ACME challenges are not
//! wrapped): the API wants a bearer token or a session, pages without a session are sent to
//! log in.

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
    web, HttpRequest, HttpResponse,
};

use crate::{
    access::{Access, COOKIE},
    error::AppError,
    limits,
    state::AppState,
};

/// What a refused request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The API: 401 in JSON with `WWW-Authenticate: Bearer`.
    Unauthorized,
    /// A page: a redirect to the login form.
    Login,
}

/// What a request brings to be let in: a bearer token (preferred when both come) or a
/// session cookie.
pub(super) enum Credential {
    Bearer(String),
    Session(String),
}

impl Credential {
    pub(super) fn of(req: &HttpRequest) -> Option<Credential> {
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| Credential::Bearer(token.trim().to_owned()));
        bearer.or_else(|| {
            req.cookie(COOKIE)
                .map(|cookie| Credential::Session(cookie.value().to_owned()))
        })
    }

    /// Whether it still lets its bearer in (a token can be taken out of the token file, and a
    /// session can expire, while a live stream it opened is still running).
    pub(super) fn holds(&self, access: &Access) -> bool {
        match self {
            Credential::Bearer(token) => access.check(token).is_some(),
            Credential::Session(value) => access.session_valid(value),
        }
    }
}

/// The answer to an address that used up its allowance of wrong tokens.
pub(super) fn too_many_guesses(wait: std::time::Duration) -> AppError {
    AppError::RateLimited {
        message: "too many wrong access tokens from this address".to_owned(),
        retry_after: limits::retry_after_secs(wait),
    }
}

/// Middleware for the API scope: a bearer token or a session, else 401.
pub async fn api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(req, next, Refusal::Unauthorized).await
}

/// Middleware for pages and their forms: a session (or a bearer token), else the login form.
/// What the inspect page's script fetches (the live stream, card fragments) gets a 401
/// instead, since a script cannot follow a redirect to a form.
pub async fn pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refusal = if fetched_by_script(req.match_info().unprocessed()) {
        Refusal::Unauthorized
    } else {
        Refusal::Login
    };
    guard(req, next, refusal).await
}

/// Within `/inspect`: `/{bin}/events` and `/{bin}/cards/{request}`, as the router sees them.
fn fetched_by_script(unprocessed: &str) -> bool {
    let mut segments = unprocessed.trim_start_matches('/').split('/');
    matches!(
        (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next()
        ),
        (Some(_), Some("events"), None, None) | (Some(_), Some("cards"), Some(_), None)
    )
}

/// Lets the request through when binspector is open, or when it brings an accepted bearer
/// token or a valid session; otherwise answers it as `refusal` says. The routes themselves
/// decide which services this wraps, so how a path is spelled cannot get around it.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    refusal: Refusal,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(AppError::Unauthorized));
    };
    let Some(access) = state.access.as_ref() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let allowed = match Credential::of(req.request()) {
        Some(Credential::Bearer(token)) => {
            let client = state.client_ip(req.peer_addr(), req.headers());
            match state.limits.guess(client, || access.check(&token)) {
                Ok(_) => true,
                Err(refused) => {
                    if refused.wrong {
                        tracing::warn!(client = %limits::shown(client), path = req.path(), "refused a wrong access token");
                    }
                    if let Some(wait) = refused.wait {
                        return Ok(req.error_response(too_many_guesses(wait)));
                    }
                    false
                }
            }
        }
        Some(session @ Credential::Session(_)) => session.holds(access),
        None => false,
    };
    if allowed {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match refusal {
        Refusal::Login => {
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
        Refusal::Unauthorized => Ok(req.error_response(AppError::Unauthorized)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_fetches_are_told_apart_from_pages() {
        for fetched in ["/b/events", "/b/cards/3"] {
            assert!(fetched_by_script(fetched), "{fetched}");
        }
        for page in [
            "/b",
            "/b/3",
            "/b/clear",
            "/b/events/x",
            "/b/cards",
            "/b/3/delete",
        ] {
            assert!(!fetched_by_script(page), "{page}");
        }
    }
}
