//! The conditions a run was measured under, as the endpoint says them (captured, not typed):
//! vLLM's `/version`, the labels of its `vllm:*_info` gauges (`vllm:cache_config_info` carries
//! block size, GPU memory utilization, prefix caching ...), the served model's `max_model_len`
//! and `root` from `/v1/models`, the model's revision where the launch command names it (vLLM's
//! API does not say it), and the prefix-cache hit rate over the run, from the
//! `vllm:prefix_cache_queries` / `vllm:prefix_cache_hits` counters (tokens) at its start and end.
//! Runs whose conditions differ say so wherever they are compared ([`differences`]).
//!
//! Whatever the endpoint answered is data: every value is bounded and stripped of control
//! characters before it is kept.

use super::format;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest value kept (a version, a path, a label value), in characters.
const MAX_VALUE: usize = 200;
/// The most `*_info` gauges, and labels per gauge, kept.
const MAX_GAUGES: usize = 16;
const MAX_LABELS: usize = 48;
/// Info gauges that change with the traffic, not with the engine's settings.
const VOLATILE: [&str; 1] = ["lora_requests_info"];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// `/version`: vLLM's version ("0.32.0"); the simulator names itself.
    #[serde(default)]
    pub version: Option<String>,
    /// The served model's `root` in `/v1/models` (the weights' path or Hugging Face id).
    #[serde(default)]
    pub model_root: Option<String>,
    #[serde(default)]
    pub max_model_len: Option<u64>,
    /// The model's revision (a branch, tag or commit of its Hugging Face repository): vLLM's
    /// `/v1/models` does not report it, so it is known only for a managed endpoint whose launch
    /// command gives `--revision` (see [`launch_revision`]); `None`: not reported by the server.
    #[serde(default)]
    pub revision: Option<String>,
    /// The tokenizer's revision, from the launch command's `--tokenizer-revision`.
    #[serde(default)]
    pub tokenizer_revision: Option<String>,
    /// `vllm:NAME_info` gauges: NAME -> label -> value.
    #[serde(default)]
    pub info: BTreeMap<String, BTreeMap<String, String>>,
    /// The prefix cache over the run (counters at its end minus at its start).
    #[serde(default)]
    pub prefix_cache: Option<PrefixCacheUse>,
    /// The counters at the run's start, kept until its end is captured.
    #[serde(default)]
    pub prefix_cache_start: Option<PrefixCacheUse>,
}

/// Prefix-cache lookups and hits, in prompt tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrefixCacheUse {
    pub queries: f64,
    pub hits: f64,
}

impl PrefixCacheUse {
    /// hits / queries; `None` when nothing was looked up.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.queries > 0.0).then(|| (self.hits / self.queries).clamp(0.0, 1.0))
    }
}

/// A value from the endpoint, made safe to keep and show.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE)
        .collect::<String>()
        .trim()
        .to_string()
}

/// `/version`'s `{"version": "0.32.0"}`.
pub fn parse_version(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let s = clean(v.get("version")?.as_str()?);
    (!s.is_empty()).then_some(s)
}

/// The served model's `root` and `max_model_len` from a `/v1/models` answer.
pub fn model_facts(models: &str, model: &str) -> (Option<String>, Option<u64>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(models) else {
        return (None, None);
    };
    let Some(m) = v
        .get("data")
        .and_then(|d| d.as_array())
        .and_then(|d| d.iter().find(|m| m.get("id").and_then(|i| i.as_str()) == Some(model)))
    else {
        return (None, None);
    };
    (
        m.get("root").and_then(|r| r.as_str()).map(clean).filter(|r| !r.is_empty()),
        m.get("max_model_len").and_then(|l| l.as_u64()),
    )
}

