//! The HTTP/1 tap: a thin layer between a connection and actix-http that reads each request
//! head as it came, in arrival order with every byte, and each chunked body's trailer section,
//! which actix-http's header map and chunked decoder do not keep.
//!
//! It is also the gate for request heads. It holds each head back until it is complete (and
//! cuts off one that takes longer than the head timeout), and answers through the app one that
//! is over the documented limits or that actix-http would refuse: actix-http would answer those
//! with an empty `400` or `431`, or not at all for a long request line under its own 128 KiB
//! buffer. Such a head is replaced by a small synthetic request, on a path only this
//! connection knows, that the app answers with `400`, `408`, `414` or `431`, a message, and
//! `Connection: close`.
//!
//! The tap only observes bodies (it never holds them back) and follows actix-http's framing
//! rules exactly (see [`head`] and [`scan`]). If it ever cannot follow a connection it stops
//! looking, and the connection is closed after the request in flight.

mod head;
mod scan;

pub use head::{MAX_HEADERS, MAX_HEADER_BYTES, MAX_REQUEST_LINE};

use std::{
    collections::VecDeque,
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, MutexGuard, OnceLock, PoisonError,
    },
    task::{Context, Poll},
    time::Duration,
};

use actix_web::http;
use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Notify,
    time::Sleep,
};

use self::scan::Scanner;

/// Bytes asked of the connection at a time.
const READ_SIZE: usize = 16 * 1024;

/// One header or trailer field as it came: the name lowercased, the value's exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: Bytes,
}

/// A request head as the tap read it.
#[derive(Debug)]
pub struct RawHead {
    method: String,
    target: String,
    fields: Vec<Field>,
    trailers: OnceLock<Vec<Field>>,
}

impl RawHead {
    /// The header fields in the order they arrived.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The trailer section of a chunked body, once the body has been read; `None` before then
    /// and for bodies that are not chunked.
    pub fn trailers(&self) -> Option<&[Field]> {
        self.trailers.get().map(Vec::as_slice)
    }

    /// Whether this head is the one actix-http parsed into a request with this method and URI.
    pub fn is_for(&self, method: &str, uri: &http::Uri) -> bool {
        if self.method != method {
            return false;
        }
        // actix-http's URI drops a fragment the target may carry.
        let target = self.target.split('#').next().unwrap_or_default();
        match uri.path_and_query() {
            Some(origin_form) if target.starts_with('/') => origin_form.as_str() == target,
            _ => *uri == target,
        }
    }
}

/// A head the tap answers through the app instead of passing on, and what to tell its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 408, 414 or 431.
    pub status: u16,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, message: String) -> Refusal {
        Refusal { status, message }
    }
}

/// The tap's findings, shared with the requests of its connection.
#[derive(Debug)]
pub struct TapShared {
    heads: Mutex<VecDeque<Arc<RawHead>>>,
    /// Set when the tap stopped following the connection: no more heads come.
    lost: AtomicBool,
    /// The path of this connection's synthetic request, and what it answers.
    refusal_path: String,
    refusal: OnceLock<Refusal>,
    /// Set (and announced) when the client closed its side of the connection.
    closed: AtomicBool,
    closing: Notify,
}

impl TapShared {
    fn new() -> TapShared {
        TapShared {
            heads: Mutex::new(VecDeque::new()),
            lost: AtomicBool::new(false),
            refusal_path: format!("/.binspector-refused/{}", uuid::Uuid::new_v4().simple()),
            refusal: OnceLock::new(),
            closed: AtomicBool::new(false),
            closing: Notify::new(),
        }
    }

    fn heads(&self) -> MutexGuard<'_, VecDeque<Arc<RawHead>>> {
        self.heads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, head: Arc<RawHead>) {
        if !self.lost() {
            self.heads().push_back(head);
        }
    }

    /// The head of the request actix-http is dispatching now (requests of a connection are
    /// dispatched in the order they came).
    pub fn next(&self) -> Option<Arc<RawHead>> {
        self.heads().pop_front()
    }

    /// The head of the request being dispatched, without taking it (for the Expect check,
    /// which runs before the request reaches the app).
    pub fn peek(&self) -> Option<Arc<RawHead>> {
        self.heads().front().cloned()
    }

    /// What the app answers a request on `path`, if it is this connection's synthetic one.
    pub fn refusal_for(&self, path: &str) -> Option<&Refusal> {
        (path == self.refusal_path)
            .then(|| self.refusal.get())
            .flatten()
    }

    fn refused_head(&self, refusal: Refusal) -> Vec<u8> {
        let _ = self.refusal.set(refusal);
        format!(
            "GET {} HTTP/1.1\r\nhost: refused.invalid\r\nconnection: close\r\n\r\n",
            self.refusal_path
        )
        .into_bytes()
    }

    /// Gives up on matching heads to requests: the tap and actix-http disagree.
    pub fn lose_track(&self) {
        self.lost.store(true, Ordering::Release);
        self.heads().clear();
    }

    /// Whether the tap stopped following this connection (it should be closed).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.closing.notify_waiters();
    }

    /// Resolves once the client has closed its side of the connection (a live stream then
    /// ends at once instead of at its next failed write).
    pub async fn closed(&self) {
        let notified = self.closing.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }
}

