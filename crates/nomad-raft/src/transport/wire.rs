//! The frame format between servers: `u32` big-endian body length, then the body: one kind
//! byte and its payload.
//!
//! * kind 1, hello (first frame of every connection): wire version `u8`, sender id `u64`,
//!   cluster id and the sender's advertised Raft address (each `u16` length + UTF-8). A node
//!   that does not know the sender yet (it has just started empty) replies to that address.
//! * kind 2, a Raft `Message` in protobuf.
//!
//! Decoding never panics. Protobuf groups (wire types 3 and 4) are rejected before the
//! protobuf parser sees the bytes: Raft's messages never use them, and rust-protobuf 2 skips
//! unknown groups recursively (RUSTSEC-2024-0437: deep nesting overflows the stack).

use protobuf::Message as _;
use raft::eraftpb::Message;

/// Version byte sent in the hello frame.
pub const WIRE_VERSION: u8 = 1;

const KIND_HELLO: u8 = 1;
const KIND_RAFT: u8 = 2;

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// First frame of a connection.
    Hello {
        /// Wire version.
        version: u8,
        /// Sender's node id.
        from: u64,
        /// Sender's cluster id.
        cluster: String,
        /// Address the sender accepts Raft connections on.
        advertise: String,
    },
    /// A Raft message.
    Raft(Message),
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The body is empty.
    #[error("empty frame")]
    Empty,
    /// Unknown kind byte.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// A malformed hello.
    #[error("malformed hello frame")]
    BadHello,
    /// The Raft message is not valid protobuf (or uses groups).
    #[error("malformed raft message: {0}")]
    BadMessage(String),
    /// The frame is larger than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Limit.
        max: usize,
    },
}

/// Encodes a frame, length prefix included.
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame_into(frame, &mut out)?;
    Ok(out)
}

