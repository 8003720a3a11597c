//! Server mode, offline batch and provider batch side by side (issue 14): for the runs over one
//! dataset, one row per run with its kind, throughput (a provider batch's turnaround beside it),
//! cost per 100K requests, quality and load. Pure, so the compare page, the costs page (which
//! recomputes it in the browser as the sheet changes) and the report build the very same rows.

use super::cost::PriceKind;
use super::doc::Block;
use super::format;
use super::quality::RunQuality;
use super::report::findings::describe_quality;
use super::report::load::{kind_load, RunLoad};
use super::spec::RunKind;
use super::summary::RunSummary;
use super::views::RunView;

/// The section's title, on every page and in the report.
pub const TITLE: &str = "Server mode, offline batch and provider batch";

/// What the table's figures mean.
pub const DEFINITION: &str = "Throughput = prompt + completion tokens / time. Server mode: over the run's wall time, at its load. \
Batch jobs are timed as a whole (job-level, no per-request timing): an offline batch (vllm run-batch) over its process time less the model load read from vLLM's log; \
a provider batch over its turnaround, submitted -> completed on the provider's clock (its queue included). \
Cost per 100K requests: the run's mean tokens at the chosen sheet (a run's own sheet when its endpoint is linked to one); a provider batch at the sheet's batch price. \
Quality: schema-valid share and reviewers' mean grade, each with its n.";

/// The kind of a stored run: its job's when it has one, else its spec's (imports: server mode).
pub fn kind_of(run: &RunView) -> RunKind {
    run.summary
        .as_ref()
        .and_then(|s| s.job.as_ref())
        .or(run.job.as_ref())
        .map(|j| j.kind)
        .unwrap_or_else(|| run.kind())
}

/// The price kind a job of this kind is charged at, when it has its own: a provider's Batch API
/// job is charged at batch prices; the others at the sheet's usual match.
pub fn price_kind(kind: RunKind) -> Option<PriceKind> {
    (kind == RunKind::ProviderBatch).then_some(PriceKind::Batch)
}

/// A run as the table sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeRun<'a> {
    pub id: i64,
    pub name: &'a str,
    pub model: &'a str,
    /// Launched runs: the dataset's id; imports: `None` (or a placeholder below 1).
    pub dataset_id: Option<i64>,
    pub dataset: &'a str,
    pub kind: RunKind,
    pub summary: &'a RunSummary,
    pub quality: Option<&'a RunQuality>,
    /// Cost per 100K requests at the sheet applied, and that price described.
    pub cost: Option<(f64, String)>,
    pub load: &'a RunLoad,
}

/// One row, every cell in words.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeRow {
    pub id: i64,
    /// "#3 gemma offline".
    pub run: String,
    pub kind: RunKind,
    pub model: String,
    /// "2,511 total tok/s", or why it is unknown.
    pub throughput: String,
    /// The time the throughput is over: "wall time 3 min 20 s", "40 s + model load 26 s",
    /// "turnaround 1 h 02 min (queued 3 min 10 s)".
    pub time: String,
    /// A provider batch's turnaround alone ("1 h 02 min").
    pub turnaround: Option<String>,
    /// "$4.66", or "not priced".
    pub cost_per_100k: String,
    pub price: String,
    pub quality: String,
    pub load: String,
}

/// The runs over one dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeTable {
    pub dataset: String,
    pub rows: Vec<ModeRow>,
    /// How the runs' captured conditions differ ("Conditions differ: ..."), in the order they
    /// ran; `None` when they do not.
    pub conditions: Option<String>,
}

/// A duration in hours, minutes and seconds: "4.2 s", "42 s", "3 min 20 s", "1 h 02 min".
pub fn turnaround(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "—".into();
    }
    if s < 10.0 {
        return format!("{s:.1} s");
    }
    let secs = s.round() as u64;
    if secs < 60 {
        return format!("{secs} s");
    }
    if secs < 3600 {
        return format!("{} min {:02} s", secs / 60, secs % 60);
    }
    let mins = (secs + 30) / 60;
    format!("{} h {:02} min", mins / 60, mins % 60)
}

