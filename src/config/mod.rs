//! Command-line flags and their `BINSPECTOR_*` environment variables, validated once at startup.

mod send_sample;
mod values;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use ipnet::IpNet;

use crate::store::Durability;

pub use send_sample::{parse_event_choice, Command, EventChoice, SendSampleArgs};
use values::{parse_cidr, parse_domain, parse_public_url, parse_token};
pub use values::{
    parse_duration, parse_limit, parse_rate, parse_size, parse_sync, public_url_host,
    valid_authority, valid_token, Limit, Rate, Secret, TOKEN_RULE,
};

/// Let's Encrypt's production directory, the default ACME CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The whole command line: the server's flags, or a subcommand that does something else.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "binspector",
    version,
    about = "A self-hosted request inspector for webhooks (Microsoft Kaizala aware).",
    long_about = "A self-hosted request inspector for webhooks (Microsoft Kaizala aware).\n\n\
        Without a subcommand, serves the inspector with the flags below (each also read from \
        BINSPECTOR_<NAME>). `binspector send-sample --help` tells how to send sample Kaizala \
        events instead.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The server's flags, used when no subcommand is given.
    #[command(flatten)]
    pub config: Config,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

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

    /// How often --tls-cert and --tls-key (a certbot renewal) and --access-token-file are checked for changes.
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

    /// Require this token for every page, API call and live stream; captures, handshakes, /healthz, /login, /static and ACME challenges stay open.
    #[arg(
        long,
        env = "BINSPECTOR_ACCESS_TOKEN",
        hide_env_values = true,
        conflicts_with = "access_token_file",
        value_parser = parse_token
    )]
    pub access_token: Option<Secret>,

    /// Like --access-token, with the tokens read from a file, one a line (several allow a
    /// rotation); re-read when it changes.
    #[arg(long, env = "BINSPECTOR_ACCESS_TOKEN_FILE")]
    pub access_token_file: Option<PathBuf>,

    /// Bins one client address may create, e.g. 60/h or 10/m (`off`: no limit).
    #[arg(long, env = "BINSPECTOR_CREATE_LIMIT", default_value = "60/h", value_parser = parse_limit)]
    pub create_limit: Limit,

    /// Captures one bin may take, e.g. 100/s or 1000/h; the rest are answered 429, counted and
    /// not stored (`off`: no limit).
    #[arg(long, env = "BINSPECTOR_CAPTURE_LIMIT", default_value = "off", value_parser = parse_limit)]
    pub capture_limit: Limit,

    /// What a commit waits for before its captures are answered: `normal` (a 2xx survives the
    /// process being killed) or `full` (the WAL is flushed to disk at each batch's commit, so
    /// a 2xx survives a power cut too).
    #[arg(long, env = "BINSPECTOR_SYNC", default_value = "normal", value_parser = parse_sync)]
    pub sync: Durability,

    /// Largest the database may grow, e.g. 2GiB: the oldest requests of all bins are removed
    /// to stay under it (0: no quota).
    #[arg(long, env = "BINSPECTOR_MAX_DB_SIZE", default_value = "0", value_parser = parse_size)]
    pub max_db_size: u64,

    /// Bins that have seen no capture and no visit for this long are deleted, e.g. 90d (0 keeps them).
    #[arg(long, env = "BINSPECTOR_BIN_RETENTION", default_value = "0", value_parser = parse_duration)]
    pub bin_retention: Duration,

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

    /// How often the sweeper enforces --retention, --max-requests-per-bin, --max-db-size and --bin-retention.
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

    /// The inactivity after which a bin is deleted, or `None` when bins are kept.
    pub fn bin_retention(&self) -> Option<Duration> {
        (!self.bin_retention.is_zero()).then_some(self.bin_retention)
    }

    /// The database quota in bytes, or `None` without one.
    pub fn max_db_size(&self) -> Option<u64> {
        (self.max_db_size > 0).then_some(self.max_db_size)
    }

    /// The retention window, or `None` when everything is kept.
    pub fn retention(&self) -> Option<Duration> {
        (!self.retention.is_zero()).then_some(self.retention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kaizala::EventType;

    #[test]
    fn lists_split_on_commas() {
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
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn without_a_subcommand_the_server_flags_parse_as_before() {
        let cli = Cli::try_parse_from(["binspector", "--listen", "127.0.0.1:9443"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config.listen.to_string(), "127.0.0.1:9443");
        let cli = Cli::try_parse_from(["binspector"]).unwrap();
        assert_eq!(cli.config.listen.to_string(), "0.0.0.0:8443");
    }

    #[test]
    fn send_sample_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "binspector",
            "send-sample",
            "--to",
            "https://bins.example.com/b",
            "--event",
            "textmessagecreated",
            "--twice",
            "--token",
            "tok",
            "--context",
            "ctx",
            "--insecure",
        ])
        .unwrap();
        let Some(Command::SendSample(args)) = cli.command else {
            panic!("no subcommand");
        };
        assert_eq!(args.to, "https://bins.example.com/b");
        assert_eq!(args.event, EventChoice::One(EventType::TextMessageCreated));
        assert!(args.twice && args.insecure);
        assert_eq!(
            (args.token.as_deref(), args.context.as_deref()),
            (Some("tok"), Some("ctx"))
        );
        let all = [
            "binspector",
            "send-sample",
            "--to",
            "http://x",
            "--event",
            "ALL",
        ];
        let Some(Command::SendSample(args)) = Cli::try_parse_from(all).unwrap().command else {
            panic!("no subcommand");
        };
        assert_eq!(args.event.event_types(), EventType::ALL);
    }

    #[test]
    fn an_unknown_event_type_names_the_valid_ones() {
        let err = parse_event_choice("ChatCreated").unwrap_err();
        for kind in EventType::ALL {
            assert!(err.contains(kind.name()), "{err}");
        }
        let args = [
            "binspector",
            "send-sample",
            "--to",
            "http://x",
            "--event",
            "Nope",
        ];
        let err = Cli::try_parse_from(args).unwrap_err().to_string();
        assert!(err.contains("SurveyResponse"), "{err}");
    }

    #[test]
    fn server_flags_do_not_mix_with_send_sample() {
        let args = [
            "binspector",
            "--listen",
            "127.0.0.1:9443",
            "send-sample",
            "--to",
            "http://x",
            "--event",
            "all",
        ];
        assert!(Cli::try_parse_from(args).is_err());
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
        assert_eq!(
            config.create_limit.0.map(|rate| rate.to_string()),
            Some("60/h".to_owned())
        );
        assert_eq!(config.capture_limit, Limit(None));
        assert_eq!((config.max_db_size(), config.bin_retention()), (None, None));
        assert!(config.access_token.is_none() && config.access_token_file.is_none());
        let with_token =
            Config::parse_from(["binspector", "--access-token", "0123456789abcdef-secret"]);
        assert!(!format!("{with_token:?}").contains("0123456789abcdef-secret"));
    }
}
