//! One pass over a run's stored records, read page by page: its summary, what the integrity
//! checks need, and its charts. Memory grows with the answered requests (a few numbers each),
//! never with the records themselves, so the worker summarises a run of any size.

use super::integrity::ScheduleFacts;
use super::record::RequestRecord;
use super::series::{ChartsBuilder, RunCharts};
use super::summary::{RunSummary, SummaryBuilder};

#[derive(Clone, Debug, Default)]
pub struct RunDigest {
    summary: SummaryBuilder,
    facts: ScheduleFacts,
    charts: ChartsBuilder,
    records: u64,
}

/// What [`RunDigest::finish`] gives.
pub struct Digested {
    pub summary: RunSummary,
    pub facts: ScheduleFacts,
    pub charts: RunCharts,
}

impl RunDigest {
    /// A digest of a run of about `n` records: room made once.
    pub fn with_capacity(n: usize) -> RunDigest {
        let mut d = RunDigest::default();
        d.summary.reserve(n);
        d
    }

    pub fn add(&mut self, r: &RequestRecord) {
        self.records += 1;
        self.summary.add(r);
        self.facts.add(r);
        // The latency charts draw the summary's own samples (kept once, not twice).
        self.charts.add_throughput(r);
    }

    /// Count goodput against the run's service-level targets in the same pass.
    pub fn set_slo(&mut self, slo: Option<super::goodput::Slo>) {
        self.summary.set_slo(slo);
    }

    /// Records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn finish(mut self) -> Digested {
        let summary = self.summary.finish();
        let (ttft, e2e) = self.summary.latencies_mut();
        let charts = self.charts.finish_with(ttft, e2e);
        Digested {
            summary,
            facts: self.facts,
            charts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::Tokens;
    use crate::domain::status::Outcome;
    use std::time::Duration;

    fn rec(i: u32) -> RequestRecord {
        RequestRecord {
            idx: i,
            custom_id: format!("c{i}"),
            warmup: i == 0,
            outcome: if i % 5 == 4 { Outcome::Timeout } else { Outcome::Ok },
            http_status: Some(200),
            error: None,
            finish_reason: None,
            prompt_tokens: Some(Tokens(10)),
            completion_tokens: Some(Tokens(20 + u64::from(i % 7))),
            scheduled: None,
            sent: Duration::from_millis(u64::from(i) * 37),
            ttft: Some(Duration::from_micros(20_000 + u64::from(i) * 311)),
            e2e: Duration::from_micros(400_000 + u64::from(i) * 1_777),
            content_chunks: 20,
            itl: vec![Duration::from_micros(900 + u64::from(i)); 19],
            response: String::new(),
            reasoning: None,
        }
    }

    #[test]
    fn one_pass_gives_what_the_whole_run_in_memory_gives() {
        let records: Vec<RequestRecord> = (0..500).map(rec).collect();
        let mut d = RunDigest::default();
        // Fed in pages, as the worker reads them.
        for page in records.chunks(64) {
            for r in page {
                d.add(r);
            }
        }
        assert_eq!(d.records(), 500);
        let out = d.finish();
        assert_eq!(out.summary, crate::domain::summary::summarize(&records));
        assert_eq!(out.facts, ScheduleFacts::of(&records));
        assert_eq!(out.charts, crate::domain::series::run_charts(&records));
        let e2e = out.charts.e2e.expect("e2e chart");
        assert_eq!(e2e.count, out.summary.e2e_ms.expect("e2e").count);
        assert_eq!(e2e.bins.iter().sum::<u64>(), e2e.count);
    }

    #[test]
    fn goodput_comes_out_of_the_same_pass() {
        let records: Vec<RequestRecord> = (0..300).map(rec).collect();
        let slo = crate::domain::goodput::Slo {
            ttft_ms: Some(60.0),
            tpot_ms: None,
            e2e_ms: Some(800.0),
            percentile: 90.0,
        };
        let mut d = RunDigest::with_capacity(records.len());
        d.set_slo(Some(slo.clone()));
        for page in records.chunks(64) {
            for r in page {
                d.add(r);
            }
        }
        let out = d.finish();
        let whole = crate::domain::summary::summarize_with(&records, Some(slo.clone()));
        assert_eq!(out.summary, whole);
        let by_hand = records.iter().filter(|r| !r.warmup && slo.met_by(r)).count() as u64;
        let g = out.summary.goodput.expect("goodput");
        assert_eq!(g.good_requests, by_hand);
        assert!(by_hand > 0 && by_hand < 299, "the targets split the requests ({by_hand})");
    }
}
