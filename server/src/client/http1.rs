//! HTTP/1.1 for the measured requests: a purpose-built client for one thing, a POST answered
//! by a stream, as cheaply and as precisely timed as the machine allows (reqwest is still used
//! for every other call).
//!
//! - **The kernel's receive time.** Each socket asks for `SO_TIMESTAMPNS`, so every read reports
//!   when its bytes arrived, not when this process got round to reading them: a burst of 1,000
//!   first tokens handled by one thread is stamped as it arrived, not as it was worked through.
//! - **No copies, no hand-offs.** The response is read into one buffer per connection; the head
//!   is parsed with `httparse`, and the chunked body's data is handed to the caller in place, in
//!   the request's own task.
//! - **Keep-alive.** Idle connections wait in a small pool; one the server closed meanwhile is
//!   noticed before use, and a request that finds its kept-alive connection dead before any
//!   answer is sent once more on a new one.
//! - **https** through rustls, driven here over the same stamped reads (see [`Conn::read_more`]).
//!   The request asks for `accept-encoding: identity`; a gateway that compresses anyway is
//!   decoded (gzip, deflate) or named ([`Head::encoding`]).

use app::domain::url::{parse_request_url, Host};
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// An idle connection older than this is closed rather than reused: uvicorn (vLLM's HTTP server)
/// closes keep-alive connections after 5 s, and reusing one as it closes would fail a request.
const IDLE_MAX: Duration = Duration::from_secs(4);
const IDLE_PER_HOST: usize = 4096;

/// Where a request goes, from a URL read by the one URL parser (`app::domain::url`).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// https: the connection is wrapped in TLS.
    pub tls: bool,
    pub host: Host,
    /// `host:port` to connect to (the scheme's port when none is given).
    pub authority: String,
    /// The `Host` header (the port only when it is not the scheme's default).
    pub host_header: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let u = parse_request_url(url)?;
        Ok(Target {
            tls: u.is_tls(),
            authority: u.authority(),
            host_header: u.host_header(),
            host: u.host,
            path: u.path,
        })
    }

    /// The name the server's certificate must hold.
    fn server_name(&self) -> Result<rustls::pki_types::ServerName<'static>, String> {
        match &self.host {
            Host::Ip(ip) => Ok(rustls::pki_types::ServerName::IpAddress((*ip).into())),
            Host::Name(n) => {
                rustls::pki_types::ServerName::try_from(n.clone()).map_err(|_| format!("'{n}' cannot be checked against a TLS certificate"))
            }
        }
    }
}

/// Decides whether a host may be reached at the addresses it resolved to (the endpoint policy).
pub type Allow = Arc<dyn Fn(&Host, &[SocketAddr]) -> Result<(), String> + Send + Sync>;

/// How requests reach one endpoint: its TLS trust, the headers every request carries, and where
/// connections may go.
#[derive(Clone)]
pub struct Route {
    /// Connections are pooled per route partition and host, so a connection whose server was
    /// verified against one endpoint's CA is never reused for an endpoint that trusts another.
    pub partition: u64,
    pub tls: Arc<rustls::ClientConfig>,
    /// Extra request header lines (`name: value\r\n` each), the API key's included.
    pub headers: Arc<[u8]>,
    /// Checked on the resolved addresses of every new connection.
    pub allow: Option<Allow>,
}

impl Route {
    /// Plain routes: the default TLS trust, no extra headers, anywhere.
    pub fn plain(tls: Arc<rustls::ClientConfig>) -> Self {
        Route {
            partition: 0,
            tls,
            headers: Arc::from(&b""[..]),
            allow: None,
        }
    }
}

#[cfg(target_os = "linux")]
fn enable_timestamps(fd: std::os::fd::RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and an int option value of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Linux stamps incoming packets only while some socket asks for it, and switches stamping on
/// and off with a delay (a deferred static key), so the first packets after the first socket
/// opens, or after the last one closed, go unstamped. One socket held open for the life of the
/// process keeps it on.
#[cfg(target_os = "linux")]
pub fn keep_timestamping_on() {
    use std::os::fd::AsRawFd;
    static KEEPER: OnceLock<Option<std::net::UdpSocket>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        enable_timestamps(sock.as_raw_fd()).ok()?;
        Some(sock)
    });
}

