//! Grading queues and the grader: everything by keyboard (digits, j/k, Enter, ?). Blind by
//! default: the model is revealed only when the queue's maker closes the queue, and a grade is
//! final once the reviewer moves on.

use super::live_html::Live;
use super::runs::manage::{Buttons, Panel, Target};
use super::widgets::{allowed, use_me, ErrorBox, IfAllowed, Me, OriginBadge};
use crate::api::cost::cost_data;
use crate::api::grading::{
    grading_item, list_queues, reviewer_choices, save_grade, save_vote, CloseQueue, CreateQueue, GradeInput, ItemView, Saved,
};
use crate::api::AppError;
use crate::domain::accounts::{Permission, Role};
use crate::domain::quality::ShownAnswer;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeMap;

mod progress;
mod reveal;
use progress::QueuePanel;
use reveal::{vote_label, Reveal};

/// Rendered on the server: the queues (a `Live` part, read again after a change) with their
/// Close forms (asked first) and rename/delete buttons; the new-queue form is an island of its
/// own (`NewQueueForm`: it counts the items as you choose).
#[component]
pub fn GradingPage() -> impl IntoView {
    let queues = Resource::new(|| (), |_| list_queues());
    let choices = Resource::new(
        || (),
        |_| async move {
            let runs: Vec<(i64, String, bool)> = cost_data()
                .await
                .map(|d| {
                    d.runs
                        .into_iter()
                        .filter(|r| r.quality.is_some())
                        .map(|r| (r.id, format!(" #{} {} ({})", r.id, r.name, r.model), r.origin == "simulated"))
                        .collect()
                })
                .unwrap_or_default();
            (runs, reviewer_choices().await.unwrap_or_default())
        },
    );
    let me = use_me();
    let (can_grade, can_run, read_answers) = (
        allowed(me, Permission::Grade),
        allowed(me, Permission::Run),
        allowed(me, Permission::ReadAnswers),
    );
    let admin = me.and_then(Me::user).is_some_and(|u| u.role == Role::Admin);
    view! {
        <h1>"Grading"</h1>
        <p class="lead">"Queues of sampled answers to grade on the dataset's rubric, or to compare blind in pairs. In a blind queue the model behind an answer stays hidden, and a grade is final once you move on to the next; when its maker closes the queue, each reviewer sees which model wrote what they judged."</p>
        <Panel/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match queues.await {
                    Ok(qs) if qs.is_empty() => view! { <Live id="queues" every_ms=0><p class="empty">"No queues yet: make one below."</p></Live> }.into_any(),
                    Ok(qs) => view! {
                        <Live id="queues" every_ms=0>
                        <table class="queues">
                            <thead><tr><th>"Queue"</th><th>"Kind"</th><th>"Status"</th><th class="num">"Items"</th><th class="num">"Done by you"</th><th class="num">"Judgements (all reviewers)"</th><th></th></tr></thead>
                            <tbody>
                                {qs.into_iter().map(|q| {
                                    let may_close = !q.closed && (q.made_by_me || admin);
                                    let may_change = admin || (q.made_by_me && can_run);
                                    let (label, name) = (format!("queue '{}'", q.name), q.name.clone());
                                    let close = may_close.then(|| {
                                        let says = format!("Close '{}'? Grading stops for everyone, and each reviewer then sees which model wrote the answers they judged.", q.name);
                                        let (aria, id) = (format!("Close {}", q.name), q.id.to_string());
                                        view! {
                                            " "
                                            <ActionForm action={ServerAction::<CloseQueue>::new()} attr:class="inline" attr:data-confirm=says
                                                attr:data-confirm-title="Close the queue?" attr:data-confirm-yes="Close and reveal" attr:data-confirm-no="Keep it open">
                                                <input type="hidden" name="queue_id" value=id/>
                                                <button type="submit" aria-label=aria>"Close…"</button>
                                            </ActionForm>
                                        }
                                    });
                                    view! {
                                        <tr>
                                            <td>{q.name.clone()} {(!q.blind).then_some(" (not blind)")}</td>
                                            <td>{if q.kind == crate::domain::views::QueueKind::Pairwise { "blind pairwise votes" } else { "grade on the rubric" }}</td>
                                            <td>{if q.closed { "closed: models revealed" } else { "open" }}</td>
                                            <td class="num">{q.items} {q.grades_per_item.map(|k| format!(" ({k} grade{} each)", if k == 1 { "" } else { "s" }))}</td>
                                            <td class="num">{match q.grades_per_item { Some(_) if q.mine == 0 => "none dealt to you".to_string(), Some(_) => format!("{} of your {}", q.done_by_me, q.mine), None => q.done_by_me.to_string() }}</td>
                                            <td class="num">{q.judgements}</td>
                                            <td>
                                                {(q.closed || can_grade || q.made_by_me || admin).then(|| view! {
                                                    <a href=format!("/grade/{}", q.id)>{if q.closed { "See who wrote what" } else if !can_grade || q.mine == 0 { "Progress" } else if q.done_by_me >= q.mine { "Review" } else { "Start grading" }}</a>
                                                })}
                                                {close}
                                                {may_change.then(|| view! { " " <Buttons target=Target::Queue(q.id) label=label.clone() name=name.clone()/> })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </Live>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <IfAllowed what=Permission::Run otherwise="Runners and admins make grading queues">
        <h2>"New queue"</h2>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let (runs, reviewers) = choices.await;
                view! { <NewQueueForm runs reviewers may_unblind=read_answers can_grade/> }
            })}
        </Suspense>
        </IfAllowed>
    }
}

/// A new queue: its runs (finished, with answers: id, label, simulated), the reviewers to pick
/// from. A `data-live` form: as the choices change they become the page's query, and the note
/// under the sample size (a `Live` part) counts the items again on the server. Made, the queues
/// above are read again and a link to the new queue shown.
#[component]
fn NewQueueForm(runs: Vec<(i64, String, bool)>, reviewers: Vec<String>, may_unblind: bool, can_grade: bool) -> impl IntoView {
    let query = use_query_map();
    let (size, kind, ticked) = query.with_untracked(|q| {
        let ticked: Vec<String> = q
            .into_iter()
            .filter(|(k, _)| k.starts_with("form[runs]"))
            .map(|(_, v)| v.to_string())
            .collect();
        (
            q.get("form[sample_size]").unwrap_or_else(|| "20".into()),
            q.get("form[kind]").unwrap_or_else(|| "grade".into()),
            ticked,
        )
    });
    let count = size_words(size.trim().parse().ok(), ticked.len(), kind == "pairwise");
    view! {
        <p id="queue-made" class="ok" role="status" hidden>"Queue made. " <a data-href="/grade/{}">{if can_grade { "Start grading" } else { "See its progress" }}</a></p>
        <ActionForm action={ServerAction::<CreateQueue>::new()} attr:aria-label="New queue" attr:data-live="" attr:data-show="queue-made">
            <div class="row">
                <div class="field"><label for="q-name">"Name"</label><input id="q-name" name="form[name]" type="text"/></div>
                <div class="field">
                    <label for="q-kind">"Kind"</label>
                    <select id="q-kind" name="form[kind]">
                        <option value="grade" selected=kind != "pairwise">"grade each answer on the rubric"</option>
                        <option value="pairwise" selected=kind == "pairwise">"blind pairwise votes (A/B)"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="q-size">"Sample size (prompts)"</label>
                    <input id="q-size" name="form[sample_size]" type="number" value=size.clone() aria-describedby="q-size-total"/>
                </div>
                <div class="field"><label for="q-seed">"Seed (empty: random)"</label><input id="q-seed" name="form[seed]" type="number" placeholder="random"/></div>
            </div>
            <fieldset>
                <legend>"Runs (same dataset)"</legend>
                {runs.into_iter().enumerate().map(|(i, (id, label, simulated))| {
                    let checked = ticked.contains(&id.to_string());
                    view! {
                        <label class="check">
                            <input type="checkbox" name=format!("form[runs][{i}]") value=id.to_string() checked=checked/>
                            {label} " " <OriginBadge label=if simulated { "simulated" } else { "" }/>
                        </label>
                    }
                }).collect_view()}
                <span data-field="runs"></span>
            </fieldset>
            <Live id="queue-count" every_ms=0><p class="note" id="q-size-total" aria-live="polite">{count}</p></Live>
            <ReviewersField names=reviewers/>
            {may_unblind.then(|| view! {
                <div class="field checkbox"><input id="q-unblind" name="form[unblind]" type="checkbox" value="1"/><label for="q-unblind">"Show the model while grading (not blind: admins grade it, reviewers grade blind queues only)"</label></div>
            })}
            <button type="submit" class="primary">"Make queue"</button>
        </ActionForm>
    }
}

/// What the sample size makes: each sampled prompt gives one item per run ticked (grading) or
/// per pair of runs (pairwise votes); fewer when the runs have fewer prompts in common.
fn size_words(prompts: Option<usize>, runs: usize, pairwise: bool) -> String {
    let Some(p) = prompts else {
        return "The sample size is the number of prompts to sample (a whole number from 1 to 5000).".into();
    };
    let per = if pairwise { runs * runs.saturating_sub(1) / 2 } else { runs };
    let prompts = if p == 1 { "1 prompt".to_string() } else { format!("{p} prompts") };
    let per_words = match (pairwise, per) {
        (false, 0) => return format!("{prompts}, each giving one item per run ticked below (tick one run or more)."),
        (true, 0) => return format!("{prompts}, each giving one item per pair of runs ticked below (tick two runs or more)."),
        (false, 1) => "1 run".to_string(),
        (false, n) => format!("{n} runs"),
        (true, 1) => "1 pair of runs".to_string(),
        (true, n) => format!("{n} pairs of runs"),
    };
    let total = p * per;
    format!(
        "{prompts} × {per_words} = {total} item{} in the queue (fewer if the runs share fewer prompts).",
        if total == 1 { "" } else { "s" }
    )
}

/// K and the reviewers of a new queue: empty K and no reviewers keep "everyone grades
/// everything".
#[component]
fn ReviewersField(names: Vec<String>) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Reviewers (optional: several per item)"</legend>
            <div class="field"><label for="q-k">"Grades per item"</label><input id="q-k" name="form[grades_per_item]" type="number" min="1" placeholder="everyone grades everything"/></div>
            {names.into_iter().enumerate().map(|(i, n)| view! {
                <label class="check"><input type="checkbox" name=format!("form[reviewers][{i}]") value=n.clone()/>{format!(" {n}")}</label>
            }).collect_view()}
            <span data-field="reviewers"></span>
            <p class="definition">"With grades per item K and N reviewers ticked, each item goes to exactly K of them (balanced, in an order drawn from the seed) and each sees only their items; the overlap is where agreement is measured. Leave both empty for every reviewer to grade every item."</p>
        </fieldset>
    }
}

/// One queue: the grader while it is open (an island: `Grader`), who wrote what once it is
/// closed; rendered on the server, with the queue's progress below (a `Live` part the grader
/// has read again after each judgement).
#[component]
pub fn GraderPage() -> impl IntoView {
    let queue_id = expect_context::<super::app::RouteId>().0;
    let at = use_query_map().with_untracked(|q| q.get("at").and_then(|s| s.parse::<i64>().ok()));
    let queue = Resource::new(
        move || queue_id,
        |id| async move { list_queues().await.map(|qs| qs.into_iter().find(|q| q.id == id)) },
    );
    let me = use_me();
    view! {
        <h1>"Grade"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let grades = allowed(me, Permission::Grade);
                match queue.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(None) => view! { <p class="error" role="alert">"No such queue."</p> }.into_any(),
                    // A runner who made the queue: reviewers and admins grade; its progress is below.
                    Ok(Some(q)) if !grades => view! {
                        <p class="note">{format!("'{}' is graded by reviewers and admins; your role does not grade. Its progress is below.", q.name)}</p>
                    }.into_any(),
                    Ok(Some(q)) if q.closed => view! { <Reveal queue_id=q.id/> }.into_any(),
                    Ok(Some(q)) if q.grades_per_item.is_some() && q.mine == 0 => view! {
                        <p class="note">"No item of this queue is dealt to you: its maker or an admin assigns its reviewers."</p>
                    }.into_any(),
                    Ok(Some(q)) => view! { <Grader queue_id=q.id at/> }.into_any(),
                }
            })}
        </Suspense>
        <QueuePanel queue_id/>
    }
}

