//! The login form and logout, when an access token is set: `GET /login` shows the form,
//! `POST /login` checks the token and sets the session cookie, `POST /logout` clears it.

use actix_web::{
    cookie::{time::Duration as CookieAge, Cookie, SameSite},
    http::header,
    web, HttpRequest, HttpResponse,
};
use askama::Template;
use serde::Deserialize;

use super::{
    access::too_many_guesses,
    origin,
    pages::{html, see_other},
};
use crate::{
    access::{COOKIE, SESSION_LIFETIME},
    error::AppError,
    limits,
    state::AppState,
};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    wrong: bool,
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

/// Where to go after logging in: a path on this site, or the home page. `//host` and
/// `/\host` are other sites to a browser, so they are refused along with anything absolute.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/login")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /login?next=PATH`
pub(super) async fn login_form(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    let Some(access) = &state.access else {
        // Nothing to log in to: binspector is open.
        return Ok(see_other(next));
    };
    if req
        .cookie(COOKIE)
        .is_some_and(|cookie| access.session_valid(cookie.value()))
    {
        // Already logged in (a bookmarked login page, a second tab).
        return Ok(see_other(next));
    }
    Ok(no_store(html(LoginPage { next, wrong: false }.render()?)))
}

/// `POST /login` with `token` and `next`.
pub(super) async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    origin::same_origin(&req, &state)?;
    let next = safe_next(form.next.as_deref());
    let Some(access) = &state.access else {
        return Ok(see_other(next));
    };
    let client = state.client_ip(req.peer_addr(), req.headers());
    let token_id = match state
        .limits
        .guess(client, || access.check(form.token.trim()))
    {
        Ok(token_id) => token_id,
        Err(refused) => {
            if refused.wrong {
                tracing::warn!(client = %limits::shown(client), "refused a wrong access token at the login form");
            }
            if let Some(wait) = refused.wait {
                return Err(too_many_guesses(wait));
            }
            let page = LoginPage { next, wrong: true }.render()?;
            return Ok(no_store(
                HttpResponse::Unauthorized()
                    .content_type("text/html; charset=utf-8")
                    .body(page),
            ));
        }
    };
    let session = access.open_session(&token_id);
    let lifetime = i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    let cookie = Cookie::build(COOKIE, session.value)
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(CookieAge::seconds(lifetime))
        .finish();
    tracing::info!(client = %limits::shown(client), "logged in");
    let mut response = no_store(see_other(next));
    response
        .add_cookie(&cookie)
        .map_err(|_| AppError::BadRequest("could not set the session cookie".to_owned()))?;
    Ok(response)
}

/// `POST /logout`: forgets the session in this browser.
pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    origin::same_origin(&req, &state)?;
    let mut cookie = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    let mut response = no_store(see_other("/login".to_owned()));
    response
        .add_cookie(&cookie)
        .map_err(|_| AppError::BadRequest("could not clear the session cookie".to_owned()))?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_site_are_followed_after_login() {
        for good in [
            "/",
            "/inspect/abc?before=3&event=MemberAdded",
            "/inspect/abc/4",
        ] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            None,
            Some(""),
            Some("//evil.example"),
            Some("https://evil.example"),
            Some("/\\evil.example"),
            Some("\\\\evil.example"),
            Some("/\t/evil.example"),
            Some("javascript:alert(1)"),
            Some("evil.example"),
            Some("/login?next=//evil.example"),
            Some("/caf\u{e9}"),
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
