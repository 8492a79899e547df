//! The benchmark's realistic load: Kaizala webhook traffic as a busy server sees it, which oha
//! (one body, one URL) cannot send. A fixed number of keep-alive HTTPS connections each send one
//! request after another for a while, spread over many bins:
//!
//! - Kaizala TextMessageCreated events, each with a fresh random `eventId` (so the duplicate
//!   index sees random keys), in a size mix: 70 % about 1 KB, 25 % about 8 KB, 5 % about 64 KB;
//! - 2 % Kaizala `validationToken` handshakes (GET), each with a fresh token, checked in the
//!   answer.
//!
//! It prints one JSON object: counts, throughput and latency percentiles over the steady part
//! of the run (after `--skip`), for all requests and for the handshakes alone.
//!
//! Run: `cargo run --release --example load -- --base https://127.0.0.1:8443 \
//!   --bins ID1,ID2,… --connections 50 --duration 10s`
//! (`--random-bins 100` makes up bin paths, for servers that take any path, like the floor).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::json;

/// Flags of the load generator.
#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Realistic Kaizala webhook load for the benchmarks."
)]
struct Args {
    /// Base URL of the server, e.g. https://127.0.0.1:8443.
    #[arg(long)]
    base: String,
    /// Bin ids to spread the load over, comma-separated.
    #[arg(long, value_delimiter = ',')]
    bins: Vec<String>,
    /// Make up this many bin paths instead of `--bins`.
    #[arg(long)]
    random_bins: Option<usize>,
    /// Keep-alive connections, each sending one request after another.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// How long to send, e.g. 10s.
    #[arg(long, value_parser = binspector::config::parse_duration, default_value = "10s")]
    duration: Duration,
    /// Send every event with the same `eventId` (the old one-body benchmark's pattern), to
    /// compare what random ids cost the duplicate index.
    #[arg(long)]
    same_event_id: bool,
    /// Leave the first part of the run out of the figures (connections are still opening).
    #[arg(long, value_parser = binspector::config::parse_duration, default_value = "1s")]
    skip: Duration,
}

/// The size classes: the share of requests (out of 100) and the body's approximate size.
const SIZES: [(u32, usize); 3] = [(70, 1024), (25, 8 * 1024), (5, 64 * 1024)];
/// Requests out of 100 that are validation handshakes.
const HANDSHAKES: u32 = 2;

/// A Kaizala event of about `size` bytes, split around its `eventId` value.
struct Template {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl Template {
    fn new(size: usize) -> Template {
        let event = |text: &str| {
            json!({
                "subscriptionId": "3f9d2b7e-6c41-4a8e-9b1d-0e5f7a2c8d14",
                "objectId": "a61c2e9f-8b3d-4f07-95e2-1d4c7b8e0f36@1",
                "objectType": "Group",
                "eventType": "TextMessageCreated",
                "eventId": "@EVENT_ID@",
                "data": {
                    "messageId": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "groupId": "a61c2e9f-8b3d-4f07-95e2-1d4c7b8e0f36@1",
                    "groupName": "District Health Volunteers - North Block",
                    "text": text,
                    "sentAt": 1_718_012_345_678_i64,
                },
                "context": "webhook-registration-7f3e",
                "fromUser": "+15550100",
                "fromUserId": "c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
                "fromUserName": "Asha Verma",
                "fromUserProfilePic": "https://kaizala.example/profile/c7d8e9f0/photo.jpg",
            })
            .to_string()
        };
        let frame = event("").len() + 36 - "@EVENT_ID@".len();
        let sentence = "Reminder: the health camp starts at 9:00 tomorrow at the community hall. ";
        let text: String = sentence
            .chars()
            .cycle()
            .take(size.saturating_sub(frame))
            .collect();
        let body = event(&text);
        let (before, after) = body
            .split_once("@EVENT_ID@")
            .expect("the template holds the event id's place");
        Template {
            before: before.as_bytes().to_vec(),
            after: after.as_bytes().to_vec(),
        }
    }