/// A connection with the tap in front of it.
pub struct Tap<IO> {
    io: IO,
    input: BytesMut,
    output: BytesMut,
    scanner: Scanner,
    shared: Arc<TapShared>,
    /// The connection ended: no more reads from it.
    ended: bool,
    head_timeout: Duration,
    /// When the head being collected must be complete: from the start of the connection for
    /// the first, from its first byte for later ones.
    deadline: Option<Pin<Box<Sleep>>>,
    heads: u64,
}

impl<IO> Tap<IO> {
    /// Puts the tap in front of a fresh connection whose heads must each arrive within
    /// `head_timeout`.
    pub fn new(io: IO, head_timeout: Duration) -> Tap<IO> {
        let shared = Arc::new(TapShared::new());
        Tap {
            io,
            input: BytesMut::new(),
            output: BytesMut::new(),
            scanner: Scanner::new(shared.clone()),
            shared,
            ended: false,
            head_timeout,
            deadline: Some(Box::pin(tokio::time::sleep(head_timeout))),
            heads: 0,
        }
    }

    /// The findings this tap shares with its connection's requests.
    pub fn shared(&self) -> Arc<TapShared> {
        self.shared.clone()
    }

    /// The connection underneath.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Starts, keeps or ends the head deadline after the scanner moved.
    fn track_deadline(&mut self) {
        if self.scanner.heads != self.heads || !self.scanner.in_head() {
            self.heads = self.scanner.heads;
            self.deadline = None;
        }
        if self.scanner.in_head() && !self.input.is_empty() && self.deadline.is_none() {
            self.deadline = Some(Box::pin(tokio::time::sleep(self.head_timeout)));
        }
    }

    /// Whether the head being collected ran out of time (registering for its wake-up if not).
    fn head_late(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.deadline {
            Some(deadline) if self.scanner.in_head() => deadline.as_mut().poll(cx).is_ready(),
            _ => false,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tap<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.output.is_empty() {
                let take = buf.remaining().min(this.output.len());
                buf.put_slice(&this.output.split_to(take));
                return Poll::Ready(Ok(()));
            }
            if this.scanner.refused() {
                // The synthetic head says `Connection: close`; an end of input now could make
                // actix-http drop the connection before it answers.
                return Poll::Pending;
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            if this.scanner.opaque() && this.input.is_empty() {
                return match Pin::new(&mut this.io).poll_read(cx, buf) {
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                        this.shared.close();
                        Poll::Ready(Ok(()))
                    }
                    other => other,
                };
            }
            if this.head_late(cx) {
                let refusal = Refusal::new(
                    408,
                    format!(
                        "the request head did not arrive within {} s; nothing was stored",
                        this.head_timeout.as_secs()
                    ),
                );
                this.scanner
                    .refuse(&mut this.input, &mut this.output, refusal);
                continue;
            }
            if !this.input.is_empty() && this.scanner.advance(&mut this.input, &mut this.output) {
                this.track_deadline();
                continue;
            }
            this.input.reserve(READ_SIZE);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.input) {
                Poll::Ready(Ok(0)) => {
                    // Whatever is held back (a partial head) goes on, then the end.
                    this.output.extend_from_slice(&this.input.split());
                    this.ended = true;
                    this.shared.close();
                }
                Poll::Ready(Ok(_)) => {
                    this.scanner.advance(&mut this.input, &mut this.output);
                    this.track_deadline();
                }
                Poll::Ready(Err(err)) => {
                    this.shared.close();
                    return Poll::Ready(Err(err));
                }
                Poll::Pending => {
                    // Registered for the deadline too, if a head is under way.
                    this.head_late(cx);
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tap<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

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
}
