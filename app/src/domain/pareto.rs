//! Which runs are worth considering: those no other run beats on speed, quality and cost at once.

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