/// The model's and the tokenizer's revisions a launch command pins (`--revision R`,
/// `--revision=R`, and the same for `--tokenizer-revision`): vLLM serves that revision, which
/// its API does not report. A placeholder or a missing value gives nothing.
pub fn launch_revision(args: &[String]) -> (Option<String>, Option<String>) {
    let find = |flag: &str| {
        let mut found = None;
        for (i, a) in args.iter().enumerate() {
            let value = match a.strip_prefix(flag) {
                Some("") => args.get(i + 1).map(String::as_str),
                Some(v) => v.strip_prefix('='),
                None => None,
            };
            if let Some(v) = value
                .map(clean)
                .filter(|v| !v.is_empty() && !v.starts_with('-') && !v.starts_with('{'))
            {
                found = Some(v);
            }
        }
        found
    };
    (find("--revision"), find("--tokenizer-revision"))
}

/// What the run page says when no revision is known.
pub const REVISION_NOT_REPORTED: &str = "not reported by the server";

/// A sample's labels, in order.
type Labels = Vec<(String, String)>;

/// A Prometheus sample line: its name, labels and value (`None` for comments and junk).
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(i) => {
            let j = line.rfind('}')?;
            (&line[..i], labels(&line[i + 1..j]), &line[j + 1..])
        }
        None => {
            let (n, r) = line.split_once(char::is_whitespace)?;
            (n, Vec::new(), r)
        }
    };
    let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    Some((name, labels, value))
}

/// `a="1",b="x, y"` -> pairs (quotes kept apart from commas; `\"` and `\\` unescaped).
fn labels(text: &str) -> Labels {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>();
        let key = key.trim().trim_start_matches(',').trim().to_string();
        if key.is_empty() || chars.next_if_eq(&'"').is_none() {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        value.push(if n == 'n' { ' ' } else { n });
                    }
                }
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((key, value));
        if chars.peek().is_none() {
            break;
        }
    }
    out
}

/// The labels of the endpoint's `vllm:*_info` gauges (the ones that describe its settings).
pub fn info_gauges(metrics: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (name, labels, _) in metrics.lines().filter_map(sample) {
        let Some(short) = name.strip_prefix("vllm:").filter(|n| n.ends_with("_info")) else {
            continue;
        };
        if VOLATILE.contains(&short) || (out.len() >= MAX_GAUGES && !out.contains_key(short)) {
            continue;
        }
        let entry = out.entry(clean(short)).or_default();
        for (k, v) in labels.into_iter().filter(|(k, _)| k != "engine" && k != "model_name") {
            if entry.len() < MAX_LABELS {
                entry.insert(clean(&k), clean(&v));
            }
        }
    }
    out
}

/// The prefix-cache counters now (tokens), summed over engines: `vllm:prefix_cache_queries` and
/// `vllm:prefix_cache_hits` (vLLM V1, exposed with `_total`), else the `gpu_` names some V1
/// releases used. `None` when the endpoint exports neither.
pub fn prefix_counters(metrics: &str) -> Option<PrefixCacheUse> {
    const FAMILIES: [&str; 2] = ["vllm:prefix_cache", "vllm:gpu_prefix_cache"];
    let mut found: [Option<PrefixCacheUse>; 2] = [None, None];
    for (name, _, value) in metrics.lines().filter_map(sample) {
        let name = name.strip_suffix("_total").unwrap_or(name);
        for (i, family) in FAMILIES.iter().enumerate() {
            let Some(kind) = name.strip_prefix(family) else { continue };
            let slot = &mut found[i];
            match kind {
                "_queries" => slot.get_or_insert_with(Default::default).queries += value,
                "_hits" => slot.get_or_insert_with(Default::default).hits += value,
                _ => {}
            }
        }
    }
    found.into_iter().flatten().next()
}

impl Conditions {
    /// Prefix caching as the engine reports it (`enable_prefix_caching` on
    /// `vllm:cache_config_info`); `None` when it does not say.
    pub fn prefix_caching(&self) -> Option<bool> {
        let v = self.info.get("cache_config_info")?.get("enable_prefix_caching")?;
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }

    /// Close the run's window: the hit rate over the run from the counters at its start and now.
    /// Counters that went down (the server restarted) give no figure.
    pub fn end_with(&mut self, now: Option<PrefixCacheUse>) {
        if let (Some(a), Some(b)) = (self.prefix_cache_start, now) {
            self.prefix_cache = (b.queries >= a.queries && b.hits >= a.hits).then_some(PrefixCacheUse {
                queries: b.queries - a.queries,
                hits: b.hits - a.hits,
            });
        }
    }

