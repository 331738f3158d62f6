//! Identity from the TLS session: the mTLS listener proves the peer's SPIFFE ID once per
//! connection and puts a [`PeerIdentity`] in each request; this layer turns it into the
//! [`CallerIdentity`] the A2A server reads, and removes anything else that claims to say who the
//! caller is. A request without a proven peer therefore reaches the A2A server anonymous, and the
//! server refuses it.

use std::task::{Context, Poll};

use agentweave_a2a::server::CallerIdentity;
use agentweave_identity::SpiffeId;
use agentweave_transport::PeerIdentity;

/// Wraps the A2A router.
#[derive(Clone, Debug)]
pub(crate) struct CallerFromPeer<S> {
    pub(crate) inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for CallerFromPeer<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let extensions = request.extensions_mut();
        let peer = extensions.remove::<PeerIdentity>();
        extensions.remove::<CallerIdentity>();
        extensions.remove::<SpiffeId>();
        if let Some(PeerIdentity(id)) = peer {
            extensions.insert(CallerIdentity::Spiffe(id));
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Service, ServiceExt};

    #[tokio::test]
    async fn only_the_tls_peer_becomes_the_caller() {
        let echo = tower::service_fn(|r: http::Request<()>| async move {
            Ok::<_, std::convert::Infallible>(CallerIdentity::from_extensions(r.extensions()))
        });
        let alice = SpiffeId::parse("spiffe://t.org/agent/alice").unwrap();
        let mallory = SpiffeId::parse("spiffe://t.org/agent/mallory").unwrap();
        let cases = [
            (Some(alice.clone()), None, CallerIdentity::Spiffe(alice.clone())),
            (Some(alice.clone()), Some(mallory.clone()), CallerIdentity::Spiffe(alice.clone())),
            (None, Some(mallory.clone()), CallerIdentity::Anonymous),
            (None, None, CallerIdentity::Anonymous),
        ];
        for (peer, forged, expected) in cases {
            let mut request = http::Request::new(());
            if let Some(peer) = peer {
                request.extensions_mut().insert(PeerIdentity(peer));
            }
            if let Some(forged) = forged {
                request.extensions_mut().insert(CallerIdentity::Spiffe(forged.clone()));
                request.extensions_mut().insert(forged);
            }
            let mut service = CallerFromPeer { inner: echo };
            let seen = service.ready().await.unwrap().call(request).await.unwrap();
            assert_eq!(seen, expected);
        }
    }
}
