//! Which runs are worth considering: those no other run beats on speed, quality and cost at once;
//! and the one quality measure a comparison puts on its axis.

use super::quality::RunQuality;
use super::report::load::{compare, LoadComparison, RunLoad};
use super::stats::{mean_interval_from, wilson, Interval};
use serde::{Deserialize, Serialize};

/// The quality measure a chart or ranking uses: one for all its runs, never a mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QualityMeasure {
    /// Reviewers' mean overall grade, 1-5 (t-interval).
    MeanGrade,
    /// Share of answers valid against the dataset's schema (Wilson interval).
    SchemaValid,
    /// Share of answers with a JSON object (Wilson interval), for datasets without a schema.
    JsonFound,
}

impl QualityMeasure {
    pub fn label(self) -> &'static str {
        match self {
            QualityMeasure::MeanGrade => "mean reviewer grade (1-5)",
            QualityMeasure::SchemaValid => "answers valid against the schema (%)",
            QualityMeasure::JsonFound => "answers with JSON (%)",
        }
    }
    /// The axis range.
    pub fn range(self) -> (f64, f64) {
        match self {
            QualityMeasure::MeanGrade => (1.0, 5.0),
            _ => (0.0, 100.0),
        }
    }
    /// A value on this measure's scale, as text.
    pub fn format(self, v: f64) -> String {
        match self {
            QualityMeasure::MeanGrade => format!("{v:.2}"),
            _ => format!("{v:.0}%"),
        }
    }

    /// The run's estimate on this measure, on the axis scale (grade 1-5, or percent), with its
    /// 95 % interval when one can be given. `None` when the run lacks the measure.
    pub fn estimate(self, q: &RunQuality) -> Option<(f64, Option<Interval>, u64)> {
        match self {
            QualityMeasure::MeanGrade => {
                let m = q.mean_grade?;
                Some((m, mean_interval_from(m, q.grade_ci, q.grades), q.grades))
            }
            QualityMeasure::SchemaValid | QualityMeasure::JsonFound => {
                let k = if self == QualityMeasure::SchemaValid {
                    q.schema_valid?
                } else {
                    q.json_found
                };
                let w = wilson(k, q.answered)?;
                let pct = |i: Interval| Interval {
                    estimate: i.estimate * 100.0,
                    low: i.low * 100.0,
                    high: i.high * 100.0,
                    n: i.n,
                };
                Some((w.estimate * 100.0, Some(pct(w)), q.answered))
            }
        }
    }

    /// The measure a comparison of `runs` uses, the same for every run: reviewers' grades when
    /// at least two runs are graded (one graded run compares with nothing), else schema validity
    /// when at least two runs have a schema, else JSON found. Runs without it are left off.
    pub fn common(runs: &[&RunQuality]) -> Option<QualityMeasure> {
        let need = runs.len().min(2);
        [QualityMeasure::MeanGrade, QualityMeasure::SchemaValid, QualityMeasure::JsonFound]
            .into_iter()
            .find(|m| need > 0 && runs.iter().filter(|q| m.estimate(q).is_some()).count() >= need)
    }
}

/// A run as the speed x quality x cost chart takes it (runs with known timing only).
#[derive(Clone, Debug, PartialEq)]
pub struct ParetoRun {
    pub label: String,
    pub output_tps: f64,
    pub quality: RunQuality,
    pub cost_per_request: f64,
    pub load: RunLoad,
}

/// A point of the chart, on the view's one quality measure.
#[derive(Clone, Debug, PartialEq)]
pub struct ParetoPoint {
    pub label: String,
    pub speed: f64,
    pub quality: f64,
    /// 95 % interval of the quality, when one can be given.
    pub interval: Option<(f64, f64)>,
    pub n: u64,
    pub cost_per_100k: f64,
    pub on_frontier: bool,
    pub load: String,
}

/// What the chart draws and says beside it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParetoView {
    pub measure: Option<QualityMeasure>,
    pub points: Vec<ParetoPoint>,
    /// Runs without the measure, left off rather than mixed in.
    pub left_off: Vec<String>,
    pub loads: LoadComparison,
}

impl ParetoView {
    /// Two sentences for under the chart: the measure, the frontier, and the loads.
    pub fn caption(&self) -> String {
        let Some(m) = self.measure else {
            return "No run has speed, quality and cost yet.".into();
        };
        let mut s = format!("Quality axis: {} for every run, with 95% intervals.", m.label());
        let front: Vec<&str> = self.points.iter().filter(|p| p.on_frontier).map(|p| p.label.as_str()).collect();
        if !front.is_empty() {
            s.push_str(&format!(
                " On the Pareto frontier (no other run is faster, better and cheaper): {}.",
                front.join(", ")
            ));
        }
        if !self.left_off.is_empty() {
            s.push_str(&format!(" Left off (no {}): {}.", m.label(), self.left_off.join(", ")));
        }
        if self.points.len() >= 2 {
            s.push(' ');
            s.push_str(&self.loads.sentence());
        }
        s
    }
}