    /// "82% (4,100 of 5,000 prompt tokens)", or "no lookups".
    pub fn hit_rate_text(&self) -> Option<String> {
        let p = self.prefix_cache?;
        Some(match p.hit_rate() {
            Some(r) => format!(
                "{} ({} of {} prompt tokens)",
                format::percent(round1(r)),
                format::int(p.hits),
                format::int(p.queries)
            ),
            None => "no lookups".into(),
        })
    }

    /// In one line, for tables: "vLLM 0.32.0 · prefix caching on · prefix-cache hit rate 82%".
    pub fn short(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.version {
            parts.push(format!("vLLM {v}"));
        }
        if let Some(p) = self.prefix_caching() {
            parts.push(format!("prefix caching {}", on_off(p)));
        }
        if let Some(r) = self.prefix_cache.and_then(|p| p.hit_rate()) {
            parts.push(format!("prefix-cache hit rate {}", format::percent(round1(r))));
        }
        if let Some(l) = self.max_model_len {
            parts.push(format!("max_model_len {l}"));
        }
        if let Some(r) = &self.revision {
            parts.push(format!("revision {r}"));
        }
        if parts.is_empty() {
            "nothing said".into()
        } else {
            parts.join(" · ")
        }
    }

    /// Each condition as (what, value), for the run page.
    pub fn facts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(v) = &self.version {
            out.push(("Version (/version)".into(), v.clone()));
        }
        if let Some(p) = self.prefix_caching() {
            out.push(("Prefix caching".into(), on_off(p).into()));
        }
        if let Some(t) = self.hit_rate_text() {
            out.push(("Prefix-cache hit rate during the run".into(), t));
        }
        if let Some(l) = self.max_model_len {
            out.push(("max_model_len".into(), format::int(l as f64)));
        }
        if let Some(r) = &self.model_root {
            out.push(("Model (root in /v1/models)".into(), r.clone()));
        }
        out.push((
            "Model revision".into(),
            match &self.revision {
                Some(r) => format!("{r} (--revision in the launch command)"),
                None => REVISION_NOT_REPORTED.into(),
            },
        ));
        if let Some(r) = &self.tokenizer_revision {
            out.push((
                "Tokenizer revision".into(),
                format!("{r} (--tokenizer-revision in the launch command)"),
            ));
        }
        for (gauge, labels) in &self.info {
            let text = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
            out.push((format!("vllm:{gauge}"), text));
        }
        out
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn round1(r: f64) -> f64 {
    (r * 1000.0).round() / 1000.0
}

/// A run as a comparison of conditions sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComparedRun<'a> {
    /// "#3", "run #3".
    pub label: String,
    pub conditions: Option<&'a Conditions>,
    /// Runs with one key sent the same prompts to the same server (the same endpoint and the same
    /// dataset): only between them can one run's prefix cache have served another. `None`: not
    /// known, no cache claim.
    pub cache_key: Option<String>,
    /// Its median time to first token (ms): the cache is said to explain part of a run's speed
    /// only when this is lower than the run's whose cache it reused.
    pub ttft_p50_ms: Option<f64>,
}

/// How labelled runs' conditions differ, one phrase each, runs grouped by value: "vLLM 0.32.0
/// (#1, #2) vs 0.31.1 (#3)", "prefix caching on (#1) vs off (#2)", "prefix-cache hit rate 0% (#1)
/// vs 82% (#2)". Runs without captured conditions are named once; a setting only some runs report
/// is not a difference. No cache claim is made (nothing says which runs shared prompts and a
/// server): [`differences_of_runs`] makes them.
pub fn differences(runs: &[(String, Option<&Conditions>)]) -> Vec<String> {
    differences_of_runs(&unkeyed(runs))
}

/// [`differences`] over runs given in the order they ran, with what a cache claim needs: "#2
/// reused the cache #1 left" only between runs with one cache key (the same endpoint and
/// dataset) where the later run's hit rate is at least 5 points higher; "part of its speed is the
/// cache's" only when its TTFT p50 is also lower.
pub fn differences_of_runs(runs: &[ComparedRun]) -> Vec<String> {
    differences_of(runs, true)
}

