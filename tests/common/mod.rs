//! Test helpers: an in-process binspector on free ports with its own temporary database, the
//! real binary started as a user would, and an HTTPS client that trusts the self-signed cert.
#![allow(dead_code)]

pub mod pebble;
pub mod webdriver;

use std::{
    io::{BufRead, BufReader, Read},
    net::{IpAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use binspector::{config::Config, startup::Application};
use clap::Parser;
use serde_json::Value;
use tempfile::TempDir;

/// A running in-process binspector.
pub struct TestApp {
    pub base: String,
    pub http_base: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub handle: actix_web::dev::ServerHandle,
    pub store: binspector::store::Store,
}

/// The repository's static directory, whatever the working directory.
pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// A client that accepts binspector's self-signed certificate and never follows redirects.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("client")
}

/// Such a client whose connections come from another loopback address (127.0.0.2 and so on),
/// to play a second client address.
pub fn client_from(address: [u8; 4]) -> reqwest::Client {
    client_builder()
        .local_address(IpAddr::from(address))
        .build()
        .expect("client")
}

/// HTTP/1.1, as webhook senders mostly speak it (and what the tap reads); `tests/tls.rs` covers
/// HTTP/2.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .http1_only()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// Sends raw bytes to a plain-HTTP listener and returns what came back before the server
/// closed the connection or `wait` passed. Async, so an in-process server on this thread's
/// runtime (its writer task lives there) keeps running meanwhile.
pub async fn raw_exchange(addr: &str, request: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads until the server closes the connection or `limit` passes; returns what it sent, or
/// `None` if it neither answered nor closed in time.
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {
            Some(String::from_utf8_lossy(&answer).into_owned())
        }
        Err(_) if !answer.is_empty() => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

/// Starts binspector in-process with extra flags; HTTPS and HTTP both on free ports.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec![
        "binspector".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--http-listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--data-dir".to_owned(),
        dir.path().display().to_string(),
        "--static-dir".to_owned(),
        static_dir().display().to_string(),
        "--workers".to_owned(),
        "2".to_owned(),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let config = Config::parse_from(args);
    let app = Application::build(config).await.expect("app builds");
    let base = format!("https://127.0.0.1:{}", app.https_port());
    let http_base = format!("http://127.0.0.1:{}", app.http_port().expect("http port"));
    let handle = app.server_handle();
    let store = app.store().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        http_base,
        client: client(),
        dir,
        handle,
        store,
    }
}

/// Starts binspector in-process with default limits.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

impl TestApp {
    /// The plain-HTTP listener's `host:port`, for raw requests.
    pub fn http_addr(&self) -> String {
        self.http_base.trim_start_matches("http://").to_owned()
    }

    /// Creates a bin through the API and returns its JSON.
    pub async fn create_bin(&self) -> Value {
        create_bin(&self.client, &self.base).await
    }

    /// Creates a bin and returns its id.
    pub async fn bin_id(&self) -> String {
        self.create_bin().await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// GET on a path of the HTTPS listener.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get")
    }

    /// POST of a body to a path of the HTTPS listener.
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .expect("post")
    }

    /// DELETE on a path of the HTTPS listener.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .expect("delete")
    }

    /// GET on a path, returning the JSON body (panics unless 200).
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    /// All requests of a bin, newest first, following `next_before`.
    pub async fn all_requests(&self, bin: &str) -> Vec<Value> {
        all_requests(&self.client, &self.base, bin).await
    }
}

/// Creates a bin through the API of any server and returns its JSON.
pub async fn create_bin(client: &reqwest::Client, base: &str) -> Value {
    let response = client
        .post(format!("{base}/api/v1/bins"))
        .send()
        .await
        .expect("create bin");
    assert_eq!(response.status(), 201);
    response.json().await.expect("bin json")
}

/// Posts `body` as JSON to a capture URL and returns the request id it was answered with.
pub async fn capture_json(client: &reqwest::Client, url: &str, body: &Value) -> String {
    let answer: Value = client
        .post(url)
        .json(body)
        .send()
        .await
        .expect("capture")
        .json()
        .await
        .expect("capture json");
    answer["id"].as_str().expect("an id").to_owned()
}

/// All requests of a bin on any server, following `next_before`.
pub async fn all_requests(client: &reqwest::Client, base: &str, bin: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut before = String::new();
    loop {
        let page: Value = client
            .get(format!(
                "{base}/api/v1/bins/{bin}/requests?limit=500&before={before}"
            ))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list json");
        found.extend(
            page["requests"]
                .as_array()
                .expect("requests")
                .iter()
                .cloned(),
        );
        match page["next_before"].as_str() {
            Some(next) => before = next.to_owned(),
            None => return found,
        }
    }
}

/// A Kaizala callback body.
pub fn kaizala_event(event_type: &str, event_id: &str, data: Value) -> Value {
    serde_json::json!({
        "objectId": "5b7c0a3e-group",
        "objectType": "Group",
        "eventType": event_type,
        "eventId": event_id,
        "data": data,
        "context": "registered-from-tests",
        "fromUser": "+15550100",
        "fromUserId": "u-asha",
        "fromUserName": "Asha Rao",
        "fromUserProfilePic": "https://kaizala.example/pic/asha.png",
    })
}

