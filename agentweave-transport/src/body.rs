//! The streamed response body every [`crate::Transport`] returns.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;

use crate::error::TransportError;

/// Called once when a pooled response body has been read to its end (the connection is then free
/// for the next request).
pub(crate) type OnComplete = Box<dyn FnOnce() + Send + Sync>;

/// A response body, streamed frame by frame (A2A streams server-sent events through it).
///
/// Dropping it before the end closes the underlying HTTP/1.1 connection (it cannot be reused
/// mid-response) or resets the HTTP/2 stream.
pub struct ResponseBody {
    inner: BoxBody<Bytes, TransportError>,
    on_complete: Option<OnComplete>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").field("size_hint", &self.inner.size_hint()).finish()
    }
}

impl ResponseBody {
    /// Wraps any body (for other [`crate::Transport`] implementations and test doubles).
    pub fn new<B>(body: B) -> Self
    where
        B: Body<Data = Bytes, Error = TransportError> + Send + Sync + 'static,
    {
        Self { inner: BoxBody::new(body), on_complete: None }
    }

    /// A body of known bytes.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self::new(http_body_util::Full::new(bytes.into()).map_err(|never| match never {}))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }

    pub(crate) fn from_hyper(body: hyper::body::Incoming, on_complete: Option<OnComplete>) -> Self {
        let inner = BoxBody::new(body.map_err(|e| TransportError::Body { detail: e.to_string() }));
        let mut this = Self { inner, on_complete };
        if this.inner.is_end_stream() {
            this.complete();
        }
        this
    }

    /// Reads the whole body into memory (for bodies known to be small; streams should be read
    /// frame by frame).
    pub async fn collect_bytes(self) -> Result<Bytes, TransportError> {
        Ok(BodyExt::collect(self).await?.to_bytes())
    }

    fn complete(&mut self) {
        if let Some(done) = self.on_complete.take() {
            done();
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.complete(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.complete(),
            // An error means the connection is unusable; `on_complete` is dropped without being
            // called so the connection is not returned to the pool.
            Poll::Ready(Some(Err(_))) => self.on_complete = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
