//! The tap's tests: bytes sent through a real `Tap` (over an in-memory pipe), some of them
//! a byte at a time, compared with what actix-http would read and what the tap recorded.

use actix_web::http::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Sends `wire` through a tap, `piece` bytes per read, and returns what actix-http would
/// read (until the end, or until the tap waits after a refusal) and the heads it saw.
async fn through(wire: &[u8], piece: usize) -> (Vec<u8>, Vec<Arc<RawHead>>, Arc<TapShared>) {
    let (mut client, server) = tokio::io::duplex(piece);
    let mut tap = Tap::new(server, Duration::from_secs(5));
    let shared = tap.shared();
    let wire = wire.to_vec();
    let sender = tokio::spawn(async move {
        let _ = client.write_all(&wire).await;
        let _ = client.shutdown().await;
    });
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(200), tap.read_to_end(&mut seen)).await;
    sender.abort();
    let heads = std::iter::from_fn(|| shared.next()).collect();
    (seen, heads, shared)
}

/// The refusal a connection ended with, found as the app finds it: by the synthetic
/// request's path.
fn refusal(seen: &[u8], shared: &TapShared) -> Refusal {
    let text = String::from_utf8_lossy(seen);
    let synthetic = text.rsplit("GET ").next().unwrap_or_default();
    let path = synthetic.split(' ').next().unwrap_or_default();
    shared.refusal_for(path).cloned().expect("a refusal")
}

fn names(head: &RawHead) -> Vec<&str> {
    head.fields().map(|(name, _)| name).collect()
}

#[tokio::test]
async fn heads_keep_their_order_and_bytes_and_bodies_pass_untouched() {
    let wire: &[u8] = b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nZ-Last: 1\r\nA-First: caf\xe9\r\n\
        Content-Length: 5\r\n\r\nhelloGET /b#frag HTTP/1.1\r\nhost: h\r\n\r\n";
    let (seen, heads, _) = through(wire, 4096).await;
    assert_eq!(seen, wire);
    assert_eq!(heads.len(), 2);
    assert!(heads[0].is_for("POST", &Uri::from_static("/a?x=1")));
    assert_eq!(
        names(&heads[0]),
        ["host", "z-last", "a-first", "content-length"]
    );
    assert_eq!(heads[0].fields().nth(2).unwrap().1, b"caf\xe9");
    assert!(
        heads[1].is_for("GET", &Uri::from_static("/b")),
        "the fragment is not compared"
    );
}

#[tokio::test]
async fn a_head_is_held_back_until_it_is_complete_and_blank_lines_are_dropped() {
    let (mut client, server) = tokio::io::duplex(4096);
    let mut tap = Tap::new(server, Duration::from_secs(5));
    let shared = tap.shared();
    let mut seen = vec![0u8; 256];
    for byte in b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r" {
        client.write_all(&[*byte]).await.unwrap();
        let read = tokio::time::timeout(Duration::from_millis(5), tap.read(&mut seen)).await;
        assert!(read.is_err(), "nothing goes on before the head is complete");
    }
    client.write_all(b"\n").await.unwrap();
    let read = tap.read(&mut seen).await.unwrap();
    assert_eq!(&seen[..read], b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(shared.next().is_some());
}

#[tokio::test]
async fn chunked_bodies_are_followed_byte_by_byte_and_their_trailers_kept() {
    let wire: &[u8] = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n0000000000000000006 \t\r\n world\r\n0\r\nX-Checksum: abc \r\n\
        X-Second:2\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    for piece in [1, 7, 4096] {
        let (seen, heads, shared) = through(wire, piece).await;
        assert_eq!(seen, wire, "pieces of {piece}");
        assert!(!shared.lost());
        assert_eq!(heads.len(), 2, "pieces of {piece}");
        let trailers = heads[0].trailers().expect("trailers were read");
        let got: Vec<(&str, &[u8])> = trailers
            .iter()
            .map(|field| (field.name.as_str(), &field.value[..]))
            .collect();
        assert_eq!(got, [("x-checksum", &b"abc"[..]), ("x-second", &b"2"[..])]);
        assert!(heads[1].is_for("GET", &Uri::from_static("/next")));
    }
}

