//! Parsers for flag values: sizes, durations, rates, DNS names, address ranges, URLs.

use std::{num::NonZeroU32, time::Duration};

use ipnet::IpNet;

use crate::store::Durability;

/// Splits `10MiB` into its number and the unit after it.
fn number_and_unit<'a>(text: &'a str, example: &str) -> Result<(u64, &'a str), String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number = digits
        .parse()
        .map_err(|_| format!("`{text}` is not {example}"))?;
    Ok((number, unit.trim()))
}

/// Parses `10MiB`, `512k`, `1048576` and the like into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = number_and_unit(text, "a size such as 10MiB or 65536")?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ))
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses `30d`, `12h`, `90m`, `45s`, `250ms` or a bare `0` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = number_and_unit(text, "a duration such as 30d, 12h or 90s")?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        "" => return Err(format!("`{text}` needs a unit: ms, s, m, h, d or w")),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m, h, d or w)"
            ))
        }
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// A rate: `count` events allowed per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.period.as_secs();
        let period = match seconds {
            3_600 => "h".to_owned(),
            60 => "m".to_owned(),
            86_400 => "d".to_owned(),
            1 => "s".to_owned(),
            _ if self.period.subsec_millis() == 0 => format!("{seconds}s"),
            _ => format!("{}ms", self.period.as_millis()),
        };
        write!(f, "{}/{period}", self.count)
    }
}

/// A rate limit that can be switched off: `Limit(None)` allows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Rate>);

/// The longest period a rate may have.
const MAX_PERIOD: Duration = Duration::from_secs(366 * 86_400);

/// Parses `60/h`, `100/10s` or `5/1m` (a count, a slash, then a unit or a duration).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let example = "a rate such as 60/h or 100/10s";
    let (count, period) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not {example}"))?;
    let count = count.trim().parse::<NonZeroU32>().map_err(|_| {
        format!("`{text}` does not start with a count from 1 (it is not {example})")
    })?;
    let period = period.trim();
    let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(period)?
    } else {
        parse_duration(&format!("1{period}"))?
    };
    if period.is_zero() {
        return Err(format!(
            "`{text}` has an empty period (it is not {example})"
        ));
    }
    if period > MAX_PERIOD {
        return Err(format!("`{text}` has a period longer than a year"));
    }
    Ok(Rate { count, period })
}

/// Parses a rate, or `off` (or `0`) for no limit.
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    match text.trim() {
        "off" | "0" => Ok(Limit(None)),
        rate => parse_rate(rate).map(|rate| Limit(Some(rate))),
    }
}

/// An access token given on the command line; its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The token itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// Accepts an access token: at least 16 characters of printable ASCII with no spaces, so it
/// fits in a header and a file line as it is.
pub(super) fn parse_token(text: &str) -> Result<Secret, String> {
    valid_token(text)
        .then(|| Secret(text.to_owned()))
        .ok_or_else(|| TOKEN_RULE.to_owned())
}

/// What a token must look like.
pub const TOKEN_RULE: &str =
    "an access token must be at least 16 characters of printable ASCII without spaces";

/// Whether `text` can be an access token.
pub fn valid_token(text: &str) -> bool {
    text.len() >= 16 && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Accepts a DNS name a public CA can issue for (letters, digits, `-`, dots between labels),
/// lowercased.
pub(super) fn parse_domain(text: &str) -> Result<String, String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() <= 253
        && name.split('.').all(label_ok)
        && name.parse::<std::net::Ipv4Addr>().is_err()
    {
        Ok(name)
    } else {
        Err(format!(
            "`{text}` is not a DNS name such as bins.example.com"
        ))
    }
}

/// Accepts `10.0.0.0/8`, `::1/128` or a bare address (one host).
pub(super) fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8 or 127.0.0.1"))
}

