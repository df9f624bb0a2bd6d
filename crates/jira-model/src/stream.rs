//! [`StreamSlot`]: where a transport leaves a file's body on the wire instead of reading
//! it whole.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;

/// A body as its chunks come off the wire; an error ends it early (the connection broke
/// or went quiet past the read timeout).
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Asks a transport to stream a file rather than read it.
///
/// A request carrying a slot ([`ApiRequest::streaming`](crate::ApiRequest::streaming)) is
/// sent and paced like any other; when its answer is a success whose body is not JSON
/// (an attachment's content, a thumbnail, an avatar), the transport puts the body in the
/// slot as it comes and answers with an empty body. JSON answers (whose objects the points
/// rule counts and a cache may keep), refusals and errors are read whole as always, and
/// leave the slot empty. Clones share the slot.
#[derive(Clone, Default)]
pub struct StreamSlot(Arc<Mutex<Option<BodyStream>>>);

impl StreamSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves `body` in the slot (replacing one not taken).
    pub fn put(&self, body: BodyStream) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
    }

    /// The streamed body, once: `None` when the answer was read whole.
    pub fn take(&self) -> Option<BodyStream> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Whether a body waits in the slot.
    pub fn is_filled(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

impl crate::ApiRequest {
    /// The request with its answer streamed into `slot` when the answer is a file (a
    /// success whose body is not JSON): see [`StreamSlot`].
    pub fn streaming(mut self, slot: StreamSlot) -> Self {
        self.stream_to = Some(slot);
        self
    }
}

impl std::fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSlot")
            .field("filled", &self.is_filled())
            .finish()
    }
}

/// Two requests are equal whatever their slots hold: a slot is where an answer goes, not
/// part of what is asked.
impl PartialEq for StreamSlot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Whether a `Content-Type` names JSON (`application/json`, `…+json`): such a body is
/// read whole, never streamed.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_gives_its_body_once_and_json_is_told_apart() {
        let slot = StreamSlot::new();
        assert!(!slot.is_filled());
        let twin = slot.clone();
        slot.put(Box::pin(futures_util::stream::iter([Ok(
            Bytes::from_static(b"x"),
        )])));
        assert!(twin.is_filled(), "clones share the slot");
        assert!(twin.take().is_some());
        assert!(slot.take().is_none());
        assert!(is_json(Some("application/json;charset=UTF-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("image/png")));
        assert!(!is_json(Some("application/octet-stream")));
        assert!(!is_json(None));
    }
}
