//! HTTP/2 only: what is left of a request body is read (a little of it, briefly) before the
//! answer goes out. When a request is answered without its body being read (a 401, a 404,
//! a 303 to the login form) and the client is still sending it, the stream is reset as the
//! request is dropped, and clients can lose the answer with it (curl: "Stream error in the
//! HTTP/2 framing layer"). Reading the rest first lets a small body finish, so the answer
//! arrives. HTTP/1 needs none of this: the tap and actix-http handle unread bodies there.

use std::{
    cell::RefCell,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::Version,
    middleware::Next,
    HttpMessage,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// Most bytes read after the answer is ready; a larger body may still be cut off.
const MOST: usize = 64 * 1024;
/// Longest wait for them.
const WAIT: Duration = Duration::from_secs(1);

/// The request's body, shared so that what the handler leaves can be read afterwards.
struct Shared(Rc<RefCell<Payload>>);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.borrow_mut().poll_next_unpin(cx)
    }
}

/// Middleware: see the module comment.
pub async fn finish_bodies<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if req.version() != Version::HTTP_2 {
        return next.call(req).await;
    }
    let body = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::from(
        Box::pin(Shared(body.clone())) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let response = next.call(req).await?;
    let drain = async {
        let mut read = 0;
        let mut rest = Shared(body);
        while let Some(Ok(chunk)) = rest.next().await {
            read += chunk.len();
            if read > MOST {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(WAIT, drain).await;
    Ok(response)
}
