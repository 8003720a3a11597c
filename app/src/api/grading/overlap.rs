//! Agreement inside one queue, where its items overlap: the items judged by two or more
//! reviewers (by design with K >= 2, or because everyone judges everything in a queue without K).

use crate::domain::stats::Interval;
use serde::{Deserialize, Serialize};

/// Two reviewers over the items both judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub between: String,
    pub n: usize,
    pub exact: Option<f64>,
    pub kappa: Option<f64>,
    pub interval: Option<Interval>,
}

/// A queue's agreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueAgreement {
    /// What is compared, and how disagreements are weighed.
    pub what: String,
    /// Items judged by two or more reviewers: the n of alpha.
    pub overlapping: usize,
    pub alpha: Option<f64>,
    pub alpha_interval: Option<Interval>,
    pub pairs: Vec<PairRow>,
}

/// Grades (overall, 1-5: quadratic kappa, interval alpha) or votes (four categories: unweighted
/// kappa, nominal alpha), as the queue's kind says.
#[cfg(feature = "ssr")]
pub async fn queue_agreement(
    db: &crate::db::Db,
    queue_id: i64,
    kind: crate::domain::views::QueueKind,
) -> Result<QueueAgreement, crate::api::error::AppError> {
    use crate::domain::agreement::{overlap, AlphaMetric, Weights};
    use crate::domain::views::{QueueKind, VoteChoice};
    let judgements = crate::db::reviewers::judgements(db, queue_id).await?;
    let vote_index = |c: VoteChoice| match c {
        VoteChoice::A => 0,
        VoteChoice::B => 1,
        VoteChoice::Tie => 2,
        VoteChoice::BothBad => 3,
    };
    let ratings: Vec<(String, i64, usize)> = judgements
        .into_iter()
        .filter_map(|j| {
            let c = match kind {
                QueueKind::Grade => usize::try_from(j.overall?.clamp(1, 5) - 1).ok()?,
                QueueKind::Pairwise => vote_index(j.choice?),
            };
            Some((j.item_id, j.user_id, c))
        })
        .collect();
    let (what, o) = match kind {
        QueueKind::Grade => (
            "overall grade (1-5): Cohen's kappa with quadratic weights, Krippendorff's alpha (interval)",
            overlap(&ratings, 5, Weights::Quadratic, AlphaMetric::Interval),
        ),
        QueueKind::Pairwise => (
            "vote (a, b, tie, both bad): Cohen's kappa unweighted, Krippendorff's alpha (nominal)",
            overlap(&ratings, 4, Weights::None, AlphaMetric::Nominal),
        ),
    };
    let names: std::collections::HashMap<i64, String> = crate::db::users::list(db).await?.into_iter().map(|u| (u.id, u.name)).collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("user #{id}"));
    Ok(QueueAgreement {
        what: what.into(),
        overlapping: o.items,
        alpha: o.alpha,
        alpha_interval: o.alpha_interval,
        pairs: o
            .pairs
            .into_iter()
            .map(|p| PairRow {
                between: format!("{} and {}", name(p.a), name(p.b)),
                n: p.n,
                exact: p.exact,
                kappa: p.kappa,
                interval: p.interval,
            })
            .collect(),
    })
}