/// `recvmsg` into `buf`, returning the byte count and the `SCM_TIMESTAMPNS` time, if any.
#[cfg(target_os = "linux")]
fn recv_stamped(tcp: &TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<SystemTime>)> {
    let sock = socket2::SockRef::from(tcp);
    // Room for one cmsghdr and a timespec, 8-byte aligned.
    let mut control = [MaybeUninit::<u8>::uninit(); 64];
    let mut bufs = [socket2::MaybeUninitSlice::new(buf)];
    let mut msg = socket2::MsgHdrMut::new().with_buffers(&mut bufs).with_control(&mut control);
    let n = sock.recvmsg(&mut msg, 0)?;
    let control_len = msg.control_len();
    // SAFETY: the kernel initialised the first `control_len` bytes of the control buffer.
    let control: &[u8] = unsafe { std::slice::from_raw_parts(control.as_ptr().cast(), control_len.min(control.len())) };
    Ok((n, timestamp_from_control(control)))
}

/// The `SCM_TIMESTAMPNS` message among the control messages (Linux layout: `cmsghdr` with a
/// `size_t` length and two `int`s, data aligned to `size_t`).
#[cfg(target_os = "linux")]
fn timestamp_from_control(control: &[u8]) -> Option<SystemTime> {
    const WORD: usize = std::mem::size_of::<usize>();
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + header <= control.len() {
        let len = usize::from_ne_bytes(control[at..at + WORD].try_into().ok()?);
        let level = i32::from_ne_bytes(control[at + WORD..at + WORD + 4].try_into().ok()?);
        let kind = i32::from_ne_bytes(control[at + WORD + 4..at + WORD + 8].try_into().ok()?);
        if len < header || at + len > control.len() {
            return None;
        }
        if level == libc::SOL_SOCKET && kind == libc::SCM_TIMESTAMPNS && len >= header + 16 {
            let data = &control[at + header..at + header + 16];
            let secs = i64::from_ne_bytes(data[..8].try_into().ok()?);
            let nanos = i64::from_ne_bytes(data[8..].try_into().ok()?);
            return UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?));
        }
        at += len.div_ceil(WORD) * WORD;
    }
    None
}

/// When bytes that arrived at `kernel` (the wall clock) arrived on this process's monotonic clock.
fn arrival(kernel: Option<SystemTime>) -> Instant {
    let now = Instant::now();
    kernel
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        // A clock step would give nonsense; a real receive time is recent.
        .filter(|age| *age < Duration::from_secs(10))
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Plain `recv` where there are no kernel timestamps.
#[cfg(not(target_os = "linux"))]
fn recv_stamped(tcp: &TcpStream, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<SystemTime>)> {
    // SAFETY: try_read only writes to the slice.
    let buf = unsafe { &mut *(buf as *mut [MaybeUninit<u8>] as *mut [u8]) };
    tcp.try_read(buf).map(|n| (n, None))
}

#[cfg(not(target_os = "linux"))]
pub fn keep_timestamping_on() {}

/// Why a request failed on the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection {0}")]
    Closed(&'static str),
    #[error("not an HTTP/1.1 response: {0}")]
    Protocol(String),
    /// The TLS layer refused the connection or the data (the message says what to do).
    #[error("{0}")]
    Tls(String),
}

impl WireError {
    /// Nothing of an answer was received: on a kept-alive connection, the server had closed it.
    fn before_answer(&self) -> bool {
        match self {
            WireError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted
            ),
            WireError::Closed(_) => true,
            WireError::Protocol(_) | WireError::Tls(_) => false,
        }
    }
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Framing {
    Chunked,
    Length(u64),
    /// Until the server closes the connection.
    Close,
}

/// How the body of a response is compressed (`Content-Encoding`).
#[derive(Clone, Debug, PartialEq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// zlib-wrapped deflate, as HTTP's `deflate` is.
    Deflate,
    /// Anything else (`br`, `zstd`, several codings): named, not decoded.
    Other(String),
}

/// A response head.
#[derive(Clone, Debug)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    /// The connection may carry another request once this body is read.
    pub keep_alive: bool,
    pub encoding: Encoding,
    /// `Retry-After` as sent (at most 64 visible characters), for 429 and 503 answers.
    pub retry_after: Option<String>,
}

/// What the body reader does after handing out data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Flow {
    More,
    /// Only the end of the body is wanted now (so the connection can be reused); give up after a second.
    Drain,
    /// Stop reading; the connection is not reused.
    Stop,
}

