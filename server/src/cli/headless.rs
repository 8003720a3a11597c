//! `bakeoff run` and `bakeoff export`: the same runs, from a terminal, into the same database.

use crate::serve::prepare;
use crate::worker::{AfterDrain, LeaseSettings, Leases, PreflightPolicy, Worker};
use anyhow::{bail, Context};
use app::api::AppError;
use app::db;
use app::domain::dataset::parse_batch_jsonl;
use app::domain::export::{batch_output_line, summary_json};
use app::domain::format;
use app::domain::spec::LaunchForm;
use app::domain::status::RunStatus;
use app::domain::sweep_json;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct RunRequest {
    pub db: PathBuf,
    pub endpoint: String,
    /// How to reach the endpoint. The key and the header values are held in memory only (see
    /// [`Client::remember`](crate::client::Client::remember)); the CA certificate, the hosted flag
    /// and the retries are stored with an endpoint this run registers.
    pub access: app::api::endpoints::access::EndpointAccess,
    /// The price sheet to link the endpoint to, by name.
    pub price_sheet: Option<String>,
    pub model: String,
    pub dataset: PathBuf,
    /// `--internal-only`: mark the stored dataset internal only (a mark is never cleared here).
    pub internal_only: bool,
    pub form: LaunchForm,
    pub json: bool,
    /// `--lease-s`, `--drain-timeout`.
    pub lease: LeaseSettings,
    /// `bakeoff batch --poll-s`: how often a provider batch is asked how it goes.
    pub batch_poll: Option<Duration>,
}

