//! HTTP/1.1 for the measured requests.
//!
//! Two things set this apart from a general-purpose client (reqwest is still used for every other
//! call):
//! - **The kernel's receive time.** Each socket asks for `SO_TIMESTAMPNS`, so every read reports
//!   when its bytes arrived, not when this process got round to reading them. A burst of 1,000
//!   first tokens handled by one thread is stamped as it arrived, not as it was worked through.
//! - **One task per request, no hand-off per chunk.** hyper's connection is driven inside the
//!   request's own task (`Conn::drive`), so a body chunk goes from the socket to the SSE parser
//!   without waking a second task. Idle connections wait in a small keep-alive pool.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// An idle connection older than this is closed rather than reused: uvicorn (vLLM's HTTP server)
/// closes keep-alive connections after 5 s, and reusing one as it closes would fail a request.
const IDLE_MAX: Duration = Duration::from_secs(4);
const IDLE_PER_HOST: usize = 4096;

/// Where a request goes: `host:port` and the path, from an `http://` URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            path: path.to_string(),
        })
    }
}

/// When the bytes of a read arrived: nanoseconds after [`origin`], 0 when not known.
type Stamp = Arc<AtomicU64>;

/// A fixed point before any stamp: set when the first socket opens, a minute back so that
/// receive times (which precede their reads) never fall before it.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let now = Instant::now();
        now.checked_sub(Duration::from_secs(60)).unwrap_or(now)
    })
}

/// A stamp as an instant (`None` when the kernel gave none).
fn stamp_instant(stamp: &Stamp) -> Option<Instant> {
    match stamp.load(Ordering::Relaxed) {
        0 => None,
        ns => Some(origin() + Duration::from_nanos(ns)),
    }
}

/// A TCP stream whose reads record the kernel's receive time of their bytes.
pub struct StampedTcp {
    tcp: TcpStream,
    stamp: Stamp,
}

impl StampedTcp {
    pub fn new(tcp: TcpStream) -> Self {
        origin();
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            keep_timestamping_on();
            if let Err(e) = enable_timestamps(tcp.as_raw_fd()) {
                tracing::debug!("SO_TIMESTAMPNS refused: {e}");
            }
        }
        StampedTcp {
            tcp,
            stamp: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The receive time of the last read's bytes.
    pub fn stamp(&self) -> Stamp {
        self.stamp.clone()
    }

    fn record(&self, kernel: Option<SystemTime>) {
        let now = Instant::now();
        let at = kernel
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            // A clock step would give nonsense; a real receive time is recent.
            .filter(|age| *age < Duration::from_secs(10))
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(now);
        let ns = at.saturating_duration_since(origin()).as_nanos().max(1) as u64;
        self.stamp.store(ns, Ordering::Relaxed);
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

impl AsyncRead for StampedTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        #[cfg(target_os = "linux")]
        loop {
            std::task::ready!(self.tcp.poll_read_ready(cx))?;
            // SAFETY: recvmsg only writes to the slice; `assume_init` below covers just the bytes it wrote.
            let unfilled = unsafe { buf.unfilled_mut() };
            match self.tcp.try_io(Interest::READABLE, || recv_stamped(&self.tcp, unfilled)) {
                Ok((n, kernel)) => {
                    if n > 0 {
                        self.record(kernel);
                    }
                    // SAFETY: recvmsg initialised `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let me = self.get_mut();
            let before = buf.filled().len();
            let r = Pin::new(&mut me.tcp).poll_read(cx, buf);
            if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
                me.record(None);
            }
            r
        }
    }
}

impl AsyncWrite for StampedTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

type Driver = Pin<Box<Connection<TokioIo<StampedTcp>, Full<Bytes>>>>;

/// One HTTP/1.1 connection: the request handle and the connection state machine, which the
/// request's task polls itself (`drive`).
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
    stamp: Stamp,
    closed: bool,
    reused: bool,
    idle_since: Instant,
}

impl Conn {
    /// Run `fut` while driving the connection in the same task.
    pub async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        drive_split(&mut self.driver, &mut self.closed, fut).await
    }

    /// When the bytes most recently read arrived (the kernel's receive time where available).
    pub fn received_at(&self) -> Option<Instant> {
        stamp_instant(&self.stamp)
    }

    /// Whether this connection had served a request before this one.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Closed by the peer while idle (checked without waiting).
    fn closed_while_idle(&mut self) -> bool {
        if !self.closed {
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            if self.driver.as_mut().poll(&mut cx).is_ready() {
                self.closed = true;
            }
        }
        self.closed || self.sender.is_closed()
    }
}