/// How the body reading ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BodyEnd {
    /// Read to its end.
    Complete,
    /// The caller stopped (or draining took too long).
    Stopped,
}

const BUF_START: usize = 16 * 1024;
const HEAD_MAX: usize = 64 * 1024;
const DRAIN_FOR: Duration = Duration::from_secs(1);

/// One HTTP/1.1 connection and its read buffer.
pub struct Conn {
    tcp: TcpStream,
    /// https: the TLS state, driven over `tcp` by this connection's own reads and writes.
    tls: Option<Box<tls::TlsLayer>>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..]`.
    pos: usize,
    reused: bool,
    idle_since: Instant,
    /// When the bytes of the latest read arrived.
    received_at: Instant,
}

/// A chunked body's decoding state.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

impl Conn {
    fn new(tcp: TcpStream) -> Self {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            keep_timestamping_on();
            if let Err(e) = enable_timestamps(tcp.as_raw_fd()) {
                tracing::debug!("SO_TIMESTAMPNS refused: {e}");
            }
        }
        Conn {
            tcp,
            tls: None,
            buf: Vec::with_capacity(BUF_START),
            pos: 0,
            reused: false,
            idle_since: Instant::now(),
            received_at: Instant::now(),
        }
    }

    /// When the bytes of the latest read arrived (the kernel's receive time where available).
    pub fn received_at(&self) -> Instant {
        self.received_at
    }

    /// Read more bytes into the buffer; 0 at end of stream.
    ///
    /// Over https the socket's reads are the same stamped `recvmsg` calls: ciphertext goes to
    /// rustls, and the plaintext it yields is stamped with the kernel receive time of the read
    /// that completed its TLS record. That is when the bytes of that data had all arrived (a
    /// record cannot be decrypted before its last byte is in), which is what a token's arrival
    /// means; decryption happens after, in this task, and is not counted.
    async fn read_more(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(self.buf.capacity().max(4096));
        }
        if self.tls.is_some() {
            return self.read_more_tls().await;
        }
        loop {
            self.tcp.readable().await?;
            let spare = self.buf.spare_capacity_mut();
            match self.tcp.try_io(Interest::READABLE, || recv_stamped(&self.tcp, spare)) {
                Ok((n, kernel)) => {
                    if n > 0 {
                        self.received_at = arrival(kernel);
                        // SAFETY: recv initialised the first n spare bytes.
                        unsafe { self.buf.set_len(self.buf.len() + n) };
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Send a POST with a JSON body, asking for an uncompressed answer, with the route's headers.
    pub async fn post_json(&mut self, target: &Target, headers: &[u8], body: &[u8]) -> io::Result<()> {
        let mut req = Vec::with_capacity(body.len() + headers.len() + 200);
        req.extend_from_slice(b"POST ");
        req.extend_from_slice(target.path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        req.extend_from_slice(target.host_header.as_bytes());
        req.extend_from_slice(
            b"\r\ncontent-type: application/json\r\naccept: text/event-stream, application/json\r\naccept-encoding: identity\r\n",
        );
        req.extend_from_slice(headers);
        req.extend_from_slice(b"content-length: ");
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(body);
        if self.tls.is_some() {
            self.write_tls(&req).await
        } else {
            self.tcp.write_all(&req).await
        }
    }

    /// Read the response head (informational 1xx heads are passed over).
    pub async fn read_head(&mut self) -> Result<Head, WireError> {
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&self.buf[self.pos..]) {
                    Ok(httparse::Status::Complete(len)) => Some((len, head_of(&resp)?)),
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => return Err(WireError::Protocol(e.to_string())),
                }
            };
            match parsed {
                Some((len, head)) => {
                    self.pos += len;
                    if (100..200).contains(&head.status) {
                        continue;
                    }
                    return Ok(head);
                }
                None => {
                    if self.buf.len() - self.pos > HEAD_MAX {
                        return Err(WireError::Protocol(format!("response head longer than {HEAD_MAX} bytes")));
                    }
                    if self.read_more().await? == 0 {
                        return Err(WireError::Closed(if self.buf.len() == self.pos {
                            "before answering"
                        } else {
                            "in the middle of the response head"
                        }));
                    }
                }
            }
        }
    }

    /// Read the body, handing each piece of data to `on_data` with its arrival time, in place.
    pub async fn read_body(&mut self, framing: Framing, mut on_data: impl FnMut(&[u8], Instant) -> Flow) -> Result<BodyEnd, WireError> {
        let mut draining_since: Option<Instant> = None;
        let mut flow = Flow::More;
        let mut state = match framing {
            Framing::Chunked => Chunk::Size,
            Framing::Length(0) => return Ok(BodyEnd::Complete),
            Framing::Length(n) => Chunk::Data(n),
            Framing::Close => Chunk::Data(u64::MAX),
        };
        loop {
            // Decode what is buffered.
            loop {
                let avail = &self.buf[self.pos..];
                match state {
                    Chunk::Data(rem) => {
                        if avail.is_empty() {
                            break;
                        }
                        let n = avail.len().min(usize::try_from(rem).unwrap_or(usize::MAX));
                        if flow != Flow::Drain {
                            flow = on_data(&avail[..n], self.received_at);
                            if flow == Flow::Stop {
                                return Ok(BodyEnd::Stopped);
                            }
                        }
                        self.pos += n;
                        let rem = rem - n as u64;
                        state = match (rem, framing) {
                            (0, Framing::Chunked) => Chunk::DataEnd,
                            (0, _) => return Ok(BodyEnd::Complete),
                            _ => Chunk::Data(rem),
                        };
                    }
                    Chunk::Size | Chunk::Trailers => {
                        let Some(nl) = memchr::memchr(b'\n', avail) else {
                            if avail.len() > 4096 {
                                return Err(WireError::Protocol("chunk size line too long".into()));
                            }
                            break;
                        };
                        let line = &avail[..nl];
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        if state == Chunk::Trailers {
                            self.pos += nl + 1;
                            if line.is_empty() {
                                return Ok(BodyEnd::Complete);
                            }
                            continue;
                        }
                        let size = chunk_size(line)?;
                        self.pos += nl + 1;
                        state = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                    }
                    Chunk::DataEnd => {
                        if avail.len() < 2 {
                            if avail.first().is_some_and(|&c| c != b'\r') {
                                return Err(WireError::Protocol("chunk data not followed by CRLF".into()));
                            }
                            break;
                        }
                        if &avail[..2] != b"\r\n" {
                            return Err(WireError::Protocol("chunk data not followed by CRLF".into()));
                        }
                        self.pos += 2;
                        state = Chunk::Size;
                    }
                }
            }
            // Need more bytes.
            let read = if flow == Flow::Drain {
                let since = *draining_since.get_or_insert_with(Instant::now);
                let left = DRAIN_FOR.saturating_sub(since.elapsed());
                match tokio::time::timeout(left, self.read_more()).await {
                    Ok(r) => r?,
                    Err(_) => return Ok(BodyEnd::Stopped),
                }
            } else {
                self.read_more().await?
            };
            if read == 0 {
                return match (framing, state) {
                    (Framing::Close, _) => Ok(BodyEnd::Complete),
                    _ => Err(WireError::Closed("in the middle of the response body")),
                };
            }
        }
    }

    /// Closed by the peer (or left with unread bytes) while idle, checked without waiting.
    fn dead_while_idle(&mut self) -> bool {
        if self.pos != self.buf.len() {
            return true;
        }
        if self.tls.is_some() {
            return self.tls_dead_while_idle();
        }
        let mut probe = [0u8; 1];
        match self.tcp.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            _ => true, // end of stream, unexpected bytes, or an error
        }
    }
}

/// The parts of a parsed head that matter here.
fn head_of(resp: &httparse::Response<'_, '_>) -> Result<Head, WireError> {
    let status = resp.code.ok_or_else(|| WireError::Protocol("no status code".into()))?;
    let mut chunked = false;
    let mut length = None;
    let mut close = resp.version == Some(0);
    let mut encoding = Encoding::Identity;
    let mut retry_after = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .split(|&c| c == b',')
                .any(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<u64>().ok());
            length = Some(v.ok_or_else(|| WireError::Protocol("bad content-length".into()))?);
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= h.value.split(|&c| c == b',').any(|v| v.trim_ascii().eq_ignore_ascii_case(b"close"));
        } else if h.name.eq_ignore_ascii_case("content-encoding") {
            encoding = encoding_of(h.value);
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            retry_after = Some(shown(h.value, 64));
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Head {
        status,
        framing,
        keep_alive: !close && framing != Framing::Close,
        encoding,
        retry_after,
    })
}

/// A `Content-Encoding` value.
fn encoding_of(value: &[u8]) -> Encoding {
    let v = shown(value, 32).to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Encoding::Identity,
        "gzip" | "x-gzip" => Encoding::Gzip,
        "deflate" => Encoding::Deflate,
        _ => Encoding::Other(v),
    }
}

/// A header value as text that is safe to show: visible ASCII and spaces, at most `max` bytes.
fn shown(value: &[u8], max: usize) -> String {
    value
        .trim_ascii()
        .iter()
        .take(max)
        .map(|&b| if b == b' ' || b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// A chunk-size line: hex digits, optionally followed by `;extensions`.
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line.split(|&c| c == b';').next().unwrap_or_default().trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(WireError::Protocol(format!("bad chunk size {:?}", String::from_utf8_lossy(line))));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u64::from_str_radix(d, 16).ok())
        .ok_or_else(|| WireError::Protocol(format!("bad chunk size {:?}", String::from_utf8_lossy(line))))
}

/// Keep-alive connections by route partition, scheme and `host:port`.
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<Conn>>>,
    connect_timeout: Duration,
}

fn pool_key(route: &Route, target: &Target) -> String {
    format!(
        "{}|{}|{}",
        route.partition,
        if target.tls { "https" } else { "http" },
        target.authority
    )
}

impl Pool {
    pub fn new(connect_timeout: Duration) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
        }
    }

    /// A live idle connection to `target`, else a new one.
    pub async fn checkout(&self, route: &Route, target: &Target) -> Result<Conn, String> {
        if let Some(conn) = self.take_idle(route, target) {
            return Ok(conn);
        }
        self.connect(route, target).await
    }

    fn take_idle(&self, route: &Route, target: &Target) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(&pool_key(route, target))?;
        while let Some(mut conn) = list.pop() {
            if conn.idle_since.elapsed() < IDLE_MAX && !conn.dead_while_idle() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Open a new connection to `target`: resolve, check the addresses against the route's
    /// policy, connect, and for https complete the TLS handshake, all within the connect timeout.
    pub async fn connect(&self, route: &Route, target: &Target) -> Result<Conn, String> {
        let open = async {
            let addrs: Vec<SocketAddr> = match &target.host {
                Host::Ip(ip) => vec![SocketAddr::new(*ip, port_of(&target.authority))],
                Host::Name(_) => tokio::net::lookup_host(&target.authority)
                    .await
                    .map_err(|e| format!("could not resolve {} ({e})", target.host))?
                    .collect(),
            };
            if let Some(allow) = &route.allow {
                allow(&target.host, &addrs)?;
            }
            let tcp = TcpStream::connect(&addrs[..])
                .await
                .map_err(|e| format!("connection refused or unreachable: {e}"))?;
            let _ = tcp.set_nodelay(true);
            let mut conn = Conn::new(tcp);
            if target.tls {
                let name = target.server_name()?;
                conn.start_tls(route.tls.clone(), name)
                    .await
                    .map_err(|e| format!("https to {}: {e}", target.authority))?;
            }
            Ok(conn)
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Err(_) => Err(format!(
                "connecting to {} timed out after {} s",
                target.authority,
                self.connect_timeout.as_secs()
            )),
            Ok(r) => r,
        }
    }

    /// Put back a connection whose last response was read to its end.
    pub fn checkin(&self, route: &Route, target: &Target, mut conn: Conn) {
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(pool_key(route, target)).or_default();
        if list.len() < IDLE_PER_HOST {
            list.push(conn);
        }
    }

    /// Send the POST and read the response head. A kept-alive connection the server closed
    /// meanwhile (nothing answered on it) is replaced once by a new one.
    pub async fn request(&self, route: &Route, target: &Target, body: &[u8]) -> Result<(Conn, Head), String> {
        let mut retried = false;
        loop {
            let mut conn = self.checkout(route, target).await?;
            let sent = conn.post_json(target, &route.headers, body).await.map_err(WireError::from);
            let result = match sent {
                Ok(()) => conn.read_head().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(head) => return Ok((conn, head)),
                Err(e) if conn.reused && !retried && e.before_answer() => retried = true,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// The port of a `host:port` authority (always given by `Target`).
fn port_of(authority: &str) -> u16 {
    authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(80)
}

mod decode;
mod tls;

#[cfg(test)]
mod wire_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            Target::parse("http://127.0.0.1:8000/v1/chat/completions"),
            Ok(Target {
                tls: false,
                host: Host::Ip("127.0.0.1".parse().expect("ip")),
                authority: "127.0.0.1:8000".into(),
                host_header: "127.0.0.1:8000".into(),
                path: "/v1/chat/completions".into()
            })
        );
        assert_eq!(
            Target::parse("http://gpu-box/v1/completions").map(|t| (t.authority, t.host_header)),
            Ok(("gpu-box:80".into(), "gpu-box".into()))
        );
        let https = Target::parse("https://API.example.com/v1/chat/completions").expect("https");
        assert!(https.tls);
        assert_eq!(
            (https.authority.as_str(), https.host_header.as_str()),
            ("api.example.com:443", "api.example.com")
        );
        let v6 = Target::parse("https://[::1]:8443/gw/v1/completions").expect("v6");
        assert_eq!((v6.authority.as_str(), v6.path.as_str()), ("[::1]:8443", "/gw/v1/completions"));
        assert_eq!(Target::parse("http://[::1]/v1/models").map(|t| t.authority), Ok("[::1]:80".into()));
        assert!(Target::parse("http:///v1").is_err());
        // The one URL parser: what the checks refuse, the measured streams refuse too.
        assert!(Target::parse("http://user:pw@gpu:8000/v1/chat/completions").is_err());
        assert!(Target::parse("ftp://x/v1").is_err());
    }

    /// Bytes that arrived before a late read are stamped with their arrival, not the read.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn reads_carry_the_kernel_receive_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let mut conn = Conn::new(client);
        // Stamping switches on a little after the first socket asks (see keep_timestamping_on):
        // exchange bytes until a read carries the kernel's stamp.
        let mut kernel_on = false;
        for _ in 0..100 {
            server.write_all(b"x").await.expect("write");
            conn.tcp.readable().await.expect("readable");
            let mut raw = [MaybeUninit::<u8>::uninit(); 1];
            let (_, kernel) = recv_stamped(&conn.tcp, &mut raw).expect("recv");
            if kernel.is_some() {
                kernel_on = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(kernel_on, "the kernel never stamped a read on this socket");
        let before_write = Instant::now();
        server.write_all(b"hello").await.expect("write");
        // The bytes are in the client's socket now; read them 50 ms later.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before_read = Instant::now();
        let n = conn.read_more().await.expect("read");
        assert_eq!(&conn.buf[..n], b"hello");
        let at = conn.received_at();
        assert!(at + Duration::from_millis(40) < before_read, "stamped at the read, not the arrival");
        assert!(at + Duration::from_millis(1) > before_write, "stamped before the bytes were sent");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn control_messages_are_walked_to_the_timestamp() {
        let header = std::mem::size_of::<libc::cmsghdr>();
        let mut control = Vec::new();
        // An unrelated message first (level IPPROTO_IP, 4 bytes of data, padded).
        let other_len = header + 4;
        control.extend_from_slice(&other_len.to_ne_bytes());
        control.extend_from_slice(&libc::IPPROTO_IP.to_ne_bytes());
        control.extend_from_slice(&7i32.to_ne_bytes());
        control.extend_from_slice(&[0u8; 8]);
        let ts_len = header + 16;
        control.extend_from_slice(&ts_len.to_ne_bytes());
        control.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
        control.extend_from_slice(&libc::SCM_TIMESTAMPNS.to_ne_bytes());
        control.extend_from_slice(&1_700_000_000i64.to_ne_bytes());
        control.extend_from_slice(&250_000_000i64.to_ne_bytes());
        let t = timestamp_from_control(&control).expect("found");
        assert_eq!(
            t.duration_since(UNIX_EPOCH).expect("after epoch"),
            Duration::new(1_700_000_000, 250_000_000)
        );
        assert_eq!(timestamp_from_control(&control[..other_len + 4]), None);
    }

    const SSE: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

    /// A server that answers every request on a connection with a short stream, then closes the
    /// connection when `close_after` is set; it counts the connections it accepted.
    async fn sse_server(close_after: bool) -> (String, Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/v1/chat/completions", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: headers, then Content-Length bytes of body.
                        let head_end = loop {
                            if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                                break i + 4;
                            }
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..head_end + len);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{SSE}\r\n0\r\n\r\n",
                            SSE.len()
                        );
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        if close_after {
                            return; // dropped: the client's kept-alive connection is now dead
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn one_connection_serves_request_after_request() {
        let (url, accepted) = sse_server(false).await;
        let client = crate::client::Client::new();
        for _ in 0..3 {
            let m = client.send(&url, Bytes::from_static(b"{}"), Duration::from_secs(5)).await;
            assert_eq!(m.outcome, app::domain::status::Outcome::Ok, "{:?}", m.error);
            assert_eq!(m.response, "hi");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_not_counted_as_an_error() {
        let (url, accepted) = sse_server(true).await;
        let client = crate::client::Client::new();
        for _ in 0..3 {
            let m = client.send(&url, Bytes::from_static(b"{}"), Duration::from_secs(5)).await;
            assert_eq!(m.outcome, app::domain::status::Outcome::Ok, "{:?}", m.error);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    /// Serve `pieces` as the raw response (each written separately), read it with a `Conn`.
    async fn exchange(pieces: Vec<Vec<u8>>) -> (Result<Head, String>, Vec<u8>, Result<BodyEnd, String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            for p in pieces {
                sock.write_all(&p).await.expect("write");
                sock.flush().await.expect("flush");
                tokio::task::yield_now().await;
            }
            // closing ends a read-to-close body, and cuts any unfinished one
        });
        let mut conn = Conn::new(TcpStream::connect(addr).await.expect("connect"));
        let head = conn.read_head().await.map_err(|e| e.to_string());
        let mut body = Vec::new();
        let end = match &head {
            Ok(h) => conn
                .read_body(h.framing, |d, _| {
                    body.extend_from_slice(d);
                    Flow::More
                })
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        server.await.expect("server");
        (head, body, end)
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
        7\r\ndata: a\r\n1;ext=1\r\n\n\r\nF\r\n\ndata: [DONE]\n\n\r\n0\r\nx-trailer: 1\r\n\r\n";

    #[tokio::test]
    async fn a_chunked_body_split_anywhere_reads_the_same() {
        let expected = b"data: a\n\ndata: [DONE]\n\n".to_vec();
        // Every split point of the response into two writes (TCP may merge them; the result
        // must not depend on how the bytes arrive).
        for at in (1..CHUNKED.len()).step_by(3) {
            let (head, body, end) = exchange(vec![CHUNKED[..at].to_vec(), CHUNKED[at..].to_vec()]).await;
            let head = head.expect("head");
            assert_eq!((head.status, head.framing, head.keep_alive), (200, Framing::Chunked, true));
            assert_eq!(body, expected, "split at {at}");
            assert_eq!(end, Ok(BodyEnd::Complete), "split at {at}");
        }
    }

    #[tokio::test]
    async fn length_close_and_informational_responses() {
        let (head, body, end) = exchange(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\nboom!".to_vec(),
        ])
        .await;
        let head = head.expect("head");
        assert_eq!((head.status, head.framing, head.keep_alive), (500, Framing::Length(5), true));
        assert_eq!((body.as_slice(), end), (&b"boom!"[..], Ok(BodyEnd::Complete)));

        let (head, body, end) = exchange(vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end".to_vec()]).await;
        let head = head.expect("head");
        assert_eq!((head.framing, head.keep_alive), (Framing::Close, false));
        assert_eq!((body.as_slice(), end), (&b"until the end"[..], Ok(BodyEnd::Complete)));
    }

    #[tokio::test]
    async fn cut_and_broken_responses_are_errors() {
        let cut = CHUNKED[..CHUNKED.len() - 20].to_vec();
        let (_, _, end) = exchange(vec![cut]).await;
        assert!(
            end.as_ref().is_err_and(|e| e.contains("in the middle of the response body")),
            "{end:?}"
        );

        let (_, _, end) = exchange(vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec()]).await;
        assert!(end.as_ref().is_err_and(|e| e.contains("bad chunk size")), "{end:?}");

        let (head, _, _) = exchange(vec![b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()]).await;
        assert!(head.as_ref().is_err_and(|e| e.contains("not an HTTP/1.1 response")), "{head:?}");

        let (head, _, _) = exchange(vec![]).await;
        assert!(head.as_ref().is_err_and(|e| e.contains("before answering")), "{head:?}");
    }
}
