//! A small W3C WebDriver client for the browser test: it starts chromedriver, opens one
//! headless Chromium session, and drives it over plain HTTP JSON calls.

use std::{
    future::Future,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::free_port;

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long any wait for the page (navigation, live arrival, a status) may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Browser flags: headless, and quiet on a closed network (no background connections).
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--ignore-certificate-errors",
    "--window-size=1280,900",
];

/// Finds `name` on `PATH`, then in `/usr/bin`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The Chromium and chromedriver binaries, or `None` (after saying why) when the test must be
/// skipped. Under `CI=true` a missing browser fails the test instead.
pub fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_tool("chromium");
    let chromedriver = find_tool("chromedriver");
    if let (Some(chromium), Some(chromedriver)) = (&chromium, &chromedriver) {
        return Some((chromium.clone(), chromedriver.clone()));
    }
    let missing: Vec<&str> = [("chromium", &chromium), ("chromedriver", &chromedriver)]
        .iter()
        .filter(|(_, found)| found.is_none())
        .map(|(name, _)| *name)
        .collect();
    let why = format!(
        "{} not found on PATH or in /usr/bin (install the Debian packages chromium and \
         chromium-driver)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "browser test cannot run under CI=true: {why}"
    );
    eprintln!("SKIPPED browser test: {why}");
    None
}

/// Polls `probe` every 100 ms until it returns `Some`, panicking after `WAIT` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A chromedriver we started plus one browser session on it. Dropping it ends the session
/// (closing Chromium) and kills chromedriver, even when the test panics.
pub struct Browser {
    http: reqwest::Client,
    driver: Child,
    port: u16,
    session: Option<String>,
    /// Chromium's fresh profile, and chromedriver's log.
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port, waits until it is ready, and opens a headless
    /// Chromium session that accepts the self-signed certificate.
    pub async fn launch(chromium: &Path, chromedriver: &Path) -> Browser {
        let dir = tempfile::tempdir().expect("browser temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("chromedriver.log"))
            .expect("chromedriver log file");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("chromedriver starts");
        // From here on, Drop kills chromedriver whatever happens.
        let mut browser = Browser {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("webdriver client"),
            driver,
            port,
            session: None,
            dir,
        };
        let status_url = format!("http://127.0.0.1:{port}/status");
        let http = browser.http.clone();
        let log_path = browser.dir.path().join("chromedriver.log");
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let status = http.get(&status_url).send().await;
                if let Ok(response) = status {
                    let body: Value = response.json().await.unwrap_or_default();
                    if body["value"]["ready"] == true {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            ready.is_ok(),
            "chromedriver not ready after 20 s; its log: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );

        let profile = browser.dir.path().join("profile");
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "timeouts": { "pageLoad": 30_000, "script": 10_000, "implicit": 0 },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                }
            }
        });
        let created = browser
            .request(Method::POST, "/session", Some(capabilities))
            .await;
        browser.session = Some(
            created["sessionId"]
                .as_str()
                .expect("new session has an id")
                .to_owned(),
        );
        browser
    }

    /// Sends one WebDriver command and returns its `value`, panicking on a WebDriver error.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == Method::POST {
            request = request.json(&json!({}));
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("WebDriver {method} {path} failed: {err}"));
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .unwrap_or_else(|err| panic!("WebDriver {method} {path}: no JSON answer: {err}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path} answered {status}: {} {}",
            answer["value"]["error"],
            answer["value"]["message"]
        );
        answer["value"].clone()
    }

    /// Sends a command to the current session (`path` is relative to `/session/{id}`).
    pub async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let session = self.session.as_deref().expect("a browser session is open");
        self.request(method, &format!("/session/{session}{path}"), body)
            .await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Reloads the current page.
    pub async fn refresh(&self) {
        self.command(Method::POST, "/refresh", None).await;
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        self.command(Method::GET, "/url", None)
            .await
            .as_str()
            .expect("current URL is a string")
            .to_owned()
    }

    /// Every element matching the CSS `selector`, as WebDriver element ids, in page order.
    pub async fn find_all(&self, selector: &str) -> Vec<String> {
        let found = self
            .command(
                Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": selector })),
            )
            .await;
        found
            .as_array()
            .expect("element list")
            .iter()
            .map(|element| {
                element[ELEMENT_KEY]
                    .as_str()
                    .expect("element reference")
                    .to_owned()
            })
            .collect()
    }

    /// The one element matching `selector` (panics when there is none).
    pub async fn find(&self, selector: &str) -> String {
        let found = self.find_all(selector).await;
        found
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {selector}"))
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) {
        self.command(Method::POST, &format!("/element/{element}/click"), None)
            .await;
    }

    /// Types `text` into an element (a form field).
    pub async fn type_text(&self, element: &str, text: &str) {
        self.command(
            Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Empties a form field.
    pub async fn clear(&self, element: &str) {
        self.command(Method::POST, &format!("/element/{element}/clear"), None)
            .await;
    }

    /// An element's rendered text.
    pub async fn text(&self, element: &str) -> String {
        self.command(Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .expect("element text")
            .to_owned()
    }

    /// An element's attribute as written in the markup (`None` when absent).
    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.command(
            Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// An element's DOM property (an input's current `value`, say).
    pub async fn property(&self, element: &str, name: &str) -> Value {
        self.command(
            Method::GET,
            &format!("/element/{element}/property/{name}"),
            None,
        )
        .await
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns what it returns.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Makes pages see `prefers-color-scheme: dark` (or light), through Chromium's DevTools
    /// protocol; the current page restyles at once.
    pub async fn color_scheme(&self, scheme: &str) {
        let params = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        self.command(
            Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": "Emulation.setEmulatedMedia", "params": params })),
        )
        .await;
    }

    /// Chromium's console messages since the last call (chromedriver's `goog:loggingPrefs`).
    pub async fn console(&self) -> Vec<String> {
        self.command(Method::POST, "/se/log", Some(json!({ "type": "browser" })))
            .await
            .as_array()
            .expect("log entries")
            .iter()
            .map(|entry| format!("{} {}", entry["level"], entry["message"]))
            .collect()
    }

    /// Ends the session (closing Chromium); chromedriver stops when `self` drops.
    pub async fn quit(mut self) {
        if let Some(session) = self.session.take() {
            self.request(Method::DELETE, &format!("/session/{session}"), None)
                .await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            // A test that panicked left the session open: end it with a plain blocking
            // request (no runtime needed in Drop) so Chromium does not outlive chromedriver.
            let _ = end_session_blocking(self.port, &session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/{id}` over a bare socket, with short timeouts; returns the bytes read.
fn end_session_blocking(port: u16, session: &str) -> std::io::Result<usize> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver answers once Chromium has quit; the first bytes of that answer suffice
    // (it may keep the connection open, so do not wait for the end).
    let mut answer = [0; 1024];
    stream.read(&mut answer)
}