/// Queue a run and execute it here, with a progress bar on stderr. Returns the run id.
pub async fn run(req: RunRequest) -> anyhow::Result<i64> {
    let (state, client) = prepare(&req.db, Path::new("target/site"), "127.0.0.1:0".parse()?).await?;
    // An endpoint registered earlier may be named instead of given by URL (a managed endpoint
    // whose launch list runs `vllm run-batch` has only its name to go by).
    let named = if req.endpoint.contains("://") {
        None
    } else {
        let all = db::endpoints::list(&state.db).await?;
        match all.into_iter().find(|e| e.name == req.endpoint) {
            Some(e) => Some(e),
            None if req.form.kind == "offline" => bail!(
                "--endpoint {}: no endpoint of that name; an offline batch names a managed endpoint an admin registered \
                 (Endpoints page) with a launch list that runs `vllm run-batch -i {{input}} -o {{output}} --model {{model}}`",
                req.endpoint
            ),
            None => None,
        }
    };
    let url = match &named {
        Some(e) => e.base_url.clone(),
        None => app::domain::url::normalize_base_url(&req.endpoint).map_err(|m| anyhow::anyhow!("--endpoint: {m}"))?,
    };
    let sheet = match &req.price_sheet {
        Some(name) => Some(
            db::prices::by_name(&state.db, name)
                .await
                .map_err(|e| anyhow::anyhow!("--price-sheet: {e} (see `GET /api/prices` for the names)"))?
                .id,
        ),
        None => None,
    };
    // The checks, the launch and the worker all reach the endpoint through this client.
    client.remember(&url, req.access.clone());
    let endpoint_id = match db::endpoints::find_by_url(&state.db, &url).await? {
        Some(e) => {
            if sheet.is_some() {
                let link = db::endpoints::AccessUpdate {
                    price_sheet_id: Some(sheet),
                    ..Default::default()
                };
                db::endpoints::set_access(&state.db, e.id, &link).await?;
            }
            e.id
        }
        None => {
            let checked = app::api::endpoints::access::CheckedAccess {
                access: req.access.clone(),
                price_sheet_id: sheet,
            };
            // An ad-hoc endpoint (`--endpoint URL`) is named by its URL: the API takes no blank name.
            let id = app::api::endpoints::register_with(&state, &url, &url, &checked, false)
                .await
                .map_err(explain)?
                .0;
            app::api::audit::endpoint_created(&state.db, &db::audit::Actor::named("cli"), id).await;
            id
        }
    };
    let (dataset_id, new_dataset) = store_dataset(&state.db, &req.dataset).await?;
    // Marked before the launch, which refuses an internal-only dataset for a hosted endpoint.
    if req.internal_only {
        db::data_rules::set_internal_only(&state.db, dataset_id, true).await?;
    }
    let mut form = req.form;
    form.endpoint_id = endpoint_id.to_string();
    form.dataset_id = dataset_id.to_string();
    form.model = req.model;
    let launched = match app::api::runs::queue_runs(&state, &form).await {
        Ok(l) => l,
        Err(e) => {
            // Refused (a bad setting, a model the endpoint does not serve): the dataset stored for
            // it goes again, so a retry with the setting fixed is the only trace; unless it was
            // marked internal only here, a mark that must stay (a retry without the flag would
            // otherwise send it out).
            if new_dataset && !req.internal_only {
                db::datasets::remove_unused(&state.db, dataset_id).await?;
            }
            return Err(explain(e));
        }
    };
    if new_dataset {
        app::api::audit::dataset_uploaded(&state.db, &db::audit::Actor::named("cli"), dataset_id).await;
    }
    app::api::audit::launched(&state.db, &db::audit::Actor::named("cli"), &form, &launched).await;
    // This process holds its runs under leases like any worker; Ctrl-C (or SIGTERM) lets the
    // requests in flight finish, then marks the run interrupted: no server adopts it.
    let (leases, shutdown) = Leases::new(req.lease, AfterDrain::Interrupt, false);
    let mut signals = crate::cli::Signals::new()?;
    let drain = req.lease.drain_timeout;
    tokio::spawn(async move {
        let first = signals.next().await;
        eprintln!(
            "\n{first}: stopping; requests in flight may finish (up to {drain:?}), then the run is marked interrupted (again to quit now)"
        );
        shutdown.trigger();
        signals.next().await;
        std::process::exit(130);
    });
    let mut preflight = PreflightPolicy::default();
    if let Some(p) = req.batch_poll {
        preflight.batch_poll = p;
    }
    // On the Workers page while it measures (kind `bakeoff run`: it takes nothing from the queue).
    let me = db::workers::Registration {
        kind: app::domain::workers::WorkerKind::Run,
        name: None,
        filter: db::leases::ClaimFilter {
            endpoint_ids: Some(vec![endpoint_id]),
            allow_launch: false,
        },
        lease_s: leases.settings.seconds(),
    };
    db::workers::beat(&state.db, &leases.holder, &me).await?;
    let beats = {
        let (db, holder, every) = (state.db.clone(), leases.holder.clone(), leases.settings.heartbeat());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = db::workers::beat(&db, &holder, &me).await {
                    tracing::warn!("could not record this process as alive: {e}");
                }
            }
        })
    };
    let owner = leases.owner().to_string();
    let worker = Worker::new(state.clone(), client, preflight, leases);
    let done = measure(req.json, &state, &worker, &launched).await;
    beats.abort();
    if let Err(e) = db::workers::leave(&state.db, &owner).await {
        tracing::warn!("could not mark this process stopped in the database: {e}");
    }
    done
}