/// The chart's points on one quality measure, the frontier, and how the runs' loads compare.
pub fn pareto_view(runs: &[ParetoRun]) -> ParetoView {
    let qs: Vec<&RunQuality> = runs.iter().map(|r| &r.quality).collect();
    let Some(measure) = QualityMeasure::common(&qs) else {
        return ParetoView::default();
    };
    type Estimate = (f64, Option<Interval>, u64);
    let mut kept: Vec<(&ParetoRun, Estimate)> = Vec::new();
    let mut left_off = Vec::new();
    for r in runs {
        match measure.estimate(&r.quality) {
            Some(e) => kept.push((r, e)),
            None => left_off.push(r.label.clone()),
        }
    }
    let cands: Vec<Candidate> = kept
        .iter()
        .map(|(r, e)| Candidate {
            speed: r.output_tps,
            quality: e.0,
            cost: r.cost_per_request,
        })
        .collect();
    let front = frontier(&cands);
    let points = kept
        .iter()
        .enumerate()
        .map(|(i, (r, (q, iv, n)))| ParetoPoint {
            label: r.label.clone(),
            speed: r.output_tps,
            quality: *q,
            interval: iv.map(|i| (i.low, i.high)),
            n: *n,
            cost_per_100k: r.cost_per_request * 1e5,
            on_frontier: front.contains(&i),
            load: r.load.describe(),
        })
        .collect();
    let labelled: Vec<(String, &RunLoad)> = kept.iter().map(|(r, _)| (r.label.clone(), &r.load)).collect();
    ParetoView {
        measure: Some(measure),
        points,
        left_off,
        loads: compare(&labelled),
    }
}

/// A candidate: higher speed and quality are better, lower cost is better.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub speed: f64,
    pub quality: f64,
    pub cost: f64,
}

/// Indexes of the candidates on the Pareto frontier: none is dominated, i.e. no other candidate
/// is at least as good on all three and strictly better on one.
pub fn frontier(c: &[Candidate]) -> Vec<usize> {
    (0..c.len())
        .filter(|&i| {
            !c.iter().enumerate().any(|(j, o)| {
                j != i
                    && o.speed >= c[i].speed
                    && o.quality >= c[i].quality
                    && o.cost <= c[i].cost
                    && (o.speed > c[i].speed || o.quality > c[i].quality || o.cost < c[i].cost)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dominated_run_is_off_the_frontier() {
        let c = vec![
            Candidate {
                speed: 10.0,
                quality: 0.5,
                cost: 1.0,
            },
            Candidate {
                speed: 5.0,
                quality: 0.9,
                cost: 2.0,
            },
            Candidate {
                speed: 4.0,
                quality: 0.4,
                cost: 3.0,
            }, // worse than both on everything
        ];
        assert_eq!(frontier(&c), vec![0, 1]);
    }

    fn quality(grades: Option<(f64, Option<f64>, u64)>, schema: Option<u64>, answered: u64) -> RunQuality {
        RunQuality {
            answered,
            json_found: answered,
            schema_valid: schema,
            mean_grade: grades.map(|g| g.0),
            grade_ci: grades.and_then(|g| g.1),
            grades: grades.map(|g| g.2).unwrap_or(0),
            ..Default::default()
        }
    }

    #[test]
    fn a_chart_uses_one_quality_measure_the_one_most_runs_have() {
        let graded = quality(Some((4.0, Some(0.5), 10)), Some(90), 100);
        let ungraded = quality(None, Some(80), 100);
        assert_eq!(
            QualityMeasure::common(&[&graded, &ungraded, &ungraded.clone()]),
            Some(QualityMeasure::SchemaValid)
        );
        assert_eq!(
            QualityMeasure::common(&[&graded, &graded.clone(), &ungraded]),
            Some(QualityMeasure::MeanGrade)
        );
        assert_eq!(
            QualityMeasure::MeanGrade.estimate(&ungraded),
            None,
            "an ungraded run is left off, not mixed in"
        );
        let (v, i, n) = QualityMeasure::SchemaValid.estimate(&graded).expect("estimate");
        assert!((v - 90.0).abs() < 1e-9 && n == 100 && i.expect("wilson").low < 90.0);
    }

    #[test]
    fn the_view_leaves_off_runs_without_the_measure_and_names_the_loads() {
        let run = |label: &str, q: RunQuality, tps: f64, cost: f64, c: u32| ParetoRun {
            label: label.into(),
            output_tps: tps,
            quality: q,
            cost_per_request: cost,
            load: RunLoad {
                shape: Some(format!("concurrency {c}")),
                ..Default::default()
            },
        };
        let runs = [
            run("a", quality(Some((4.0, Some(0.3), 20)), None, 20), 100.0, 1e-5, 16),
            run("b", quality(Some((3.0, Some(0.3), 20)), None, 20), 300.0, 1e-5, 32),
            run("c", quality(None, Some(5), 10), 500.0, 1e-6, 16),
        ];
        let v = pareto_view(&runs);
        assert_eq!(v.measure, Some(QualityMeasure::MeanGrade));
        assert_eq!(v.left_off, vec!["c".to_string()]);
        assert!(v.points.iter().all(|p| p.on_frontier));
        let caption = v.caption();
        assert!(
            caption.contains("mean reviewer grade") && caption.contains("Left off") && caption.contains("Not like for like"),
            "{caption}"
        );
    }

    #[test]
    fn a_grade_mean_without_spread_has_no_interval_on_the_chart() {
        let q = quality(Some((3.0, Some(0.0), 2)), None, 2);
        assert_eq!(QualityMeasure::MeanGrade.estimate(&q).map(|e| e.1), Some(None));
    }

    #[test]
    fn equal_runs_both_stay() {
        let c = vec![
            Candidate {
                speed: 1.0,
                quality: 1.0,
                cost: 1.0
            };
            2
        ];
        assert_eq!(frontier(&c), vec![0, 1]);
    }
}