/// Accepts an absolute http(s) URL, a valid host and an optional plain path, and drops any
/// trailing slash. Everything in it can then be shown in pages and shell lines as it is.
pub(super) fn parse_public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("`{text}` must start with https:// or http://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !valid_authority(authority) {
        return Err(format!("`{text}` does not have a valid host[:port]"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-._~".contains(c);
    if !path.chars().all(plain) {
        return Err(format!(
            "`{text}` may only have letters, digits and - . _ ~ in its path"
        ));
    }
    Ok(trimmed.to_owned())
}

/// Whether `text` is a syntactically valid `host[:port]`: a DNS name (letters, digits, `-`,
/// `.`, `_`), an IPv4 address or a bracketed IPv6 address, and an optional port. Hosts that
/// pass can be put in pages, URLs and shell lines without quoting surprises.
pub fn valid_authority(text: &str) -> bool {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return false;
        };
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    let host_ok = text.starts_with('[')
        || (!host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            && !host.starts_with(['-', '.'])
            && !host.contains(".."));
    port_ok && host_ok
}

/// The host part of a public URL (`https://bins.example.com:8443/x` gives `bins.example.com`).
pub fn public_url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Parses `--sync`: `normal` or `full`.
pub fn parse_sync(text: &str) -> Result<Durability, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "normal" => Ok(Durability::Normal),
        "full" => Ok(Durability::Full),
        _ => Err(format!("`{text}` is not a sync mode: use normal or full")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_units() {
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn durations_accept_common_units() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3y").is_err());
    }

    #[test]
    fn rates_take_a_count_and_a_period() {
        let per_hour = parse_rate("60/h").unwrap();
        assert_eq!(
            (per_hour.count.get(), per_hour.period),
            (60, Duration::from_secs(3_600))
        );
        assert_eq!(per_hour.to_string(), "60/h");
        let burst = parse_rate("100/10s").unwrap();
        assert_eq!(
            (burst.count.get(), burst.period),
            (100, Duration::from_secs(10))
        );
        assert_eq!(burst.to_string(), "100/10s");
        assert_eq!(parse_limit("off"), Ok(Limit(None)));
        assert_eq!(parse_limit("5/m").map(|limit| limit.0.is_some()), Ok(true));
        for bad in [
            "60", "0/h", "-1/h", "60/", "60/0s", "60/y", "x/h", "60/h/h", "1/40000w",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_url_is_checked_and_its_host_found() {
        assert_eq!(
            parse_public_url("https://bins.example.com/"),
            Ok("https://bins.example.com".to_owned())
        );
        assert!(parse_public_url("bins.example.com").is_err());
        assert!(parse_public_url("https://evil.example'; rm -rf ~").is_err());
        assert!(parse_public_url("https://bins.example.com/a b").is_err());
        assert_eq!(
            parse_public_url("http://[::1]:8080/bins"),
            Ok("http://[::1]:8080/bins".to_owned())
        );
        assert_eq!(
            public_url_host("https://bins.example.com:8443/x"),
            Some("bins.example.com")
        );
        assert_eq!(public_url_host("http://[::1]:80"), Some("::1"));
    }

    #[test]
    fn hosts_are_checked_strictly() {
        for good in [
            "localhost",
            "bins.example.com:8443",
            "127.0.0.1:1",
            "[::1]:8443",
            "[::1]",
            "a_b.example",
        ] {
            assert!(valid_authority(good), "{good}");
        }
        for bad in [
            "",
            "evil.example'; rm -rf ~; echo '",
            "evil.example/x",
            "a b",
            "host:",
            "host:99999",
            "host:0",
            "[not-v6]:80",
            "[::1]x",
            "-x.example",
            "x..example",
            "javascript:alert(1)",
        ] {
            assert!(!valid_authority(bad), "{bad}");
        }
    }

    #[test]
    fn acme_names_and_proxy_ranges_are_checked() {
        assert_eq!(
            parse_domain("Bins.Example.com."),
            Ok("bins.example.com".to_owned())
        );
        assert_eq!(parse_domain("localhost"), Ok("localhost".to_owned()));
        for bad in [
            "",
            "*.example.com",
            "a..b",
            "-a.example",
            "a b",
            "1.2.3.4",
            "x:443",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_cidr("10.0.0.0/8").map(|net| net.to_string()),
            Ok("10.0.0.0/8".to_owned())
        );
        assert_eq!(
            parse_cidr("127.0.0.1").map(|net| net.to_string()),
            Ok("127.0.0.1/32".to_owned())
        );
        assert_eq!(
            parse_cidr("::1").map(|net| net.to_string()),
            Ok("::1/128".to_owned())
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("proxy.example").is_err());
    }

    #[test]
    fn sync_modes_are_normal_and_full() {
        assert_eq!(parse_sync("normal"), Ok(Durability::Normal));
        assert_eq!(parse_sync(" FULL "), Ok(Durability::Full));
        assert!(parse_sync("off").unwrap_err().contains("normal or full"));
    }
}
