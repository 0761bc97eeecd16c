//! `GET /v1/client/fs/stream/:alloc`: a file of an allocation, followed,
//! as decoded frames.

use base64::Engine;
use nomad_types::api::StreamFrame;

use crate::routes::LogStream;
use crate::{escape_path, Client, Error};

/// Where to start a file stream: `offset` bytes from the start (or back
/// from the end) of the file, and whether to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStreamRequest {
    /// Path inside the allocation directory (`alloc/data.txt`).
    pub path: String,
    /// Bytes from the origin.
    pub offset: i64,
    /// Count `offset` back from the end of the file.
    pub from_end: bool,
    /// Keep the stream open and send what is appended.
    pub follow: bool,
}

/// One decoded frame: bytes of the file ending at `offset`, or an event
/// (`file truncated`: reading restarts at 0; `file deleted`: the stream
/// ends).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileChunk {
    /// Offset in the file just after `data`.
    pub offset: i64,
    /// Bytes.
    pub data: Vec<u8>,
    /// The path the frame is of.
    pub file: String,
    /// Nomad's `FileEvent`, or empty.
    pub file_event: String,
}

/// An open file stream. Dropping it closes the connection (and ends the
/// agent's follower).
pub struct FileStream {
    body: LogStream,
    buf: Vec<u8>,
}

impl FileStream {
    /// The next frame (heartbeats, frames with neither data nor event, are
    /// skipped); `None` when the agent ends the stream.
    pub async fn next(&mut self) -> Result<Option<FileChunk>, Error> {
        loop {
            if let Some(frame) = self.take_frame()? {
                if frame.data.is_empty() && frame.file_event.is_empty() {
                    continue;
                }
                return Ok(Some(frame));
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None if self.buf.iter().all(u8::is_ascii_whitespace) => return Ok(None),
                None => {
                    return Err(Error::Decode(format!(
                        "file stream ended inside a frame ({} bytes left)",
                        self.buf.len()
                    )))
                }
            }
        }
    }

    /// A whole frame from the front of the buffer, if one is there.
    fn take_frame(&mut self) -> Result<Option<FileChunk>, Error> {
        let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<StreamFrame>();
        let frame = match it.next() {
            None => return Ok(None),
            Some(Err(e)) if e.is_eof() => return Ok(None),
            Some(Err(e)) => return Err(Error::Decode(format!("file stream frame: {e}"))),
            Some(Ok(f)) => f,
        };
        let used = it.byte_offset();
        self.buf.drain(..used);
        let data = base64::engine::general_purpose::STANDARD
            .decode(frame.data.as_bytes())
            .map_err(|e| Error::Decode(format!("file stream frame Data: {e}")))?;
        Ok(Some(FileChunk {
            offset: frame.offset,
            data,
            file: frame.file,
            file_event: frame.file_event,
        }))
    }
}

impl Client {
    /// `GET /v1/client/fs/stream/:alloc`: the file from the position
    /// asked, then (when following) what is appended.
    pub async fn alloc_fs_stream(
        &self,
        alloc_id: &str,
        req: &FileStreamRequest,
    ) -> Result<FileStream, Error> {
        let origin = if req.from_end { "end" } else { "start" };
        let params = [
            ("path".to_string(), req.path.clone()),
            ("offset".to_string(), req.offset.to_string()),
            ("origin".to_string(), origin.to_string()),
            ("follow".to_string(), req.follow.to_string()),
        ];
        let body = self
            .get_stream(
                &format!("/v1/client/fs/stream/{}", escape_path(alloc_id)),
                &params,
            )
            .await?;
        Ok(FileStream {
            body,
            buf: Vec::new(),
        })
    }
}
