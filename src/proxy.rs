//! What a request that came through a trusted proxy (`--trust-proxy`) says about its client:
//! the address (`Forwarded`'s `for=`, else `X-Forwarded-For`, the rightmost hop that is not
//! itself a trusted proxy), the scheme and the host. From any other peer these headers mean
//! nothing, so a stranger cannot forge them.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

use crate::config::valid_authority;

/// What the trusted proxies in front of a request said, header by header.
pub struct Proxied<'a> {
    trusted: &'a [IpNet],
    peer: Option<IpAddr>,
    headers: &'a HeaderMap,
}

impl<'a> Proxied<'a> {
    /// A request from `peer` with `headers`, read against the `trusted` ranges.
    pub fn new(trusted: &'a [IpNet], peer: Option<SocketAddr>, headers: &'a HeaderMap) -> Self {
        Proxied {
            trusted,
            peer: peer.map(|addr| addr.ip()),
            headers,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// Whether the peer is a trusted proxy, so its forwarding headers count.
    fn peer_is_proxy(&self) -> bool {
        self.peer.is_some_and(|peer| self.is_trusted(peer))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// rightmost forwarded hop that is not a trusted proxy (a hop that cannot be read stops
    /// the walk, and the last trusted hop stands).
    pub fn client(&self) -> Option<IpAddr> {
        let peer = self.peer?;
        if !self.peer_is_proxy() {
            return Some(peer);
        }
        let hops = self.hops();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(*ip) => client = *ip,
                Some(ip) => return Some(*ip),
                None => break,
            }
        }
        Some(client)
    }

    /// `https` or `http` as the nearest trusted proxy received the request, if it says.
    pub fn scheme(&self) -> Option<&'static str> {
        if !self.peer_is_proxy() {
            return None;
        }
        let proto = self
            .forwarded_param("proto")
            .or_else(|| last_value(self.headers, "x-forwarded-proto"))?;
        match proto.to_ascii_lowercase().as_str() {
            "https" => Some("https"),
            "http" => Some("http"),
            _ => None,
        }
    }

    /// The host the nearest trusted proxy was asked for, if it says and it is a valid
    /// `host[:port]`.
    pub fn host(&self) -> Option<String> {
        if !self.peer_is_proxy() {
            return None;
        }
        self.forwarded_param("host")
            .or_else(|| last_value(self.headers, "x-forwarded-host"))
            .filter(|host| valid_authority(host))
    }

    /// The forwarded client hops, leftmost first: `Forwarded`'s `for=` when that header is
    /// present, else `X-Forwarded-For`. `None` marks a hop that is not an address.
    fn hops(&self) -> Vec<Option<IpAddr>> {
        let forwarded = elements(self.headers, "forwarded");
        if !forwarded.is_empty() {
            return forwarded
                .iter()
                .map(|element| param(element, "for").and_then(|node| parse_node(&node)))
                .collect();
        }
        elements(self.headers, "x-forwarded-for")
            .iter()
            .map(|hop| parse_node(hop))
            .collect()
    }

    /// A parameter of the last (nearest) `Forwarded` element.
    fn forwarded_param(&self, name: &str) -> Option<String> {
        let elements = elements(self.headers, "forwarded");
        param(elements.last()?, name)
    }
}

/// The comma-separated items of every `name` header, in order.
fn elements(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    elements(headers, name).pop()
}

/// `name=value` from one `Forwarded` element (`for=1.2.3.4;proto=https`), unquoted.
fn param(element: &str, name: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// An address from a hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')?.split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|_| panic!("{name}")),
                HeaderValue::from_str(value).unwrap_or_else(|_| panic!("{value}")),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().ok()?, 40_000))
    }

    fn ranges(list: &[&str]) -> Vec<IpNet> {
        list.iter().filter_map(|net| net.parse().ok()).collect()
    }

    #[test]
    fn a_peer_that_is_not_trusted_is_the_client_whatever_it_claims() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let forged = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "for=5.6.7.8;proto=https;host=evil.example"),
        ]);
        let proxied = Proxied::new(&trusted, peer("203.0.113.9"), &forged);
        assert_eq!(proxied.client(), "203.0.113.9".parse().ok());
        assert_eq!(proxied.scheme(), None);
        assert_eq!(proxied.host(), None);
        let none: Vec<IpNet> = Vec::new();
        assert_eq!(
            Proxied::new(&none, peer("10.0.0.1"), &forged).client(),
            "10.0.0.1".parse().ok()
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = ranges(&["10.0.0.0/8", "192.168.0.0/16"]);
        // The client forged the first hop; the proxies appended the real one and themselves.
        let chain = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "192.168.1.1"),
            ("x-forwarded-proto", "http, https"),
            ("x-forwarded-host", "bins.example.com"),
        ]);
        let proxied = Proxied::new(&trusted, peer("10.1.2.3"), &chain);
        assert_eq!(proxied.client(), "198.51.100.7".parse().ok());
        assert_eq!(proxied.scheme(), Some("https"));
        assert_eq!(proxied.host().as_deref(), Some("bins.example.com"));
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for() {
        let trusted = ranges(&["127.0.0.0/8"]);
        let standard = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8::1]:4711";proto=https;host="bins.example.com:8443""#,
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let proxied = Proxied::new(&trusted, peer("127.0.0.1"), &standard);
        assert_eq!(proxied.client(), "2001:db8::1".parse().ok());
        assert_eq!(proxied.scheme(), Some("https"));
        assert_eq!(proxied.host().as_deref(), Some("bins.example.com:8443"));
    }

    #[test]
    fn unreadable_or_hostile_values_are_ignored() {
        let trusted = ranges(&["127.0.0.0/8"]);
        let odd = headers(&[
            ("x-forwarded-for", "unknown"),
            ("x-forwarded-proto", "javascript"),
            ("x-forwarded-host", "evil.example/'><script>"),
        ]);
        let proxied = Proxied::new(&trusted, peer("127.0.0.1"), &odd);
        assert_eq!(proxied.client(), "127.0.0.1".parse().ok());
        assert_eq!(proxied.scheme(), None);
        assert_eq!(proxied.host(), None);
        // Every hop trusted: the leftmost stands.
        let inner = headers(&[("x-forwarded-for", "127.0.0.5, 127.0.0.6")]);
        assert_eq!(
            Proxied::new(&trusted, peer("127.0.0.1"), &inner).client(),
            "127.0.0.5".parse().ok()
        );
    }
}