/// The row of one run.
pub fn row(r: &ModeRun) -> ModeRow {
    let s = r.summary;
    let job = s.job.as_ref().filter(|j| j.kind == r.kind);
    let throughput = if s.timing_known && s.total_tokens_per_s > 0.0 {
        format!("{} total tok/s", format::int(s.total_tokens_per_s))
    } else if r.kind.is_batch() {
        "unknown (the job's times are not all known)".into()
    } else {
        "unknown (not timed)".into()
    };
    let turnaround_s = job.and_then(|j| j.turnaround_s()).filter(|_| r.kind == RunKind::ProviderBatch);
    let time = match r.kind {
        RunKind::Server if s.timing_known => format!("wall time {}", turnaround(s.wall_time_s)),
        RunKind::Server => "not timed".into(),
        RunKind::Offline => match job.and_then(|j| j.job_time_s()) {
            Some(t) => match job.and_then(|j| j.load_time_s) {
                Some(load) => format!("{} + model load {} (apart)", turnaround(t), turnaround(load)),
                None => format!("{} (model load not found in vLLM's log: included)", turnaround(t)),
            },
            None => "not finished".into(),
        },
        RunKind::ProviderBatch => match turnaround_s {
            Some(t) => match job.and_then(|j| j.queued_s()) {
                Some(q) => format!("turnaround {} (queued {})", turnaround(t), turnaround(q)),
                None => format!("turnaround {}", turnaround(t)),
            },
            None => "not finished".into(),
        },
    };
    let (cost_per_100k, price) = match &r.cost {
        Some((c, price)) => (format::usd(*c), price.clone()),
        None => (
            "not priced".into(),
            "no row of the sheet applies, or the prompt/completion split is unknown".into(),
        ),
    };
    ModeRow {
        id: r.id,
        run: format!("#{} {}", r.id, r.name),
        kind: r.kind,
        model: r.model.to_string(),
        throughput,
        time,
        turnaround: turnaround_s.map(turnaround),
        cost_per_100k,
        price,
        quality: r.quality.map(describe_quality).unwrap_or_else(|| "not measured".into()),
        load: r.load.describe(),
    }
}

/// Where a run's dataset is known, the key that groups it: the dataset's id, else its name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum DatasetKey {
    Id(i64),
    Name(String),
}

fn dataset_key(r: &ModeRun) -> Option<DatasetKey> {
    match r.dataset_id {
        Some(id) if id > 0 => Some(DatasetKey::Id(id)),
        _ if !r.dataset.trim().is_empty() => Some(DatasetKey::Name(r.dataset.trim().to_string())),
        _ => None,
    }
}

/// One table per dataset that has a batch run among `runs`, with every run over that dataset:
/// server mode first, then offline batch, then provider batch, each by run id. Datasets in the
/// order they first appear; runs whose dataset is not recorded are left out.
pub fn tables(runs: &[ModeRun]) -> Vec<ModeTable> {
    let mut groups: Vec<(DatasetKey, String, Vec<&ModeRun>)> = Vec::new();
    for r in runs {
        let Some(key) = dataset_key(r) else { continue };
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.2.push(r),
            None => groups.push((key, r.dataset.to_string(), vec![r])),
        }
    }
    groups
        .into_iter()
        .filter(|g| g.2.iter().any(|r| r.kind.is_batch()))
        .map(|(_, dataset, mut members)| {
            members.sort_by_key(|r| r.id);
            let labelled: Vec<super::conditions::ComparedRun> = members.iter().map(|r| r.load.compared(format!("#{}", r.id))).collect();
            let conditions = super::conditions::differ_note(&super::conditions::differences_of_runs(&labelled));
            members.sort_by_key(|r| (kind_rank(r.kind), r.id));
            ModeTable {
                dataset: if dataset.is_empty() { "not named".into() } else { dataset },
                rows: members.into_iter().map(row).collect(),
                conditions,
            }
        })
        .collect()
}

fn kind_rank(kind: RunKind) -> u8 {
    match kind {
        RunKind::Server => 0,
        RunKind::Offline => 1,
        RunKind::ProviderBatch => 2,
    }
}

