//! Parts of server-rendered pages that follow the data. A part is plain HTML with an id; the
//! page's `Enhance` island reads the page again (the same address, rendered afresh on the server)
//! every few seconds while the tab is shown, when a form on the page changed something, or when
//! a run's progress says so (`enhance::REFRESH_EVENT`), and swaps each part in from it. So a
//! part needs no code of its own in the browser, and the server renders it exactly as the page.

use leptos::prelude::*;

/// `children`, read again from the page every `every_ms` while the tab is shown (0: only when
/// something on the page changed). `id` names the part on its page.
#[component]
pub fn Live(#[prop(into)] id: String, every_ms: u32, children: Children) -> impl IntoView {
    view! { <div class="live-part" id=format!("live-{id}") data-every=every_ms.to_string()>{children()}</div> }
}
