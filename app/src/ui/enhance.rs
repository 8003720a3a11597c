//! Forms on server-rendered pages, posted without a page load. One island, `Enhance`, wraps every
//! server-rendered page; a form inside it that posts to a server function (`<ActionForm>` on the
//! server renders `<form method="post" action="/api/...">`) is sent by the browser as the form's
//! own fields, the way `ActionForm` sends them, and the answer is shown the way the islands
//! showed it: each refusal at its field (`#<field>-error`), the rest above the form. So a page's
//! forms need none of their code, nor their types, in the wasm.
//!
//! What a success does is written on the form:
//! - `data-then="reload"`: the page is loaded again (what it shows changed);
//! - `data-then="go:/runs/{}"`: the browser goes there (`{}` is the answer, `{id}` its field;
//!   `A|B` the first the answer fills); `data-go="/path"` goes to an address taken as it is
//!   (one a user gave, never a template). Either way only to a path on this site;
//! - otherwise the page's `Live` parts are read again, `data-ok` (if any) is shown as the
//!   result (`{}` and `{field}` filled in as above), and `data-reset` empties the form.
//!
//! The same island keeps the page's `Live` parts (`live_html`) up to date: it reads the page
//! again and swaps each part in.
//!
//! A GET form marked `data-auto` is sent as soon as one of its choices changes. A form marked
//! `data-live` is not sent: as its fields change, the page is read again with them as its query
//! and its `Live` parts swapped in (the planner's plan, the launch form's cost preview).
//!
//! `data-upload` on a multipart form sends the file in the background the same way (see
//! `upload`). `data-confirm="..."` asks first, in a dialog named `data-confirm-title` (`ask`);
//! `data-show="ID"` fills the hidden element #ID with the answer and shows it. A form an island handles itself (its submit event already
//! prevented) and plain forms (GET, multipart uploads) are left alone.

use leptos::prelude::*;

/// The window event that tells every `Live` part to read itself again now (a form changed what
/// it shows).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const REFRESH_EVENT: &str = "bakeoff-refresh";

/// Wraps a server-rendered page: its server-function forms are posted without a page load.
#[island]
pub fn Enhance(children: Children) -> impl IntoView {
    Effect::new(|_| {
        // The result of the form that loaded this page again (`data-then="reload"`).
        #[cfg(feature = "hydrate")]
        browser::show_flash();
        // The page's `Live` parts, read again as they ask.
        #[cfg(feature = "hydrate")]
        browser::watch_live_parts();
        // The keys of a table of rows (`data-row-keys`).
        #[cfg(feature = "hydrate")]
        browser::watch_row_keys();
    });
    view! {
        <div class="page" on:change=move |ev| {
            #[cfg(feature = "hydrate")]
            browser::changed(ev);
            #[cfg(not(feature = "hydrate"))]
            let _ = ev;
        } on:input=move |ev| {
            #[cfg(feature = "hydrate")]
            browser::typed(ev);
            #[cfg(not(feature = "hydrate"))]
            let _ = ev;
        } on:submit=move |ev| {
            #[cfg(feature = "hydrate")]
            browser::submitted(ev);
            #[cfg(not(feature = "hydrate"))]
            let _ = ev;
        }>{children()}</div>
    }
}

/// Tells the page's `Live` parts to read themselves again.
pub fn refresh_live_parts() {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(ev) = web_sys::CustomEvent::new(REFRESH_EVENT) {
            let _ = window().dispatch_event(&ev);
        }
    }
}