/// Measure the runs `launched` queued (and an automatic sweep's later steps), printing each.
async fn measure(
    json: bool,
    state: &app::state::AppState,
    worker: &Worker,
    launched: &app::domain::views::Launched,
) -> anyhow::Result<i64> {
    let mut last = 0;
    // An automatic sweep queues each next step when one ends: follow those too.
    let mut queue: std::collections::VecDeque<i64> = launched.run_ids.iter().copied().collect();
    let mut step = 0;
    let mut failed = None;
    while let Some(id) = queue.pop_front() {
        if worker.leases.shutting_down() {
            if db::leases::interrupt_queued(&state.db, id).await? {
                eprintln!("run {id} interrupted before it started");
            }
            continue;
        }
        let run = follow(&worker, id).await?;
        step += 1;
        match launched.sweep_id {
            Some(sweep) => {
                let steps = app::api::runs::sweep_steps(&state.db, sweep).await?;
                let of = sweep_size(&steps, launched.run_ids.len());
                let line = sweep_step_line(step, of, &run);
                if json {
                    let mut doc = run_json(&run);
                    doc["sweep_id"] = sweep.into();
                    doc["step"] = step.into();
                    doc["load"] = run.spec.as_ref().map(sweep_json::load_json).unwrap_or_default();
                    println!("{}", serde_json::to_string(&doc)?);
                    eprintln!("{line}");
                } else {
                    eprintln!("{line} — {}", human_summary(&run));
                }
            }
            None if json => println!("{}", serde_json::to_string_pretty(&run_json(&run))?),
            None => eprintln!("{}", human_summary(&run)),
        }
        last = id;
        if run.status == RunStatus::Failed {
            failed = Some(format!("run {id} failed: {}", run.error.unwrap_or_default()));
            break;
        }
        if let (true, Some(sweep)) = (queue.is_empty(), launched.sweep_id) {
            queue.extend(db::sweeps::queued_step(&state.db, sweep).await?);
        }
    }
    if let Some(sweep) = launched.sweep_id {
        let steps = app::api::runs::sweep_steps(&state.db, sweep).await?;
        let verdict = sweep_json::verdict_json(sweep, &steps);
        if json {
            println!("{}", serde_json::to_string(&verdict)?);
        }
        eprintln!("{}", human_verdict(&verdict));
    }
    if let Some(why) = failed {
        bail!(why);
    }
    if worker.leases.shutting_down() {
        bail!("stopped by a signal: what was stored is kept, and the runs this process measured or queued are marked interrupted");
    }
    Ok(last)
}

/// How many steps the sweep will have, when known: a fixed sweep's levels; an automatic sweep's
/// once its knee is found (the search so far and the request rates planned from it).
fn sweep_size(steps: &[app::api::types::RunView], launched: usize) -> Option<usize> {
    let auto: Vec<app::domain::saturation::Step> = {
        let mut v: Vec<_> = steps.iter().filter_map(app::domain::saturation::Step::of).collect();
        v.sort_by_key(|s| s.run_id);
        v
    };
    if auto.is_empty() {
        return Some(launched.max(steps.len()));
    }
    let spread = steps
        .iter()
        .find_map(|r| Some(r.spec.as_ref()?.auto_sweep.as_ref()?.steps))
        .unwrap_or(app::domain::saturation::DEFAULT_STEPS);
    app::domain::saturation::planned_runs(&auto, spread)
}

/// "step 3/8: concurrency 4 (finding saturation)" or "step 7/8: rate 22 req/s (Poisson), ≤16 in
/// flight": the step's load, first thing on its line.
fn sweep_step_line(step: usize, of: Option<usize>, run: &app::api::types::RunView) -> String {
    let n = match of {
        Some(total) => format!("step {step}/{}", total.max(step)),
        None => format!("step {step}"),
    };
    let load = match &run.spec {
        Some(s) => {
            let phase = match s.auto_sweep.as_ref().map(|a| a.phase) {
                Some(app::domain::saturation::SweepPhase::Search) => " (finding saturation)",
                _ => "",
            };
            match s.load.rate {
                Some(_) => format!("rate {}{phase}", s.load_label()),
                None => format!("{}{phase}", s.load_label()),
            }
        }
        None => "load unknown".into(),
    };
    format!("{n}: {load}")
}

