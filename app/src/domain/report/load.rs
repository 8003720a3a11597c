//! Like for like: the load each run was measured under (how requests were released, max tokens,
//! the engine's settings) and the dataset it sent, whether runs differ in them, and which runs a
//! "faster" claim may set side by side. By default only runs at the same load over the same
//! dataset are compared (other prompts are other work: a longer prompt alone raises total tok/s);
//! "each at its best" (its highest throughput within a latency target) is a choice that says so.
//! Runs of different kinds (server mode, offline batch, provider batch) are never like for like: a
//! batch job's throughput is job-level.

use super::super::spec::{RunKind, RunSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The load a run was measured under, as far as it is recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunLoad {
    /// How requests were released ("concurrency 16", "5 req/s Poisson, at most 16 in flight",
    /// "offline batch: all requests at once"); `None`: not recorded.
    pub shape: Option<String>,
    /// "512", or "the dataset's own"; `None`: not recorded.
    pub max_tokens: Option<String>,
    /// Engine settings recorded, by name.
    pub engine: BTreeMap<String, String>,
    /// What the endpoint said about itself (version, cache settings, prefix-cache hit rate):
    /// compared apart from the load, and named where runs differ in it.
    #[serde(default)]
    pub conditions: Option<super::super::conditions::Conditions>,
    /// Server mode, offline batch or provider batch (launched runs); `None`: not recorded
    /// (imports: their shape says what is known).
    #[serde(default)]
    pub kind: Option<RunKind>,
    /// The dataset the run sent; `None`: not recorded. Runs over different datasets are not like
    /// for like, whatever their load.
    #[serde(default)]
    pub dataset: Option<DatasetRef>,
    /// The endpoint it ran against (launched runs): not part of the load, but a prefix cache is
    /// shared only by runs on one endpoint.
    #[serde(default)]
    pub endpoint_id: Option<i64>,
    /// Its median TTFT (ms), not part of the load either: a warmer cache is credited with part of
    /// a run's speed only when this is lower than the colder run's.
    #[serde(default)]
    pub ttft_p50_ms: Option<f64>,
}

/// The dataset a run sent: launched runs by the dataset's id (and its name, to show), imports by
/// the name their file gives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub id: Option<i64>,
    pub name: String,
}

impl DatasetRef {
    /// `None` when neither an id (above 0) nor a name is known.
    pub fn new(id: Option<i64>, name: &str) -> Option<DatasetRef> {
        let (id, name) = (id.filter(|i| *i > 0), name.trim());
        (id.is_some() || !name.is_empty()).then(|| DatasetRef {
            id,
            name: name.to_string(),
        })
    }

    /// One dataset: the same id when both runs have one (two uploads of one name are two
    /// datasets), else the same name.
    pub fn same(&self, other: &DatasetRef) -> bool {
        match (self.id, other.id) {
            (Some(a), Some(b)) => a == b,
            _ => !self.name.is_empty() && self.name == other.name,
        }
    }

    /// Its name, or "dataset #3" when only the id is known.
    pub fn label(&self) -> String {
        match (self.name.is_empty(), self.id) {
            (false, _) | (true, None) => self.name.clone(),
            (true, Some(id)) => format!("dataset #{id}"),
        }
    }

    /// A key that is equal for the same dataset (ids, else names): for prefix-cache claims.
    fn key(&self) -> String {
        match self.id {
            Some(id) => format!("id {id}"),
            None => format!("name {}", self.name),
        }
    }
}

/// A batch job's load, in the words the pages use ("offline batch", "provider batch").
pub fn kind_load(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Server => "server mode",
        RunKind::Offline => "offline batch",
        RunKind::ProviderBatch => "provider batch",
    }
}

/// Sampling keys of an imported file's configuration: not engine settings.
const SAMPLING_KEYS: [&str; 5] = ["max_tokens", "temperature", "top_p", "top_k", "seed"];