/// Whether the page has `Live` parts (read again after a change, instead of a reload).
pub fn has_live_parts() -> bool {
    #[cfg(feature = "hydrate")]
    {
        document().query_selector(".live-part").ok().flatten().is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Loads the page again, then shows `message` on it (as the result of what was just done).
pub fn reload_with(message: Option<String>) {
    #[cfg(feature = "hydrate")]
    browser::reload_with(message);
    #[cfg(not(feature = "hydrate"))]
    let _ = message;
}

/// `to` if it is an address on this site (a path: `/`, then no second `/` or `\\`, no control
/// character), else the runs list: whatever a template or an answer made of it, the browser is
/// never sent to another site or to a `javascript:` address.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn on_this_site(to: String) -> String {
    if crate::api::accounts::local_path(&to) {
        to
    } else {
        "/".to_string()
    }
}

/// `template` filled in from `value` if it has every field named, each one thing (a list of one
/// stands for its item): `/runs/{run_ids}` for one run launched, None for several or none.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn fill_all(template: &str, value: &serde_json::Value) -> Option<String> {
    let mut rest = template;
    let mut out = String::new();
    while let Some(open) = rest.find('{') {
        let len = rest[open..].find('}')?;
        out.push_str(&rest[..open]);
        let key = &rest[open + 1..open + len];
        let v = if key.is_empty() { Some(value) } else { value.get(key) };
        let one = match v? {
            serde_json::Value::Array(items) if items.len() == 1 => &items[0],
            serde_json::Value::Array(_) | serde_json::Value::Null => return None,
            other => other,
        };
        match one {
            serde_json::Value::String(s) if !s.is_empty() => out.push_str(s),
            serde_json::Value::Number(n) => out.push_str(&n.to_string()),
            _ => return None,
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Where this page was loaded from, as the browser sees it (`{origin}` in a template).
fn page_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(o) = window().location().origin() {
            return o;
        }
    }
    String::new()
}

/// `template` with `{}` replaced by `value` (a number or a text) and `{name}` by its field
/// (`{origin}`, when the answer has no such field: this page's origin).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn fill(template: &str, value: &serde_json::Value) -> String {
    fn text(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            // A list (the runs queued): its items, with commas.
            serde_json::Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
            other => other.to_string(),
        }
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        let key = &rest[open + 1..open + len];
        out.push_str(&match (key, value.get(key)) {
            ("", _) => text(value),
            (_, Some(v)) => text(v),
            ("origin", None) => page_origin(),
            _ => String::new(),
        });
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::api::AppError;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Element, HtmlFormElement};

    /// A choice changed in a `data-auto` form (a GET form choosing what the page shows): the
    /// form is sent at once (its button is for browsers without the wasm).
    pub fn changed(ev: leptos::ev::Event) {
        let Some(field) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        live_form_changed(&field);
        if let Ok(Some(form)) = field.closest("form[data-auto]") {
            if let Ok(form) = form.dyn_into::<HtmlFormElement>() {
                let _ = form.request_submit();
            }
        }
    }

    /// Typed in a field: see `live_form_changed`.
    pub fn typed(ev: leptos::ev::Event) {
        if let Some(field) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) {
            live_form_changed(&field);
        }
    }

    thread_local! {
        /// The last change to a `data-live` form (a later one supersedes a pending reading).
        static LIVE_CHANGE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// A field of a `data-live` form changed (typed or chosen): a moment after the last change,
    /// the page's address takes the form's fields as its query and the page is read again from
    /// it, its `Live` parts swapped in (what the server works out from the choices: a plan, a
    /// cost preview, the models of the endpoint chosen). The fields themselves are left as typed.
    fn live_form_changed(field: &Element) {
        let Some(form) = field
            .closest("form[data-live]")
            .ok()
            .flatten()
            .and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        let n = LIVE_CHANGE.get() + 1;
        LIVE_CHANGE.set(n);
        set_timeout(
            move || {
                if LIVE_CHANGE.get() != n {
                    return;
                }
                let Ok(data) = web_sys::FormData::new_with_form(&form) else {
                    return;
                };
                let Ok(query) = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data) else {
                    return;
                };
                let path = window().location().pathname().unwrap_or_default();
                let to = format!("{path}?{}", String::from(query.to_string()));
                if let Ok(history) = window().history() {
                    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&to));
                }
                read_page_again();
            },
            std::time::Duration::from_millis(200),
        );
    }

    pub fn submitted(ev: web_sys::SubmitEvent) {
        if ev.default_prevented() {
            return;
        }
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<HtmlFormElement>().ok()) else {
            return;
        };
        if form.method().to_lowercase() != "post" {
            return;
        }
        if form.has_attribute("data-upload") {
            ev.prevent_default();
            leptos::task::spawn_local(upload(form));
            return;
        }
        let posts_to_api = form.get_attribute("action").is_some_and(|a| a.starts_with("/api/"));
        if !posts_to_api || form.enctype() == "multipart/form-data" {
            return;
        }
        ev.prevent_default();
        if said(&form, "data-confirm").is_some() {
            ask(form);
            return;
        }
        leptos::task::spawn_local(post(form));
    }

    /// A form's `name` attribute, from the option chosen in its select if that has one (a
    /// choice with consequences of its own: a new role), else the form's.
    fn said(form: &HtmlFormElement, name: &str) -> Option<String> {
        form.query_selector(&format!("option:checked[{name}]"))
            .ok()
            .flatten()
            .and_then(|o| o.get_attribute(name))
            .or_else(|| form.get_attribute(name))
    }

    /// Asks before a form that cannot be undone is sent: a dialog over the page named by
    /// `data-confirm-title`, saying the consequences (`data-confirm`), with the form's own button
    /// (or `data-confirm-yes`) and "Keep it" (or `data-confirm-no`; focused, as Escape), which
    /// puts the form back as it was. Each may come from the chosen option (`said`).
    fn ask(form: HtmlFormElement) {
        use wasm_bindgen::closure::Closure;
        use web_sys::HtmlElement;
        if let Ok(Some(old)) = document().query_selector(".confirm-panel") {
            old.remove();
        }
        let el = |tag: &str, class: &str, text: &str| {
            let e = document().create_element(tag).expect("element");
            if !class.is_empty() {
                e.set_class_name(class);
            }
            e.set_text_content(Some(text));
            e
        };
        let title = said(&form, "data-confirm-title").unwrap_or_else(|| "Are you sure?".into());
        let yes_text = said(&form, "data-confirm-yes")
            .or_else(|| {
                form.query_selector("button[type=submit]")
                    .ok()
                    .flatten()
                    .and_then(|b| b.text_content())
                    .map(|t| t.trim_end_matches('…').to_string())
            })
            .unwrap_or_else(|| "Yes".into());
        let no_text = said(&form, "data-confirm-no").unwrap_or_else(|| "Keep it".into());
        let panel = el("div", "manage-panel confirm-panel", "");
        let _ = panel.set_attribute("role", "alertdialog");
        let _ = panel.set_attribute("aria-label", &title);
        let _ = panel.append_child(&el("h2", "", &title));
        for (i, para) in said(&form, "data-confirm").unwrap_or_default().split("\n\n").enumerate() {
            let _ = panel.append_child(&el("p", if i == 0 { "consequences" } else { "note" }, para));
        }
        let yes = el("button", "danger", &yes_text);
        let no = el("button", "", &no_text);
        for b in [&yes, &no] {
            let _ = b.set_attribute("type", "button");
        }
        let _ = panel.append_child(&yes);
        let _ = panel.append_child(&document().create_text_node(" "));
        let _ = panel.append_child(&no);
        let close = {
            let panel = panel.clone();
            move || panel.remove()
        };
        let keep = {
            let (close, form) = (close.clone(), form.clone());
            move || {
                close();
                form.reset();
            }
        };
        let on_yes = Closure::<dyn FnMut()>::new(move || {
            close();
            leptos::task::spawn_local(post(form.clone()));
        });
        let on_no = {
            let keep = keep.clone();
            Closure::<dyn FnMut()>::new(move || keep())
        };
        let on_key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" {
                keep();
            }
        });
        let (yes, no, panel): (HtmlElement, HtmlElement, HtmlElement) = (yes.unchecked_into(), no.unchecked_into(), panel.unchecked_into());
        yes.set_onclick(Some(on_yes.into_js_value().unchecked_ref()));
        no.set_onclick(Some(on_no.into_js_value().unchecked_ref()));
        panel.set_onkeydown(Some(on_key.into_js_value().unchecked_ref()));
        if let Some(body) = document().body() {
            let _ = body.append_child(&panel);
        }
        let _ = no.focus();
    }

    async fn post(form: HtmlFormElement) {
        clear_messages(&form);
        set_busy(&form, true);
        let answer = send(&form).await;
        set_busy(&form, false);
        match answer {
            Ok(value) => succeeded(&form, &value),
            Err(AppError::Unauthorized) => crate::api::error::to_login(),
            Err(e) => show_error(&form, e),
        }
    }

    /// A file upload (`data-upload`): sent as it is (multipart), in the background, so a refusal
    /// leaves the form as it was (its name, its chosen file) with the reason at its field. The
    /// upload routes answer with a redirect: back here with `?error_field=F&error=...`, or on to
    /// the page that shows what was stored, which the browser then loads.
    async fn upload(form: HtmlFormElement) {
        clear_messages(&form);
        set_busy(&form, true);
        let note = form.get_attribute("data-busy").map(|text| {
            let p = message(&form, "span", "note", "status");
            p.set_text_content(Some(&text));
            let _ = form.append_child(&p);
            p
        });
        let sent = async {
            let data = web_sys::FormData::new_with_form(&form).ok()?;
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            init.set_body(&data.into());
            let action = form.get_attribute("action").unwrap_or_default();
            let response: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(&action, &init))
                .await
                .ok()?
                .unchecked_into();
            Some(response.url())
        }
        .await;
        set_busy(&form, false);
        if let Some(note) = note {
            note.remove();
        }
        let Some(to) = sent else {
            show_error(&form, AppError::Transport("the upload did not reach the server; try again".into()));
            return;
        };
        let Ok(url) = web_sys::Url::new(&to) else { return };
        let query = url.search_params();
        match (query.get("error_field"), query.get("error")) {
            (Some(field), Some(text)) => {
                let mut errs = crate::domain::errors::FieldErrors::default();
                for line in text.lines() {
                    errs.push(field.clone(), line);
                }
                show_error(&form, AppError::Validation(errs));
            }
            _ if url.pathname().starts_with("/login") => crate::api::error::to_login(),
            _ => {
                let _ = window().location().set_href(&to);
            }
        }
    }

    async fn send(form: &HtmlFormElement) -> Result<serde_json::Value, AppError> {
        let transport = |e: JsValue| AppError::Transport(e.as_string().unwrap_or_else(|| "the request failed".into()));
        let data = web_sys::FormData::new_with_form(form).map_err(transport)?;
        let body = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).map_err(transport)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&body.into());
        let headers = web_sys::Headers::new().map_err(transport)?;
        headers.set("Accept", "application/json").map_err(transport)?;
        headers
            .set("Content-Type", "application/x-www-form-urlencoded")
            .map_err(transport)?;
        init.set_headers(&headers);
        let action = form.get_attribute("action").unwrap_or_default();
        let response: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(&action, &init))
            .await
            .map_err(|_| AppError::Transport("the server did not answer".into()))?
            .unchecked_into();
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        if response.ok() {
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
        } else {
            Err(serde_json::from_str::<AppError>(&text)
                .unwrap_or_else(|_| AppError::Transport(format!("the server answered HTTP {}", response.status()))))
        }
    }

    fn succeeded(form: &HtmlFormElement, value: &serde_json::Value) {
        // `data-go`: an address taken as it is (one a user gave: the log-in's `next`), never a
        // template.
        if let Some(to) = form.get_attribute("data-go") {
            let _ = window().location().set_href(&super::on_this_site(to));
            return;
        }
        let then = form.get_attribute("data-then").unwrap_or_default();
        if let Some(to) = then.strip_prefix("go:") {
            // The first of the addresses (`A|B|...`) whose fields the answer has.
            let to = to.split('|').find_map(|t| super::fill_all(t, value)).unwrap_or_default();
            let _ = window().location().set_href(&super::on_this_site(to));
            return;
        }
        if then == "reload" {
            reload_with(said(form, "data-ok").map(|ok| super::fill(&ok, value)));
            return;
        }
        if form.has_attribute("data-reset") {
            form.reset();
        }
        // `data-show="ID"`: the hidden element #ID shows the answer, each `[data-fill=field]`
        // in it filled with that field (a token made, shown this once), each `[data-href]`
        // link pointed where its template says (the queue made).
        if let Some(shown) = form.get_attribute("data-show").and_then(|id| document().get_element_by_id(&id)) {
            if let Ok(slots) = shown.query_selector_all("[data-fill]") {
                for i in 0..slots.length() {
                    if let Some(slot) = slots.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                        let key = slot.get_attribute("data-fill").unwrap_or_default();
                        slot.set_text_content(Some(&super::fill(&format!("{{{key}}}"), value)));
                    }
                }
            }
            if let Ok(links) = shown.query_selector_all("[data-href]") {
                for i in 0..links.length() {
                    if let Some(link) = links.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                        let to = super::fill(&link.get_attribute("data-href").unwrap_or_default(), value);
                        let _ = link.set_attribute("href", &super::on_this_site(to));
                    }
                }
            }
            let _ = shown.remove_attribute("hidden");
        }
        if let Some(ok) = said(form, "data-ok") {
            let p = message(form, "p", "ok", "status");
            p.set_text_content(Some(&super::fill(&ok, value)));
            // A form in a `Live` part is about to be drawn afresh: its result goes above.
            if form.closest(".live-part").ok().flatten().is_some() {
                flash().map(|f| f.append_child(&p));
            } else {
                let _ = form.append_child(&p);
            }
        }
        super::refresh_live_parts();
    }

    /// Each refusal at its field (in the `.field` of the element named it, or marked
    /// `data-field="name"` when the server names it otherwise), the others above the
    /// form, as `FieldMessage` and `FormMessage` show them.
    fn show_error(form: &HtmlFormElement, e: AppError) {
        let mut rest = Vec::new();
        match e {
            AppError::Validation(errs) => {
                for f in errs.0 {
                    let input = form
                        .query_selector(&format!("[data-field=\"{0}\"], [name=\"{0}\"], [name=\"form[{0}]\"]", f.field))
                        .ok()
                        .flatten();
                    match input {
                        Some(input) => {
                            let at = input.closest(".field").ok().flatten().or_else(|| input.parent_element());
                            let p = message(form, "p", "field-error", "alert");
                            if document().get_element_by_id(&format!("{}-error", f.field)).is_none() {
                                p.set_id(&format!("{}-error", f.field));
                            }
                            p.set_text_content(Some(&f.message));
                            let _ = input.set_attribute("aria-invalid", "true");
                            match at {
                                Some(at) => {
                                    let _ = at.append_child(&p);
                                }
                                None => rest.push(format!("{}: {}", f.field, f.message)),
                            }
                        }
                        None => rest.push(format!("{}: {}", f.field, f.message)),
                    }
                }
            }
            other => rest.push(other.to_string()),
        }
        if !rest.is_empty() {
            let div = message(form, "div", "form-error", "alert");
            for line in rest {
                let p = document().create_element("p").expect("p");
                p.set_text_content(Some(&line));
                let _ = div.append_child(&p);
            }
            let _ = form.prepend_with_node_1(&div);
        }
    }

    fn message(_form: &HtmlFormElement, tag: &str, class: &str, role: &str) -> Element {
        let el = document().create_element(tag).expect("element");
        el.set_class_name(&format!("{class} enhance-msg"));
        let _ = el.set_attribute("role", role);
        el
    }

    const FLASH_KEY: &str = "bakeoff-flash";

    thread_local! {
        /// A reading of the page is under way / another was asked for meanwhile.
        static READING: std::cell::Cell<(bool, bool)> = const { std::cell::Cell::new((false, false)) };
    }

    /// Reads the page again every `data-every` ms of its quickest `Live` part (while the tab is
    /// shown), and whenever `REFRESH_EVENT` says something changed.
    pub fn watch_live_parts() {
        if let Some(ms) = quickest() {
            let _ = set_interval_with_handle(
                || {
                    // A part that stopped changing (a finished sweep) is read no more.
                    if !document().hidden() && quickest().is_some() {
                        read_page_again();
                    }
                },
                std::time::Duration::from_millis(u64::from(ms)),
            );
        }
        let handle = window_event_listener_untyped(super::REFRESH_EVENT, |_| read_page_again());
        std::mem::forget(handle);
    }

    /// The `data-every` of the page's quickest `Live` part, if one is read on a timer.
    fn quickest() -> Option<u32> {
        let mut every = None::<u32>;
        if let Ok(list) = document().query_selector_all(".live-part[data-every]") {
            for i in 0..list.length() {
                let ms = list
                    .item(i)
                    .and_then(|n| n.dyn_into::<Element>().ok())
                    .and_then(|el| el.get_attribute("data-every"))
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0);
                if ms > 0 {
                    every = Some(every.map_or(ms, |e| e.min(ms)));
                }
            }
        }
        every
    }

    /// Reads this page again from the server and swaps in each `Live` part (one reading at a
    /// time; one asked for meanwhile follows it).
    pub fn read_page_again() {
        let (busy, _) = READING.get();
        if busy {
            READING.set((true, true));
            return;
        }
        READING.set((true, false));
        leptos::task::spawn_local(async {
            loop {
                swap_parts().await;
                let (_, again) = READING.get();
                if !again {
                    break;
                }
                READING.set((true, false));
            }
            READING.set((false, false));
        });
    }

    async fn swap_parts() {
        let Ok(href) = window().location().href() else { return };
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        if let Ok(h) = web_sys::Headers::new() {
            let _ = h.set("Accept", "text/html");
            init.set_headers(&h);
        }
        let Ok(response) = JsFuture::from(window().fetch_with_str_and_init(&href, &init)).await else {
            return;
        };
        let response: web_sys::Response = response.unchecked_into();
        if !response.ok() {
            return;
        }
        if response.redirected() && response.url().contains("/login") {
            crate::api::error::to_login();
            return;
        }
        let Ok(text) = response.text() else { return };
        let Some(text) = JsFuture::from(text).await.ok().and_then(|t| t.as_string()) else {
            return;
        };
        let Ok(parser) = web_sys::DomParser::new() else { return };
        let Ok(fresh) = parser.parse_from_string(&text, web_sys::SupportedType::TextHtml) else {
            return;
        };
        let Ok(list) = document().query_selector_all(".live-part[id]") else {
            return;
        };
        for i in 0..list.length() {
            let Some(part) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            if let Some(new) = fresh.get_element_by_id(&part.id()) {
                if let Some(every) = new.get_attribute("data-every") {
                    let _ = part.set_attribute("data-every", &every);
                }
                swap(&part, &new.inner_html());
            }
        }
        mark_selected();
    }

    thread_local! {
        /// The row selected by j / k in the page's `data-row-keys` table.
        static SELECTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A table marked `data-row-keys`: j / k select a row (marked `selected`), and a key one of
    /// the selected row's forms names (`data-key="Enter"`, `"J"`) sends it, moving the selection
    /// by its `data-key-step` (a row moved down is still the one selected).
    pub fn watch_row_keys() {
        if document().query_selector("[data-row-keys]").ok().flatten().is_none() {
            return;
        }
        mark_selected();
        let handle = window_event_listener(leptos::ev::keydown, row_key);
        std::mem::forget(handle);
    }

    fn rows() -> Vec<Element> {
        let mut out = Vec::new();
        if let Ok(list) = document().query_selector_all("[data-row-keys] tbody tr") {
            for i in 0..list.length() {
                if let Some(row) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    out.push(row);
                }
            }
        }
        out
    }

    fn mark_selected() {
        let rows = rows();
        let at = SELECTED.get().min(rows.len().saturating_sub(1));
        for (i, row) in rows.iter().enumerate() {
            let _ = row.class_list().toggle_with_force("selected", i == at);
        }
    }

    fn row_key(ev: web_sys::KeyboardEvent) {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let tag = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .map(|e| e.tag_name())
            .unwrap_or_default();
        if matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT" | "BUTTON" | "A") {
            return;
        }
        let rows = rows();
        let last = rows.len().saturating_sub(1);
        let at = SELECTED.get().min(last);
        let key = ev.key();
        let to = match key.as_str() {
            "j" => (at + 1).min(last),
            "k" => at.saturating_sub(1),
            _ => {
                let Some(form) = rows
                    .get(at)
                    .and_then(|r| r.query_selector(&format!("form[data-key=\"{key}\"]")).ok().flatten())
                    .and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
                else {
                    return;
                };
                ev.prevent_default();
                let step: i64 = form.get_attribute("data-key-step").and_then(|s| s.parse().ok()).unwrap_or(0);
                let _ = form.request_submit();
                (at as i64 + step).clamp(0, last as i64) as usize
            }
        };
        SELECTED.set(to);
        mark_selected();
    }

    /// Puts `html` in `el`, keeping the checkboxes as they were ticked; not while a field in it
    /// has the focus.
    fn swap(el: &Element, html: &str) {
        if let Some(active) = document().active_element() {
            let typing = matches!(active.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                && active.get_attribute("type").as_deref() != Some("checkbox");
            if typing && el.contains(Some(&active)) {
                return;
            }
        }
        let boxes = |el: &Element| {
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
        if el.inner_html() != html {
            el.set_inner_html(html);
        }
        for b in boxes(el) {
            if let Some((_, _, on)) = ticked.iter().find(|(n, v, _)| *n == b.name() && *v == b.value()) {
                b.set_checked(*on);
            }
        }
    }

    pub fn reload_with(message: Option<String>) {
        if let (Some(m), Ok(Some(store))) = (message, window().session_storage()) {
            let _ = store.set_item(FLASH_KEY, &m);
        }
        let _ = window().location().reload();
    }

    /// What `reload_with` left to be said, under the page's heading.
    pub fn show_flash() {
        let Ok(Some(store)) = window().session_storage() else { return };
        if let Ok(Some(m)) = store.get_item(FLASH_KEY) {
            let _ = store.remove_item(FLASH_KEY);
            let p = document().create_element("p").expect("p");
            p.set_class_name("ok");
            let _ = p.set_attribute("role", "status");
            p.set_text_content(Some(&m));
            flash().map(|f| f.append_child(&p));
        }
    }

    /// The place under the page's heading for the results of forms in `Live` parts.
    fn flash() -> Option<Element> {
        if let Some(f) = document().get_element_by_id("flash") {
            return Some(f);
        }
        let f = document().create_element("div").ok()?;
        f.set_id("flash");
        let h1 = document().query_selector("main h1").ok().flatten()?;
        h1.after_with_node_1(&f).ok()?;
        Some(f)
    }

    fn clear_messages(form: &HtmlFormElement) {
        if let Some(f) = document().get_element_by_id("flash") {
            f.set_inner_html("");
        }
        if let Ok(list) = form.query_selector_all(".enhance-msg") {
            for i in 0..list.length() {
                if let Some(n) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    n.remove();
                }
            }
        }
        if let Ok(list) = form.query_selector_all("[aria-invalid]") {
            for i in 0..list.length() {
                if let Some(n) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    let _ = n.remove_attribute("aria-invalid");
                }
            }
        }
    }

    fn set_busy(form: &HtmlFormElement, busy: bool) {
        if let Ok(list) = form.query_selector_all("button[type=submit], button:not([type])") {
            for i in 0..list.length() {
                if let Some(b) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    let _ = if busy {
                        b.set_attribute("disabled", "")
                    } else {
                        b.remove_attribute("disabled")
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{fill, fill_all, on_this_site};
    use serde_json::json;

    #[test]
    fn an_address_a_form_goes_to_stays_on_this_site() {
        assert_eq!(on_this_site("/runs/7".into()), "/runs/7");
        for away in [
            "javascript:alert(1)",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "",
        ] {
            assert_eq!(on_this_site(away.into()), "/", "{away}");
        }
        // The log-in's `next` with a template in it (QA: `/{x}|javascript:...`): the second
        // address was taken, and ran a script. As a template it is now refused whole.
        let next = "/{x}|javascript:fetch('/api/tokens')";
        let to = next.split('|').find_map(|t| fill_all(t, &json!(null))).unwrap_or_default();
        assert_eq!(on_this_site(to), "/");
    }

    #[test]
    fn the_first_address_whose_fields_the_answer_has_is_taken() {
        let go = |v: serde_json::Value| "/sweeps/{sweep_id}|/runs/{run_ids}|/".split('|').find_map(|t| fill_all(t, &v));
        assert_eq!(go(json!({"sweep_id": 3, "run_ids": [7, 8]})).as_deref(), Some("/sweeps/3"));
        assert_eq!(go(json!({"sweep_id": null, "run_ids": [7]})).as_deref(), Some("/runs/7"));
        assert_eq!(go(json!({"sweep_id": null, "run_ids": [7, 8]})).as_deref(), Some("/"));
        assert_eq!(fill_all("/runs/{id}", &json!({"id": ""})), None);
        // A list of queued runs is said with commas in a message.
        assert_eq!(fill("Queued run(s) {}.", &json!([4, 5])), "Queued run(s) 4, 5.");
    }

    #[test]
    fn a_template_takes_the_answer_or_its_fields() {
        assert_eq!(fill("/runs/{}", &json!(42)), "/runs/42");
        assert_eq!(fill("/runs/{id}", &json!({"id": 7, "name": "x"})), "/runs/7");
        assert_eq!(fill("Token {secret} made.", &json!({"secret": "bk_1"})), "Token bk_1 made.");
        assert_eq!(fill("Saved.", &json!(null)), "Saved.");
        assert_eq!(fill("{missing}!", &json!({})), "!");
        assert_eq!(fill("open { brace", &json!(1)), "open { brace");
    }
}
