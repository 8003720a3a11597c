//! A refused server function answers with its real status (403, 422, ...) whether or not the
//! browser asks for a compressed answer: the status is corrected before the body is gzipped
//! (it was read after, and a gzipped error body left the server_fn default, 500).

mod common;

use leptos::server_fn::ServerFn;
use std::io::Read;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_server_function_keeps_its_status_when_the_answer_is_gzipped() {
    let app = common::spawn(common::fast_sim()).await;
    let viewer = app.client_for("vic").await;
    let path = app::api::data_rules::SetDatasetInternalOnly::PATH;
    for gzip in [false, true] {
        let mut req = viewer
            .post(app.url(path))
            .header("accept", "application/json")
            .form(&[("id", "1"), ("internal_only", "false")]);
        if gzip {
            req = req.header("accept-encoding", "gzip");
        }
        let r = req.send().await.expect("POST");
        let status = r.status().as_u16();
        let encoding = r
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = r.bytes().await.expect("body");
        let text = if encoding == "gzip" {
            let mut out = String::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut out).expect("gunzip");
            out
        } else {
            String::from_utf8_lossy(&bytes).to_string()
        };
        assert_eq!(status, 403, "gzip {gzip}: {text}");
        assert!(text.contains("\"forbidden\""), "gzip {gzip}: {text}");
        if gzip {
            assert_eq!(encoding, "gzip", "the answer was compressed, as asked");
        }
    }
}
