//! Parts of server-rendered pages that follow the data: an island holds the part's HTML (rendered
//! on the server, as its children) and swaps in a fresh rendering every few seconds while the tab
//! is shown. Only this island reaches the browser; the part's own code stays on the server.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The parts that refresh themselves, each rendered on the server by `part_html`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// The Workers page's table.
    Workers,
}

/// The HTML of `part`, rendered afresh on the server (the caller's rights checked as for the
/// page).
#[server(endpoint = "part")]
pub async fn part_html(part: Part) -> Result<String, crate::api::AppError> {
    match part {
        Part::Workers => {
            let list = crate::api::workers::list_workers().await?;
            Ok(Owner::new().with(|| super::workers::workers_html(list)))
        }
    }
}

/// `children` (the part as the page was rendered), replaced by `part`'s HTML every `every_ms`
/// while the tab is shown. A failed read leaves the part as it was.
#[island]
pub fn Live(part: Part, every_ms: u32, children: Children) -> impl IntoView {
    let el = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                if document().hidden() {
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(html) = part_html(part).await {
                        if let Some(el) = el.get_untracked() {
                            el.set_inner_html(&html);
                        }
                    }
                });
            },
            std::time::Duration::from_millis(u64::from(every_ms)),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
    view! { <div class="live-part" node_ref=el>{children()}</div> }
}
