//! https, keys, compressed answers and rate limits on the measured streams' client, against
//! small scripted servers (blocking threads; rustls for https, with the test CA's certificate).

use super::*;
use crate::client::Client;
use app::api::endpoints::access::{parse_headers, ApiKey, EndpointAccess, RetryPolicy};
use app::domain::status::Outcome;
use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

const CA: &str = include_str!("../../../tests/fixtures/tls/ca.pem");
const SERVER_CERT: &str = include_str!("../../../tests/fixtures/tls/server.pem");
const SERVER_KEY: &str = include_str!("../../../tests/fixtures/tls/server.key");
const SSE: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// A 200 stream with `body` as one chunk and `headers` (each ending in CRLF) in its head.
fn chunked(body: &[u8], headers: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{headers}transfer-encoding: chunked\r\n\r\n{:x}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r.extend_from_slice(b"\r\n0\r\n\r\n");
    r
}

fn too_many(retry_after: &str) -> Vec<u8> {
    let body = r#"{"error":{"message":"slow down"}}"#;
    format!(
        "HTTP/1.1 429 Too Many Requests\r\n{retry_after}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One request's head (lower-cased) after reading its body; `None` at the end of the stream.
fn read_request<R: Read + ?Sized>(sock: &mut R, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < end + len {
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..end + len);
    Some(head)
}

struct Scripted {
    base: String,
    accepted: Arc<AtomicU64>,
    heads: Arc<Mutex<Vec<String>>>,
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<_, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    Arc::new(config)
}

/// A server on `ip` answering its k-th request with `replies[k]` (the last one thereafter).
fn scripted(ip: &str, replies: Vec<Vec<u8>>, tls: bool) -> Scripted {
    let listener = std::net::TcpListener::bind((ip, 0)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicU64::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::new(AtomicU64::new(0));
    let replies = Arc::new(replies);
    let (count, seen) = (accepted.clone(), heads.clone());
    let config = server_config();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let (seen, served, replies, config) = (seen.clone(), served.clone(), replies.clone(), config.clone());
            std::thread::spawn(move || {
                let serve = |stream: &mut dyn ReadWrite| {
                    let mut buf = Vec::new();
                    while let Some(head) = read_request(stream, &mut buf) {
                        seen.lock().unwrap_or_else(|p| p.into_inner()).push(head);
                        let k = served.fetch_add(1, Ordering::SeqCst) as usize;
                        let reply = &replies[k.min(replies.len() - 1)];
                        if stream.write_all(reply).and_then(|_| stream.flush()).is_err() {
                            return;
                        }
                    }
                };
                if tls {
                    let conn = rustls::ServerConnection::new(config).expect("server connection");
                    serve(&mut rustls::StreamOwned::new(conn, sock));
                } else {
                    let mut sock = sock;
                    serve(&mut sock);
                }
            });
        }
    });
    Scripted {
        base: format!("{}://{addr}", if tls { "https" } else { "http" }),
        accepted,
        heads,
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn with_ca(pem: &str) -> EndpointAccess {
    EndpointAccess {
        ca_pem: Some(pem.to_string()),
        ..Default::default()
    }
}

async fn send(client: &Client, base: &str) -> crate::client::Measured {
    client
        .send(
            &format!("{base}/v1/chat/completions"),
            Bytes::from_static(b"{}"),
            Duration::from_secs(5),
        )
        .await
}

#[tokio::test]
async fn https_answers_stream_through_the_endpoint_ca_on_one_kept_alive_connection() {
    let s = scripted("127.0.0.1", vec![chunked(SSE.as_bytes(), "")], true);
    let client = Client::new().for_endpoint(&s.base, &with_ca(CA)).expect("bound");
    for _ in 0..3 {
        let m = send(&client, &s.base).await;
        assert_eq!(m.outcome, Outcome::Ok, "{:?}", m.error);
        assert_eq!(m.response, "hi");
    }
    // TLS 1.3 session tickets arrive after the handshake: they must not make the idle connection look dead.
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_signed_by_an_unknown_ca_is_refused_with_what_to_do() {
    let s = scripted("127.0.0.1", vec![chunked(SSE.as_bytes(), "")], true);
    let m = send(&Client::new(), &s.base).await;
    assert_eq!(m.outcome, Outcome::ConnectionError);
    let e = m.error.unwrap_or_default();
    assert!(e.contains("CA certificate"), "{e}");
}

#[tokio::test]
async fn the_servers_own_certificate_is_pinned_whatever_names_it_holds() {
    // 127.0.0.2 is not among the certificate's names: the CA alone does not vouch for it.
    let s = scripted("127.0.0.2", vec![chunked(SSE.as_bytes(), "")], true);
    let by_ca = send(&Client::new().for_endpoint(&s.base, &with_ca(CA)).expect("bound"), &s.base).await;
    assert_eq!(by_ca.outcome, Outcome::ConnectionError);
    assert!(by_ca.error.as_deref().is_some_and(|e| e.contains("host name")), "{:?}", by_ca.error);
    let pinned = send(&Client::new().for_endpoint(&s.base, &with_ca(SERVER_CERT)).expect("bound"), &s.base).await;
    assert_eq!(pinned.outcome, Outcome::Ok, "{:?}", pinned.error);
}

#[tokio::test]
async fn the_key_and_extra_headers_go_with_every_request_asking_for_identity() {
    let s = scripted("127.0.0.1", vec![chunked(SSE.as_bytes(), "")], false);
    let access = EndpointAccess {
        api_key: ApiKey::parse("sk-test-123").expect("key"),
        headers: parse_headers("X-Org: team-a").expect("header"),
        ..Default::default()
    };
    let m = send(&Client::new().for_endpoint(&s.base, &access).expect("bound"), &s.base).await;
    assert_eq!(m.outcome, Outcome::Ok, "{:?}", m.error);
    let heads = s.heads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(heads[0].contains("authorization: bearer sk-test-123\r\n"), "{}", heads[0]);
    assert!(heads[0].contains("x-org: team-a\r\n"));
    assert!(heads[0].contains("accept-encoding: identity\r\n"));
    // A client not bound to the endpoint sends neither.
    let m = send(&Client::new(), &s.base).await;
    assert_eq!(m.outcome, Outcome::Ok);
    let heads = s.heads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(!heads[1].contains("authorization") && !heads[1].contains("x-org"));
}

#[tokio::test]
async fn a_gzip_answer_is_decoded_and_an_unknown_encoding_is_named() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(SSE.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let s = scripted("127.0.0.1", vec![chunked(&gz, "content-encoding: gzip\r\n")], false);
    let m = send(&Client::new(), &s.base).await;
    assert_eq!(m.outcome, Outcome::Ok, "{:?}", m.error);
    assert_eq!(m.response, "hi");

    let s = scripted("127.0.0.1", vec![chunked(b"\x0b\x02\x80", "content-encoding: br\r\n")], false);
    let m = send(&Client::new(), &s.base).await;
    assert_eq!(m.outcome, Outcome::StreamError);
    let e = m.error.unwrap_or_default();
    assert!(e.contains("'br'") && !e.contains("[DONE]"), "{e}");
}

#[tokio::test]
async fn a_429_is_measured_with_its_retry_after_and_retried_only_when_asked() {
    let replies = || vec![too_many("retry-after: 0\r\n"), chunked(SSE.as_bytes(), "")];
    let s = scripted("127.0.0.1", replies(), false);
    let client = Client::new();
    let m = send(&client, &s.base).await;
    assert_eq!((m.outcome, m.http_status), (Outcome::HttpError, Some(429)));
    let e = m.error.unwrap_or_default();
    assert!(e.contains("Retry-After: 0") && e.contains("slow down"), "{e}");
    assert_eq!(client.retry_counts(), (0, 0), "retries are off by default");

    let s = scripted("127.0.0.1", replies(), false);
    let access = EndpointAccess {
        retry: RetryPolicy::retries(2),
        ..Default::default()
    };
    let client = Client::new().for_endpoint(&s.base, &access).expect("bound");
    let m = send(&client, &s.base).await;
    assert_eq!(m.outcome, Outcome::Ok, "{:?}", m.error);
    assert_eq!(client.retry_counts(), (1, 1));

    // A Retry-After longer than the policy's wait is not waited for.
    let s = scripted(
        "127.0.0.1",
        vec![too_many("retry-after: 3600\r\n"), chunked(SSE.as_bytes(), "")],
        false,
    );
    let client = Client::new().for_endpoint(&s.base, &access).expect("bound");
    let m = send(&client, &s.base).await;
    assert_eq!(m.http_status, Some(429));
    assert!(m.error.as_deref().is_some_and(|e| e.contains("Retry-After: 3600")));
}

/// Over https too, data is stamped with the kernel's receive time of the read that brought it.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn tls_reads_carry_the_kernel_receive_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        let (sock, _) = listener.accept().expect("accept");
        let conn = rustls::ServerConnection::new(server_config()).expect("server");
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return;
            }
        }
        // Pings until the client's reads are stamped, then "hello" once told to.
        while go_rx.recv().is_ok() {
            let at = Instant::now();
            if tls.write_all(b"x").and_then(|_| tls.flush()).is_err() {
                return;
            }
            let _ = sent_tx.send(at);
        }
    });
    let route = Route::plain(crate::client::tls::config_with_ca(CA).expect("ca"));
    let target = Target::parse(&format!("https://{addr}/")).expect("target");
    let mut conn = Pool::new(Duration::from_secs(5)).connect(&route, &target).await.expect("connect");
    let mut stamped = false;
    for _ in 0..100 {
        go_tx.send(()).expect("go");
        let sent = sent_rx.recv().expect("sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before_read = Instant::now();
        let n = conn.read_more().await.expect("read");
        assert!(n > 0);
        conn.pos = conn.buf.len();
        let at = conn.received_at();
        if at + Duration::from_millis(40) < before_read {
            assert!(at + Duration::from_millis(1) > sent, "stamped before the bytes were sent");
            stamped = true;
            break;
        }
    }
    assert!(stamped, "no TLS read was stamped with its arrival");
}
