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

pub use head::{beyond_limits, MAX_HEADERS, MAX_HEADER_BYTES, MAX_REQUEST_LINE};

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
use bytes::Bytes;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Notify,
    time::Sleep,
};

use self::scan::{Scanner, Step};

/// Bytes asked of the connection at a time.
const READ_SIZE: usize = 16 * 1024;

/// One header or trailer field as it came: the name lowercased, the value's exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: Bytes,
}

/// A request head as the tap read it: its bytes, and where each field is in them (a head
/// costs a handful of allocations, whatever its number of fields).
#[derive(Debug)]
pub struct RawHead {
    bytes: Bytes,
    method: (usize, usize),
    target: (usize, usize),
    /// The field names, lowercased, one after the other.
    names: String,
    fields: Vec<FieldAt>,
    trailers: OnceLock<Vec<Field>>,
}

/// Where one field's name is in `names` and its value in `bytes`.
#[derive(Debug)]
struct FieldAt {
    name: (usize, usize),
    value: (usize, usize),
}

impl RawHead {
    fn text(&self, (start, end): (usize, usize)) -> &str {
        std::str::from_utf8(self.bytes.get(start..end).unwrap_or_default()).unwrap_or_default()
    }

    /// The header fields in the order they arrived: name (lowercased) and exact value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|field| {
            let name = self
                .names
                .get(field.name.0..field.name.1)
                .unwrap_or_default();
            let value = self
                .bytes
                .get(field.value.0..field.value.1)
                .unwrap_or_default();
            (name, value)
        })
    }

    /// The trailer section of a chunked body, once the body has been read; `None` before then
    /// and for bodies that are not chunked.
    pub fn trailers(&self) -> Option<&[Field]> {
        self.trailers.get().map(Vec::as_slice)
    }

    /// Whether this head is the one actix-http parsed into a request with this method and URI.
    pub fn is_for(&self, method: &str, uri: &http::Uri) -> bool {
        if self.text(self.method) != method {
            return false;
        }
        // actix-http's URI drops a fragment the target may carry.
        let target = self.text(self.target);
        let target = target.split('#').next().unwrap_or_default();
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
    /// What was read from the connection: `[start..ready]` may go to actix-http,
    /// `[ready..]` is still being scanned (a head held back, say).
    buffer: Vec<u8>,
    start: usize,
    ready: usize,
    /// The synthetic head for a refusal, still to go to actix-http.
    synthetic: Vec<u8>,
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
            buffer: Vec::new(),
            start: 0,
            ready: 0,
            synthetic: Vec::new(),
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

    /// Decides about what was read, as far as the scanner can.
    fn scan(&mut self) {
        loop {
            match self.scanner.step(&self.buffer[self.ready..]) {
                Step::Pass(count) => self.ready += count,
                Step::Skip(count) => {
                    self.buffer.drain(self.ready..self.ready + count);
                }
                Step::NeedMore => break,
                Step::Refuse(refusal) => {
                    self.refuse(refusal);
                    break;
                }
            }
        }
        // Start, keep or end the head deadline.
        if self.scanner.heads != self.heads || !self.scanner.in_head() {
            self.heads = self.scanner.heads;
            self.deadline = None;
        }
        if self.scanner.in_head() && self.buffer.len() > self.ready && self.deadline.is_none() {
            self.deadline = Some(Box::pin(tokio::time::sleep(self.head_timeout)));
        }
    }

    /// Drops the head being read and hands actix-http the synthetic request instead.
    fn refuse(&mut self, refusal: Refusal) {
        if let Step::Refuse(refusal) = self.scanner.refuse(refusal) {
            self.buffer.truncate(self.ready);
            self.synthetic = self.shared.refused_head(refusal);
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
            if this.start < this.ready {
                let take = buf.remaining().min(this.ready - this.start);
                buf.put_slice(&this.buffer[this.start..this.start + take]);
                this.start += take;
                if this.start == this.buffer.len() {
                    this.buffer.clear();
                    (this.start, this.ready) = (0, 0);
                }
                return Poll::Ready(Ok(()));
            }
            if !this.synthetic.is_empty() {
                let take = buf.remaining().min(this.synthetic.len());
                buf.put_slice(&this.synthetic[..take]);
                this.synthetic.drain(..take);
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
            if this.scanner.opaque() && this.buffer.is_empty() {
                return match Pin::new(&mut this.io).poll_read(cx, buf) {
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                        this.shared.close();
                        Poll::Ready(Ok(()))
                    }
                    other => other,
                };
            }
            if this.head_late(cx) {
                this.refuse(Refusal::new(
                    408,
                    format!(
                        "the request head did not arrive within {} s; nothing was stored",
                        this.head_timeout.as_secs()
                    ),
                ));
                continue;
            }
            // Room to read into, reusing the buffer once what came before is handed on.
            if this.start > 0 {
                this.buffer.drain(..this.start);
                this.ready -= this.start;
                this.start = 0;
            }
            this.buffer.reserve(READ_SIZE);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buffer) {
                Poll::Ready(Ok(0)) => {
                    // Whatever is held back (a partial head) goes on, then the end.
                    this.ready = this.buffer.len();
                    this.ended = true;
                    this.shared.close();
                }
                Poll::Ready(Ok(_)) => this.scan(),
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
mod tests;