/// [`differences`] without the prefix-cache hit rates, for a page that says those its own way
/// (the sweep page's cache note).
pub fn setting_differences(runs: &[(String, Option<&Conditions>)]) -> Vec<String> {
    differences_of(&unkeyed(runs), false)
}

fn unkeyed<'a>(runs: &[(String, Option<&'a Conditions>)]) -> Vec<ComparedRun<'a>> {
    runs.iter()
        .map(|(label, conditions)| ComparedRun {
            label: label.clone(),
            conditions: *conditions,
            ..Default::default()
        })
        .collect()
}

/// "Conditions differ: a; b." over labelled runs given in the order they ran; `None` when they
/// do not (or fewer than two runs have conditions).
pub fn differ_note(differences: &[String]) -> Option<String> {
    (!differences.is_empty()).then(|| format!("Conditions differ: {}.", differences.join("; ")))
}

/// Values with the runs that have each, in the order the values first appear: "16 (#1, #2) vs 32
/// (#3)". Every run is named once, however many share a value.
pub fn grouped(values: &[(&str, String)], separator: &str) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (label, value) in values {
        match groups.iter_mut().find(|g| g.0 == value.as_str()) {
            Some(g) => g.1.push(label),
            None => groups.push((value.as_str(), vec![label])),
        }
    }
    groups
        .iter()
        .map(|(v, labels)| format!("{v} ({})", labels.join(", ")))
        .collect::<Vec<_>>()
        .join(separator)
}

/// "#2" / "#2 and #3", with the pronoun that goes with it.
fn names(labels: &[&str]) -> (String, &'static str) {
    match labels {
        [one] => (one.to_string(), "its"),
        [init @ .., last] => (format!("{} and {last}", init.join(", ")), "their"),
        [] => (String::new(), "its"),
    }
}

fn differences_of(runs: &[ComparedRun], hit_rates: bool) -> Vec<String> {
    let known: Vec<(&str, &Conditions)> = runs.iter().filter_map(|r| Some((r.label.as_str(), r.conditions?))).collect();
    let mut out = Vec::new();
    if known.len() < 2 {
        return out;
    }
    let differ = |what: &str, values: Vec<(&str, Option<String>)>, out: &mut Vec<String>| {
        let set: Vec<(&str, String)> = values.into_iter().filter_map(|(l, v)| Some((l, v?))).collect();
        if set.windows(2).any(|w| w[0].1 != w[1].1) {
            out.push(format!("{what}{}", grouped(&set, " vs ")));
        }
    };
    differ("vLLM ", known.iter().map(|(l, c)| (*l, c.version.clone())).collect(), &mut out);
    differ(
        "prefix caching ",
        known
            .iter()
            .map(|(l, c)| (*l, c.prefix_caching().map(|p| on_off(p).to_string())))
            .collect(),
        &mut out,
    );
    differ(
        "max_model_len ",
        known.iter().map(|(l, c)| (*l, c.max_model_len.map(|v| v.to_string()))).collect(),
        &mut out,
    );
    differ(
        "model files ",
        known.iter().map(|(l, c)| (*l, c.model_root.clone())).collect(),
        &mut out,
    );
    differ(
        "model revision ",
        known.iter().map(|(l, c)| (*l, c.revision.clone())).collect(),
        &mut out,
    );
    differ(
        "tokenizer revision ",
        known.iter().map(|(l, c)| (*l, c.tokenizer_revision.clone())).collect(),
        &mut out,
    );
    // Other engine settings the info gauges carry (prefix caching is said above).
    let mut keys: Vec<(&String, &String)> = known
        .iter()
        .flat_map(|(_, c)| c.info.iter().flat_map(|(g, ls)| ls.keys().map(move |k| (g, k))))
        .collect();
    keys.sort();
    keys.dedup();
    for (g, k) in keys {
        if k == "enable_prefix_caching" {
            continue;
        }
        differ(
            &format!("{g} {k}: "),
            known
                .iter()
                .map(|(l, c)| (*l, c.info.get(g).and_then(|ls| ls.get(k)).cloned()))
                .collect(),
            &mut out,
        );
    }
    // The cache's effect: a clear difference in hit rate (5 points or more).
    let rated: Vec<(&ComparedRun, f64)> = runs
        .iter()
        .filter_map(|r| Some((r, r.conditions?.prefix_cache?.hit_rate()?)))
        .collect();
    let (lo, hi) = (
        rated.iter().map(|r| r.1).fold(f64::INFINITY, f64::min),
        rated.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max),
    );
    if hit_rates && rated.len() >= 2 && hi - lo >= 0.05 {
        let shown: Vec<(&str, String)> = rated
            .iter()
            .map(|(r, rate)| (r.label.as_str(), format::percent(round1(*rate))))
            .collect();
        let mut s = format!("prefix-cache hit rate {}", grouped(&shown, " vs "));
        let claims = cache_claims(&rated);
        if !claims.is_empty() {
            s.push_str(&format!(": {}", claims.join("; ")));
        }
        out.push(s);
    }
    let missing: Vec<&str> = runs.iter().filter(|r| r.conditions.is_none()).map(|r| r.label.as_str()).collect();
    if !missing.is_empty() {
        out.push(format!(
            "conditions not captured for {} (a hosted endpoint, a batch job, an import, or a run from before Bakeoff captured them)",
            missing.join(", ")
        ));
    }
    out
}

