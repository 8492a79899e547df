//! A real ACME CA for the tests: Debian's `pebble`, with `pebble-challtestsrv` as its DNS
//! server (so the test name resolves to 127.0.0.1 only), on free loopback ports.
//!
//! Without pebble installed the ACME tests say they were skipped and pass, except under
//! `CI=true`, where a missing pebble is a failure.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{free_ports, webdriver::find_tool};

/// The name certificates are ordered for; pebble's DNS answers 127.0.0.1 for it.
pub const DOMAIN: &str = "bins.test";

/// A running pebble and its DNS server, stopped when dropped.
pub struct Pebble {
    pebble: Child,
    dns: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub directory: String,
    /// The CA that signed pebble's own HTTPS certificate (for `--acme-ca-root`).
    pub listener_root: PathBuf,
    management: String,
    _dir: tempfile::TempDir,
}

/// The pebble binaries, or `None` (after saying so) when the test must be skipped.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    if let (Some(pebble), Some(dns)) = (find_tool("pebble"), find_tool("pebble-challtestsrv")) {
        return Some((pebble, dns));
    }
    let why = "pebble and pebble-challtestsrv are not installed (apt-get install pebble)";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "ACME test cannot run under CI=true: {why}"
    );
    eprintln!("SKIPPED ACME test: {why}");
    None
}

impl Pebble {
    /// Starts pebble, validating TLS-ALPN-01 on `tls_port` and HTTP-01 on `http_port`.
    pub fn start(tools: &(PathBuf, PathBuf), tls_port: u16, http_port: u16) -> Pebble {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener_root = write_listener_certificate(dir.path());
        let [acme_port, management_port, dns_port, dns_management] = free_ports();
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": dir.path().join("listener.pem"),
            "privateKey": dir.path().join("listener.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble config");

        let dns = Command::new(&tools.1)
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv starts");
        let mut pebble = Command::new(&tools.0)
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reader = BufReader::new(pebble.stdout.take().expect("stdout"));
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                collected.lock().expect("lines").push(line);
            }
        });
        let pebble = Pebble {
            pebble,
            dns,
            lines,
            directory: format!("https://127.0.0.1:{acme_port}/dir"),
            listener_root,
            management: format!("https://127.0.0.1:{management_port}"),
            _dir: dir,
        };
        pebble.wait_for_line("ACME directory available at", Duration::from_secs(20));
        pebble
    }

    /// How many lines pebble has logged containing `text` (`Added order` counts orders).
    pub fn count(&self, text: &str) -> usize {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }

    fn wait_for_line(&self, text: &str, limit: Duration) {
        let started = Instant::now();
        while self.count(text) == 0 {
            assert!(
                started.elapsed() < limit,
                "pebble did not log {text:?}: {:?}",
                self.lines.lock().expect("lines")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The root that issues pebble's certificates, from its management endpoint: the only one
    /// a verifying client is given.
    pub async fn issuing_root(&self) -> reqwest::Certificate {
        let listener_ca = std::fs::read(&self.listener_root).expect("listener root");
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&listener_ca).expect("pem"))
            .build()
            .expect("client");
        let pem = client
            .get(format!("{}/roots/0", self.management))
            .send()
            .await
            .expect("pebble's management endpoint answers")
            .bytes()
            .await
            .expect("root");
        reqwest::Certificate::from_pem(&pem).expect("pebble's root is PEM")
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in [&mut self.pebble, &mut self.dns] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes a CA and a `localhost`/127.0.0.1 certificate it signed for pebble's own HTTPS
/// listener (Debian's package ships none); returns the CA's path.
fn write_listener_certificate(dir: &std::path::Path) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = params.signed_by(&key, &ca).expect("leaf");
    std::fs::write(dir.join("listener.pem"), leaf.pem()).expect("write");
    std::fs::write(dir.join("listener.key"), key.serialize_pem()).expect("write");
    let root = dir.join("listener-ca.pem");
    std::fs::write(&root, ca.pem()).expect("write");
    root
}
