use super::widgets::{allowed, use_me, ErrorBox, IfAllowed};
use crate::api::quality::{run_answers, run_quality_summary, AnswerPage};
use crate::api::AppError;
use crate::domain::accounts::Permission;
use leptos::prelude::*;

/// The answer list's filter and page, from the run page's address (`?rec=&problem=&apage=`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnswerQuery {
    pub rec: String,
    pub problem: String,
    pub page: u32,
}

impl AnswerQuery {
    /// As the page's address has it.
    pub fn from_page() -> Self {
        let q = leptos_router::hooks::use_query_map().read_untracked();
        AnswerQuery {
            rec: q.get("rec").unwrap_or_default(),
            problem: q.get("problem").unwrap_or_default(),
            page: q.get("apage").and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    }

    /// The address of page `page` of this filter, on the run page.
    fn at(&self, page: u32) -> String {
        let enc = crate::domain::format::percent_encode;
        format!("?rec={}&problem={}&apage={page}#checks-title", enc(&self.rec), enc(&self.problem))
    }
}

/// The automatic checks of a run's answers, with the extracted fields as filterable columns.
/// Rendered on the server (a `Live` part of the run page): the filter is a GET form, the pages
/// are links.
#[component]
pub fn RunAnswers(run_id: i64, query: AnswerQuery) -> impl IntoView {
    let summary = Resource::new(move || run_id, run_quality_summary);
    let me = use_me();
    let wanted = query.clone();
    let rows = Resource::new(
        move || run_id,
        move |id| {
            let q = wanted.clone();
            async move {
                // Reviewers grade blind (the server refuses them anyway).
                if !allowed(me, Permission::ReadAnswers) {
                    return Ok(None);
                }
                run_answers(id, q.rec, q.problem, q.page).await.map(Some)
            }
        },
    );
    let for_list = query.clone();
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
                <AnswerFilters run_id query=query.clone()/>
            </IfAllowed>
            <AnswerList rows query=for_list.clone()/>
        </section>
    }
}

/// The downloads and the filters of the answer list (a GET form: the filter is in the address).
#[component]
fn AnswerFilters(run_id: i64, query: AnswerQuery) -> impl IntoView {
    let recs = crate::domain::candidates::RECOMMENDATIONS.iter().copied().chain(["(none)"]);
    let problems = [
        ("no_json", "no JSON"),
        ("invalid", "invalid against the schema"),
        ("handback", "hands the task back"),
        ("truncated", "truncated"),
    ];
    view! {
        <p class="downloads">
            "Download the records: "
            <a href=format!("/api/runs/{run_id}/records") download=format!("run-{run_id}-records.jsonl")>"JSON lines"</a>
            " · "
            <a href=format!("/api/runs/{run_id}/records?format=csv") download=format!("run-{run_id}-records.csv")>"CSV"</a>
            " · "
            <a href=format!("/api/runs/{run_id}/records?format=batch") download=format!("run-{run_id}-output.jsonl")>"OpenAI Batch output"</a>
        </p>
        <form method="get" action=format!("/runs/{run_id}#checks-title") class="row filter" aria-label="Filter answers">
            <div class="field">
                <label for="f-rec">"Recommendation"</label>
                <select id="f-rec" name="rec">
                    <option value="">"any"</option>
                    {recs.map(|r| view! { <option value=r selected=query.rec == r>{r}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-problem">"Problem"</label>
                <select id="f-problem" name="problem">
                    <option value="">"any"</option>
                    {problems.into_iter().map(|(v, label)| view! { <option value=v selected=query.problem == v>{label}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </form>
    }
}

/// The run's checked answers (nothing for a role that may not read them).
#[component]
fn AnswerList(rows: Resource<Result<Option<AnswerPage>, AppError>>, query: AnswerQuery) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || { let query = query.clone(); Suspend::new(async move {
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
                            {(p.page > 0).then(|| view! { <a href=query.at(p.page - 1)>"← Previous"</a> })}
                            " "
                            {more.then(|| view! { <a href=query.at(p.page + 1)>"Next →"</a> })}
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
            })}}
        </Suspense>
    }
}
