//! Answers a gateway compressed although Bakeoff asked for `identity`: decoded as they stream,
//! each decoded piece keeping the arrival time of the bytes that completed it.

use super::{BodyEnd, Conn, Encoding, Flow, Head, WireError};
use std::io::{self, Write};
use std::time::Instant;

impl Conn {
    /// Read the body as [`Conn::read_body`] does, decoded when the server compressed it (gzip,
    /// deflate): each decoded piece carries the arrival time of the bytes that completed it.
    pub async fn read_content(&mut self, head: &Head, mut on_data: impl FnMut(&[u8], Instant) -> Flow) -> Result<BodyEnd, WireError> {
        let mut decoder = match &head.encoding {
            Encoding::Identity => return self.read_body(head.framing, on_data).await,
            Encoding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Encoding::Deflate => Decoder::Zlib(flate2::write::ZlibDecoder::new(Vec::new())),
            Encoding::Other(name) => {
                return Err(WireError::Protocol(format!(
                    "the answer is compressed as '{name}', which Bakeoff does not decode"
                )))
            }
        };
        let mut failed = None;
        let end = self
            .read_body(head.framing, |data, at| match decoder.feed(data) {
                Ok(out) if out.is_empty() => Flow::More,
                Ok(out) => on_data(&out, at),
                Err(e) => {
                    failed = Some(e);
                    Flow::Stop
                }
            })
            .await?;
        match failed {
            Some(e) => Err(WireError::Protocol(format!("the compressed answer could not be decoded ({e})"))),
            None => Ok(end),
        }
    }
}

/// A streaming decoder of a compressed body.
enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    /// Decode `data`, returning what it yields so far.
    fn feed(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Decoder::Gzip(d) => {
                d.write_all(data)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Zlib(d) => {
                d.write_all(data)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }
}
