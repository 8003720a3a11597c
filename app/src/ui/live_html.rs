//! Parts of server-rendered pages that follow the data: an island holds the part's HTML (rendered
//! on the server, as its children) and swaps in a fresh rendering every few seconds while the tab
//! is shown, and whenever a form on the page changed something (`enhance::REFRESH_EVENT`). Only
//! this island reaches the browser; the part's own code stays on the server.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The parts that refresh themselves, each rendered on the server by `part_html`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Part {
    /// The Workers page's table.
    Workers,
    /// The runs list's table and chart, for the page's filter.
    Runs(crate::api::runs::RunFilter),
    /// The datasets table.
    Datasets,
}

/// The HTML of `part`, rendered afresh on the server (the caller's rights checked as for the
/// page).
#[server(endpoint = "part")]
pub async fn part_html(part: Part) -> Result<String, crate::api::AppError> {
    match part {
        Part::Workers => {
            let list = crate::api::workers::list_workers().await?;
            Ok(render(|| super::workers::workers_html(list)))
        }
        Part::Runs(filter) => {
            let page = crate::api::runs::list_runs_page(filter.clone()).await?;
            Ok(render(|| super::runs::runs_html(page, filter)))
        }
        Part::Datasets => {
            let list = crate::api::datasets::list_datasets().await?;
            Ok(render(|| super::datasets::datasets_html(list)))
        }
    }
}

/// `html` made with the caller in the context, as a page is (`IfAllowed`, `allowed` read it).
#[cfg(feature = "ssr")]
fn render(html: impl FnOnce() -> String) -> String {
    let user = super::app::request_user();
    Owner::new().with(|| {
        provide_context(super::widgets::Me(StoredValue::new(user)));
        html()
    })
}

/// `children` (the part as the page was rendered), replaced by `part`'s HTML every `every_ms`
/// (never, when 0) while the tab is shown, and when a form on the page changed something. A
/// failed read leaves the part as it was; so does a read while someone types in it. Ticked
/// checkboxes stay ticked.
#[island]
pub fn Live(part: Part, every_ms: u32, children: Children) -> impl IntoView {
    let el = NodeRef::<leptos::html::Div>::new();
    let part = StoredValue::new(part);
    let read = move || {
        leptos::task::spawn_local(async move {
            if let Ok(html) = part_html(part.get_value()).await {
                if let Some(el) = el.get_untracked() {
                    #[cfg(feature = "hydrate")]
                    swap(&el, &html);
                    #[cfg(not(feature = "hydrate"))]
                    let _ = (el, html);
                }
            }
        });
    };
    Effect::new(move |_| {
        let handle = (every_ms > 0)
            .then(|| {
                set_interval_with_handle(
                    move || {
                        if !document().hidden() {
                            read();
                        }
                    },
                    std::time::Duration::from_millis(u64::from(every_ms)),
                )
                .ok()
            })
            .flatten();
        let on_refresh = window_event_listener_untyped(super::enhance::REFRESH_EVENT, move |_| read());
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
            on_refresh.remove();
        });
    });
    view! { <div class="live-part" node_ref=el>{children()}</div> }
}

/// Puts `html` in `el`, keeping the checkboxes as they were ticked; not while a field in it has
/// the focus.
#[cfg(feature = "hydrate")]
fn swap(el: &web_sys::HtmlDivElement, html: &str) {
    use wasm_bindgen::JsCast;
    if let Some(active) = document().active_element() {
        let typing = matches!(active.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
            && active.get_attribute("type").as_deref() != Some("checkbox");
        if typing && el.contains(Some(&active)) {
            return;
        }
    }
    let boxes = |el: &web_sys::HtmlDivElement| {
        let mut out = Vec::new();
        if let Ok(list) = el.query_selector_all("input[type=checkbox][name]") {
            for i in 0..list.length() {
                if let Some(b) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                    out.push(b);
                }
            }
        }
        out
    };
    let ticked: Vec<(String, String, bool)> = boxes(el).iter().map(|b| (b.name(), b.value(), b.checked())).collect();
    el.set_inner_html(html);
    for b in boxes(el) {
        if let Some((_, _, on)) = ticked.iter().find(|(n, v, _)| *n == b.name() && *v == b.value()) {
            b.set_checked(*on);
        }
    }
}