/// Appends a frame, length prefix included, to `out` (a sender's batch
/// buffer); on error `out` is as it was.
pub fn encode_frame_into(frame: &Frame, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0u8; 4]);
    let body = match frame {
        Frame::Hello {
            version,
            from,
            cluster,
            advertise,
        } => {
            out.push(KIND_HELLO);
            out.push(*version);
            out.extend_from_slice(&from.to_be_bytes());
            let mut r = Ok(());
            for s in [cluster, advertise] {
                let b = s.as_bytes();
                match u16::try_from(b.len()) {
                    Ok(len) => {
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(b);
                    }
                    Err(_) => r = Err(FrameError::BadHello),
                }
            }
            r
        }
        Frame::Raft(m) => {
            out.push(KIND_RAFT);
            // One allocation of the right size, not a doubling per 4 KiB
            // of entries (an append of a thousand job registrations is MBs).
            out.reserve(m.compute_size() as usize);
            m.write_to_vec(out)
                .map_err(|e| FrameError::BadMessage(e.to_string()))
        }
    };
    let len = out.len() - start - 4;
    let checked = body.and_then(|()| {
        u32::try_from(len).map_err(|_| FrameError::TooLarge {
            len,
            max: u32::MAX as usize,
        })
    });
    match checked {
        Ok(len) => {
            out[start..start + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Decodes a frame body (without the length prefix).
pub fn decode_frame(body: &[u8]) -> Result<Frame, FrameError> {
    let (&kind, rest) = body.split_first().ok_or(FrameError::Empty)?;
    match kind {
        KIND_HELLO => {
            let (&version, rest) = rest.split_first().ok_or(FrameError::BadHello)?;
            let id = rest.get(..8).ok_or(FrameError::BadHello)?;
            let mut b = [0u8; 8];
            b.copy_from_slice(id);
            let mut rest = &rest[8..];
            let cluster = take_str(&mut rest)?;
            let advertise = take_str(&mut rest)?;
            if !rest.is_empty() {
                return Err(FrameError::BadHello);
            }
            Ok(Frame::Hello {
                version,
                from: u64::from_be_bytes(b),
                cluster,
                advertise,
            })
        }
        KIND_RAFT => {
            check_no_groups(rest, Schema::Message, 0)
                .map_err(|e| FrameError::BadMessage(e.to_string()))?;
            let m = Message::parse_from_bytes(rest)
                .map_err(|e| FrameError::BadMessage(e.to_string()))?;
            Ok(Frame::Raft(m))
        }
        k => Err(FrameError::UnknownKind(k)),
    }
}

fn take_str(rest: &mut &[u8]) -> Result<String, FrameError> {
    let len = rest.get(..2).ok_or(FrameError::BadHello)?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    let s = rest.get(2..2 + len).ok_or(FrameError::BadHello)?;
    let s = std::str::from_utf8(s).map_err(|_| FrameError::BadHello)?;
    *rest = &rest[2 + len..];
    Ok(s.to_string())
}

#[derive(Clone, Copy)]
enum Schema {
    Message,
    Entry,
    Snapshot,
    SnapshotMetadata,
    ConfState,
}

impl Schema {
    fn sub(self, field: u64) -> Option<Schema> {
        match (self, field) {
            (Schema::Message, 7) => Some(Schema::Entry),
            (Schema::Message, 9) => Some(Schema::Snapshot),
            (Schema::Snapshot, 2) => Some(Schema::SnapshotMetadata),
            (Schema::SnapshotMetadata, 1) => Some(Schema::ConfState),
            _ => None,
        }
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, &'static str> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long")
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), &'static str> {
    if buf.len() < n {
        return Err("truncated field");
    }
    *buf = &buf[n..];
    Ok(())
}

/// Walks the protobuf wire format of the messages the parser will recurse into and rejects
/// group wire types anywhere in them.
fn check_no_groups(mut buf: &[u8], schema: Schema, depth: u32) -> Result<(), &'static str> {
    if depth > 4 {
        return Err("nesting too deep");
    }
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let field = tag >> 3;
        match tag & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => skip(&mut buf, 8)?,
            5 => skip(&mut buf, 4)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| "length overflow")?;
                if buf.len() < len {
                    return Err("truncated length-delimited field");
                }
                let (inner, rest) = buf.split_at(len);
                if let Some(sub) = schema.sub(field) {
                    check_no_groups(inner, sub, depth + 1)?;
                }
                buf = rest;
            }
            3 | 4 => return Err("protobuf groups are not allowed"),
            _ => return Err("invalid wire type"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::{Entry, MessageType};

    fn sample() -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        m.to = 2;
        m.from = 1;
        m.term = 3;
        let e = Entry {
            index: 5,
            data: b"hello".to_vec().into(),
            ..Default::default()
        };
        m.set_entries(vec![e].into());
        m.mut_snapshot().mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
        m
    }

    #[test]
    fn roundtrip() {
        let f = Frame::Raft(sample());
        let bytes = encode_frame(&f).unwrap();
        assert_eq!(decode_frame(&bytes[4..]).unwrap(), f);
        let h = Frame::Hello {
            version: 1,
            from: 9,
            cluster: "global".into(),
            advertise: "10.0.0.1:4647".into(),
        };
        let bytes = encode_frame(&h).unwrap();
        assert_eq!(decode_frame(&bytes[4..]).unwrap(), h);
    }

    #[test]
    fn garbage_never_panics() {
        let good = encode_frame(&Frame::Raft(sample())).unwrap();
        let mut seed = 0x1234_5678_u64;
        for i in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = good[4..].to_vec();
            let n = (seed % 4) as usize + 1;
            for j in 0..n {
                let pos = ((seed >> (j * 8)) as usize + i) % b.len();
                b[pos] = (seed >> (j * 5)) as u8;
            }
            if i % 3 == 0 {
                b.truncate((seed as usize) % b.len());
            }
            let _ = decode_frame(&b);
        }
        assert!(decode_frame(&[]).is_err());
        assert!(decode_frame(&[9, 1, 2]).is_err());
        assert!(decode_frame(&[1, 1]).is_err());
    }

    #[test]
    fn deep_groups_rejected() {
        // field 20, wire type 3 (start group), nested 100k deep.
        let mut b = vec![KIND_RAFT];
        for _ in 0..100_000 {
            b.extend_from_slice(&[0xa3, 0x01]);
        }
        assert!(matches!(decode_frame(&b), Err(FrameError::BadMessage(_))));
        // The same inside an entry.
        let mut inner = Vec::new();
        for _ in 0..1000 {
            inner.extend_from_slice(&[0xa3, 0x01]);
        }
        let mut b = vec![KIND_RAFT, (7 << 3) | 2];
        let mut len = inner.len();
        while len >= 0x80 {
            b.push((len as u8) | 0x80);
            len >>= 7;
        }
        b.push(len as u8);
        b.extend_from_slice(&inner);
        assert!(matches!(decode_frame(&b), Err(FrameError::BadMessage(_))));
    }
}
