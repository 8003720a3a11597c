//! Grading queues and the grader: everything by keyboard (digits, j/k, Enter, ?), blind by
//! default (the model is shown only after the grade is saved).

use super::widgets::{tree, ErrorBox, FieldMessage, FormMessage, OriginBadge};
use crate::api::cost::cost_data;
use crate::api::grading::{grading_item, list_queues, save_grade, save_vote, CreateQueue, GradeInput, ItemView, Revealed};
use crate::api::AppError;
use crate::domain::quality::extract_json;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::BTreeMap;

#[component]
pub fn GradingPage() -> impl IntoView {
    let create = ServerAction::<CreateQueue>::new();
    let queues = Resource::new(move || create.version().get(), |_| list_queues());
    let runs = Resource::new(|| (), |_| cost_data());
    let error: Signal<Option<AppError>> = Signal::derive(move || create.value().get().and_then(Result::err));
    view! {
        <h1>"Grading"</h1>
        <p class="lead">"Queues of sampled answers to grade on the dataset's rubric, or to compare blind in pairs. The model behind an answer stays hidden until your grade is saved."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match queues.await {
                    Ok(qs) if qs.is_empty() => view! { <p class="empty">"No queues yet: make one below."</p> }.into_any(),
                    Ok(qs) => view! {
                        <table class="queues">
                            <thead><tr><th>"Queue"</th><th>"Kind"</th><th class="num">"Items"</th><th class="num">"Done by you"</th><th class="num">"Judgements (all reviewers)"</th><th></th></tr></thead>
                            <tbody>
                                {qs.into_iter().map(|q| view! {
                                    <tr>
                                        <td>{q.name.clone()} {(!q.blind).then_some(" (not blind)")}</td>
                                        <td>{if q.kind == "pairwise" { "blind pairwise votes" } else { "grade on the rubric" }}</td>
                                        <td class="num">{q.items}</td>
                                        <td class="num">{q.done_by_me}</td>
                                        <td class="num">{q.judgements}</td>
                                        <td><a href=format!("/grade/{}", q.id)>{if q.done_by_me >= q.items { "Review" } else { "Start grading" }}</a></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
        <h2>"New queue"</h2>
        <ActionForm action=create attr:aria-label="New queue">
            <FormMessage error fields=vec!["name", "kind", "runs", "sample_size"]/>
            <div class="row">
                <div class="field"><label for="q-name">"Name"</label><input id="q-name" name="form[name]" type="text"/><FieldMessage error field="name"/></div>
                <div class="field">
                    <label for="q-kind">"Kind"</label>
                    <select id="q-kind" name="form[kind]">
                        <option value="grade">"grade each answer on the rubric"</option>
                        <option value="pairwise">"blind pairwise votes (A/B)"</option>
                    </select>
                    <FieldMessage error field="kind"/>
                </div>
                <div class="field"><label for="q-size">"Sample size (items)"</label><input id="q-size" name="form[sample_size]" type="number" value="20"/><FieldMessage error field="sample_size"/></div>
                <div class="field"><label for="q-seed">"Seed"</label><input id="q-seed" name="form[seed]" type="number" value="1"/></div>
            </div>
            <fieldset>
                <legend>"Runs (same dataset)"</legend>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        runs.await.ok().map(|d| d.runs.into_iter().filter(|r| r.quality.is_some()).enumerate().map(|(i, r)| view! {
                            <label class="check">
                                <input type="checkbox" name=format!("form[runs][{i}]") value=r.id.to_string()/>
                                {format!(" #{} {} ({})", r.id, r.name, r.model)} " " <OriginBadge label=if r.origin == "simulated" { "simulated" } else { "" }/>
                            </label>
                        }).collect_view())
                    })}
                </Suspense>
                <FieldMessage error field="runs"/>
            </fieldset>
            <div class="field checkbox"><input id="q-unblind" name="form[unblind]" type="checkbox" value="1"/><label for="q-unblind">"Show the model while grading (not blind)"</label></div>
            <button type="submit" class="primary">"Make queue"</button>
            {move || create.value().get().and_then(Result::ok).map(|id| view! { <p class="ok" role="status">"Queue made. " <a href=format!("/grade/{id}")>"Start grading"</a></p> })}
        </ActionForm>
    }
}

#[component]
pub fn GraderPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let queue_id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let position = RwSignal::new(query.get_untracked().get("at").and_then(|s| s.parse::<i64>().ok()));
    let item = Resource::new(move || (queue_id(), position.get()), |(q, p)| grading_item(q, p));
    let overall = RwSignal::new(0u8);
    let fields = RwSignal::new(BTreeMap::<String, String>::new());
    let comment = RwSignal::new(String::new());
    let gold = RwSignal::new(false);
    let help = RwSignal::new(false);
    let revealed = RwSignal::new(None::<String>);
    let current = RwSignal::new(None::<ItemView>);
    let save = Action::new(|g: &GradeInput| {
        let g = g.clone();
        async move { save_grade(g).await }
    });
    let vote = Action::new(|(id, c): &(String, String)| {
        let (id, c) = (id.clone(), c.clone());
        async move { save_vote(id, c).await }
    });
    let error = RwSignal::new(None::<AppError>);
    // A new item: load its saved grade, if any, into the form.
    Effect::new(move |_| {
        if let Some(Ok(it)) = item.get() {
            let g = it.as_ref().and_then(|i| i.my_grade.clone()).unwrap_or_default();
            overall.set(g.overall);
            fields.set(g.fields);
            comment.set(g.comment);
            gold.set(g.gold);
            current.set(it);
        }
    });
    let after = move |r: Result<Revealed, AppError>| match r {
        Ok(rv) => {
            error.set(None);
            revealed.set(Some(rv.text));
            position.set(Some(rv.next_position.unwrap_or(i64::MAX)));
        }
        Err(e) => error.set(Some(e)),
    };
    Effect::new(move |_| {
        if let Some(r) = save.value().get() {
            after(r);
        }
    });
    Effect::new(move |_| {
        if let Some(r) = vote.value().get() {
            after(r);
        }
    });
    let submit = move || {
        if let Some(it) = current.get_untracked() {
            save.dispatch(GradeInput {
                item_id: it.item_id,
                overall: overall.get_untracked(),
                fields: fields.get_untracked(),
                comment: comment.get_untracked(),
                gold: gold.get_untracked(),
            });
        }
    };
    let cast = move |choice: &str| {
        if let Some(it) = current.get_untracked() {
            vote.dispatch((it.item_id, choice.to_string()));
        }
    };
    let step = move |d: i64| {
        if let Some(it) = current.get_untracked() {
            let p = (it.position + d).clamp(0, (it.total - 1).max(0));
            revealed.set(None);
            position.set(Some(p));
        }
    };
    // Keys: 1-5 grade, Enter save, j/k next/previous, g gold, c comment, ? help; a/b/t/x vote.
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev: leptos::web_sys::KeyboardEvent| {
            use leptos::wasm_bindgen::JsCast;
            let tag = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .map(|e| e.tag_name())
                .unwrap_or_default();
            let typing = matches!(tag.as_str(), "TEXTAREA" | "INPUT" | "SELECT");
            let key = ev.key();
            if typing {
                if key == "Escape" {
                    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
                        let _ = el.blur();
                    }
                }
                return;
            }
            let pairwise = current.get_untracked().is_some_and(|i| i.answer_b.is_some());
            match key.as_str() {
                "1" | "2" | "3" | "4" | "5" if !pairwise => overall.set(key.parse().unwrap_or(0)),
                "Enter" if !pairwise => {
                    ev.prevent_default();
                    submit();
                }
                "a" if pairwise => cast("a"),
                "b" if pairwise => cast("b"),
                "t" if pairwise => cast("tie"),
                "x" if pairwise => cast("both_bad"),
                "j" => step(1),
                "k" => step(-1),
                "g" => gold.update(|g| *g = !*g),
                "c" => {
                    ev.prevent_default();
                    if let Some(el) = leptos::prelude::document()
                        .get_element_by_id("comment")
                        .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
                    {
                        let _ = el.focus();
                    }
                }
                "?" => help.update(|h| *h = !*h),
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    });
    view! {
        <h1>"Grade"</h1>
        {move || help.get().then(|| view! {
            <div class="help" role="dialog" aria-label="Keyboard help">
                <p><strong>"Keys"</strong> " — 1-5: overall grade · Enter: save and go to the next · j / k: next / previous · g: gold star · c: comment (Esc leaves it) · ?: this help"</p>
                <p>"Pairwise: a = left better · b = right better · t = tie · x = both bad"</p>
            </div>
        })}
        {move || revealed.get().map(|t| view! { <p class="ok" role="status">"Saved. " {t}</p> })}
        {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match item.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(None) => view! { <p class="ok">"All done: you have judged every item of this queue. " <a href="/quality">"See the quality page"</a></p> }.into_any(),
                    Ok(Some(it)) => {
                        let highlight: Vec<String> = it.rubric.iter().map(|f| f.path.clone()).collect();
                        let answer_view = |text: &str| match extract_json(text) {
                            Some((form, v)) => view! { <p class="note">{format!("JSON found ({})", form.label())}</p> {tree(&v, "", &highlight)} }.into_any(),
                            None => view! { <p class="note">"No JSON found."</p> <pre class="answer-text">{text.to_string()}</pre> }.into_any(),
                        };
                        let progress = format!("Item {} of {} · {} judged by you · press ? for keys", it.position + 1, it.total, it.done_by_me);
                        let rubric = it.rubric.clone();
                        let extracted = it.extracted.clone();
                        view! {
                            <p class="progress-text" role="status">{progress}</p>
                            <div class="grader">
                                <section class="prompt" aria-label="Prompt">
                                    <h2>"Prompt"</h2>
                                    <pre>{it.prompt.clone()}</pre>
                                </section>
                                {match it.answer_b.clone() {
                                    None => view! {
                                        <section class="answer" aria-label="Answer">
                                            <h2>"Answer"</h2>
                                            {answer_view(&it.answer)}
                                            {(!it.schema_errors.is_empty()).then(|| view! { <p class="error">"Schema: " {it.schema_errors.join("; ")}</p> })}
                                        </section>
                                    }.into_any(),
                                    Some(b) => view! {
                                        <section class="answer" aria-label="Answer A (left)"><h2>"A (left)"</h2>{answer_view(&it.answer)}</section>
                                        <section class="answer" aria-label="Answer B (right)"><h2>"B (right)"</h2>{answer_view(&b)}</section>
                                    }.into_any(),
                                }}
                            </div>
                            {if it.answer_b.is_some() {
                                view! {
                                    <div class="vote" role="group" aria-label="Vote">
                                        <button on:click=move |_| cast("a")>"A is better (a)"</button>
                                        <button on:click=move |_| cast("b")>"B is better (b)"</button>
                                        <button on:click=move |_| cast("tie")>"Tie (t)"</button>
                                        <button on:click=move |_| cast("both_bad")>"Both bad (x)"</button>
                                        {it.my_vote.clone().map(|v| view! { <span class="note">{format!(" your vote: {v}")}</span> })}
                                    </div>
                                }.into_any()
                            } else {
                                view! {
                                    <div class="grade-form" aria-label="Your grade">
                                        <div role="radiogroup" aria-label="Overall grade" class="stars">
                                            {(1u8..=5).map(|n| view! {
                                                <button type="button" role="radio" aria-checked=move || (overall.get() == n).to_string() class:on={move || overall.get() >= n} on:click=move |_| overall.set(n)>{n.to_string()}</button>
                                            }).collect_view()}
                                            <span class="note">{move || if overall.get() == 0 { "press 1-5".to_string() } else { format!("overall {}/5", overall.get()) }}</span>
                                        </div>
                                        <table class="rubric">
                                            <thead><tr><th>"Field"</th><th>"The answer says"</th><th>"Your judgement"</th></tr></thead>
                                            <tbody>
                                                {rubric.into_iter().map(|f| {
                                                    let path = f.path.clone();
                                                    let p2 = path.clone();
                                                    let said = extracted.get(&f.path).cloned().unwrap_or("—".into());
                                                    view! {
                                                        <tr>
                                                            <th scope="row">{f.label.clone()}</th>
                                                            <td class="hl">{said}</td>
                                                            <td>
                                                                <select aria-label=format!("judgement of {}", f.label)
                                                                    prop:value=move || fields.with(|m| m.get(&p2).cloned().unwrap_or_default())
                                                                    on:change=move |ev| { let v = event_target_value(&ev); let p = path.clone(); fields.update(|m| { if v.is_empty() { m.remove(&p); } else { m.insert(p, v); } }); }>
                                                                    <option value="">"—"</option>
                                                                    <option value="correct">"correct"</option>
                                                                    <option value="incorrect">"incorrect"</option>
                                                                    {f.options().into_iter().map(|o| view! { <option value=o.clone()>{format!("should be: {o}")}</option> }).collect_view()}
                                                                </select>
                                                            </td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                        <div class="field"><label for="comment">"Comment (c)"</label><textarea id="comment" rows="2" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea></div>
                                        <div class="field checkbox"><input id="gold" type="checkbox" prop:checked=move || gold.get() on:change=move |ev| gold.set(event_target_checked(&ev))/><label for="gold">"Gold star (g): a model answer worth keeping"</label></div>
                                        <button type="button" class="primary" on:click=move |_| submit()>"Save grade (Enter)"</button>
                                    </div>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
