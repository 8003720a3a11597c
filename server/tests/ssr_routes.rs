//! Pages render whole while other servers start in the same process. Listing the app's routes
//! runs it with a process-wide "suppress resource loads" flag up (leptos_server); a page whose data
//! was first asked for while the flag was up waited forever (leptos#4773), which struck the test
//! suites now and then (several servers per test binary). The routes are listed once per process.

mod common;

use common::{fast_sim, spawn};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_whole_while_other_servers_start_in_the_same_process() {
    let app = Arc::new(spawn(fast_sim()).await);
    let pages = ["/", "/endpoints", "/launch", "/datasets", "/costs", "/grade"];
    let starting = Arc::new(AtomicBool::new(true));
    // Pages asked for without a pause, from several clients, for as long as servers start.
    let mut clients = Vec::new();
    for c in 0..6usize {
        let (app, starting) = (app.clone(), starting.clone());
        clients.push(tokio::spawn(async move {
            let (mut stalled, mut fetched) = (Vec::new(), 0u32);
            let mut i = c;
            while starting.load(Ordering::Relaxed) || fetched < 6 {
                let p = pages[i % pages.len()];
                i += 1;
                let got = tokio::time::timeout(Duration::from_secs(20), async {
                    app.http.get(app.url(p)).send().await.expect("GET").text().await.expect("body")
                })
                .await;
                match got {
                    Ok(body) => assert!(body.contains("__INCOMPLETE_CHUNKS"), "{p} ended early"),
                    Err(_) => stalled.push(p),
                }
                fetched += 1;
            }
            (stalled, fetched)
        }));
    }
    // Meanwhile, more servers start in this process (each builds its router).
    let mut others = Vec::new();
    for _ in 0..8 {
        others.push(spawn(fast_sim()).await);
    }
    starting.store(false, Ordering::Relaxed);
    let mut stalled = Vec::new();
    let mut fetched = 0;
    for c in clients {
        let (s, n) = c.await.expect("client");
        stalled.extend(s);
        fetched += n;
    }
    assert_eq!(others.len(), 8);
    assert!(fetched >= 36, "{fetched} pages");
    assert!(
        stalled.is_empty(),
        "pages whose data never came ({} of {fetched}): {stalled:?}",
        stalled.len()
    );
}