/// The sweep's verdict for a terminal: knee, best setting (and why past the knee), cache note,
/// and where its page is.
fn human_verdict(v: &serde_json::Value) -> String {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    let mut out = format!(
        "sweep {}: {} steps{}\n  knee: {}\n",
        v["sweep_id"],
        v["steps"],
        if v["finished"] == true { "" } else { " (not finished)" },
        text("knee_text").unwrap_or_default()
    );
    match v["best"]["text"].as_str() {
        Some(best) => {
            out.push_str(&format!("  best setting: {best}\n"));
            if let Some(why) = v["best"]["past_knee"].as_str() {
                out.push_str(&format!("    {why}\n"));
            }
        }
        None => out.push_str(&format!(
            "  best setting: {}\n",
            text("no_best").unwrap_or_else(|| "none (no completed step)".into())
        )),
    }
    for key in ["cache_note", "conditions_note"] {
        if let Some(note) = text(key) {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    out.push_str(&format!(
        "  page: {} (on a Bakeoff server using this database)",
        text("page").unwrap_or_default()
    ));
    out
}

/// A run as `--json` prints it: `run_id`, `status`, `simulated`, `error`, its `load`
/// (concurrency, rate, label), and its summary with the definition of every figure.
fn run_json(run: &app::api::types::RunView) -> serde_json::Value {
    let mut out = serde_json::json!({"run_id": run.id, "status": run.status, "simulated": run.simulated, "error": run.error});
    if let Some(spec) = &run.spec {
        out["load"] = sweep_json::load_json(spec);
    }
    if let Some(s) = &run.summary {
        let sj = summary_json(s);
        out["summary"] = sj["summary"].clone();
        out["definitions"] = sj["definitions"].clone();
    }
    out
}

/// The requests in a Batch input file (its non-blank lines): a batch job's default size.
pub fn dataset_lines(path: &Path) -> anyhow::Result<u32> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).with_context(|| format!("--dataset {}", path.display()))?;
    let mut n = 0u32;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("--dataset {}: not UTF-8 text", path.display()))?;
        if !line.trim().is_empty() {
            n = n.saturating_add(1);
        }
    }
    anyhow::ensure!(n > 0, "--dataset {}: the file has no lines", path.display());
    Ok(n)
}

/// Turn a refusal into a message that names the flag to fix.
fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(errs) => {
            let lines: Vec<String> = errs
                .0
                .iter()
                .map(|f| {
                    let hint = if f.message.contains("API key") {
                        " (give it with --api-key-env VAR, or in BAKEOFF_API_KEY)"
                    } else {
                        ""
                    };
                    format!("{}: {}{hint}", flag(&f.field), f.message)
                })
                .collect();
            anyhow::anyhow!(lines.join("\n"))
        }
        other => anyhow::anyhow!(other.to_string()),
    }
}

/// The `bakeoff run` flag that sets a form field (a field no flag sets is named as it is).
fn flag(field: &str) -> String {
    match field {
        "base_url" | "endpoint_id" => "--endpoint".into(),
        "api_key" => "--api-key-env".into(),
        "ca_cert" => "--ca-cert".into(),
        "headers" => "--header".into(),
        "price_sheet_id" => "--price-sheet".into(),
        "kind" => "--offline / --endpoint".into(),
        "dataset_id" => "--dataset".into(),
        "model"
        | "requests"
        | "concurrency"
        | "rate"
        | "max_tokens"
        | "warmup"
        | "sweep"
        | "name"
        | "seed"
        | "retries"
        | "slo"
        | "max_model_len"
        | "gpu_memory_utilization"
        | "max_num_seqs"
        | "slo_percentile" => {
            format!("--{}", field.replace('_', "-"))
        }
        other => other.to_string(),
    }
}

/// Store the file as a dataset, or reuse the one stored from the same content; `true` when
/// stored now.
async fn store_dataset(pool: &db::Db, path: &Path) -> anyhow::Result<(i64, bool)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let items = parse_batch_jsonl(&text).map_err(|e| {
        let lines: Vec<String> =
            e.0.iter()
                .map(|f| format!("{}: {}: {}", path.display(), f.field, f.message))
                .collect();
        anyhow::anyhow!(lines.join("\n"))
    })?;
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "dataset".into());
    let name = format!("{stem} [{:08x}]", hash as u32);
    if let Some(id) = db::datasets::id_by_name(pool, &name).await? {
        return Ok((id, false));
    }
    let source = format!("file: {}", path.display());
    let id = db::datasets::insert(
        pool,
        db::datasets::NewDataset {
            name: &name,
            description: "",
            source: &source,
            builtin: false,
            answer_schema: None,
            rubric: None,
            items: &items,
        },
    )
    .await?;
    Ok((id, true))
}