/// The column heads, for pages and the report.
pub const HEAD: [&str; 9] = [
    "Run",
    "Kind",
    "Model",
    "Throughput",
    "Time (throughput is over)",
    "Cost per 100K",
    "Price applied",
    "Quality",
    "Load",
];

impl ModeRow {
    /// The cells in [`HEAD`]'s order.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.run.clone(),
            kind_load(self.kind).to_string(),
            self.model.clone(),
            self.throughput.clone(),
            self.time.clone(),
            self.cost_per_100k.clone(),
            self.price.clone(),
            self.quality.clone(),
            self.load.clone(),
        ]
    }
}

/// The report's section: nothing when no dataset has a batch run.
pub fn blocks(tables: &[ModeTable], sheet: &str) -> Vec<Block> {
    if tables.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Block::H2(TITLE.into()), Block::P(format!("Prices: {sheet}. {DEFINITION}"))];
    for t in tables {
        out.push(Block::H3(format!("Dataset: {}", t.dataset)));
        out.push(Block::Table {
            head: HEAD.iter().map(|h| h.to_string()).collect(),
            rows: t.rows.iter().map(ModeRow::cells).collect(),
        });
        if let Some(c) = &t.conditions {
            out.push(Block::P(c.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::batch::{apply_job, JobTiming};
    use crate::domain::doc::Doc;

    fn summary(kind: RunKind) -> RunSummary {
        let mut s = RunSummary {
            requests: 100,
            prompt_tokens: 80_000,
            completion_tokens: 20_000,
            mean_prompt_tokens: Some(800.0),
            mean_completion_tokens: Some(200.0),
            wall_time_s: 200.0,
            total_tokens_per_s: 500.0,
            timing_known: true,
            ..Default::default()
        };
        let job = match kind {
            RunKind::Server => return s,
            RunKind::Offline => JobTiming {
                kind,
                submitted_at: Some(1000.0),
                started_at: Some(1026.0),
                completed_at: Some(1066.0),
                load_time_s: Some(26.0),
                total: 100,
                completed: 100,
                ..Default::default()
            },
            RunKind::ProviderBatch => JobTiming {
                kind,
                submitted_at: Some(1000.0),
                started_at: Some(1190.0),
                completed_at: Some(1000.0 + 3725.0),
                total: 100,
                completed: 98,
                failed: 2,
                ..Default::default()
            },
        };
        apply_job(&mut s, &job);
        s
    }

    fn run<'a>(id: i64, kind: RunKind, dataset: Option<i64>, s: &'a RunSummary, load: &'a RunLoad) -> ModeRun<'a> {
        ModeRun {
            id,
            name: "r",
            model: "google/gemma-3-4b-it",
            dataset_id: dataset,
            dataset: if dataset == Some(2) { "other" } else { "candidates" },
            kind,
            summary: s,
            quality: None,
            cost: Some((4.5, "row".into())),
            load,
        }
    }

    #[test]
    fn turnarounds_read_in_hours_minutes_and_seconds() {
        assert_eq!(turnaround(4.24), "4.2 s");
        assert_eq!(turnaround(42.4), "42 s");
        assert_eq!(turnaround(59.6), "1 min 00 s");
        assert_eq!(turnaround(200.0), "3 min 20 s");
        assert_eq!(turnaround(3725.0), "1 h 02 min");
        assert_eq!(turnaround(3599.7), "1 h 00 min");
        assert_eq!(turnaround(26.0 * 3600.0 + 59.0 * 60.0 + 40.0), "27 h 00 min");
        assert_eq!(turnaround(f64::NAN), "—");
    }

    #[test]
    fn one_dataset_through_server_offline_and_provider_gives_three_rows_of_one_table() {
        let (srv, off, pro) = (summary(RunKind::Server), summary(RunKind::Offline), summary(RunKind::ProviderBatch));
        let load = RunLoad::default();
        // Given out of order, with a server run over another dataset.
        let runs = [
            run(7, RunKind::ProviderBatch, Some(1), &pro, &load),
            run(3, RunKind::Server, Some(2), &srv, &load),
            run(5, RunKind::Offline, Some(1), &off, &load),
            run(4, RunKind::Server, Some(1), &srv, &load),
        ];
        let t = tables(&runs);
        assert_eq!(t.len(), 1, "the other dataset has no batch run: {t:?}");
        assert_eq!(t[0].dataset, "candidates");
        let kinds: Vec<(i64, RunKind)> = t[0].rows.iter().map(|r| (r.id, r.kind)).collect();
        assert_eq!(
            kinds,
            vec![(4, RunKind::Server), (5, RunKind::Offline), (7, RunKind::ProviderBatch)]
        );
        let [server, offline, provider] = [&t[0].rows[0], &t[0].rows[1], &t[0].rows[2]];
        assert_eq!(server.throughput, "500 total tok/s");
        assert_eq!(server.time, "wall time 3 min 20 s");
        assert_eq!(server.turnaround, None);
        // Offline: 100,000 tokens over 66 s - 26 s of model load.
        assert_eq!(offline.throughput, "2,500 total tok/s");
        assert_eq!(offline.time, "40 s + model load 26 s (apart)");
        // Provider: over the turnaround, queue included.
        assert_eq!(provider.throughput, "27 total tok/s");
        assert_eq!(provider.turnaround.as_deref(), Some("1 h 02 min"));
        assert_eq!(provider.time, "turnaround 1 h 02 min (queued 3 min 10 s)");
        assert_eq!(provider.cells()[1], "provider batch");
        assert_eq!(provider.cost_per_100k, "$4.50");
    }

    #[test]
    fn runs_side_by_side_whose_conditions_differ_say_so_under_their_table() {
        use crate::domain::conditions::Conditions;
        let (srv, off) = (summary(RunKind::Server), summary(RunKind::Offline));
        let at = |v: &str| {
            RunLoad::default().with_conditions(Some(Conditions {
                version: Some(v.into()),
                ..Default::default()
            }))
        };
        let (old, new, none) = (at("0.31.1"), at("0.32.0"), RunLoad::default());
        let runs = [
            run(4, RunKind::Server, Some(1), &srv, &new),
            run(5, RunKind::Offline, Some(1), &off, &none),
            run(3, RunKind::Server, Some(1), &srv, &old),
        ];
        let t = tables(&runs);
        assert_eq!(
            t[0].conditions.as_deref(),
            Some("Conditions differ: vLLM 0.31.1 (#3) vs 0.32.0 (#4); conditions not captured for #5 (a hosted endpoint, a batch job, an import, or a run from before Bakeoff captured them).")
        );
        let md = Doc { blocks: blocks(&t, "s") }.to_markdown();
        assert!(md.contains("Conditions differ: vLLM 0.31.1 (#3) vs 0.32.0 (#4)"), "{md}");
        // The same conditions: nothing said.
        let same = [
            run(4, RunKind::Server, Some(1), &srv, &new),
            run(6, RunKind::Server, Some(1), &srv, &new),
            run(5, RunKind::Offline, Some(1), &off, &new),
        ];
        assert_eq!(tables(&same)[0].conditions, None);
    }

    #[test]
    fn a_dataset_without_a_batch_run_and_runs_of_unknown_dataset_make_no_table() {
        let (srv, pro) = (summary(RunKind::Server), summary(RunKind::ProviderBatch));
        let load = RunLoad::default();
        let mut lone = run(9, RunKind::ProviderBatch, None, &pro, &load);
        lone.dataset = "";
        assert!(tables(&[run(1, RunKind::Server, Some(1), &srv, &load), lone]).is_empty());
        // An unfinished job has no throughput and says why; an unpriced run says so.
        let mut open = summary(RunKind::Server);
        apply_job(
            &mut open,
            &JobTiming {
                kind: RunKind::ProviderBatch,
                submitted_at: Some(1.0),
                ..Default::default()
            },
        );
        let mut r = run(2, RunKind::ProviderBatch, Some(1), &open, &load);
        r.cost = None;
        let row = row(&r);
        assert!(row.throughput.starts_with("unknown"), "{}", row.throughput);
        assert_eq!((row.time.as_str(), row.turnaround.as_deref()), ("not finished", None));
        assert_eq!(row.cost_per_100k, "not priced");
    }

    #[test]
    fn the_report_has_the_section_only_when_a_batch_job_shares_a_dataset() {
        use crate::domain::report::{build, ReportInput, ReportRun};
        let report_run = |id: i64, kind: RunKind| ReportRun {
            id,
            name: format!("run {id}"),
            model: "google/gemma-3-4b-it".into(),
            origin: String::new(),
            dataset: "candidates".into(),
            summary: summary(kind),
            quality: None,
            sample: None,
            notes: Vec::new(),
            price_row: Some("gpt-oss-20b".into()),
            cost_per_request: Some(crate::domain::cost::Usd(4e-5)),
            gpu_month: None,
            load: RunLoad::default(),
            kind,
            dataset_id: Some(1),
        };
        let input = |runs: Vec<ReportRun>| ReportInput {
            generated_at: "now".into(),
            runs,
            sheet: crate::domain::prices::starting_sheets().remove(0),
            monthly_volume: 1e6,
            hybrid: None,
            claims: Vec::new(),
            speed_basis: Default::default(),
            charts: Vec::new(),
        };
        let servers = build(&input(vec![report_run(1, RunKind::Server), report_run(2, RunKind::Server)])).to_markdown();
        assert!(!servers.contains(TITLE), "no batch run, no section");
        let md = build(&input(vec![
            report_run(1, RunKind::Server),
            report_run(2, RunKind::Offline),
            report_run(3, RunKind::ProviderBatch),
        ]))
        .to_markdown();
        let section = md
            .split(&format!("## {TITLE}"))
            .nth(1)
            .expect("the section")
            .split("\n## ")
            .next()
            .unwrap_or("");
        assert_eq!(section.matches("\n| #").count(), 3, "{section}");
        assert!(
            section.contains("| #3 run 3 | provider batch |") && section.contains("| $4.00 |"),
            "{section}"
        );
        // Each batch run's own table says what kind it is and what its figures mean.
        assert!(md.contains("| Kind | provider Batch API |"), "{md}");
        assert!(
            md.contains("- Offline batch (vllm run-batch): throughput = tokens / (process time - model load"),
            "{md}"
        );
    }

    #[test]
    fn the_markdown_section_has_the_definition_and_one_table_per_dataset() {
        let (srv, off, pro) = (summary(RunKind::Server), summary(RunKind::Offline), summary(RunKind::ProviderBatch));
        let load = RunLoad::default();
        let q = RunQuality {
            answered: 100,
            json_found: 100,
            schema_valid: Some(95),
            ..Default::default()
        };
        let mut p = run(7, RunKind::ProviderBatch, Some(1), &pro, &load);
        p.quality = Some(&q);
        let runs = [
            run(4, RunKind::Server, Some(1), &srv, &load),
            run(5, RunKind::Offline, Some(1), &off, &load),
            p,
        ];
        assert!(blocks(&[], "s").is_empty(), "no batch run, no section");
        let doc = Doc {
            blocks: blocks(&tables(&runs), "Parasail (later listing)"),
        };
        let md = doc.to_markdown();
        assert!(
            md.starts_with(&format!("## {TITLE}\n\nPrices: Parasail (later listing). Throughput = ")),
            "{md}"
        );
        assert!(
            md.contains("offline batch (vllm run-batch) over its process time less the model load"),
            "{md}"
        );
        assert!(
            md.contains("### Dataset: candidates\n\n| Run | Kind | Model | Throughput |"),
            "{md}"
        );
        assert_eq!(md.matches("\n| #").count(), 3, "{md}");
        assert!(
            md.contains("| #7 r | provider batch | google/gemma-3-4b-it | 27 total tok/s | turnaround 1 h 02 min (queued 3 min 10 s) | $4.50 | row | 95% (95/100) schema-valid |"),
            "{md}"
        );
    }
}