/// "#2 reused the cache #1 left ...": each run whose hit rate is at least 5 points above an
/// earlier run's with the same cache key (the same endpoint and dataset) reused the coldest such
/// run's cache; runs that reused one run's cache are named together. Part of a run's speed is
/// said to be the cache's only when its TTFT p50 is lower than that run's.
fn cache_claims(rated: &[(&ComparedRun, f64)]) -> Vec<String> {
    // (the cold run, the warm runs that reused its cache), in the order the cold runs ran.
    let mut reuse: Vec<(usize, Vec<usize>)> = Vec::new();
    for (j, (warm, rate)) in rated.iter().enumerate() {
        let Some(key) = &warm.cache_key else { continue };
        let cold = rated[..j]
            .iter()
            .enumerate()
            .filter(|(_, (c, r))| c.cache_key.as_ref() == Some(key) && rate - r >= 0.05)
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(a.0.cmp(&b.0)))
            .map(|(i, _)| i);
        if let Some(i) = cold {
            match reuse.iter_mut().find(|g| g.0 == i) {
                Some(g) => g.1.push(j),
                None => reuse.push((i, vec![j])),
            }
        }
    }
    reuse.sort_by_key(|g| g.0);
    reuse
        .into_iter()
        .map(|(i, warm)| {
            let cold = rated[i].0;
            let labels: Vec<&str> = warm.iter().map(|&j| rated[j].0.label.as_str()).collect();
            let (who, pronoun) = names(&labels);
            let mut s = format!("{who} reused the cache {} left ({pronoun} prompts were seen before)", cold.label);
            let lower = |j: usize| matches!((rated[j].0.ttft_p50_ms, cold.ttft_p50_ms), (Some(w), Some(c)) if w < c);
            let faster: Vec<&str> = warm.iter().filter(|&&j| lower(j)).map(|&j| rated[j].0.label.as_str()).collect();
            let not: Vec<&str> = warm
                .iter()
                .filter(|&&j| !lower(j) && rated[j].0.ttft_p50_ms.is_some() && cold.ttft_p50_ms.is_some())
                .map(|&j| rated[j].0.label.as_str())
                .collect();
            if !faster.is_empty() {
                let (who, pronoun) = names(&faster);
                if faster.len() == labels.len() {
                    s.push_str(&format!(
                        ", so part of {pronoun} speed is the cache's, not the model's (a lower TTFT p50 than {})",
                        cold.label
                    ));
                } else {
                    s.push_str(&format!(
                        ", so part of {who}'s speed is the cache's, not the model's (a lower TTFT p50 than {})",
                        cold.label
                    ));
                }
            }
            if !not.is_empty() {
                let (who, _) = names(&not);
                s.push_str(&format!(", though {who}'s TTFT p50 is not lower than {}'s", cold.label));
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n\
        # TYPE vllm:cache_config_info gauge\n\
        vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"716\",prefix_caching_hash_algo=\"sha256\"} 1.0\n\
        vllm:lora_requests_info{max_lora=\"1\",running_lora_adapters=\"a\"} 1.7e9\n\
        vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 5000.0\n\
        vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 4100.0\n\
        vllm:prefix_cache_queries_created{engine=\"0\",model_name=\"m\"} 1.7e9\n";

    #[test]
    fn info_gauges_keep_their_settings_without_engine_labels_or_traffic() {
        let info = info_gauges(VLLM);
        let cache = info.get("cache_config_info").expect("cache config");
        assert_eq!(cache.get("block_size").map(String::as_str), Some("16"));
        assert_eq!(cache.get("enable_prefix_caching").map(String::as_str), Some("True"));
        assert!(!cache.contains_key("engine"));
        assert!(!info.contains_key("lora_requests_info"), "traffic, not a setting");
    }

    #[test]
    fn prefix_counters_read_the_v1_names_and_the_gpu_ones() {
        assert_eq!(
            prefix_counters(VLLM),
            Some(PrefixCacheUse {
                queries: 5000.0,
                hits: 4100.0
            })
        );
        let old = "vllm:gpu_prefix_cache_queries_total{engine=\"0\"} 10\nvllm:gpu_prefix_cache_hits_total{engine=\"0\"} 4\n";
        assert_eq!(prefix_counters(old), Some(PrefixCacheUse { queries: 10.0, hits: 4.0 }));
        assert_eq!(prefix_counters("vllm:num_requests_running 1\n"), None);
    }

    #[test]
    fn the_hit_rate_is_the_delta_over_the_run() {
        let mut c = Conditions {
            prefix_cache_start: Some(PrefixCacheUse {
                queries: 1000.0,
                hits: 100.0,
            }),
            ..Default::default()
        };
        c.end_with(prefix_counters(VLLM));
        assert_eq!(
            c.prefix_cache,
            Some(PrefixCacheUse {
                queries: 4000.0,
                hits: 4000.0
            })
        );
        assert_eq!(c.hit_rate_text().as_deref(), Some("100% (4,000 of 4,000 prompt tokens)"));
        // A restarted server's counters went down: no figure rather than a wrong one.
        let mut c = Conditions {
            prefix_cache_start: Some(PrefixCacheUse {
                queries: 9000.0,
                hits: 100.0,
            }),
            ..Default::default()
        };
        c.end_with(prefix_counters(VLLM));
        assert_eq!(c.prefix_cache, None);
    }

    #[test]
    fn version_and_model_facts_are_read_and_bounded() {
        assert_eq!(parse_version(r#"{"version":"0.32.0"}"#).as_deref(), Some("0.32.0"));
        assert_eq!(parse_version("<html>"), None);
        let long = format!(r#"{{"version":"{}\u0007"}}"#, "x".repeat(500));
        assert_eq!(parse_version(&long).map(|v| v.len()), Some(MAX_VALUE));
        let models = r#"{"data":[{"id":"tiny","root":"/models/tiny","max_model_len":2048},{"id":"other"}]}"#;
        assert_eq!(model_facts(models, "tiny"), (Some("/models/tiny".into()), Some(2048)));
        assert_eq!(model_facts(models, "nope"), (None, None));
    }

    #[test]
    fn the_revision_comes_from_the_launch_command_or_is_not_reported() {
        let args = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            launch_revision(&args(
                "vllm serve {model} --port {port} --revision 0a1b2c3 --tokenizer-revision=v1.2"
            )),
            (Some("0a1b2c3".into()), Some("v1.2".into()))
        );
        assert_eq!(
            launch_revision(&args("vllm serve {model} --revision=main")),
            (Some("main".into()), None)
        );
        // No value, a flag where the value should be, a placeholder: nothing.
        assert_eq!(launch_revision(&args("vllm serve {model} --revision")), (None, None));
        assert_eq!(launch_revision(&args("vllm serve {model} --revision --port {port}")), (None, None));
        assert_eq!(launch_revision(&args("vllm serve {model} --revision {model}")), (None, None));
        // --code-revision is another flag.
        assert_eq!(launch_revision(&args("vllm serve {model} --code-revision x")), (None, None));
        // Shown on the run page either way, and said where runs differ.
        let mut a = Conditions {
            version: Some("0.32.0".into()),
            ..Default::default()
        };
        let fact = |c: &Conditions| c.facts().into_iter().find(|(k, _)| k == "Model revision").map(|(_, v)| v);
        assert_eq!(fact(&a).as_deref(), Some("not reported by the server"));
        let mut b = a.clone();
        a.revision = Some("0a1b2c3".into());
        b.revision = Some("9f8e7d6".into());
        assert_eq!(fact(&a).as_deref(), Some("0a1b2c3 (--revision in the launch command)"));
        assert!(a.short().ends_with("revision 0a1b2c3"), "{}", a.short());
        assert_eq!(
            differences(&[("#1".into(), Some(&a)), ("#2".into(), Some(&b))]),
            vec!["model revision 0a1b2c3 (#1) vs 9f8e7d6 (#2)".to_string()]
        );
        // Known for one run only: not a difference.
        b.revision = None;
        assert!(differences(&[("#1".into(), Some(&a)), ("#2".into(), Some(&b))]).is_empty());
    }

    #[test]
    fn setting_differences_leave_the_hit_rates_to_the_caller_and_the_note_joins_them() {
        let (a, b) = (run("0.32.0", true, Some((1000.0, 0.0))), run("0.31.1", true, Some((1000.0, 820.0))));
        let pair = [("#1".to_string(), Some(&a)), ("#2".to_string(), Some(&b))];
        assert_eq!(differences(&pair).len(), 2);
        assert_eq!(setting_differences(&pair), vec!["vLLM 0.32.0 (#1) vs 0.31.1 (#2)".to_string()]);
        assert_eq!(
            differ_note(&setting_differences(&pair)).as_deref(),
            Some("Conditions differ: vLLM 0.32.0 (#1) vs 0.31.1 (#2).")
        );
        assert_eq!(differ_note(&[]), None);
    }

    fn run(version: &str, caching: bool, rate: Option<(f64, f64)>) -> Conditions {
        let mut info = BTreeMap::new();
        info.insert(
            "cache_config_info".to_string(),
            BTreeMap::from([
                ("block_size".to_string(), "16".to_string()),
                (
                    "enable_prefix_caching".to_string(),
                    if caching { "True" } else { "False" }.to_string(),
                ),
            ]),
        );
        Conditions {
            version: Some(version.into()),
            info,
            prefix_cache: rate.map(|(q, h)| PrefixCacheUse { queries: q, hits: h }),
            ..Default::default()
        }
    }

    #[test]
    fn differing_versions_caching_and_hit_rates_are_each_said() {
        let (a, b) = (
            run("0.32.0", true, Some((1000.0, 0.0))),
            run("0.31.1", false, Some((1000.0, 820.0))),
        );
        let d = differences_of_runs(&[keyed("#1", &a, "e1/d1", 40.0), keyed("#2", &b, "e1/d1", 12.0)]);
        assert_eq!(d[0], "vLLM 0.32.0 (#1) vs 0.31.1 (#2)");
        assert_eq!(d[1], "prefix caching on (#1) vs off (#2)");
        assert_eq!(
            d[2],
            "prefix-cache hit rate 0% (#1) vs 82% (#2): #2 reused the cache #1 left (its prompts were seen before), so part of its speed is the cache's, not the model's (a lower TTFT p50 than #1)"
        );
        assert_eq!(d.len(), 3, "{d:?}");
    }

    fn keyed<'a>(label: &str, c: &'a Conditions, key: &str, ttft: f64) -> ComparedRun<'a> {
        ComparedRun {
            label: label.into(),
            conditions: Some(c),
            cache_key: Some(key.into()),
            ttft_p50_ms: Some(ttft),
        }
    }

    #[test]
    fn runs_that_share_a_value_are_named_together_not_one_by_one() {
        let on = run("0.32.0", true, None);
        let off = run("0.32.0", false, None);
        let mut labelled: Vec<(String, Option<&Conditions>)> = (1..=14).map(|i| (format!("#{i}"), Some(&on))).collect();
        labelled.push(("#35".into(), Some(&off)));
        // The same model files for all 15 runs: not a difference, not listed.
        assert_eq!(
            differences(&labelled),
            vec!["prefix caching on (#1, #2, #3, #4, #5, #6, #7, #8, #9, #10, #11, #12, #13, #14) vs off (#35)".to_string()]
        );
        assert_eq!(
            grouped(&[("#1", "a".into()), ("#2", "b".into()), ("#3", "a".into())], " vs "),
            "a (#1, #3) vs b (#2)"
        );
    }

    #[test]
    fn a_cache_is_said_reused_only_later_on_the_same_endpoint_and_dataset() {
        let (cold, warm) = (run("0.32.0", true, Some((1000.0, 0.0))), run("0.32.0", true, Some((1000.0, 820.0))));
        let said = |runs: &[ComparedRun]| differences_of_runs(runs).join("; ");
        // Another dataset (or endpoint): its prompts were never sent before, so no reuse.
        let d = said(&[keyed("#2", &cold, "e1/synthetic", 40.0), keyed("#18", &warm, "e1/demo", 12.0)]);
        assert_eq!(d, "prefix-cache hit rate 0% (#2) vs 82% (#18)");
        // Unknown endpoint and dataset: no claim either.
        assert!(!differences(&[("#1".into(), Some(&cold)), ("#2".into(), Some(&warm))])
            .join("")
            .contains("reused"));
        // The warmer run ran first: it cannot have reused the later run's cache, and nothing
        // says the cache shortened its prefill (its TTFT is 10x worse).
        let d = said(&[keyed("#1", &warm, "e1/demo", 400.0), keyed("#2", &cold, "e1/demo", 40.0)]);
        assert_eq!(d, "prefix-cache hit rate 82% (#1) vs 0% (#2)");
        // Reused, but not faster to the first token: the reuse is said, no speed credited to it.
        let d = said(&[keyed("#1", &cold, "e1/demo", 40.0), keyed("#2", &warm, "e1/demo", 45.0)]);
        assert!(d.contains("#2 reused the cache #1 left"), "{d}");
        assert!(d.contains("though #2's TTFT p50 is not lower than #1's"), "{d}");
        assert!(!d.contains("speed is the cache's"), "{d}");
        // Two later runs reused the first's cache: named together.
        let d = said(&[
            keyed("#1", &cold, "e1/demo", 40.0),
            keyed("#2", &warm, "e1/demo", 12.0),
            keyed("#3", &warm, "e1/demo", 11.0),
        ]);
        assert!(
            d.ends_with("82% (#2, #3): #2 and #3 reused the cache #1 left (their prompts were seen before), so part of their speed is the cache's, not the model's (a lower TTFT p50 than #1)"),
            "{d}"
        );
    }

    #[test]
    fn the_same_conditions_give_no_difference_and_missing_ones_are_named() {
        let a = run("0.32.0", true, Some((1000.0, 10.0)));
        assert!(differences(&[("#1".into(), Some(&a)), ("#2".into(), Some(&a.clone()))]).is_empty());
        let d = differences(&[("#1".into(), Some(&a)), ("#2".into(), Some(&a)), ("#3".into(), None)]);
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("conditions not captured for #3"), "{d:?}");
        let mut b = a.clone();
        b.info
            .get_mut("cache_config_info")
            .expect("cache")
            .insert("block_size".into(), "32".into());
        assert_eq!(
            differences(&[("#1".into(), Some(&a)), ("#2".into(), Some(&b))]),
            vec!["cache_config_info block_size: 16 (#1) vs 32 (#2)".to_string()]
        );
    }
}
