use crate::domain::format;
use crate::domain::integrity::{self as rules, Integrity};
use leptos::prelude::*;

/// Was the client the limit? Flags first, then the figures behind them.
#[component]
pub fn IntegrityPanel(integrity: Integrity) -> impl IntoView {
    let i = integrity;
    let flagged = !i.client_bottleneck.is_empty();
    let mut rows: Vec<(String, String, String)> = Vec::new();
    if let Some(l) = &i.dispatch_lag_ms {
        rows.push((
            "Dispatch lag (actual − scheduled send)".into(),
            format!("p50 {} · p99 {} · max {}", format::ms(l.p50), format::ms(l.p99), format::ms(l.max)),
            format!("flag above p99 {} ms", rules::MAX_DISPATCH_LAG_P99_MS),
        ));
    }
    if let (Some(t), Some(a)) = (i.target_rate, i.achieved_rate) {
        rows.push((
            "Request rate".into(),
            format!("{a:.2} achieved of {t:.2} req/s target"),
            format!("flag below {:.0}% of target", rules::MIN_RATE_FRACTION * 100.0),
        ));
    }
    if let (Some(c), Some(f)) = (i.client_cpu_s, i.client_cpu_fraction) {
        rows.push((
            "Client CPU".into(),
            format!("{c:.2} CPU-s ({:.0}% of the machine)", f * 100.0),
            "Bakeoff's whole process, including the built-in simulator when it is the endpoint".into(),
        ));
    }
    rows.push((
        "Completion tokens: client usage vs server counter".into(),
        match i.server_tokens {
            Some(s) => format!("{} vs {}", format::int(i.client_tokens as f64), format::int(s)),
            None => format!("{} (the server exports no counter)", format::int(i.client_tokens as f64)),
        },
        format!("warn above {:.0}% apart", rules::MAX_TOKEN_MISMATCH * 100.0),
    ));
    view! {
        <section class="integrity" aria-labelledby="integrity-title">
            <h2 id="integrity-title">"Measurement integrity"</h2>
            {if flagged {
                view! {
                    <div class="form-error" role="alert">
                        <p><strong>"The client may have been the bottleneck:"</strong></p>
                        {i.client_bottleneck.iter().map(|b| view! { <p>{b.clone()}</p> }).collect_view()}
                    </div>
                }
                    .into_any()
            } else {
                view! { <p class="ok">"The client kept up: no sign that it, rather than the server, limited this run."</p> }.into_any()
            }}
            {i.warnings.iter().map(|w| view! { <p class="note">"Note: " {w.clone()}</p> }).collect_view()}
            <table class="figures">
                <tbody>
                    {rows
                        .into_iter()
                        .map(|(k, v, d)| view! { <tr><th scope="row">{k}</th><td class="num">{v}</td><td class="definition">{d}</td></tr> })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}
