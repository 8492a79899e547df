//! Command-line flags and their `BINSPECTOR_*` environment variables, validated once at startup.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use ipnet::IpNet;

/// Let's Encrypt's production directory, the default ACME CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Everything binspector can be told at startup. Each flag also reads `BINSPECTOR_<NAME>`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "binspector",
    version,
    about = "A self-hosted request inspector for webhooks (Microsoft Kaizala aware)."
)]
pub struct Config {
    /// HTTPS listener address.
    #[arg(long, env = "BINSPECTOR_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// Optional plain-HTTP listener address (behind a TLS proxy, or for local use).
    #[arg(long, env = "BINSPECTOR_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,

    /// Directory for the database and the generated certificate.
    #[arg(long, env = "BINSPECTOR_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Storage URL [default: sqlite://<data-dir>/binspector.db].
    #[arg(long, env = "BINSPECTOR_DATABASE_URL")]
    pub database_url: Option<String>,

    /// PEM certificate chain to serve instead of the self-signed one (needs --tls-key); re-read when it changes.
    #[arg(long, env = "BINSPECTOR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "BINSPECTOR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// How often --tls-cert and --tls-key are checked for changes (a certbot renewal).
    #[arg(long, env = "BINSPECTOR_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub tls_reload_interval: Duration,

    /// Obtain and renew a trusted certificate for this name from an ACME CA (repeatable; env: comma-separated).
    #[arg(
        long = "acme-domain",
        value_name = "NAME",
        env = "BINSPECTOR_ACME_DOMAIN",
        value_delimiter = ',',
        value_parser = parse_domain,
        conflicts_with = "tls_cert"
    )]
    pub acme_domains: Vec<String>,

    /// Contact address for the ACME account (the CA's expiry and policy mail).
    #[arg(long, env = "BINSPECTOR_ACME_EMAIL", requires = "acme_domains")]
    pub acme_email: Option<String>,

    /// The ACME directory URL.
    #[arg(long, env = "BINSPECTOR_ACME_DIRECTORY", default_value = LETS_ENCRYPT)]
    pub acme_directory: String,

    /// An extra PEM root to trust for the ACME directory's own HTTPS (private CAs, tests).
    #[arg(long, env = "BINSPECTOR_ACME_CA_ROOT")]
    pub acme_ca_root: Option<PathBuf>,

    /// Proxies to trust (CIDRs, comma-separated): only from these peers are the client address,
    /// scheme and host taken from Forwarded / X-Forwarded-For/-Proto/-Host.
    #[arg(long, value_name = "CIDR", env = "BINSPECTOR_TRUST_PROXY", value_delimiter = ',', value_parser = parse_cidr)]
    pub trust_proxy: Vec<IpNet>,

    /// Base of the capture URLs shown to users, e.g. https://bins.example.com [default: from the request's Host].
    #[arg(long, env = "BINSPECTOR_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Largest body stored; larger ones are answered 413 (accepts KiB/MiB/GiB suffixes).
    #[arg(long, env = "BINSPECTOR_MAX_BODY_BYTES", default_value = "10MiB", value_parser = parse_size)]
    pub max_body_bytes: u64,

    /// Requests kept per bin; the oldest beyond this are removed (0 keeps all).
    #[arg(
        long,
        env = "BINSPECTOR_MAX_REQUESTS_PER_BIN",
        default_value_t = 10_000
    )]
    pub max_requests_per_bin: u64,

    /// Requests older than this are removed, e.g. 30d, 12h, 90m (0 keeps all).
    #[arg(long, env = "BINSPECTOR_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub retention: Duration,

    /// Directory served at /static/.
    #[arg(long, env = "BINSPECTOR_STATIC_DIR", default_value = "./static")]
    pub static_dir: PathBuf,

    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "BINSPECTOR_WORKERS")]
    pub workers: Option<usize>,

    /// Open connections allowed per worker; more wait in the kernel's backlog.
    #[arg(long, env = "BINSPECTOR_MAX_CONNECTIONS", default_value_t = 2_048)]
    pub max_connections: usize,

    /// Time a client gets to send its request head (and a TLS handshake to finish).
    #[arg(long, env = "BINSPECTOR_HEADER_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Time a client gets to send a whole request body.
    #[arg(long, env = "BINSPECTOR_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// Captures that may wait for the database writer at once.
    #[arg(long, env = "BINSPECTOR_WRITE_QUEUE", default_value_t = 1_024)]
    pub write_queue: usize,

    /// Body bytes held in memory by captures in flight; beyond this, captures wait (then 503).
    #[arg(long, env = "BINSPECTOR_BODY_MEMORY", default_value = "64MiB", value_parser = parse_size)]
    pub body_memory: u64,

    /// How often the sweeper enforces --retention and --max-requests-per-bin.
    #[arg(long, env = "BINSPECTOR_SWEEP_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// How long a capture waits for room in the write queue before it is answered 503.
    #[arg(long, env = "BINSPECTOR_QUEUE_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub queue_timeout: Duration,

    /// Live-event streams (open inspect pages) allowed at once; more are answered 503.
    #[arg(long, env = "BINSPECTOR_MAX_STREAMS", default_value_t = 256)]
    pub max_streams: usize,

    /// Live-event streams allowed at once from one client address.
    #[arg(long, env = "BINSPECTOR_MAX_STREAMS_PER_CLIENT", default_value_t = 16)]
    pub max_streams_per_client: usize,
}

impl Config {
    /// The storage URL, derived from the data directory unless given.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("binspector.db").display()),
        }
    }

    /// Body bytes captures may hold at once: at least two of the largest bodies, so one
    /// large body never waits for itself.
    pub fn body_budget(&self) -> usize {
        let budget = self.body_memory.max(self.max_body_bytes.saturating_mul(2));
        usize::try_from(budget)
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS)
    }

    /// Body bytes one client address may hold at once: half the budget, so no one client
    /// can take it all, and never less than one largest body.
    pub fn body_share(&self) -> usize {
        let largest = usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX);
        (self.body_budget() / 2)
            .max(largest)
            .min(self.body_budget())
    }

    /// The retention window, or `None` when everything is kept.
    pub fn retention(&self) -> Option<Duration> {
        (!self.retention.is_zero()).then_some(self.retention)
    }
}

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

/// Accepts a DNS name a public CA can issue for (letters, digits, `-`, dots between labels),
/// lowercased.
fn parse_domain(text: &str) -> Result<String, String> {
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
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not an address range such as 10.0.0.0/8 or 127.0.0.1"))
}

/// Accepts an absolute http(s) URL, a valid host and an optional plain path, and drops any
/// trailing slash. Everything in it can then be shown in pages and shell lines as it is.
fn parse_public_url(text: &str) -> Result<String, String> {
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
        let config = Config::parse_from([
            "binspector",
            "--acme-domain",
            "a.example,b.example",
            "--trust-proxy",
            "10.0.0.0/8,::1",
        ]);
        assert_eq!(config.acme_domains, ["a.example", "b.example"]);
        assert_eq!(config.trust_proxy.len(), 2);
    }

    #[test]
    fn defaults_match_the_design() {
        let config = Config::parse_from(["binspector"]);
        assert_eq!(config.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(config.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(config.max_requests_per_bin, 10_000);
        assert_eq!(config.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(config.database_url(), "sqlite://./data/binspector.db");
        assert_eq!(config.acme_directory, LETS_ENCRYPT);
        assert!(config.acme_domains.is_empty() && config.trust_proxy.is_empty());
    }
}