/// An answer as the blind reviewer reads it (the server already normalised it).
fn answer_view(a: &ShownAnswer) -> AnyView {
    if a.json {
        view! { <pre class="answer-json">{a.text.clone()}</pre> }.into_any()
    } else {
        view! { <p class="note">"No JSON found."</p> <pre class="answer-text">{a.text.clone()}</pre> }.into_any()
    }
}

/// The keyboard grader of an open queue, from the item at `at` (the address's `?at=`).
#[island]
fn Grader(queue_id: i64, at: Option<i64>) -> impl IntoView {
    let position = RwSignal::new(at);
    let item = Resource::new(move || (queue_id, position.get()), |(q, p)| grading_item(q, p));
    let overall = RwSignal::new(0u8);
    let fields = RwSignal::new(BTreeMap::<String, String>::new());
    let comment = RwSignal::new(String::new());
    let gold = RwSignal::new(false);
    let help = RwSignal::new(false);
    // What the last save said ("Saved.", and who wrote it where the queue is not blind).
    let saved = RwSignal::new(None::<String>);
    // The item shown; its `locked` says the judgement is final (keys and buttons then do nothing).
    let current = RwSignal::new(None::<ItemView>);
    // From a save, a vote or a move until the next item is on screen: what the page is waiting
    // for. Keys and buttons do nothing meanwhile, so a key never lands on the item shown before
    // (keys typed fast while a save is in flight would otherwise grade that item again).
    let busy = RwSignal::new(None::<&'static str>);
    let save = Action::new(|g: &GradeInput| {
        let g = g.clone();
        async move { save_grade(g).await }
    });
    let vote = Action::new(|(id, c): &(String, String)| {
        let (id, c) = (id.clone(), c.clone());
        async move { save_vote(id, c).await }
    });
    let error = RwSignal::new(None::<AppError>);
    // A new item on screen: its saved grade, if any, into the form; keys act on it from now on.
    // Called where the item is rendered (inside the Transition below): an Effect reading `item`
    // would tie the page's outer Suspense to it, and the whole page would blink "Loading…" at
    // each item instead of keeping it with the "Saving…" line.
    let show = move |r: &Result<Option<ItemView>, AppError>| {
        if let Ok(it) = r {
            let g = it.as_ref().and_then(|i| i.my_grade.clone()).unwrap_or_default();
            overall.set(g.overall);
            fields.set(g.fields);
            comment.set(g.comment);
            gold.set(g.gold);
            current.set(it.clone());
        }
        // On an error, it shows in place of the item.
        busy.set(None);
    };
    // Show the item at `p` (reload it when it is the one shown).
    let go_to = move |p: i64| {
        busy.set(Some("Loading the next item…"));
        if position.get_untracked() == Some(p) {
            item.refetch();
        } else {
            position.set(Some(p));
        }
    };
    let after = move |r: Result<Saved, AppError>| match r {
        Ok(s) => {
            error.set(None);
            // The progress below (a `Live` part) is read again.
            super::enhance::refresh_live_parts();
            saved.set(Some(s.reveal.map(|t| format!("Saved. {t}")).unwrap_or_else(|| "Saved.".into())));
            go_to(s.next_position.unwrap_or(i64::MAX));
        }
        Err(e) => {
            busy.set(None);
            error.set(Some(e));
        }
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
    // The item shown, when it may be judged now (not final, nothing in flight).
    let judgeable = move || current.get_untracked().filter(|i| !i.locked && busy.get_untracked().is_none());
    let submit = move || {
        if let Some(it) = judgeable() {
            busy.set(Some("Saving…"));
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
        if let Some(it) = judgeable() {
            busy.set(Some("Saving…"));
            vote.dispatch((it.item_id, choice.to_string()));
        }
    };
    let step = move |d: i64| {
        if let Some(it) = current.get_untracked().filter(|_| busy.get_untracked().is_none()) {
            // The caller's next or previous item (in a queue with K, the items dealt to them).
            let Some(p) = (if d > 0 { it.next } else { it.prev }).filter(|p| *p != it.position) else {
                return;
            };
            saved.set(None);
            error.set(None);
            go_to(p);
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
            // While a save or the next item is on its way, no key touches the item shown.
            let waiting = busy.get_untracked().is_some();
            let open = !waiting && !current.get_untracked().is_some_and(|i| i.locked);
            if waiting && key == "Enter" {
                ev.prevent_default();
            }
            match key.as_str() {
                "1" | "2" | "3" | "4" | "5" if !pairwise && open => overall.set(key.parse().unwrap_or(0)),
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
                "g" if open => gold.update(|g| *g = !*g),
                "c" if !waiting => {
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
        {move || help.get().then(|| view! {
            <div class="help" role="dialog" aria-label="Keyboard help">
                <p><strong>"Keys"</strong> " — 1-5: overall grade · Enter: save and go to the next · j / k: next / previous · g: gold star · c: comment (Esc leaves it) · ?: this help"</p>
                <p>"Pairwise: a = left better · b = right better · t = tie · x = both bad"</p>
            </div>
        })}
        {move || match busy.get() {
            Some(what) => view! { <p class="note busy" role="status" aria-busy="true">{what} " (keys wait for the next item)"</p> }.into_any(),
            None => saved.get().map(|t| view! { <p class="ok" role="status">{t}</p> }).into_any(),
        }}
        {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let shown = item.await;
                show(&shown);
                match shown {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(None) => view! { <p class="ok">"All done: you have judged every item of this queue. Your grades are final; you will see which model wrote each answer when the queue's maker closes it. " <a href="/quality">"See the quality page"</a></p> }.into_any(),
                    Ok(Some(it)) => {
                        let progress = format!("Item {} of {} · {} judged by you · press ? for keys", it.ordinal, it.total, it.done_by_me);
                        let rubric = it.rubric.clone();
                        let extracted = it.extracted.clone();
                        let fixed = it.locked;
                        view! {
                            <p class="progress-text" role="status">{progress}</p>
                            {fixed.then(|| view! { <p class="note" role="note">"Your judgement of this item is final: in a blind queue a grade cannot change once you have moved on (only your most recent one can)."</p> })}
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
                                        <button disabled=move || fixed || busy.get().is_some() on:click=move |_| cast("a")>"A is better (a)"</button>
                                        <button disabled=move || fixed || busy.get().is_some() on:click=move |_| cast("b")>"B is better (b)"</button>
                                        <button disabled=move || fixed || busy.get().is_some() on:click=move |_| cast("tie")>"Tie (t)"</button>
                                        <button disabled=move || fixed || busy.get().is_some() on:click=move |_| cast("both_bad")>"Both bad (x)"</button>
                                        {it.my_vote.clone().map(|v| view! { <span class="note">{format!(" your vote: {}", vote_label(&v))}</span> })}
                                    </div>
                                }.into_any()
                            } else {
                                view! {
                                    <div class="grade-form" aria-label="Your grade">
                                        <div role="radiogroup" aria-label="Overall grade" class="stars">
                                            {(1u8..=5).map(|n| view! {
                                                <button type="button" role="radio" disabled=move || fixed || busy.get().is_some() aria-checked=move || (overall.get() == n).to_string() class:on={move || overall.get() >= n} on:click=move |_| overall.set(n)>{n.to_string()}</button>
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
                                                                <select aria-label=format!("judgement of {}", f.label) disabled=move || fixed || busy.get().is_some()
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
                                        <div class="field"><label for="comment">"Comment (c)"</label><textarea id="comment" rows="2" readonly=fixed prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea></div>
                                        <div class="field checkbox"><input id="gold" type="checkbox" disabled=move || fixed || busy.get().is_some() prop:checked=move || gold.get() on:change=move |ev| gold.set(event_target_checked(&ev))/><label for="gold">"Gold star (g): a model answer worth keeping"</label></div>
                                        {(!fixed).then(|| view! { <button type="button" class="primary" disabled=move || busy.get().is_some() on:click=move |_| submit()>"Save grade (Enter)"</button> })}
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

#[cfg(test)]
mod size_tests {
    use super::size_words;

    #[test]
    fn the_sample_size_counts_prompts_and_the_total_counts_items() {
        assert_eq!(
            size_words(Some(12), 2, false),
            "12 prompts × 2 runs = 24 items in the queue (fewer if the runs share fewer prompts)."
        );
        assert_eq!(
            size_words(Some(5), 3, true),
            "5 prompts × 3 pairs of runs = 15 items in the queue (fewer if the runs share fewer prompts)."
        );
        assert!(size_words(Some(4), 1, false).starts_with("4 prompts × 1 run = 4 items"));
        assert!(size_words(Some(4), 1, true).contains("tick two runs or more"));
        assert!(size_words(None, 2, false).contains("number of prompts"));
    }
}
