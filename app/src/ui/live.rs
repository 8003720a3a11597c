//! Live progress in the browser: a Server-Sent Events subscription to `/api/runs/{id}/events`.

use crate::domain::progress::Progress;

/// Call `on_event` with every progress event of the run until it finishes. Browser only: on the
/// server (SSR) this does nothing. The subscription closes when the calling scope is cleaned up.
pub fn subscribe(run_id: i64, on_event: impl Fn(Progress) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::on_cleanup;
        use wasm_bindgen::{closure::Closure, JsCast};
        let Ok(source) = web_sys::EventSource::new(&format!("/api/runs/{run_id}/events")) else {
            return;
        };
        let closer = source.clone();
        let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else { return };
            if let Ok(p) = serde_json::from_str::<Progress>(&text) {
                let finished = p.status.is_finished();
                on_event(p);
                if finished {
                    closer.close();
                }
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (run_id, on_event);
    }
}
