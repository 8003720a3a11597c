use super::widgets::{allowed, use_me, ErrorBox, IfAllowed};
use crate::api::quality::{run_answers, run_quality_summary, AnswerPage};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use leptos::prelude::*;

/// The automatic checks of a run's answers, with the extracted fields as filterable columns.
///
/// Every resource and `Suspense`/`Transition` of the section is created here, when the section
/// is, never after an `.await` (inside `IfAllowed`): hydration numbers them in creation order,
/// and one created once data arrive is numbered differently by the server and the browser.
#[component]
pub fn RunAnswers(
    run_id: i64,
    /// Bumped when the run ends: its answers are checked as it closes.
    #[prop(optional)]
    ended: Option<RwSignal<u32>>,
) -> impl IntoView {
    let ended = move || ended.map(|e| e.get()).unwrap_or(0);
    let summary = Resource::new(move || (run_id, ended()), |(id, _)| run_quality_summary(id));
    let filter = Filter {
        rec: RwSignal::new(String::new()),
        problem: RwSignal::new(String::new()),
        page: RwSignal::new(0u32),
    };
    let rows = answer_rows(run_id, filter, Signal::derive(ended));
    view! {
        <section aria-labelledby="checks-title">
            <h2 id="checks-title">"Quality checks"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(Some(q)) => {
                            // Under ~30 answers a share carries its interval; a mean grade always does.
                            let pct = |x: u64| crate::domain::stats::describe_share(x, q.answered);
                            view! {
                                <table class="figures">
                                    <tbody>
                                        <tr><th scope="row">"JSON found"</th><td class="num">{pct(q.json_found)}</td><td class="definition">"bare, in a ``` fence, or wrapped in prose"</td></tr>
                                        <tr><th scope="row">"Valid against the dataset's schema"</th><td class="num">{q.schema_valid.map(pct).unwrap_or("the dataset has no schema".into())}</td><td class="definition">"JSON Schema validation of the extracted JSON"</td></tr>
                                        <tr><th scope="row">"Hands the task back"</th><td class="num">{pct(q.handback)}</td><td class="definition">"no JSON, and the answer asks the user to do the evaluation"</td></tr>
                                        <tr><th scope="row">"Truncated"</th><td class="num">{pct(q.truncated)}</td><td class="definition">"finish_reason = length"</td></tr>
                                        <tr><th scope="row">"Mean grade"</th><td class="num">{q.mean_grade.map(|m| crate::domain::stats::describe_mean(m, crate::domain::stats::mean_interval_from(m, q.grade_ci, q.grades).as_ref(), q.grades)).unwrap_or("not graded".into())}</td><td class="definition">"reviewers' overall grade, 1-5, 95% CI"</td></tr>
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                        Ok(None) => view! { <p class="empty">"No checked answers: a run's answers are checked when it ends (a run without answers has none)."</p> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            // Each answer beside its run: not for reviewers, who grade blind.
            <IfAllowed what=Permission::ReadAnswers>
                <AnswerFilters run_id filter/>
            </IfAllowed>
            <AnswerList rows filter/>
        </section>
    }
}

/// The answer list's filter and page.
#[derive(Clone, Copy)]
struct Filter {
    rec: RwSignal<String>,
    problem: RwSignal<String>,
    page: RwSignal<u32>,
}

/// A page of the run's checked answers, or `None` for a role that may not read them (reviewers
/// grade blind; the server refuses them anyway).
fn answer_rows(run_id: i64, filter: Filter, ended: Signal<u32>) -> Resource<Result<Option<AnswerPage>, AppError>> {
    let me = use_me();
    let Filter { rec, problem, page } = filter;
    Resource::new(
        move || (run_id, rec.get(), problem.get(), page.get(), ended.get()),
        move |(id, r, p, n, _)| async move {
            if !allowed(me, Permission::ReadAnswers) {
                return Ok(None);
            }
            run_answers(id, r, p, n).await.map(Some)
        },
    )
}

/// The downloads and the filters of the answer list.
#[component]
fn AnswerFilters(run_id: i64, filter: Filter) -> impl IntoView {
    let Filter { rec, problem, page } = filter;
    view! {
        <p class="downloads">
            "Download the records: "
            <a href=format!("/api/runs/{run_id}/records") download=format!("run-{run_id}-records.jsonl")>"JSON lines"</a>
            " · "
            <a href=format!("/api/runs/{run_id}/records?format=csv") download=format!("run-{run_id}-records.csv")>"CSV"</a>
            " · "
            <a href=format!("/api/runs/{run_id}/records?format=batch") download=format!("run-{run_id}-output.jsonl")>"OpenAI Batch output"</a>
        </p>
        <div class="row">
            <div class="field">
                <label for="f-rec">"Recommendation"</label>
                <select id="f-rec" on:change=move |ev| { page.set(0); rec.set(event_target_value(&ev)) }>
                    <option value="">"any"</option>
                    {crate::domain::candidates::RECOMMENDATIONS.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                    <option value="(none)">"(none)"</option>
                </select>
            </div>
            <div class="field">
                <label for="f-problem">"Problem"</label>
                <select id="f-problem" on:change=move |ev| { page.set(0); problem.set(event_target_value(&ev)) }>
                    <option value="">"any"</option>
                    <option value="no_json">"no JSON"</option>
                    <option value="invalid">"invalid against the schema"</option>
                    <option value="handback">"hands the task back"</option>
                    <option value="truncated">"truncated"</option>
                </select>
            </div>
        </div>
    }
}

/// The run's checked answers (nothing for a role that may not read them).
#[component]
fn AnswerList(rows: Resource<Result<Option<AnswerPage>, AppError>>, filter: Filter) -> impl IntoView {
    let page = filter.page;
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(p)) => {
                        let per = crate::api::quality::ANSWERS_SHOWN as u64;
                        let first = u64::from(p.page) * per;
                        let shown = p.rows.len() as u64;
                        let more = first + shown < p.total;
                        let list = p.rows;
                        let columns = p.columns;
                        let heads = columns.iter().map(|(label, _)| view! { <th>{label.clone()}</th> }).collect_view();
                        view! {
                        <p class="note">{if shown == 0 { "No answers match.".to_string() } else { format!("Answers {}–{} of {}.", first + 1, first + shown, p.total) }}</p>
                        <p class="pager">
                            <button disabled=p.page == 0 on:click=move |_| page.update(|n| *n = n.saturating_sub(1))>"← Previous"</button>
                            " "
                            <button disabled=!more on:click=move |_| page.update(|n| *n += 1)>"Next →"</button>
                        </p>
                        <table class="answers">
                            <thead><tr><th>"Item"</th><th>"JSON"</th><th>"Schema"</th><th>"Recommendation"</th>{heads}<th>"Problems"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|c| {
                                    let f = |p: &str| c.fields.get(p).cloned().unwrap_or_default();
                                    let mut problems = c.schema_errors.clone();
                                    if c.handback { problems.push("hands the task back".into()); }
                                    if c.truncated { problems.push("truncated".into()); }
                                    view! {
                                        <tr>
                                            <td>{c.custom_id.clone()}</td>
                                            <td>{c.json_form.map(|j| j.label()).unwrap_or("none")}</td>
                                            <td>{match c.schema_valid { Some(true) => "valid", Some(false) => "invalid", None => "—" }}</td>
                                            <td>{c.recommendation.clone().unwrap_or_default()}</td>
                                            {columns.iter().map(|(_, path)| view! { <td>{f(path)}</td> }).collect_view()}
                                            <td class="definition">{problems.join("; ")}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