impl RunLoad {
    /// From a launched run's spec.
    pub fn from_spec(spec: &RunSpec) -> RunLoad {
        // A batch job has no concurrency of its own: the engine or the provider schedules it.
        let shape = match (spec.kind, spec.load.rate) {
            (RunKind::Offline | RunKind::ProviderBatch, _) => kind_load(spec.kind).to_string(),
            // A rate with no concurrency given sends whatever is due (the cap is a placeholder).
            (RunKind::Server, Some(r)) if spec.load.concurrency >= crate::domain::spec::MAX_CONCURRENCY => {
                format!("{} req/s (Poisson), no cap in flight", trim(r))
            }
            (RunKind::Server, Some(r)) => format!("{} req/s (Poisson), at most {} in flight", trim(r), spec.load.concurrency),
            (RunKind::Server, None) => format!("concurrency {}", spec.load.concurrency),
        };
        let mut engine = BTreeMap::new();
        let e = &spec.engine;
        if let Some(v) = e.gpu_memory_utilization {
            engine.insert("gpu_memory_utilization".into(), trim(v));
        }
        if let Some(v) = e.max_model_len {
            engine.insert("max_model_len".into(), v.to_string());
        }
        if let Some(v) = e.max_num_seqs {
            engine.insert("max_num_seqs".into(), v.to_string());
        }
        if e.enforce_eager {
            engine.insert("enforce_eager".into(), "true".into());
        }
        if !e.other.trim().is_empty() {
            engine.insert("other flags".into(), e.other.trim().to_string());
        }
        RunLoad {
            conditions: None,
            kind: Some(spec.kind),
            dataset: DatasetRef::new(Some(spec.dataset_id), ""),
            endpoint_id: Some(spec.endpoint_id),
            ttft_p50_ms: None,
            shape: Some(shape),
            max_tokens: Some(
                spec.sampling
                    .max_tokens
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "the dataset's own".into()),
            ),
            engine,
        }
    }

    /// From an imported file's provenance: its platform and the configuration it records.
    pub fn from_provenance(platform: Option<&str>, config: Option<&serde_json::Value>) -> RunLoad {
        let shape = platform.and_then(|p| {
            let p = p.to_ascii_lowercase();
            (p.contains("native") || p.contains("batch")).then(|| "offline batch: all requests at once".to_string())
        });
        let mut engine = BTreeMap::new();
        let mut max_tokens = None;
        if let Some(serde_json::Value::Object(m)) = config {
            for (k, v) in m {
                let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                if k == "max_tokens" {
                    max_tokens = Some(text);
                } else if !SAMPLING_KEYS.contains(&k.as_str()) {
                    engine.insert(k.clone(), text);
                }
            }
        }
        RunLoad {
            shape,
            max_tokens,
            engine,
            ..Default::default()
        }
    }

    /// From what a stored run carries: its spec, else its provenance (JSON text).
    pub fn of(spec: Option<&RunSpec>, provenance: Option<&str>) -> RunLoad {
        if let Some(s) = spec {
            return RunLoad::from_spec(s);
        }
        let p: Option<super::super::import::Provenance> = provenance.and_then(|t| serde_json::from_str(t).ok());
        match p {
            Some(p) => RunLoad::from_provenance(p.platform.as_deref(), p.config.as_ref()),
            None => RunLoad::default(),
        }
    }

    /// A stored run's: its load (spec, else provenance), its dataset, endpoint and conditions, and
    /// its TTFT p50.
    pub fn of_view(r: &super::super::views::RunView) -> RunLoad {
        let mut load = RunLoad::of(r.spec.as_ref(), r.provenance.as_deref()).with_conditions(r.conditions.clone());
        load.dataset = DatasetRef::new(r.spec.as_ref().map(|s| s.dataset_id), &r.dataset_name);
        load.ttft_p50_ms = r.summary.as_ref().and_then(|s| s.ttft_ms).map(|d| d.p50);
        load
    }

    /// The dataset in words: its name, or "not recorded".
    pub fn dataset_text(&self) -> String {
        self.dataset
            .as_ref()
            .map(DatasetRef::label)
            .unwrap_or_else(|| "not recorded".into())
    }

    /// The key runs that could share a prefix cache have in common (the same endpoint and
    /// dataset); `None` when either is not recorded.
    fn cache_key(&self) -> Option<String> {
        Some(format!("endpoint {} · {}", self.endpoint_id?, self.dataset.as_ref()?.key()))
    }

    /// The run as a comparison of conditions sees it (with what a prefix-cache claim needs).
    pub fn compared(&self, label: String) -> super::super::conditions::ComparedRun<'_> {
        super::super::conditions::ComparedRun {
            label,
            conditions: self.conditions.as_ref(),
            cache_key: self.cache_key(),
            ttft_p50_ms: self.ttft_p50_ms,
        }
    }

    /// With the conditions captured for the run (`RunView::conditions`).
    pub fn with_conditions(mut self, conditions: Option<super::super::conditions::Conditions>) -> RunLoad {
        self.conditions = conditions;
        self
    }

    /// Each compared field with its value (`None`: not recorded).
    fn fields(&self, engine_keys: &[String]) -> Vec<(String, Option<String>)> {
        let mut out = vec![
            ("load".to_string(), self.shape.clone()),
            ("max tokens".to_string(), self.max_tokens.clone()),
        ];
        out.extend(engine_keys.iter().map(|k| (k.clone(), self.engine.get(k).cloned())));
        out
    }

    /// In one line: "concurrency 16 · max tokens 512 · max_model_len 4096".
    pub fn describe(&self) -> String {
        let mut parts = vec![
            self.shape.clone().unwrap_or_else(|| "load not recorded".into()),
            format!("max tokens {}", self.max_tokens.as_deref().unwrap_or("not recorded")),
        ];
        if self.engine.is_empty() {
            parts.push("engine settings not recorded".into());
        } else {
            parts.push(self.engine.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
        }
        parts.join(" · ")
    }

    /// Engine settings in one phrase ("not recorded" when none are).
    pub fn engine_text(&self) -> String {
        if self.engine.is_empty() {
            "not recorded".into()
        } else {
            self.engine.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        }
    }

    /// The same load ([`RunLoad::same_load_as`]) over the same dataset, both recorded: like for
    /// like, so one may be called faster than the other.
    pub fn same_as(&self, other: &RunLoad) -> bool {
        self.same_load_as(other) && self.same_dataset(other)
    }

    /// Both datasets recorded, and one dataset.
    pub fn same_dataset(&self, other: &RunLoad) -> bool {
        matches!((&self.dataset, &other.dataset), (Some(a), Some(b)) if a.same(b))
    }

    /// Every compared field is recorded for both and equal: the load, max tokens, and each engine
    /// setting either records. Unknown is not the same: a field recorded for one run only, or
    /// for neither (a run whose load is not recorded), keeps them apart ([`compare`] names such
    /// fields as not recorded). Runs of different kinds never are.
    pub fn same_load_as(&self, other: &RunLoad) -> bool {
        if matches!((self.kind, other.kind), (Some(a), Some(b)) if a != b) {
            return false;
        }
        let keys = engine_keys(&[self, other]);
        self.fields(&keys)
            .into_iter()
            .zip(other.fields(&keys))
            .all(|((_, a), (_, b))| matches!((a, b), (Some(a), Some(b)) if a == b))
    }

    /// How requests were released and max tokens are both recorded: the run can be set beside
    /// another at the same load at all.
    pub fn recorded(&self) -> bool {
        self.shape.is_some() && self.max_tokens.is_some()
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn engine_keys(loads: &[&RunLoad]) -> Vec<String> {
    let mut keys: Vec<String> = loads.iter().flat_map(|l| l.engine.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// How a set of runs' loads compare.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadComparison {
    /// Fields the runs differ in, with each run's value: "load: concurrency 16 (#1), concurrency 32 (#2)".
    pub differ: Vec<String>,
    /// Fields not recorded for some runs: "max tokens: not recorded for #1".
    pub unknown: Vec<String>,
    /// How the runs' captured conditions differ: "vLLM 0.32.0 (#1) vs 0.31.1 (#2)".
    #[serde(default)]
    pub conditions: Vec<String>,
    /// The runs are of different kinds (server mode, offline batch, provider batch): the kinds,
    /// each with its runs ("server mode (#1), offline batch (#2)").
    #[serde(default)]
    pub kinds: Option<String>,
    /// The runs sent different datasets: each dataset with its runs ("#2, #3 over
    /// synthetic_100.jsonl; #6 over demo").
    #[serde(default)]
    pub datasets: Option<String>,
    /// How many runs were compared (one run is compared with nothing).
    #[serde(default)]
    pub runs: usize,
}

/// Why a server run and a batch job are not set side by side as "faster".
pub const KINDS_DIFFER: &str = "Runs of different kinds measure different things: a batch job's throughput is job-level (tokens over the whole job: offline without the model load, a provider batch over its turnaround, queue included), a server run's is at its load. None is called faster than a run of another kind.";

impl LoadComparison {
    pub fn like_for_like(&self) -> bool {
        self.differ.is_empty() && self.kinds.is_none() && self.datasets.is_none()
    }

    /// One sentence for the page.
    pub fn sentence(&self) -> String {
        if self.runs == 1 {
            return "One run: nothing to compare its load with. Pick two or more runs to compare.".into();
        }
        let mut s = if let Some(kinds) = &self.kinds {
            let others: Vec<&str> = self
                .differ
                .iter()
                .filter(|d| !d.starts_with("load: "))
                .map(String::as_str)
                .collect();
            let mut s = format!("Not like for like: these runs are of different kinds: {kinds}. {KINDS_DIFFER}");
            if !others.is_empty() {
                s.push_str(&format!(" They differ also in {}.", others.join("; ")));
            }
            if let Some(d) = &self.datasets {
                s.push_str(&format!(" And they sent different datasets: {d}."));
            }
            s
        } else if let Some(d) = &self.datasets {
            let mut s = format!(
                "Not like for like: different datasets ({d}). Speed figures over other prompts do not compare (a longer prompt alone raises total tok/s), so none of these runs is called faster than a run over another dataset."
            );
            if !self.differ.is_empty() {
                s.push_str(&format!(" They differ also in {}.", self.differ.join("; ")));
            }
            s
        } else if self.differ.is_empty() && self.unknown.is_empty() {
            "All these runs were measured at the same load, over the same dataset.".to_string()
        } else if self.differ.is_empty() {
            "These runs differ in no recorded part of their load, but not everything was recorded.".to_string()
        } else {
            format!(
                "Not like for like: these runs differ in {}. Speed figures measured at different loads do not compare.",
                self.differ.join("; ")
            )
        };
        if !self.unknown.is_empty() {
            s.push_str(&format!(" Not recorded: {}.", self.unknown.join("; ")));
        }
        if !self.conditions.is_empty() {
            s.push_str(&format!(" Conditions differ: {}.", self.conditions.join("; ")));
        }
        s
    }
}

/// Compare the loads and datasets of labelled runs, given in the order they ran (a prefix cache
/// one run left can serve only a later one).
pub fn compare(runs: &[(String, &RunLoad)]) -> LoadComparison {
    use super::super::conditions::{differences_of_runs, grouped};
    let keys = engine_keys(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
    let per_run: Vec<Vec<(String, Option<String>)>> = runs.iter().map(|(_, l)| l.fields(&keys)).collect();
    let mut out = LoadComparison {
        conditions: differences_of_runs(&runs.iter().map(|(l, load)| load.compared(l.clone())).collect::<Vec<_>>()),
        runs: runs.len(),
        ..Default::default()
    };
    // Datasets: each recorded one with its runs (one dataset by id, else by name).
    let mut datasets: Vec<(&DatasetRef, Vec<&str>)> = Vec::new();
    for (label, load) in runs {
        let Some(d) = &load.dataset else { continue };
        match datasets.iter_mut().find(|g| g.0.same(d)) {
            Some(g) => g.1.push(label),
            None => datasets.push((d, vec![label])),
        }
    }
    if datasets.len() > 1 {
        out.datasets = Some(
            datasets
                .iter()
                .map(|(d, labels)| format!("{} over {}", labels.join(", "), d.label()))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    let known: Vec<(&String, RunKind)> = runs.iter().filter_map(|(l, load)| Some((l, load.kind?))).collect();
    if known.windows(2).any(|w| w[0].1 != w[1].1) {
        out.kinds = Some(
            known
                .iter()
                .map(|(l, k)| format!("{} ({l})", kind_load(*k)))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let Some(first) = per_run.first() else { return out };
    for (f, (name, _)) in first.iter().enumerate() {
        let values: Vec<&Option<String>> = per_run.iter().map(|fields| &fields[f].1).collect();
        let known: Vec<&String> = values.iter().filter_map(|v| v.as_ref()).collect();
        if known.windows(2).any(|w| w[0] != w[1]) {
            let each: Vec<(&str, String)> = runs
                .iter()
                .zip(&values)
                .map(|((label, _), v)| (label.as_str(), (*v).clone().unwrap_or_else(|| "not recorded".into())))
                .collect();
            out.differ.push(format!("{name}: {}", grouped(&each, ", ")));
        }
        let missing: Vec<&str> = runs
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|((label, _), _)| label.as_str())
            .collect();
        if !missing.is_empty() && runs.len() > 1 {
            out.unknown.push(format!("{name} for {}", missing.join(", ")));
        }
    }
    let no_dataset: Vec<&str> = runs
        .iter()
        .filter(|(_, l)| l.dataset.is_none())
        .map(|(label, _)| label.as_str())
        .collect();
    if !no_dataset.is_empty() && runs.len() > 1 {
        out.unknown.push(format!("dataset for {}", no_dataset.join(", ")));
    }
    out
}

/// Runs in groups of one load and one dataset each (a run joins the first group whose every
/// member it matches), in input order. Runs whose load or max tokens is not recorded are in no
/// group (see [`unrecorded`]).
pub fn groups(loads: &[&RunLoad]) -> Vec<Vec<usize>> {
    group_by(loads, RunLoad::same_as)
}

/// Runs at one load, whatever their dataset: [`groups`] without the dataset (to name the runs
/// measured at one load that are not compared because their datasets differ).
pub fn load_groups(loads: &[&RunLoad]) -> Vec<Vec<usize>> {
    group_by(loads, RunLoad::same_load_as)
}

fn group_by(loads: &[&RunLoad], same: fn(&RunLoad, &RunLoad) -> bool) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, l) in loads.iter().enumerate().filter(|(_, l)| l.recorded()) {
        match out.iter_mut().find(|g| g.iter().all(|&j| same(loads[j], l))) {
            Some(g) => g.push(i),
            None => out.push(vec![i]),
        }
    }
    out
}

/// The runs whose load or max tokens is not recorded: listed apart, never compared on speed.
pub fn unrecorded(loads: &[&RunLoad]) -> Vec<usize> {
    (0..loads.len()).filter(|&i| !loads[i].recorded()).collect()
}

/// How "faster" claims choose the runs they compare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum SpeedBasis {
    /// Only runs at the same load (the default).
    #[default]
    SameLoad,
    /// Each model at its best: its run with the highest throughput whose E2E p90 is within the
    /// target (ms).
    EachAtBest { p90_target_ms: f64 },
}

impl SpeedBasis {
    pub fn describe(&self) -> String {
        match self {
            SpeedBasis::SameLoad => {
                "runs at the same load (concurrency or rate, max tokens, engine settings) over the same dataset only".into()
            }
            SpeedBasis::EachAtBest { p90_target_ms } => format!(
                "each model at its best: its run with the highest output tok/s whose E2E p90 is within {} ms, whatever load that took",
                trim(*p90_target_ms)
            ),
        }
    }
}

/// A run as a speed claim sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedRun<'a> {
    pub model: &'a str,
    /// Output tokens per second: what a batch job pays for (total tok/s grows with the prompt).
    pub tokens_per_s: f64,
    pub e2e_p90_ms: Option<f64>,
    pub load: &'a RunLoad,
}

/// Each model's best run within the target: index of the highest throughput among its runs
/// whose E2E p90 is known and within `p90_target_ms`. Models with no such run are left out.
pub fn each_at_best(runs: &[SpeedRun], p90_target_ms: f64) -> Vec<usize> {
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        if !r.e2e_p90_ms.is_some_and(|p| p <= p90_target_ms) || r.tokens_per_s <= 0.0 {
            continue;
        }
        let key = r.model.to_ascii_lowercase();
        match best.get(&key) {
            Some(&j) if runs[j].tokens_per_s >= r.tokens_per_s => {}
            _ => {
                best.insert(key, i);
            }
        }
    }
    let mut out: Vec<usize> = best.into_values().collect();
    out.sort_unstable();
    out
}

/// The sets of runs a "faster" claim may compare under `basis`: the groups of one load and one
/// dataset with at least two runs, or, per dataset, each model at its best.
pub fn comparable_sets(runs: &[SpeedRun], basis: SpeedBasis) -> Vec<Vec<usize>> {
    match basis {
        SpeedBasis::SameLoad => groups(&runs.iter().map(|r| r.load).collect::<Vec<_>>())
            .into_iter()
            .filter(|g| g.len() >= 2)
            .collect(),
        // Each at its best, over one dataset at a time: another dataset is other work.
        SpeedBasis::EachAtBest { p90_target_ms } => {
            let mut by_dataset: Vec<Vec<usize>> = Vec::new();
            for (i, r) in runs.iter().enumerate().filter(|(_, r)| r.load.dataset.is_some()) {
                match by_dataset.iter_mut().find(|g| runs[g[0]].load.same_dataset(r.load)) {
                    Some(g) => g.push(i),
                    None => by_dataset.push(vec![i]),
                }
            }
            by_dataset
                .into_iter()
                .filter_map(|g| {
                    let sub: Vec<SpeedRun> = g.iter().map(|&i| runs[i].clone()).collect();
                    let set: Vec<usize> = each_at_best(&sub, p90_target_ms).into_iter().map(|k| g[k]).collect();
                    (set.len() >= 2).then_some(set)
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::{EngineSettings, LoadShape, Sampling};

    fn spec(concurrency: u32, max_tokens: Option<u32>) -> RunSpec {
        RunSpec {
            name: "r".into(),
            endpoint_id: 1,
            dataset_id: 1,
            model: "m".into(),
            requests: 100,
            warmup: 0,
            load: LoadShape { concurrency, rate: None },
            sampling: Sampling {
                max_tokens,
                temperature: None,
            },
            max_duration: None,
            request_timeout: std::time::Duration::from_secs(60),
            seed: 1,
            engine: EngineSettings::default(),
            notes: String::new(),
            slo: None,
            auto_sweep: None,
            kind: Default::default(),
        }
    }

    #[test]
    fn runs_at_concurrency_16_and_32_are_not_like_for_like_and_the_page_says_so() {
        let (a, b) = (RunLoad::from_spec(&spec(16, Some(512))), RunLoad::from_spec(&spec(32, Some(512))));
        assert!(!a.same_as(&b));
        let c = compare(&[("#1".into(), &a), ("#2".into(), &b)]);
        assert_eq!(c.differ, vec!["load: concurrency 16 (#1), concurrency 32 (#2)".to_string()]);
        assert!(c.sentence().starts_with("Not like for like"), "{}", c.sentence());
        assert!(compare(&[("#1".into(), &a), ("#3".into(), &a.clone())]).like_for_like());
    }

    #[test]
    fn a_setting_recorded_for_one_run_only_is_named_not_counted_as_a_difference() {
        let gemma = RunLoad::from_provenance(
            Some("vllm-native"),
            Some(&serde_json::json!({"max_model_len": 4096, "gpu_memory_utilization": 0.9, "enable_prefix_caching": true})),
        );
        let llama = RunLoad::from_provenance(
            Some("vllm-native"),
            Some(&serde_json::json!({"max_model_len": 4096, "gpu_memory_utilization": 0.9, "max_tokens": 2000, "temperature": 0.7})),
        );
        // Unknown is not the same: gemma's max tokens and llama's prefix caching are not recorded.
        assert!(!gemma.same_as(&llama));
        assert_eq!(groups(&[&gemma, &llama]), vec![vec![1]], "gemma's max tokens is not recorded");
        let c = compare(&[("gemma".into(), &gemma), ("llama".into(), &llama)]);
        assert!(c.like_for_like(), "no recorded difference");
        assert!(c.sentence().contains("not everything was recorded"), "{}", c.sentence());
        assert!(c.unknown.contains(&"max tokens for gemma".to_string()), "{c:?}");
        assert!(c.unknown.contains(&"enable_prefix_caching for llama".to_string()), "{c:?}");
        assert_eq!(llama.shape.as_deref(), Some("offline batch: all requests at once"));
    }

    #[test]
    fn runs_whose_conditions_differ_say_so_beside_their_load() {
        use crate::domain::conditions::{Conditions, PrefixCacheUse};
        let cond = |hits: f64| Conditions {
            version: Some("bakeoff-sim-0.1.0".into()),
            prefix_cache: Some(PrefixCacheUse { queries: 1000.0, hits }),
            ..Default::default()
        };
        let a = RunLoad::from_spec(&spec(16, Some(512))).with_conditions(Some(cond(0.0)));
        let b = RunLoad::from_spec(&spec(16, Some(512))).with_conditions(Some(cond(820.0)));
        let c = compare(&[("#1".into(), &a), ("#2".into(), &b)]);
        assert!(c.like_for_like(), "the same load");
        assert_eq!(c.conditions.len(), 1, "{c:?}");
        assert!(
            c.sentence()
                .contains("Conditions differ: prefix-cache hit rate 0% (#1) vs 82% (#2): #2 reused the cache #1 left"),
            "{}",
            c.sentence()
        );
    }

    fn over(dataset: (i64, &str), concurrency: u32) -> RunLoad {
        let mut s = spec(concurrency, Some(64));
        s.dataset_id = dataset.0;
        let mut l = RunLoad::from_spec(&s);
        l.dataset = DatasetRef::new(Some(dataset.0), dataset.1);
        l
    }

    #[test]
    fn runs_at_one_load_over_different_datasets_are_not_like_for_like() {
        let (a, b, c) = (
            over((2, "synthetic_100.jsonl"), 4),
            over((2, "synthetic_100.jsonl"), 4),
            over((1, "demo"), 4),
        );
        assert!(a.same_load_as(&c) && !a.same_as(&c) && a.same_as(&b));
        assert_eq!(groups(&[&a, &b, &c]), vec![vec![0, 1], vec![2]]);
        assert_eq!(load_groups(&[&a, &b, &c]), vec![vec![0, 1, 2]]);
        let cmp = compare(&[("#2".into(), &a), ("#3".into(), &b), ("#6".into(), &c)]);
        assert!(!cmp.like_for_like());
        assert!(
            cmp.sentence()
                .starts_with("Not like for like: different datasets (#2, #3 over synthetic_100.jsonl; #6 over demo)."),
            "{}",
            cmp.sentence()
        );
        // Two uploads of one name are two datasets; an import meets a dataset by its name.
        let reupload = over((7, "demo"), 4);
        assert!(!c.same_as(&reupload));
        let import = RunLoad {
            dataset: DatasetRef::new(None, "demo"),
            ..c.clone()
        };
        assert!(c.same_dataset(&import));
        // A dataset not recorded is not the same as any, and is named.
        let unknown = RunLoad {
            dataset: None,
            ..c.clone()
        };
        assert!(!unknown.same_as(&unknown.clone()));
        let cmp = compare(&[("#6".into(), &c), ("#7".into(), &unknown)]);
        assert!(cmp.unknown.contains(&"dataset for #7".to_string()), "{cmp:?}");
        // Each at its best compares within one dataset only.
        let runs = [
            SpeedRun {
                model: "a",
                tokens_per_s: 100.0,
                e2e_p90_ms: Some(500.0),
                load: &a,
            },
            SpeedRun {
                model: "b",
                tokens_per_s: 200.0,
                e2e_p90_ms: Some(500.0),
                load: &c,
            },
        ];
        assert!(comparable_sets(&runs, SpeedBasis::EachAtBest { p90_target_ms: 1000.0 }).is_empty());
    }

    #[test]
    fn one_run_is_compared_with_nothing_and_the_page_does_not_say_same_load() {
        let a = over((1, "demo"), 4);
        let s = compare(&[("#3".into(), &a)]).sentence();
        assert!(!s.contains("same load"), "{s}");
        assert!(s.starts_with("One run: nothing to compare"), "{s}");
        let two = compare(&[("#3".into(), &a), ("#4".into(), &a.clone())]);
        assert_eq!(
            two.sentence(),
            "All these runs were measured at the same load, over the same dataset."
        );
    }

    #[test]
    fn a_difference_in_load_names_each_value_once_with_its_runs() {
        let (c16, c32) = (over((1, "demo"), 16), over((1, "demo"), 32));
        let cmp = compare(&[("#1".into(), &c16), ("#2".into(), &c16.clone()), ("#3".into(), &c32)]);
        assert_eq!(cmp.differ, vec!["load: concurrency 16 (#1, #2), concurrency 32 (#3)".to_string()]);
    }

    fn batch(kind: RunKind) -> RunSpec {
        RunSpec {
            kind,
            ..spec(1, Some(512))
        }
    }

    #[test]
    fn a_batch_jobs_load_is_its_kind_not_a_concurrency() {
        let offline = RunLoad::from_spec(&batch(RunKind::Offline));
        let provider = RunLoad::from_spec(&batch(RunKind::ProviderBatch));
        assert_eq!(offline.shape.as_deref(), Some("offline batch"));
        assert_eq!(provider.shape.as_deref(), Some("provider batch"));
        assert!(
            provider.describe().starts_with("provider batch · max tokens 512"),
            "{}",
            provider.describe()
        );
        assert_eq!(RunLoad::from_spec(&spec(16, None)).kind, Some(RunKind::Server));
    }

    #[test]
    fn runs_of_different_kinds_are_never_like_for_like_and_faster_is_not_claimed_between_them() {
        let server = RunLoad::from_spec(&spec(16, Some(512)));
        let offline = RunLoad::from_spec(&batch(RunKind::Offline));
        let provider = RunLoad::from_spec(&batch(RunKind::ProviderBatch));
        assert!(!server.same_as(&offline) && !offline.same_as(&provider) && !server.same_as(&provider));
        // Even with every other field unrecorded, the kinds alone keep them apart.
        let bare = |kind| RunLoad {
            kind: Some(kind),
            ..Default::default()
        };
        assert!(!bare(RunKind::Server).same_as(&bare(RunKind::ProviderBatch)));
        let c = compare(&[("#1".into(), &server), ("#2".into(), &offline), ("#3".into(), &provider)]);
        assert!(!c.like_for_like());
        assert_eq!(
            c.kinds.as_deref(),
            Some("server mode (#1), offline batch (#2), provider batch (#3)")
        );
        let sentence = c.sentence();
        assert!(
            sentence.starts_with("Not like for like: these runs are of different kinds"),
            "{sentence}"
        );
        assert!(sentence.contains("None is called faster than a run of another kind"), "{sentence}");
        let runs = [
            SpeedRun {
                model: "a",
                tokens_per_s: 100.0,
                e2e_p90_ms: Some(900.0),
                load: &server,
            },
            SpeedRun {
                model: "a",
                tokens_per_s: 2500.0,
                e2e_p90_ms: None,
                load: &offline,
            },
            SpeedRun {
                model: "b",
                tokens_per_s: 300.0,
                e2e_p90_ms: None,
                load: &provider,
            },
        ];
        assert!(comparable_sets(&runs, SpeedBasis::SameLoad).is_empty());
        assert!(comparable_sets(&runs, SpeedBasis::EachAtBest { p90_target_ms: 1e9 }).is_empty());
        // Two provider batches at the same max tokens are like for like.
        let c = compare(&[("#3".into(), &provider), ("#4".into(), &provider.clone())]);
        assert!(c.like_for_like() && c.kinds.is_none(), "{c:?}");
    }

    #[test]
    fn by_default_faster_compares_only_runs_at_the_same_load() {
        let (l16, l32) = (RunLoad::from_spec(&spec(16, None)), RunLoad::from_spec(&spec(32, None)));
        let runs = [
            SpeedRun {
                model: "a",
                tokens_per_s: 100.0,
                e2e_p90_ms: Some(900.0),
                load: &l16,
            },
            SpeedRun {
                model: "b",
                tokens_per_s: 150.0,
                e2e_p90_ms: Some(2500.0),
                load: &l32,
            },
            SpeedRun {
                model: "b",
                tokens_per_s: 90.0,
                e2e_p90_ms: Some(800.0),
                load: &l16,
            },
        ];
        assert_eq!(comparable_sets(&runs, SpeedBasis::SameLoad), vec![vec![0, 2]]);
        // Each at its best within 1 s: b's run at 32 breaks the target, so its run at 16 counts.
        assert_eq!(
            comparable_sets(&runs, SpeedBasis::EachAtBest { p90_target_ms: 1000.0 }),
            vec![vec![0, 2]]
        );
        // Within 3 s: b at its best is the run at 32.
        assert_eq!(each_at_best(&runs, 3000.0), vec![0, 1]);
        assert!(SpeedBasis::EachAtBest { p90_target_ms: 3000.0 }
            .describe()
            .contains("within 3000 ms"));
    }

    #[test]
    fn runs_whose_load_is_not_recorded_are_never_the_same_load_nor_ranked_together() {
        let unknown = RunLoad::default();
        assert!(!unknown.same_as(&unknown.clone()), "two unknown loads are not one load");
        let known = RunLoad::from_spec(&spec(16, Some(512)));
        assert!(!unknown.same_as(&known) && !known.same_as(&unknown));
        let loads = [&unknown, &known, &unknown, &known];
        assert_eq!(groups(&loads), vec![vec![1, 3]]);
        assert_eq!(unrecorded(&loads), vec![0, 2]);
        let runs: Vec<SpeedRun> = loads
            .iter()
            .map(|l| SpeedRun {
                model: "m",
                tokens_per_s: 100.0,
                e2e_p90_ms: Some(500.0),
                load: l,
            })
            .collect();
        assert_eq!(comparable_sets(&runs[..3], SpeedBasis::SameLoad), Vec::<Vec<usize>>::new());
        // An engine setting recorded for one run only keeps two otherwise equal runs apart.
        let mut tuned = known.clone();
        tuned.engine.insert("max_model_len".into(), "4096".into());
        assert!(!known.same_as(&tuned));
        assert!(tuned.same_as(&tuned.clone()));
    }
}
