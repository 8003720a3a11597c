use crate::api::planning::run_launches;
use crate::domain::format;
use leptos::prelude::*;

/// A managed run's vLLM starts: each attempt's settings, outcome, load time, what vLLM reported,
/// and its log.
#[component]
pub fn RunLaunches(run_id: i64) -> impl IntoView {
    let launches = Resource::new(move || run_id, run_launches);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = launches.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section aria-labelledby="launch-title">
                        <h2 id="launch-title">"Model server starts"</h2>
                        <table class="launches">
                            <thead><tr><th>"Attempt"</th><th>"Settings"</th><th>"Outcome"</th><th class="num">"Load time"</th><th>"vLLM reported"</th></tr></thead>
                            <tbody>
                                {list.iter().map(|l| {
                                    let m = l.measured.clone().unwrap_or_default();
                                    let reported = [
                                        m.weights_gib.map(|x| format!("weights {x:.2} GiB")),
                                        m.kv_cache_gib.map(|x| format!("KV {x:.2} GiB")),
                                        m.kv_tokens.map(|x| format!("{} KV tokens", format::int(x as f64))),
                                        m.max_concurrency.map(|x| format!("{x:.2}x concurrency")),
                                        m.cuda_graphs_gib.map(|x| format!("graphs {x:.2} GiB")),
                                    ].into_iter().flatten().collect::<Vec<_>>().join(", ");
                                    view! {
                                        <tr>
                                            <td>{l.attempt}</td>
                                            <td><code class="small">{l.command.clone()}</code></td>
                                            <td>{l.outcome.replace('_', " ")}</td>
                                            <td class="num">{l.load_time_s.map(format::seconds).unwrap_or_default()}</td>
                                            <td>{reported}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {list.into_iter().map(|l| view! {
                            <details><summary>{format!("Log of attempt {}", l.attempt)}</summary><pre class="log">{l.log}</pre></details>
                        }).collect_view()}
                    </section>
                })
            })}
        </Suspense>
    }
}
