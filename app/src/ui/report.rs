use super::widgets::ErrorBox;
use crate::api::report::{report_text, ReportOptions, SpeedBasis};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The report the team used to write by hand, computed; with downloads.
#[component]
pub fn ReportPage() -> impl IntoView {
    let query = use_query_map();
    let options = move || {
        let q = query.read();
        ReportOptions {
            sheet: q.get("sheet").filter(|s| !s.is_empty()),
            volume: q.get("volume").and_then(|v| v.parse().ok()),
            screen: q.get("screen").and_then(|v| v.parse().ok()),
            judge: q.get("judge").and_then(|v| v.parse().ok()),
            judge_share: q.get("judge_share").and_then(|v| v.parse().ok()),
        }
    };
    // "Faster" compares runs at the same load unless each-at-its-best is asked for, by name.
    let speed = move || {
        let q = query.read();
        match (q.get("speed").as_deref(), q.get("p90_ms").and_then(|v| v.parse::<f64>().ok())) {
            (Some("best"), Some(p90_target_ms)) => SpeedBasis::EachAtBest { p90_target_ms },
            (Some("best"), None) => SpeedBasis::EachAtBest { p90_target_ms: 2000.0 },
            _ => SpeedBasis::SameLoad,
        }
    };
    let report = Resource::new(move || (options(), speed()), |(o, s)| report_text(o, "fragment".into(), Some(s)));
    let link = move |format: &str| {
        let o = options();
        let mut q = vec![format!("format={format}")];
        if let Some(s) = o.sheet {
            q.push(format!("sheet={}", s.replace(' ', "%20")));
        }
        if let Some(v) = o.volume {
            q.push(format!("volume={v}"));
        }
        format!("/api/report?{}", q.join("&"))
    };
    view! {
        <p class="actions">
            "Download: " <a href=move || link("md") download="bakeoff-report.md">"Markdown"</a> " · "
            <a href=move || link("html") download="bakeoff-report.html">"HTML (self-contained, with charts)"</a>
            " · Options in the address: ?sheet=NAME&volume=N&screen=RUN&judge=RUN&judge_share=0.2"
        </p>
        <form class="row controls speed-basis" method="get" action="/report" aria-label="Which runs faster claims compare">
            <fieldset>
                <legend>"\"Faster\" compares"</legend>
                <label><input type="radio" name="speed" value="same" checked=move || speed() == SpeedBasis::SameLoad/>" runs at the same load only (default)"</label>
                <label><input type="radio" name="speed" value="best" checked=move || speed() != SpeedBasis::SameLoad/>" each model at its best: highest throughput with E2E p90 within "</label>
                <input type="number" name="p90_ms" min="1" aria-label="Latency target, E2E p90 in ms" prop:value=move || match speed() { SpeedBasis::EachAtBest { p90_target_ms } => p90_target_ms.to_string(), _ => "2000".into() }/>
                " ms "
                <button type="submit">"Apply"</button>
            </fieldset>
        </form>
        <Suspense fallback=|| view! { <p>"Computing the report…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(html) => view! { <article class="report" inner_html=html></article> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