/// Execute the run here (or, if a server's worker took it, watch it) with a progress bar; the
/// run as it ended.
async fn follow(worker: &Worker, id: i64) -> anyhow::Result<app::api::types::RunView> {
    let pool = &worker.state.db;
    let total = db::runs::get_any(pool, id).await?.total_requests.max(0) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} run {prefix} [{bar:40}] {pos}/{len} {msg} (ETA {eta})")
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .progress_chars("=> "),
    );
    bar.set_prefix(id.to_string());
    let mut events = worker.state.events.subscribe();
    let watcher = {
        let bar = bar.clone();
        tokio::spawn(async move {
            while let Ok(p) = events.recv().await {
                if p.run_id == id {
                    bar.set_position(p.done);
                    let mut msg = format!("{} output tok/s", format::int(p.tokens_per_s));
                    if p.errors > 0 {
                        msg.push_str(&format!(", {} failed", p.errors));
                    }
                    if let Some(m) = p.message {
                        msg.push_str(&format!(" ({m})"));
                    }
                    bar.set_message(msg);
                }
            }
        })
    };
    let leases = &worker.leases;
    loop {
        match db::leases::claim(pool, id, &leases.holder, leases.settings.seconds()).await? {
            // On the runtime's worker threads, where the requests run: executed on this (the main)
            // thread, every finished request would wake it from another thread.
            Some(claimed) => {
                let w = worker.clone();
                tokio::spawn(async move { w.execute(claimed).await })
                    .await
                    .map_err(|e| anyhow::anyhow!("the run's task failed: {e}"))?;
                break;
            }
            None if db::runs::status(pool, id).await? == RunStatus::Queued => {
                // Its GPU is busy with another run (one measured run per GPU at a time).
                bar.set_message("waiting: another run is measuring on this endpoint's GPU");
                if leases.shutting_down() {
                    db::leases::interrupt_queued(pool, id).await?;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            None => {
                // Another Bakeoff process on this database took it: follow it there.
                bar.set_message("running in another Bakeoff process");
                while !db::runs::status(pool, id).await?.is_finished() && !leases.shutting_down() {
                    // The measuring process's own progress (a batch job stores its records only at
                    // the end), else the records stored so far.
                    match db::progress::get(pool, id).await? {
                        Some(p) => {
                            bar.set_position(p.progress.done);
                            if let Some(m) = p.progress.message {
                                bar.set_message(format!("running in another Bakeoff process ({m})"));
                            }
                        }
                        None => bar.set_position(db::records::count(pool, id).await?.max(0) as u64),
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                break;
            }
        }
    }
    watcher.abort();
    bar.finish_and_clear();
    Ok(db::runs::get_any(pool, id).await?)
}

fn human_summary(run: &app::api::types::RunView) -> String {
    let mut out = format!(
        "run {} ({}) {}{}\n",
        run.id,
        run.model,
        run.status,
        if run.simulated { " — simulated" } else { "" }
    );
    if let Some(s) = &run.summary {
        let o = &s.outcomes;
        out.push_str(&format!(
            "  requests {}  ok {}  truncated {}  http errors {}  timeouts {}  connection errors {}  stream errors {}\n",
            s.requests, o.ok, o.truncated, o.http_error, o.timeout, o.connection_error, o.stream_error
        ));
        out.push_str(&format!(
            "  wall {}  output {} tok/s  total {} tok/s  {} req/s\n",
            format::seconds(s.wall_time_s),
            format::dec(s.output_tokens_per_s, 1),
            format::dec(s.total_tokens_per_s, 1),
            format::dec(s.requests_per_s, 2)
        ));
        if let Some(j) = &s.job {
            out.push_str(&format!(
                "  {}: {} lines, {} answered, {} failed{}{}{}\n  {}\n",
                j.kind.label(),
                j.total,
                j.completed,
                j.failed,
                j.turnaround_s()
                    .map(|t| format!("  turnaround {}", format::seconds(t)))
                    .unwrap_or_default(),
                j.load_time_s
                    .map(|t| format!("  model load {} (not in the wall time)", format::seconds(t)))
                    .unwrap_or_default(),
                j.reference.as_ref().map(|r| format!("  ({r})")).unwrap_or_default(),
                j.definition()
            ));
            for n in &j.notes {
                out.push_str(&format!("  note: {n}\n"));
            }
        }
        if let Some(g) = &s.goodput {
            out.push_str(&format!(
                "  goodput {} req/s  {} output tok/s  ({} of {} requests within {}); {}: {}\n",
                format::dec(g.requests_per_s, 2),
                format::dec(g.output_tokens_per_s, 1),
                g.good_requests,
                s.requests,
                g.targets.describe(),
                if g.met { "targets met" } else { "targets NOT met" },
                g.checks_text()
            ));
        }
        // Percentiles as the pages show them: a p90 from 10 samples, a p99 from 100 ("—" below).
        use app::domain::summary::sample::{percentile, Pct};
        let pct = |d: &app::domain::stats::Distribution, p: Pct| percentile(d, p).map(format::ms).unwrap_or_else(|_| "—".into());
        let mut small = None;
        for (name, d) in [("TTFT", s.ttft_ms), ("TPOT", s.tpot_ms), ("ITL", s.itl_ms), ("E2E", s.e2e_ms)] {
            if let Some(d) = d {
                out.push_str(&format!(
                    "  {name:<4} mean {}  p50 {}  p90 {}  p99 {}\n",
                    format::ms(d.mean),
                    pct(&d, Pct::P50),
                    pct(&d, Pct::P90),
                    pct(&d, Pct::P99)
                ));
                if percentile(&d, Pct::P99).is_err() {
                    small.get_or_insert(d.count);
                }
            }
        }
        if let Some(n) = small {
            out.push_str(&format!(
                "  note: percentiles from {n} samples: a p90 needs 10 and a p99 100 (\"—\": too few)\n"
            ));
        }
        if let Some(i) = &s.integrity {
            for b in &i.client_bottleneck {
                out.push_str(&format!("  WARNING client may be the bottleneck: {b}\n"));
            }
            for w in &i.warnings {
                out.push_str(&format!("  note: {w}\n"));
            }
        }
    }
    if let Some(e) = &run.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    out
}

/// Write `run-ID-output.jsonl` (OpenAI Batch output) and `run-ID-summary.json` into `dir`.
pub async fn export(db_path: &Path, id: i64, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let pool = db::connect(db_path).await?;
    let run = db::runs::get(&pool, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (see `GET /api/runs` for the ids)"))?;
    std::fs::create_dir_all(dir)?;
    let out_path = dir.join(format!("run-{id}-output.jsonl"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out_path)?);
    // A page of records at a time: the export of a run of any size takes the same memory.
    let mut pages = db::records::Pages::new(id, db::records::Read::Everything);
    while let Some(page) = pages.next(&pool).await? {
        for r in &page {
            writeln!(f, "{}", batch_output_line(id, r, &run.model))?;
        }
    }
    f.flush()?;
    let summary_path = dir.join(format!("run-{id}-summary.json"));
    let mut body = serde_json::json!({"run": run});
    if let Some(s) = &run.summary {
        let sj = summary_json(s);
        body["summary"] = sj["summary"].clone();
        body["definitions"] = sj["definitions"].clone();
        if let Some(i) = &s.integrity {
            body["client_bottleneck"] = serde_json::json!(!i.client_bottleneck.is_empty());
        }
    }
    std::fs::write(&summary_path, serde_json::to_string_pretty(&body)?)?;
    Ok((out_path, summary_path))
}
