use super::widgets::{ErrorBox, OriginBadge};
use crate::api::quality::quality_overview;
use crate::charts::{bradley_terry_chart, grade_bars, rate_bars, speed_vs_quality, BtBar, WIDTH};
use crate::domain::agreement::kappa_words;
use crate::domain::stats::{describe_mean, describe_share, mean_interval_from};
use leptos::prelude::*;

#[component]
pub fn QualityPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| quality_overview());
    view! {
        <h1>"Quality"</h1>
        <p class="lead">"Automatic checks on every answer, reviewers' grades with confidence intervals, blind pairwise ratings, and how far reviewers (and models) agree. " <a href="/grade">"Grade answers"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => {
                        let labels: Vec<String> = d.runs.iter().map(|r| r.label.clone()).collect();
                        let rates: Vec<[f64; 3]> = d.runs.iter().map(|r| {
                            let n = r.quality.answered.max(1) as f64;
                            [r.quality.schema_valid.unwrap_or(r.quality.json_found) as f64 / n, r.quality.handback as f64 / n, r.quality.truncated as f64 / n]
                        }).collect();
                        let graded: Vec<&crate::api::quality::QualityRow> = d.runs.iter().filter(|r| r.quality.mean_grade.is_some()).collect();
                        let interval = |q: &crate::domain::quality::RunQuality| q.mean_grade.and_then(|m| mean_interval_from(m, q.grade_ci, q.grades)).map(|i| (i.low, i.high));
                        let gb = grade_bars(
                            &graded.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
                            &graded.iter().filter_map(|r| r.quality.mean_grade).collect::<Vec<_>>(),
                            &graded.iter().map(|r| interval(&r.quality)).collect::<Vec<_>>(),
                            &graded.iter().map(|r| r.quality.grades).collect::<Vec<_>>(),
                            WIDTH,
                            440,
                        );
                        let sq = speed_vs_quality(&graded.iter().filter_map(|r| Some((r.label.clone(), r.output_tps?, r.quality.mean_grade?, interval(&r.quality)))).collect::<Vec<_>>(), WIDTH, 480);
                        let rb = rate_bars(&labels, &rates, WIDTH, 440);
                        let bt = bradley_terry_chart(
                            &d.bradley_terry.iter().map(|b| BtBar { label: b.label.clone(), strength: b.strength, low: b.low, high: b.high, votes: b.votes }).collect::<Vec<_>>(),
                            WIDTH,
                        );
                        view! {
                            <table class="quality">
                                <thead><tr><th>"Run"</th><th class="num">"Answers"</th><th class="num">"JSON found"</th><th class="num">"Schema-valid"</th><th class="num">"Hands back"</th><th class="num">"Truncated"</th><th class="num">"Mean grade (95% CI)"</th><th>"Recommendations"</th></tr></thead>
                                <tbody>
                                    {d.runs.iter().map(|r| {
                                        let q = &r.quality;
                                        let pct = |x: u64| describe_share(x, q.answered);
                                        view! {
                                            <tr>
                                                <td><a href=format!("/runs/{}", r.id)>{r.label.clone()}</a> " " <OriginBadge label=if r.origin == "simulated" { "simulated" } else if r.origin == "imported" { "imported" } else { "" }/></td>
                                                <td class="num">{q.answered}</td>
                                                <td class="num">{pct(q.json_found)}</td>
                                                <td class="num">{q.schema_valid.map(pct).unwrap_or("no schema".into())}</td>
                                                <td class="num">{pct(q.handback)}</td>
                                                <td class="num">{pct(q.truncated)}</td>
                                                <td class="num">{q.mean_grade.map(|m| describe_mean(m, mean_interval_from(m, q.grade_ci, q.grades).as_ref(), q.grades)).unwrap_or("not graded".into())}</td>
                                                <td>{r.recommendations.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <section class="chart" aria-labelledby="qcharts">
                                <h2 id="qcharts">"Charts"</h2>
                                <div class="svg" inner_html=gb></div>
                                <div class="svg" inner_html=rb></div>
                                <div class="svg" inner_html=sq></div>
                            </section>
                            <h2>"Blind pairwise ranking (Bradley-Terry)"</h2>
                            {if d.bradley_terry.is_empty() {
                                view! { <p class="empty">"No pairwise votes yet: make a pairwise queue."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="bt-pair">
                                    <div class="svg" inner_html=bt.clone()></div>
                                    <table class="bt">
                                        <thead><tr><th>"Rank"</th><th>"Run"</th><th class="num">"Strength"</th><th class="num">"95% CI (bootstrap)"</th><th class="num">"Votes"</th></tr></thead>
                                        <tbody>{d.bradley_terry.iter().enumerate().map(|(i, b)| view! {
                                            <tr><td>{i + 1}</td><td>{b.label.clone()}</td><td class="num">{format!("{:.2}", b.strength)}</td><td class="num">{format!("{:.2} – {:.2}", b.low, b.high)}</td><td class="num">{b.votes}</td></tr>
                                        }).collect_view()}</tbody>
                                    </table>
                                    </div>
                                    <p class="definition">{format!("Ties count half a win each; 'both bad' votes ({}) are left out. Strengths sum to the number of runs; runs whose intervals overlap are not told apart by these votes.", d.both_bad)}</p>
                                }.into_any()
                            }}
                            {d.length_note.clone().map(|n| view! { <p class="form-error" role="note">{n}</p> })}
                            <h2>"Agreement"</h2>
                            <table class="kappa">
                                <thead><tr><th>"Between"</th><th>"On"</th><th class="num">"Items"</th><th class="num">"Cohen's kappa"</th><th class="num">"95% CI (bootstrap)"</th><th>"Landis-Koch"</th></tr></thead>
                                <tbody>
                                    {d.reviewers.iter().chain(d.model_vs_human.iter()).map(|k| view! {
                                        <tr>
                                            <td>{k.between.clone()}</td><td>{k.what.clone()}</td><td class="num">{k.n}</td>
                                            <td class="num">{k.kappa.map(|x| format!("{x:.2}")).unwrap_or("—".into())}</td>
                                            <td class="num">{match (k.kappa, k.interval) { (Some(_), Some(i)) => format!("{:.2} – {:.2}", i.low, i.high), (Some(_), None) => "too few items".into(), _ => "—".into() }}</td>
                                            <td>{if k.kappa.is_some() { kappa_words(k.interval.as_ref()) } else { "undefined (one category throughout)" }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <p class="definition">"Kappa: agreement beyond chance (1 = perfect, 0 = chance). Weighted kappa counts a near miss on an ordered scale as a partial disagreement. The interval resamples the items (1,000 times, fixed seed); Landis and Koch's words are given only when the whole interval lies in one band."</p>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