#[tokio::test]
async fn broken_chunk_framing_loses_track_and_says_so() {
    let wire: &[u8] =
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET / HTTP/1.1\r\n";
    let (seen, heads, shared) = through(wire, 4096).await;
    assert_eq!(seen, wire, "everything passes on");
    assert!(shared.lost());
    assert!(heads.is_empty(), "no head is matched once track is lost");
}

#[tokio::test]
async fn heads_over_the_limits_or_invalid_are_replaced_by_a_refusal() {
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
    let big = format!(
        "GET / HTTP/1.1\r\nx-big: {}\r\n",
        "b".repeat(MAX_HEADER_BYTES)
    );
    let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for n in 0..MAX_HEADERS {
        many.push_str(&format!("x-{n}: v\r\n"));
    }
    many.push_str("\r\n");
    let no_host = "GET / HTTP/1.1\r\n\r\n".to_owned();
    for (wire, status) in [(long_line, 414), (big, 431), (many, 431), (no_host, 400)] {
        let (seen, heads, shared) = through(wire.as_bytes(), 4096).await;
        assert!(heads.is_empty());
        assert!(seen.starts_with(b"GET /.binspector-refused/"));
        assert_eq!(refusal(&seen, &shared).status, status);
    }
}

#[tokio::test]
async fn a_first_request_still_goes_through_before_a_refused_second() {
    let wire = format!(
        "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /{} HTTP/1.1\r\n",
        "a".repeat(MAX_REQUEST_LINE)
    );
    let (seen, heads, shared) = through(wire.as_bytes(), 4096).await;
    assert!(seen.starts_with(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /.binspector-refused/"));
    assert_eq!(heads.len(), 1);
    assert_eq!(refusal(&seen, &shared).status, 414);
}

#[tokio::test]
async fn upgrades_and_connect_make_the_tap_stand_aside() {
    let upgrade: &[u8] = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello";
    let wire = [upgrade, b"GET / HTTP/1.1\r\n\r\n"].concat();
    let (seen, heads, shared) = through(&wire, 4096).await;
    assert_eq!(seen, wire);
    assert_eq!(heads.len(), 1);
    assert!(!shared.lost(), "standing aside is not losing track");

    let connect: &[u8] = b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nanything";
    let (seen, heads, _) = through(connect, 4096).await;
    assert_eq!(seen, connect);
    assert_eq!(heads.len(), 1);
}

#[tokio::test]
async fn a_head_that_stalls_is_answered_408_through_the_app() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut tap = Tap::new(server, Duration::from_millis(100));
    let shared = tap.shared();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nPOST /slow HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut seen = vec![0u8; 1024];
    let first = tap.read(&mut seen).await.unwrap();
    assert_eq!(&seen[..first], b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let started = std::time::Instant::now();
    let second = tap.read(&mut seen).await.unwrap();
    let synthetic = String::from_utf8_lossy(&seen[..second]).into_owned();
    assert!(started.elapsed() >= Duration::from_millis(90));
    let path = synthetic.split(' ').nth(1).unwrap();
    assert_eq!(shared.refusal_for(path).map(|r| r.status), Some(408));
    assert!(shared.refusal_for("/").is_none());
}

#[tokio::test]
async fn a_client_closing_its_side_is_announced() {
    let (client, server) = tokio::io::duplex(64);
    let mut tap = Tap::new(server, Duration::from_secs(5));
    let shared = tap.shared();
    drop(client);
    let mut buf = [0u8; 8];
    assert_eq!(tap.read(&mut buf).await.unwrap(), 0);
    tokio::time::timeout(Duration::from_secs(1), shared.closed())
        .await
        .unwrap();
}
