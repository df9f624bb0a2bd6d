//! [`Lanes`]: one cache namespace per caller credential, over the site's one stack.
//!
//! The budget, the circuit breaker and the connection pool are the site's, shared by
//! every caller (Jira's burst limits are per tenant, endpoint and method); cache entries
//! are kept per credential, because what one account may see another may not. A lane's
//! namespace is the one a jira-ops run with the same credentials uses, so a caller's
//! reads and its own jira-ops runs share entries on a shared store.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use jira_cache::{AnyStore, Cached, Target};
use jira_client::{Auth, JiraClient, Transport as _};
use jira_transport::BoxTransport;
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};

/// One caller credential's view: its cache (if the client has one) over the shared stack.
pub(crate) struct Lane {
    /// What single-flight keys start with: a digest of the credential (never the
    /// credential itself).
    pub(crate) tag: String,
    /// Reads through this credential's cache namespace.
    pub(crate) cached: Option<Cached<Arc<BoxTransport>, AnyStore>>,
}

impl Lane {
    /// Sends a cacheable read through the lane's cache, or straight on without one.
    pub(crate) async fn read(
        &self,
        direct: &Arc<BoxTransport>,
        request: jira_model::ApiRequest,
    ) -> Result<jira_model::ApiResponse, jira_transport::Error> {
        match &self.cached {
            Some(cached) => cached.send(request).await,
            None => direct.send(request).await,
        }
    }
}

/// The lanes opened so far, by credential digest.
pub(crate) struct Lanes {
    client: Arc<JiraClient>,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

impl Lanes {
    pub(crate) fn new(client: Arc<JiraClient>) -> Self {
        Lanes {
            client,
            lanes: Mutex::default(),
        }
    }

    /// The lane of `authorization` (a forwarded caller's header; `None` for the client's
    /// own credentials or none at all), opened on first use.
    pub(crate) async fn lane(
        &self,
        authorization: Option<&HeaderValue>,
    ) -> Result<Arc<Lane>, jira_client::Error> {
        let tag = match authorization {
            Some(value) => {
                let digest = Sha256::digest(value.as_bytes());
                digest[..8].iter().map(|b| format!("{b:02x}")).collect()
            }
            None => "own".to_owned(),
        };
        if let Some(lane) = self.lanes.lock().get(&tag) {
            return Ok(lane.clone());
        }
        let cache = match authorization {
            None => self.client.cache().cloned(),
            Some(value) => match auth_of(value) {
                Some(auth) => self.client.cache_for(&auth).await?,
                // A scheme jira-ops does not know: no cache, so no namespace to mix up.
                None => None,
            },
        };
        let lane = Arc::new(Lane {
            tag: tag.clone(),
            cached: cache.map(|cache| Cached::new(self.client.uncached().clone(), cache)),
        });
        Ok(self.lanes.lock().entry(tag).or_insert(lane).clone())
    }

    /// Removes what `targets` name from every lane's cache; returns the entries removed.
    pub(crate) async fn invalidate(&self, targets: &[Target]) -> u64 {
        if targets.is_empty() {
            return 0;
        }
        let lanes: Vec<Arc<Lane>> = self.lanes.lock().values().cloned().collect();
        let mut removed = 0;
        for lane in lanes {
            let Some(cached) = &lane.cached else { continue };
            for target in targets {
                match cached.cache().invalidate(target).await {
                    Ok(n) => removed += n,
                    Err(error) => {
                        tracing::warn!(%error, "could not invalidate a cache entry; it ages out by its TTL");
                    }
                }
            }
        }
        removed
    }
}

/// The credentials an `Authorization` header carries: HTTP Basic (email and API token)
/// or a Bearer token; `None` for any other scheme or a header that does not parse.
pub(crate) fn auth_of(value: &HeaderValue) -> Option<Auth> {
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Auth::bearer(rest.trim()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (email, token) = decoded.split_once(':')?;
    Some(Auth::basic(email, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_are_read_and_anything_else_is_not() {
        let basic = HeaderValue::from_static("Basic YWxpY2VAZXhhbXBsZS5jb206dG9rZW4=");
        assert_eq!(
            auth_of(&basic),
            Some(Auth::basic("alice@example.com", "token"))
        );
        let bearer = HeaderValue::from_static("Bearer abc");
        assert_eq!(auth_of(&bearer), Some(Auth::bearer("abc")));
        assert_eq!(auth_of(&HeaderValue::from_static("Digest x")), None);
        assert_eq!(auth_of(&HeaderValue::from_static("Basic !!!")), None);
    }
}
