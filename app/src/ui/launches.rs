use crate::api::planning::{run_launches, run_plan};
use crate::domain::format;
use leptos::prelude::*;

/// A managed run's vLLM starts: each attempt's settings, outcome, load time, what vLLM reported,
/// and its log.
#[component]
pub fn RunLaunches(run_id: i64) -> impl IntoView {
    let launches = Resource::new(move || run_id, run_launches);
    let planned = Resource::new(move || run_id, run_plan);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = launches.await.unwrap_or_default();
                let plan = planned.await.ok().flatten();
                let measured = list.iter().rev().find(|l| l.outcome == crate::domain::views::LaunchOutcome::Ready).and_then(|l| l.measured.clone());
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
                                            <td>{l.outcome.label()}</td>
                                            <td class="num">{l.load_time_s.map(format::seconds).unwrap_or_default()}</td>
                                            <td>{reported}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {plan.map(|p| {
                            let m = measured.unwrap_or_default();
                            let opt = |x: Option<f64>, unit: &str| x.map(|v| format!("{v:.2}{unit}")).unwrap_or("not reported".into());
                            view! {
                                <h3>"Plan vs measured"</h3>
                                <table class="figures">
                                    <thead><tr><th></th><th class="num">"Planned"</th><th class="num">"vLLM reported"</th></tr></thead>
                                    <tbody>
                                        <tr><th scope="row">"Weights"</th><td class="num">{format!("{:.2} GiB", p.weights_gib)}</td><td class="num">{opt(m.weights_gib, " GiB")}</td></tr>
                                        <tr><th scope="row">"KV cache"</th><td class="num">{format!("{:.2} GiB", p.kv_cache_gib)}</td><td class="num">{opt(m.kv_cache_gib, " GiB")}</td></tr>
                                        <tr><th scope="row">"KV tokens"</th><td class="num">{format::int(p.kv_tokens as f64)}</td><td class="num">{m.kv_tokens.map(|t| format::int(t as f64)).unwrap_or("not reported".into())}</td></tr>
                                        <tr><th scope="row">"Max concurrency"</th><td class="num">{format!("{:.2}x", p.max_concurrency)}</td><td class="num">{opt(m.max_concurrency, "x")}</td></tr>
                                        <tr><th scope="row">"CUDA graphs"</th><td class="num">{format!("{:.2} GiB", p.cuda_graphs_gib)}</td><td class="num">{opt(m.cuda_graphs_gib, " GiB")}</td></tr>
                                    </tbody>
                                </table>
                            }
                        })}
                        {list.into_iter().map(|l| view! {
                            <details><summary>{format!("Log of attempt {}", l.attempt)}</summary><pre class="log">{l.log}</pre></details>
                        }).collect_view()}
                    </section>
                })
            })}
        </Suspense>
    }
}