/// Writes a fresh self-signed pair for `name` to `dir/cert.pem` and `dir/key.pem`, returning
/// the certificate's DER.
pub fn write_certificate(dir: &Path, name: &str) -> Vec<u8> {
    let pair = rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("certificate");
    std::fs::write(dir.join("cert.pem"), pair.cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), pair.signing_key.serialize_pem()).expect("write");
    pair.cert.der().to_vec()
}

/// A process's peak resident memory since the last reset, in KiB (Linux `/proc`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A process's resident memory now, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Starts a new peak for [`peak_rss_kib`].
pub fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs");
}

/// A port that was free a moment ago, for listeners the test must know in advance.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` different ports that were free a moment ago (held together, so none repeats).
///
/// They are picked below Linux's ephemeral range (32768 and up): a port the kernel hands out
/// for port 0 can be handed out again a moment later as the local end of some client's
/// connection, and then the server that was meant to listen on it cannot.
pub fn free_ports<const N: usize>() -> [u16; N] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Spread over the range by process, so concurrent test binaries rarely meet.
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    let start = std::process::id().wrapping_mul(7_919) % COUNT;
    let mut listeners: Vec<std::net::TcpListener> = Vec::with_capacity(N);
    while listeners.len() < N {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let port = u16::try_from(FIRST + offset).expect("a port number");
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    std::array::from_fn(|i| listeners[i].local_addr().expect("address").port())
}

/// The binary's arguments for the HTTPS listener `listen`, `data_dir`, the static files and
/// `extra`.
fn binary_args<'a>(
    command: &'a mut Command,
    listen: &str,
    data_dir: &Path,
    extra: &[&str],
) -> &'a mut Command {
    command
        .args(["--listen", listen, "--data-dir"])
        .arg(data_dir)
        .arg("--static-dir")
        .arg(static_dir())
        .args(extra)
}

/// The binary the tests start: this build's, or the one `BINSPECTOR_TEST_BINARY` names (a
/// release build, to read its memory figures:
/// `BINSPECTOR_TEST_BINARY=target/release/binspector cargo test --test abuse -- --nocapture`).
pub fn binary() -> PathBuf {
    std::env::var_os("BINSPECTOR_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_binspector")))
}

/// The real `binspector` binary, started as a user would.
pub struct RunningBinary {
    pub child: Child,
    pub base: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl RunningBinary {
    /// Starts the binary on a free port with `data_dir`, waiting for its "open" line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> RunningBinary {
        Self::start_with(data_dir, "127.0.0.1:0", "warn", extra)
    }

    /// Starts the binary with its HTTPS listener on `listen` and `RUST_LOG=log`.
    pub fn start_with(data_dir: &Path, listen: &str, log: &str, extra: &[&str]) -> RunningBinary {
        let mut command = Command::new(binary());
        command.env("RUST_LOG", log);
        Self::spawn(binary_args(&mut command, listen, data_dir, extra), data_dir)
    }

    /// What the binary has logged so far (its stdout, then its stderr).
    pub fn log(&self) -> String {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        read(&self.stdout) + &read(&self.stderr)
    }

    /// The log once it holds `needle` (a line is copied from the server's stdout a moment
    /// after it is written), or as it is after five seconds.
    pub async fn log_with(&self, needle: &str) -> String {
        for _ in 0..50 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.log()
    }

    /// Starts the binary as above, but through `sh` with its files limited to `kib` KiB
    /// (`ulimit -f`), as on a disk that is full; writes past it fail instead of killing it.
    pub fn start_with_file_limit(data_dir: &Path, kib: u64, extra: &[&str]) -> RunningBinary {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -f {kib}; trap '' XFSZ; exec \"$0\" \"$@\""))
            .arg(binary());
        command.env("RUST_LOG", "warn");
        Self::spawn(
            binary_args(&mut command, "127.0.0.1:0", data_dir, extra),
            data_dir,
        )
    }

    /// A bin created on this server, by id.
    pub async fn bin_id(&self, client: &reqwest::Client) -> String {
        create_bin(client, &self.base).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    fn spawn(command: &mut Command, data_dir: &Path) -> RunningBinary {
        let stderr = data_dir.with_extension("stderr.log");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        // The log goes to stdout too: everything the server prints is kept for `log`.
        let log_path = data_dir.with_extension("stdout.log");
        let mut log = std::fs::File::create(&log_path).expect("log file");
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).expect("startup line") == 0
                || line.contains("is listening: open")
            {
                break;
            }
            std::io::Write::write_all(&mut log, line.as_bytes()).expect("log");
        }
        // Keep reading what the server prints so its stdout never fills or closes.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut log));
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        // Built first, so that a failed check below still stops the process.
        let server = RunningBinary {
            child,
            base: url,
            stdout: log_path,
            stderr,
        };
        assert!(
            server.base.starts_with("https://127.0.0.1:"),
            "unexpected startup line {line:?}; stderr: {}",
            server.log()
        );
        server
    }

    /// Sends a signal by name (TERM, KILL) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
