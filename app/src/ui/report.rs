use super::widgets::ErrorBox;
use crate::api::report::{report_text, ReportOptions};
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
    let report = Resource::new(options, |o| report_text(o, "fragment".into()));
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
