//! The stored form of an entry: a fixed header, then the payload.
//!
//! ```text
//! "JC" | version 1 | created_ms u64 | expires_ms u64 | len u32 | crc32 u32 | payload
//! ```
//!
//! The CRC covers the timestamps, the length and the payload, so a torn or corrupted write
//! (a process killed mid-write, a bad sector) is detected on read and the entry is treated
//! as absent, never served.

const MAGIC: &[u8; 2] = b"JC";
const VERSION: u8 = 1;
/// Bytes before the payload.
pub(crate) const HEADER: usize = 2 + 1 + 8 + 8 + 4 + 4;

/// A decoded entry; it keeps the stored bytes and reads its payload in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub created_ms: u64,
    pub expires_ms: u64,
    bytes: Vec<u8>,
}

impl Entry {
    /// The payload, without copying.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[HEADER..]
    }

    /// The payload, taking the bytes.
    pub fn into_payload(mut self) -> Vec<u8> {
        self.bytes.drain(..HEADER);
        self.bytes
    }
}

fn checksum(created_ms: u64, expires_ms: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&created_ms.to_be_bytes());
    hasher.update(&expires_ms.to_be_bytes());
    hasher.update(&(payload.len() as u32).to_be_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Encodes an entry.
pub(crate) fn encode(created_ms: u64, expires_ms: u64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.push(VERSION);
    bytes.extend_from_slice(&created_ms.to_be_bytes());
    bytes.extend_from_slice(&expires_ms.to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&checksum(created_ms, expires_ms, payload).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Decodes an entry; `None` for anything torn, truncated, corrupted or foreign.
pub(crate) fn decode(bytes: Vec<u8>) -> Option<Entry> {
    if bytes.len() < HEADER || &bytes[..2] != MAGIC || bytes[2] != VERSION {
        return None;
    }
    let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
    let created_ms = u64_at(3);
    let expires_ms = u64_at(11);
    let len = u32::from_be_bytes(bytes[19..23].try_into().unwrap()) as usize;
    let crc = u32::from_be_bytes(bytes[23..27].try_into().unwrap());
    let payload = &bytes[HEADER..];
    if payload.len() != len || checksum(created_ms, expires_ms, payload) != crc {
        return None;
    }
    Some(Entry {
        created_ms,
        expires_ms,
        bytes,
    })
}

/// The expiry of a stored entry without checking the payload (for eviction indexes).
pub(crate) fn expires_ms(bytes: &[u8]) -> Option<u64> {
    (bytes.len() >= HEADER && &bytes[..2] == MAGIC)
        .then(|| u64::from_be_bytes(bytes[11..19].try_into().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let bytes = encode(10, 20, b"{\"key\":\"PROJ-1\"}");
        let decoded = decode(bytes.clone()).unwrap();
        assert_eq!((decoded.created_ms, decoded.expires_ms), (10, 20));
        assert_eq!(decoded.payload(), b"{\"key\":\"PROJ-1\"}");
        assert_eq!(decoded.into_payload(), b"{\"key\":\"PROJ-1\"}".to_vec());
        assert_eq!(expires_ms(&bytes), Some(20));
        // Truncated anywhere.
        for cut in 0..bytes.len() {
            assert_eq!(decode(bytes[..cut].to_vec()), None, "cut at {cut}");
        }
        // Any single flipped bit.
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert_eq!(decode(flipped), None, "flip at {at}");
        }
        assert_eq!(decode(b"not an entry at all, just bytes".to_vec()), None);
    }
}
