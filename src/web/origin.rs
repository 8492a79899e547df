//! Where this server is, as pages and API answers show it: the base of capture URLs, and the
//! scheme that decides the `Secure` cookie flag and HSTS.
//!
//! Forwarding headers (`Forwarded`, `X-Forwarded-*`) are never trusted: the scheme is the
//! listener's own, and the host is the request's `Host` only when it is a valid `host[:port]`.

use actix_web::{http::header, HttpRequest};

use crate::{config::valid_authority, server::Conn, state::AppState};

/// Whether the request came over the HTTPS listener.
pub fn is_https(req: &HttpRequest) -> bool {
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

/// The request's host when it is a valid `host[:port]`, else the listener's own address.
fn host(req: &HttpRequest) -> String {
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