    /// The body with a fresh event id (or always the same one).
    fn body(&self, same: bool) -> Vec<u8> {
        let id = if same {
            "b2e4f6a8-1c3d-4e5f-8a9b-0c1d2e3f4a5b".to_owned()
        } else {
            uuid::Uuid::new_v4().hyphenated().to_string()
        };
        [&self.before, id.as_bytes(), &self.after].concat()
    }
}

/// One request's result: when it started (from the run's start), how long it took, and what.
struct Sample {
    at: Duration,
    took: Duration,
    handshake: bool,
    ok: bool,
}

/// A small, fast generator for the mix (not for anything secret).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let bins: Vec<String> = match args.random_bins {
        Some(n) => (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect(),
        None => args.bins.clone(),
    };
    assert!(!bins.is_empty(), "give --bins or --random-bins");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let templates: Arc<Vec<(u32, Template)>> = Arc::new(
        SIZES
            .iter()
            .map(|(share, size)| (*share, Template::new(*size)))
            .collect(),
    );
    let bins = Arc::new(bins);
    let start = Instant::now();
    let end = start + args.duration;
    let tasks: Vec<_> = (0..args.connections)
        .map(|n| {
            let (client, templates, bins, base) = (
                client.clone(),
                templates.clone(),
                bins.clone(),
                args.base.clone(),
            );
            let same = args.same_event_id;
            tokio::spawn(async move {
                let mut mix = Mix(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0x2545_F491));
                let mut samples = Vec::new();
                while Instant::now() < end {
                    let bin = &bins[mix.below(bins.len() as u64) as usize];
                    let sent = Instant::now();
                    let (handshake, ok) = if mix.below(100) < u64::from(HANDSHAKES) {
                        let token = format!("tok-{}", mix.next());
                        let answer = client
                            .get(format!("{base}/{bin}?validationToken={token}"))
                            .send()
                            .await;
                        let ok = match answer {
                            Ok(answer) if answer.status().is_success() => {
                                answer.text().await.is_ok_and(|text| text == token)
                            }
                            _ => false,
                        };
                        (true, ok)
                    } else {
                        let mut pick = mix.below(100) as u32;
                        let template = templates
                            .iter()
                            .find(|(share, _)| {
                                let hit = pick < *share;
                                pick = pick.saturating_sub(*share);
                                hit
                            })
                            .map_or(&templates[0].1, |(_, template)| template);
                        let answer = client
                            .post(format!("{base}/{bin}"))
                            .header("content-type", "application/json")
                            .header("kz-callback-token", "bench-token")
                            .body(template.body(same))
                            .send()
                            .await;
                        let ok = match answer {
                            Ok(answer) => {
                                let success = answer.status().is_success();
                                answer.bytes().await.is_ok() && success
                            }
                            Err(_) => false,
                        };
                        (false, ok)
                    };
                    samples.push(Sample {
                        at: sent - start,
                        took: sent.elapsed(),
                        handshake,
                        ok,
                    });
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("load task"));
    }
    let total = samples.len();
    let failed = samples.iter().filter(|s| !s.ok).count();
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.at >= args.skip).collect();
    let window = args
        .duration
        .saturating_sub(args.skip)
        .as_secs_f64()
        .max(1e-9);
    let percentiles = |mut took: Vec<f64>| {
        took.sort_by(f64::total_cmp);
        let at = |p: f64| {
            took.get(((took.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        };
        json!({ "count": took.len(), "p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999),
                "max_ms": took.last().copied().unwrap_or(0.0) })
    };
    let ms = |s: &&Sample| s.took.as_secs_f64() * 1000.0;
    let report = json!({
        "total": total,
        "failed": failed,
        "ok_total": total - failed,
        "steady_rps": steady.len() as f64 / window,
        "latency": percentiles(steady.iter().map(ms).collect()),
        "handshake_latency": percentiles(steady.iter().filter(|s| s.handshake).map(ms).collect()),
        "connections": args.connections,
        "bins": bins.len(),
    });
    println!("{report}");
}
