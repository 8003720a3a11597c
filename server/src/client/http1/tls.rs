//! https on a measured connection: rustls driven over the connection's own stamped reads, so
//! the data it decrypts keeps the kernel receive time of the bytes that carried it.

use super::{arrival, recv_stamped, Conn, WireError};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

impl Conn {
    /// [`Conn::read_more`] over TLS: plaintext rustls holds already, else one stamped read of
    /// ciphertext at a time until a record yields some.
    pub(super) async fn read_more_tls(&mut self) -> io::Result<usize> {
        loop {
            let Some(tls) = self.tls.as_mut() else { return Ok(0) };
            // The decrypted bytes rustls holds, into the buffer's spare room.
            let start = self.buf.len();
            let room = self.buf.capacity() - start;
            self.buf.resize(start + room, 0);
            let got = tls.conn.reader().read(&mut self.buf[start..]);
            self.buf.truncate(start + *got.as_ref().unwrap_or(&0));
            match got {
                Ok(0) => return Ok(0), // close_notify: the end of the stream
                Ok(n) => {
                    self.received_at = tls.stamp;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify, as many servers do: the end of the stream (a
                // cut-off chunked or sized body is still noticed by its framing).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // No plaintext: feed ciphertext already read, else read more from the socket.
            if tls.pending.is_empty() {
                if tls.eof {
                    return Ok(0);
                }
                if tls.pending.capacity() < TLS_READ {
                    tls.pending.reserve(TLS_READ);
                }
                self.tcp.readable().await?;
                let spare = tls.pending.spare_capacity_mut();
                match self.tcp.try_io(Interest::READABLE, || recv_stamped(&self.tcp, spare)) {
                    Ok((0, _)) => tls.eof = true,
                    Ok((n, kernel)) => {
                        tls.stamp = arrival(kernel);
                        // SAFETY: recv initialised the first n spare bytes.
                        unsafe { tls.pending.set_len(n) };
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            }
            tls.feed().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.flush_tls().await?;
        }
    }

    /// Send `data` as TLS records.
    pub(super) async fn write_tls(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(tls) = self.tls.as_mut() {
            tls.conn.writer().write_all(data)?;
        }
        self.flush_tls().await
    }

    /// Send what rustls has to send (handshake messages, records, alerts).
    pub(super) async fn flush_tls(&mut self) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else { return Ok(()) };
        while tls.conn.wants_write() {
            let mut out = Vec::new();
            tls.conn.write_tls(&mut out)?;
            self.tcp.write_all(&out).await?;
        }
        Ok(())
    }

    /// Wrap the connection in TLS and complete the handshake.
    pub(super) async fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> Result<(), WireError> {
        let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| WireError::Tls(crate::client::tls::explain(&e)))?;
        // A request body is written whole, whatever its size.
        conn.set_buffer_limit(None);
        self.tls = Some(Box::new(TlsLayer {
            conn,
            pending: Vec::with_capacity(TLS_READ),
            stamp: Instant::now(),
            eof: false,
        }));
        loop {
            self.flush_tls().await?;
            let Some(tls) = self.tls.as_mut() else { return Ok(()) };
            if !tls.conn.is_handshaking() {
                return Ok(());
            }
            if tls.pending.is_empty() {
                let mut chunk = vec![0u8; TLS_READ];
                let n = self.tcp.read(&mut chunk).await?;
                if n == 0 {
                    return Err(WireError::Tls(
                        "the server closed the connection during the TLS handshake: is it https here?".into(),
                    ));
                }
                chunk.truncate(n);
                tls.pending = chunk;
            }
            if let Err(e) = tls.feed() {
                // Tell the server why (an alert), then give up.
                let _ = self.flush_tls().await;
                return Err(WireError::Tls(e));
            }
        }
    }
    /// [`Conn::dead_while_idle`] over TLS: records that arrived meanwhile are read; session
    /// tickets keep the connection alive, data or a close_notify end it.
    pub(super) fn tls_dead_while_idle(&mut self) -> bool {
        let Some(tls) = self.tls.as_mut() else { return true };
        loop {
            let mut chunk = [0u8; 4096];
            match self.tcp.try_read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return !tls.pending.is_empty(),
                Ok(n) if n > 0 => tls.pending.extend_from_slice(&chunk[..n]),
                _ => return true,
            }
            if tls.feed().is_err() {
                return true;
            }
            let mut probe = [0u8; 1];
            match tls.conn.reader().read(&mut probe) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => return true,
            }
        }
    }
}

/// How much ciphertext one read takes.
pub(super) const TLS_READ: usize = 32 * 1024;

/// A connection's TLS state.
pub(super) struct TlsLayer {
    conn: rustls::ClientConnection,
    /// Ciphertext read but not yet given to rustls.
    pending: Vec<u8>,
    /// When the latest ciphertext read arrived (the kernel's receive time).
    stamp: Instant,
    /// The socket reached its end.
    eof: bool,
}

impl TlsLayer {
    /// Give rustls the pending ciphertext and process it, until it yields plaintext (which must
    /// be read before more is given: rustls holds a bounded amount) or nothing is left.
    pub(super) fn feed(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            // The socket's end: let rustls know, so a missing close_notify is noticed.
            let _ = self.conn.read_tls(&mut io::empty());
            self.conn.process_new_packets().map_err(|e| crate::client::tls::explain(&e))?;
            return Ok(());
        }
        while !self.pending.is_empty() {
            let mut rest: &[u8] = &self.pending;
            let taken = self.conn.read_tls(&mut rest).map_err(|e| format!("TLS: {e}"))?;
            self.pending.drain(..taken);
            let state = self.conn.process_new_packets().map_err(|e| crate::client::tls::explain(&e))?;
            if taken == 0 || state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                break;
            }
        }
        Ok(())
    }
}
