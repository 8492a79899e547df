//! Where this server is, as pages and API answers show it: the base of capture URLs, and the
//! scheme that decides the `Secure` cookie flag and HSTS.
//!
//! Forwarding headers (`Forwarded`, `X-Forwarded-*`) count only from a peer in
//! `--trust-proxy`; otherwise the scheme is the listener's own, and the host is the request's
//! `Host` only when it is a valid `host[:port]`.

use actix_web::{http::header, web, HttpRequest};

use crate::{
    config::valid_authority, error::AppError, proxy::Proxied, server::Conn, state::AppState,
};

/// What a trusted proxy in front of this request says (nothing, from anyone else).
fn proxied<T>(req: &HttpRequest, read: impl FnOnce(&Proxied<'_>) -> Option<T>) -> Option<T> {
    let state = req.app_data::<web::Data<AppState>>()?;
    read(&Proxied::new(
        &state.config.trust_proxy,
        req.peer_addr(),
        req.headers(),
    ))
}

/// Whether the client reached the server over HTTPS: through the HTTPS listener, or through a
/// trusted proxy that says so.
pub fn is_https(req: &HttpRequest) -> bool {
    match proxied(req, |p| p.scheme()) {
        Some(scheme) => scheme == "https",
        None => through_https_listener(req),
    }
}

/// Whether the request came straight to this server's HTTPS listener, not through a trusted
/// proxy: then the certificate its client saw is the one this server serves.
pub fn reached_directly_over_https(req: &HttpRequest) -> bool {
    proxied(req, |p| p.scheme()).is_none() && through_https_listener(req)
}

fn through_https_listener(req: &HttpRequest) -> bool {
    req.conn_data::<Conn>().is_none_or(|conn| conn.secure)
}

/// The base of capture URLs: `--public-url`, else [`request_origin`].
pub fn base_url(req: &HttpRequest, state: &AppState) -> String {
    match &state.config.public_url {
        Some(url) => url.clone(),
        None => request_origin(req),
    }
}

/// `scheme://host[:port]` as this request reached the server: the listener's scheme and the
/// request's host.
pub fn request_origin(req: &HttpRequest) -> String {
    let scheme = if is_https(req) { "https" } else { "http" };
    format!("{scheme}://{}", host(req))
}

/// The host a trusted proxy was asked for, else the request's host when it is a valid
/// `host[:port]`, else the listener's own address.
fn host(req: &HttpRequest) -> String {
    if let Some(host) = proxied(req, |p| p.host()) {
        return host;
    }
    let given = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| req.uri().authority().map(|authority| authority.as_str()));
    match given {
        Some(host) if valid_authority(host) => host.to_owned(),
        _ => match req.conn_data::<Conn>() {
            Some(conn) if conn.local_addr.ip().is_unspecified() => {
                format!("localhost:{}", conn.local_addr.port())
            }
            Some(conn) => conn.local_addr.to_string(),
            None => "localhost".to_owned(),
        },
    }
}

/// Quotes `text` as one word for a POSIX shell: `'…'`, with each `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Refuses state-changing forms sent from another site (the browser says where a form came from).
pub fn same_origin(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(AppError::CrossSite),
        };
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // No Origin and no Sec-Fetch-Site: not a browser form, so not a forged one.
        None => Ok(()),
        Some(sent) if sent == base_url(req, state) || sent == request_origin(req) => Ok(()),
        Some(_) => Err(AppError::CrossSite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_cannot_break_out() {
        assert_eq!(shell_quote("https://h/x"), "'https://h/x'");
        assert_eq!(
            shell_quote("a'; rm -rf ~; echo '"),
            r"'a'\''; rm -rf ~; echo '\'''"
        );
    }
}
