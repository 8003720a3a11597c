//! A queue's progress per reviewer, its agreement where items overlap, and (for its maker or an
//! admin) adding and removing reviewers.

use crate::api::grading::{queue_progress, reviewer_choices, ChangeReviewers, ProgressView, QueueAgreement};
use crate::api::AppError;
use crate::domain::agreement::kappa_words;
use crate::ui::live_html::Live;
use crate::ui::widgets::ErrorBox;
use leptos::prelude::*;

/// Below the grader (or the reveal): progress, agreement, reviewers; rendered on the server as a
/// `Live` part, read again after a judgement (the grader asks) or a change of reviewers (its
/// forms, posted by the `Enhance` island). No such queue: nothing here (the page says so above).
#[component]
pub(super) fn QueuePanel(queue_id: i64) -> impl IntoView {
    let progress = Resource::new(
        move || queue_id,
        |q| async move {
            let p = queue_progress(q).await?;
            let choices = if p.may_assign { reviewer_choices().await? } else { Vec::new() };
            Ok::<_, AppError>((p, choices))
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match progress.await {
                    Err(AppError::NotFound(_)) => ().into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok((p, choices)) => view! {
                        <Live id="queue-progress" every_ms=0>
                            <Progress p=p.clone() choices/>
                            {p.agreement.map(|a| view! { <Agreement a/> })}
                        </Live>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Progress(p: ProgressView, choices: Vec<String>) -> impl IntoView {
    let queue_id = p.queue_id;
    let how = match p.grades_per_item {
        Some(k) => format!(
            "Each of the {} items is judged by {k} of the assigned reviewers; each reviewer sees only the items dealt to them.",
            p.items
        ),
        None => format!("Every reviewer judges every one of the {} items.", p.items),
    };
    let may_assign = p.may_assign;
    let row = move |r: crate::api::grading::ReviewerProgress, total: bool| {
        let name = r.name.clone();
        let label = match (r.me, r.removed) {
            (true, _) => format!("{} (you)", r.name),
            (false, true) => format!("{} (removed; their judgements stay)", r.name),
            _ => r.name.clone(),
        };
        view! {
            <tr class:total=total>
                <td>{label}</td>
                <td class="num">{r.assigned}</td>
                <td class="num">{r.judged}</td>
                <td class="num">{r.remaining}</td>
                {may_assign.then(|| view! {
                    <td>{(!total && !r.removed).then(|| {
                        let aria = format!("Remove {name}");
                        view! {
                            <ActionForm action={ServerAction::<ChangeReviewers>::new()} attr:class="inline">
                                <input type="hidden" name="queue_id" value=queue_id.to_string()/>
                                <input type="hidden" name="add" value=""/>
                                <input type="hidden" name="remove" value=name.clone()/>
                                <button type="submit" aria-label=aria>"Remove"</button>
                            </ActionForm>
                        }
                    })}</td>
                })}
            </tr>
        }
    };
    let rows = p.reviewers.clone();
    let total = p.total.clone();
    // Every reviewer judges every item and none has begun: no one is behind, nothing to count.
    let none_yet = rows.is_empty() && p.grades_per_item.is_none();
    view! {
        <section class="queue-progress" aria-label="Progress per reviewer">
            <h2>"Progress"</h2>
            <p class="note">{how}</p>
            {(!p.sees_everyone).then(|| view! { <p class="note">{see_note(p.maker_gone)}</p> })}
            {if none_yet {
                view! { <p class="empty">"No reviewer has judged an item yet: any reviewer may start."</p> }.into_any()
            } else {
                view! {
                    <table class="progress-table" aria-label="Progress per reviewer">
                        <thead><tr><th>"Reviewer"</th><th class="num">"Assigned"</th><th class="num">"Judged"</th><th class="num">"Remaining"</th>{may_assign.then(|| view! { <th></th> })}</tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| row(r, false)).collect_view()}
                            {row(total, true)}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {may_assign.then(|| view! { <AddReviewer queue_id names=choices/> })}
        </section>
    }
}

/// Who sees everyone's progress, told to someone who sees only their own.
fn see_note(maker_gone: bool) -> &'static str {
    if maker_gone {
        "You see your own progress and the total; admins see everyone's (the queue's maker no longer has an account)."
    } else {
        "You see your own progress and the total; the queue's maker and admins see everyone's."
    }
}

/// Pick a user whose role grades (`names`) and add them; the unjudged items are dealt again.
#[component]
fn AddReviewer(queue_id: i64, names: Vec<String>) -> impl IntoView {
    view! {
        <ActionForm action={ServerAction::<ChangeReviewers>::new()} attr:class="row" attr:aria-label="Choose a reviewer to add">
            <input type="hidden" name="queue_id" value=queue_id.to_string()/>
            <input type="hidden" name="remove" value=""/>
            <div class="field">
                <label for="add-reviewer">"Add a reviewer"</label>
                <select id="add-reviewer" name="add">
                    <option value="">"—"</option>
                    {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit">"Add and deal again"</button>
        </ActionForm>
        <p class="definition">"Adding or removing a reviewer deals again only the items nobody has judged yet: every grade or vote already given stays with its reviewer and counts towards its item's grades."</p>
    }
}

#[component]
fn Agreement(a: QueueAgreement) -> impl IntoView {
    let alpha = match (a.alpha, a.alpha_interval) {
        (Some(x), Some(i)) => format!(
            "Krippendorff's alpha {x:.2} (95% CI {:.2}–{:.2}, n={} items): {}",
            i.low,
            i.high,
            i.n,
            kappa_words(Some(&i))
        ),
        (Some(x), None) => format!(
            "Krippendorff's alpha {x:.2} (n={} items: too few to give an interval)",
            a.overlapping
        ),
        (None, _) if a.overlapping == 0 => "No item has been judged by two reviewers yet.".into(),
        (None, _) => format!("Krippendorff's alpha undefined on {} items (one grade throughout)", a.overlapping),
    };
    view! {
        <section class="queue-agreement" aria-label="Agreement where items overlap">
            <h2>"Agreement where items overlap"</h2>
            <p>{format!("Items judged by two or more reviewers: {}. ", a.overlapping)} {alpha}</p>
            {(!a.pairs.is_empty()).then(|| view! {
                <table class="kappa" aria-label="Agreement between reviewers">
                    <thead><tr><th>"Between"</th><th class="num">"Items both judged"</th><th class="num">"Same judgement"</th><th class="num">"Cohen's kappa"</th><th class="num">"95% CI (bootstrap)"</th><th>"Landis-Koch"</th></tr></thead>
                    <tbody>
                        {a.pairs.iter().map(|p| view! {
                            <tr>
                                <td>{p.between.clone()}</td>
                                <td class="num">{p.n}</td>
                                <td class="num">{p.exact.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or("—".into())}</td>
                                <td class="num">{p.kappa.map(|x| format!("{x:.2}")).unwrap_or("—".into())}</td>
                                <td class="num">{match (p.kappa, p.interval) { (Some(_), Some(i)) => format!("{:.2} – {:.2}", i.low, i.high), (Some(_), None) => "too few items".into(), _ => "—".into() }}</td>
                                <td>{if p.kappa.is_some() { kappa_words(p.interval.as_ref()) } else { "undefined (one category throughout)" }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <p class="definition">{format!("On: {}. Only items judged by two or more reviewers count; each pair is compared on the items both judged (n). Intervals resample the items (1,000 times, fixed seed); Landis and Koch's words are given only when the whole interval lies in one band.", a.what)}</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::see_note;

    #[test]
    fn a_queue_whose_maker_was_deleted_says_only_admins_see_everyones() {
        assert!(see_note(true).contains("admins see everyone's"), "{}", see_note(true));
        assert!(!see_note(true).contains("maker and admins see"), "{}", see_note(true));
        assert!(see_note(false).contains("the queue's maker and admins see everyone's"));
    }
}