/// Keep-alive connections by `host:port`.
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<Conn>>>,
    connect_timeout: Duration,
}

impl Pool {
    pub fn new(connect_timeout: Duration) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
        }
    }

    /// A live idle connection to `target`, else a new one.
    pub async fn checkout(&self, target: &Target) -> Result<Conn, String> {
        if let Some(conn) = self.take_idle(target) {
            return Ok(conn);
        }
        self.connect(target).await
    }

    fn take_idle(&self, target: &Target) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(&target.authority)?;
        while let Some(mut conn) = list.pop() {
            if conn.idle_since.elapsed() < IDLE_MAX && !conn.closed_while_idle() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Open a new connection to `target`.
    pub async fn connect(&self, target: &Target) -> Result<Conn, String> {
        let tcp = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(&target.authority)).await {
            Err(_) => return Err(format!("connecting to {} timed out after {} s", target.authority, self.connect_timeout.as_secs())),
            Ok(Err(e)) => return Err(format!("connection refused or unreachable: {e}")),
            Ok(Ok(t)) => t,
        };
        let _ = tcp.set_nodelay(true);
        let io = StampedTcp::new(tcp);
        let stamp = io.stamp();
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
        Ok(Conn {
            sender,
            driver: Box::pin(driver),
            stamp,
            closed: false,
            reused: false,
            idle_since: Instant::now(),
        })
    }

    /// Put back a connection whose last response was read to its end.
    pub fn checkin(&self, target: &Target, mut conn: Conn) {
        if conn.closed || conn.sender.is_closed() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(target.authority.clone()).or_default();
        if list.len() < IDLE_PER_HOST {
            list.push(conn);
        }
    }
}

/// Send a POST with a JSON body on `conn`, driving the connection until the response head is in.
pub async fn post_json(conn: &mut Conn, target: &Target, body: Bytes) -> Result<hyper::Response<Incoming>, hyper::Error> {
    let req = hyper::Request::post(target.path.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("a POST with a path, two valid headers and a body is a valid request");
    // A reused connection takes the next request once its last exchange is closed off.
    let sender = &mut conn.sender;
    drive_split(&mut conn.driver, &mut conn.closed, poll_fn(|cx| sender.poll_ready(cx))).await?;
    let fut = conn.sender.send_request(req);
    conn.drive(fut).await
}

/// Poll `fut`, driving the connection in the same task (split borrows, so `fut` may borrow the sender).
async fn drive_split<F: Future>(driver: &mut Driver, closed: &mut bool, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if !*closed && driver.as_mut().poll(cx).is_ready() {
            // Closed or failed: whatever waits on it (response, body) now ends with an error.
            *closed = true;
        }
        fut.as_mut().poll(cx)
    })
    .await
}

/// The next body frame's data (`Ok(None)` at the end), with the connection driven meanwhile.
pub async fn next_data(conn: &mut Conn, body: &mut Incoming) -> Result<Option<Bytes>, hyper::Error> {
    loop {
        match conn.drive(body.frame()).await {
            None => return Ok(None),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
                // Trailers: nothing to read.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            Target::parse("http://127.0.0.1:8000/v1/chat/completions"),
            Ok(Target {
                authority: "127.0.0.1:8000".into(),
                path: "/v1/chat/completions".into()
            })
        );
        assert_eq!(Target::parse("http://gpu-box/v1/completions").map(|t| t.authority), Ok("gpu-box:80".into()));
        assert!(Target::parse("https://x/v1").is_err());
        assert!(Target::parse("http:///v1").is_err());
    }

    /// Bytes that arrived before a late read are stamped with their arrival, not the read.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn reads_carry_the_kernel_receive_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let mut stamped = StampedTcp::new(client);
        let stamp = stamped.stamp();
        let mut buf = [0u8; 16];
        // Stamping switches on a little after the first socket asks (see keep_timestamping_on):
        // exchange bytes until a read carries the kernel's stamp.
        let mut kernel_on = false;
        for _ in 0..100 {
            server.write_all(b"x").await.expect("write");
            stamped.tcp.readable().await.expect("readable");
            let mut raw = [MaybeUninit::<u8>::uninit(); 1];
            let (_, kernel) = recv_stamped(&stamped.tcp, &mut raw).expect("recv");
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
        let n = stamped.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"hello");
        let at = stamp_instant(&stamp).expect("stamped");
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
        assert_eq!(t.duration_since(UNIX_EPOCH).expect("after epoch"), Duration::new(1_700_000_000, 250_000_000));
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
}
