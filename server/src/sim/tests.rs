//! The simulator's saturation point and prefix cache, over HTTP on port 0.

use super::{start, PrefixCacheConfig, SimConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn sim(config: SimConfig) -> (String, std::sync::Arc<super::Sim>) {
    let h = start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("sim");
    (h.base_url(), h.sim)
}

async fn ask(http: &reqwest::Client, url: &str, prompt: &str) -> Value {
    http.post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "sim-gemma-3-4b", "max_tokens": 4, "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json")
}

async fn metrics(http: &reqwest::Client, url: &str) -> String {
    http.get(format!("{url}/metrics"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text")
}

fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_saturation_point_requests_queue_and_wait() {
    // Two sequences at once, each at least 40 ms: six requests at once take three rounds.
    let (url, sim) = sim(SimConfig {
        ttft: Duration::from_millis(40),
        tpot: Duration::ZERO,
        max_concurrency: 2,
        ..SimConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let t = Instant::now();
    let asks: Vec<_> = (0..6)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { ask(&http, &url, &format!("prompt {i}")).await })
        })
        .collect();
    // While they run, the queue is visible in /metrics.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let during = metrics(&http, &url).await;
    for a in asks {
        a.await.expect("task");
    }
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(120), "three rounds of 40 ms at least, took {took:?}");
    assert!(counter(&during, "vllm:num_requests_running") <= 2.0, "{during}");
    assert!(counter(&during, "vllm:num_requests_waiting") >= 1.0, "the rest wait: {during}");
    assert_eq!(sim.stats.requests.load(std::sync::atomic::Ordering::Relaxed), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_hits_the_prefix_cache_and_metrics_say_so() {
    let (url, _) = sim(SimConfig {
        prefix_cache: PrefixCacheConfig {
            capacity_blocks: 64,
            cached_ttft_factor: 0.2,
        },
        ..SimConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let prompt = "A long instruction that repeats. ".repeat(12);
    ask(&http, &url, &prompt).await;
    let first = metrics(&http, &url).await;
    assert!(counter(&first, "vllm:prefix_cache_queries_total") > 0.0);
    assert_eq!(counter(&first, "vllm:prefix_cache_hits_total"), 0.0, "nothing cached yet");
    ask(&http, &url, &prompt).await;
    let second = metrics(&http, &url).await;
    let (q, h) = (
        counter(&second, "vllm:prefix_cache_queries_total"),
        counter(&second, "vllm:prefix_cache_hits_total"),
    );
    // 397 bytes: 6 full blocks of 64 bytes (16 tokens each) hit out of 100 + 4 prompt tokens.
    assert_eq!(h, 96.0, "{second}");
    assert_eq!(q, 2.0 * 104.0);
    assert!(second.contains("enable_prefix_caching=\"True\""));
    let v: Value = http
        .get(format!("{url}/version"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert!(v["version"].as_str().is_some_and(|s| s.starts_with("bakeoff-sim-")));
}

#[test]
fn a_cached_prompt_prefills_faster_by_the_configured_factor() {
    let s = super::Sim::new(SimConfig {
        prefix_cache: PrefixCacheConfig {
            capacity_blocks: 64,
            cached_ttft_factor: 0.2,
        },
        ..SimConfig::default()
    });
    let prompt = "x".repeat(256); // 4 blocks, 64 tokens
    let ttft = Duration::from_millis(100);
    assert_eq!(s.prefill(&prompt, 64, ttft), ttft, "first time: the whole prefill");
    let cached = s.prefill(&prompt, 64, ttft);
    assert!(
        cached.abs_diff(Duration::from_millis(20)) < Duration::from_micros(1),
        "all 64 tokens cached: 20%, got {cached:?}"
    );
    // Off: always the whole prefill, and nothing counted.
    let off = super::Sim::new(SimConfig::default());
    off.prefill(&prompt, 64, ttft);
    assert_eq!(off.prefill(&prompt, 64, ttft), ttft);
    assert_eq!(off.stats.prefix_queries.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn chat_messages_with_an_unknown_role_are_refused_as_vllm_refuses_them() {
    let (url, _) = sim(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let post = |messages: Value| {
        http.post(format!("{url}/v1/chat/completions"))
            .json(&json!({"model": "sim-gemma-3-4b", "max_tokens": 2, "messages": messages}))
            .send()
    };
    let r = post(json!([{"role": "wizard", "content": "hi"}])).await.expect("POST");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert!(v.to_string().contains("messages.0.role: 'wizard' is not one of"), "{v}");
    let r = post(json!([{"content": "hi"}])).await.expect("POST");
    assert_eq!(r.status().as_u16(), 400);
    let r = post(json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]))
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
}
