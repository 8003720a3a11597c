//! Dealing a queue's items to its reviewers: each item to exactly K distinct reviewers, the
//! reviewers' loads balanced, the same deal from the same seed.
//!
//! Greedy least-loaded: items are taken in queue order, and each goes to the K reviewers with the
//! fewest items so far, ties broken by a random order drawn per item from the queue's seed. With
//! nothing fixed beforehand the loads then differ by at most one (before each item the loads lie
//! in {m, m+1}; the K lowest are taken, so after it they lie in {m, m+1} or {m+1, m+2}), and the
//! random ties spread the overlaps over every pair of reviewers, which pairwise agreement needs.
//!
//! A re-deal (a reviewer added or removed) keeps every judgement already made: an item's judges
//! count towards its K (whether or not they are still reviewers), and only its remaining places
//! are dealt, to reviewers who have not judged it, counting each reviewer's kept items in their
//! load.

use super::rng::SplitMix64;
use std::collections::BTreeSet;

/// Why a queue cannot be dealt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DealError {
    #[error("grades per item must be at least 1")]
    NoGrades,
    #[error(
        "each item needs {k} grades from different reviewers, but {n} reviewer{s} assigned: assign at least {k} reviewers, or ask for fewer grades per item",
        s = if *n == 1 { " is" } else { "s are" }
    )]
    TooFewReviewers { k: usize, n: usize },
}

/// Who judges each item: `reviewers` (user ids) and `k` grades per item; `kept[i]` the users
/// whose judgement of item `i` stays (missing entries: none). Returns, per item, its kept judges
/// followed by the reviewers dealt to it (each item then has max(k, kept) distinct judges).
pub fn deal(items: usize, reviewers: &[i64], k: usize, kept: &[BTreeSet<i64>], seed: u64) -> Result<Vec<Vec<i64>>, DealError> {
    deal_barred(items, reviewers, k, kept, &[], seed)
}

/// [`deal`], where `barred[i]` are the reviewers who may not take item `i` (they have seen who
/// wrote its answer, in a closed queue's reveal). An item with fewer reviewers left than its
/// places gets only those.
pub fn deal_barred(
    items: usize,
    reviewers: &[i64],
    k: usize,
    kept: &[BTreeSet<i64>],
    barred: &[BTreeSet<i64>],
    seed: u64,
) -> Result<Vec<Vec<i64>>, DealError> {
    let pool: Vec<i64> = reviewers.iter().copied().collect::<BTreeSet<i64>>().into_iter().collect();
    if k == 0 {
        return Err(DealError::NoGrades);
    }
    if k > pool.len() {
        return Err(DealError::TooFewReviewers { k, n: pool.len() });
    }
    let none = BTreeSet::new();
    let kept_of = |i: usize| kept.get(i).unwrap_or(&none);
    // Loads start with the items each reviewer keeps.
    let mut load: Vec<usize> = pool
        .iter()
        .map(|r| (0..items).filter(|i| kept_of(*i).contains(r)).count())
        .collect();
    let mut g = SplitMix64::new(seed ^ 0xdea1);
    let mut out = Vec::with_capacity(items);
    for i in 0..items {
        let fixed = kept_of(i);
        let mut judges: Vec<i64> = fixed.iter().copied().collect();
        let wanted = k.saturating_sub(fixed.len());
        // Reviewers who may still take this item, in a random order, then by load (stable sort).
        let bars = barred.get(i).unwrap_or(&none);
        let mut free: Vec<usize> = (0..pool.len())
            .filter(|r| !fixed.contains(&pool[*r]) && !bars.contains(&pool[*r]))
            .collect();
        super::sampling::shuffle(&mut free, &mut g);
        free.sort_by_key(|r| load[*r]);
        for r in free.into_iter().take(wanted) {
            load[r] += 1;
            judges.push(pool[r]);
        }
        out.push(judges);
    }
    Ok(out)
}

/// How many items each reviewer got in a deal, in the order of `reviewers`.
pub fn loads(deal: &[Vec<i64>], reviewers: &[i64]) -> Vec<usize> {
    reviewers
        .iter()
        .map(|r| deal.iter().filter(|judges| judges.contains(r)).count())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barred_reviewer_never_gets_the_item_and_the_others_share_it() {
        let barred = vec![BTreeSet::from([1]), BTreeSet::new(), BTreeSet::from([1, 2, 3])];
        let d = deal_barred(3, &[1, 2, 3], 2, &[], &barred, 11).expect("deal");
        assert!(!d[0].contains(&1) && d[0].len() == 2, "{d:?}");
        assert_eq!(d[1].len(), 2);
        assert!(d[2].is_empty(), "nobody left for it: {d:?}");
        assert_eq!(deal_barred(3, &[1, 2, 3], 2, &[], &[], 11), deal(3, &[1, 2, 3], 2, &[], 11));
    }

    fn distinct(judges: &[i64]) -> bool {
        judges.iter().collect::<BTreeSet<_>>().len() == judges.len()
    }

    #[test]
    fn each_item_goes_to_exactly_k_distinct_reviewers_with_loads_within_one() {
        for (items, n, k) in [(9, 3, 2), (10, 4, 2), (7, 5, 3), (100, 6, 1), (13, 3, 3), (1, 4, 2)] {
            let reviewers: Vec<i64> = (1..=n).collect();
            let d = deal(items, &reviewers, k, &[], 42).expect("deal");
            assert_eq!(d.len(), items);
            assert!(d.iter().all(|j| j.len() == k && distinct(j)), "{items} {n} {k}: {d:?}");
            assert!(d.iter().flatten().all(|r| reviewers.contains(r)));
            let l = loads(&d, &reviewers);
            let (lo, hi) = (*l.iter().min().expect("min"), *l.iter().max().expect("max"));
            assert!(hi - lo <= 1, "{items} {n} {k}: loads {l:?}");
            assert_eq!(l.iter().sum::<usize>(), items * k);
        }
    }

    #[test]
    fn nine_items_two_grades_three_reviewers_is_six_each_and_every_pair_overlaps() {
        let d = deal(9, &[10, 20, 30], 2, &[], 7).expect("deal");
        assert_eq!(loads(&d, &[10, 20, 30]), vec![6, 6, 6]);
        for (a, b) in [(10, 20), (10, 30), (20, 30)] {
            let both = d.iter().filter(|j| j.contains(&a) && j.contains(&b)).count();
            assert!(both > 0, "{a} and {b} share no item: {d:?}");
        }
    }

    #[test]
    fn the_same_seed_deals_the_same_and_another_seed_differently() {
        let r = [3, 1, 2, 5, 4];
        let a = deal(40, &r, 2, &[], 99).expect("deal");
        assert_eq!(a, deal(40, &r, 2, &[], 99).expect("deal"));
        // The order reviewers are listed in does not matter.
        assert_eq!(a, deal(40, &[5, 4, 3, 2, 1], 2, &[], 99).expect("deal"));
        assert_ne!(a, deal(40, &r, 2, &[], 100).expect("deal"));
    }

    #[test]
    fn more_grades_per_item_than_reviewers_is_refused_with_what_to_do() {
        let e = deal(5, &[1, 2], 3, &[], 1).expect_err("k > n");
        assert_eq!(e, DealError::TooFewReviewers { k: 3, n: 2 });
        let msg = e.to_string();
        assert!(
            msg.contains("3 grades") && msg.contains("2 reviewers are assigned") && msg.contains("assign at least 3"),
            "{msg}"
        );
        // Duplicates are one reviewer.
        assert!(deal(5, &[1, 1], 2, &[], 1).is_err());
        assert_eq!(deal(5, &[1, 2], 0, &[], 1), Err(DealError::NoGrades));
        assert!(DealError::TooFewReviewers { k: 2, n: 1 }
            .to_string()
            .contains("1 reviewer is assigned"));
    }

    #[test]
    fn adding_a_reviewer_keeps_every_graded_assignment_and_rebalances_the_rest() {
        let first = deal(12, &[1, 2, 3], 2, &[], 5).expect("deal");
        // Reviewer 1 graded all of theirs, reviewer 2 the first two of theirs.
        let mut kept: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); 12];
        let mut seen2 = 0;
        for (i, j) in first.iter().enumerate() {
            if j.contains(&1) {
                kept[i].insert(1);
            }
            if j.contains(&2) && seen2 < 2 {
                kept[i].insert(2);
                seen2 += 1;
            }
        }
        let again = deal(12, &[1, 2, 3, 4], 2, &kept, 5).expect("re-deal");
        for (i, j) in again.iter().enumerate() {
            assert!(kept[i].iter().all(|u| j.contains(u)), "item {i} lost a graded judge: {j:?}");
            assert!(j.len() == 2 && distinct(j), "item {i}: {j:?}");
        }
        let l = loads(&again, &[1, 2, 3, 4]);
        assert_eq!(l[0], 8, "reviewer 1 keeps their 8 graded items and gets no more");
        assert!(l[3] >= 4, "the new reviewer takes a share: {l:?}");
        assert!(l[1].abs_diff(l[2]) <= 1 && l[2].abs_diff(l[3]) <= 1, "{l:?}");
    }

    #[test]
    fn a_removed_reviewers_judgements_still_count_towards_k() {
        let kept = vec![BTreeSet::from([9]), BTreeSet::from([9, 1]), BTreeSet::new()];
        let d = deal(3, &[1, 2], 2, &kept, 3).expect("deal");
        assert_eq!(d[0].len(), 2, "one more judge besides the removed reviewer 9");
        assert!(d[0].contains(&9));
        assert_eq!(d[1], vec![1, 9], "already judged twice: nothing dealt");
        assert_eq!(d[2].len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn any_fresh_deal_gives_k_distinct_judges_per_item_and_loads_within_one(items in 0usize..60, n in 1i64..8, k_off in 0usize..8, seed in proptest::prelude::any::<u64>()) {
            let reviewers: Vec<i64> = (100..100 + n).collect();
            let k = 1 + k_off % n as usize;
            let d = deal(items, &reviewers, k, &[], seed).expect("k <= n");
            proptest::prop_assert!(d.iter().all(|j| j.len() == k && distinct(j)));
            let l = loads(&d, &reviewers);
            let (lo, hi) = (l.iter().min().copied().unwrap_or(0), l.iter().max().copied().unwrap_or(0));
            proptest::prop_assert!(hi - lo <= 1, "loads {:?}", l);
        }

        #[test]
        fn any_re_deal_keeps_what_was_judged(items in 1usize..40, n in 2i64..6, seed in proptest::prelude::any::<u64>(), judged_mask in proptest::prelude::any::<u64>()) {
            let reviewers: Vec<i64> = (1..=n).collect();
            let first = deal(items, &reviewers, 2, &[], seed).expect("deal");
            // Some of the dealt judges have judged (bits of the mask), then a reviewer joins.
            let kept: Vec<BTreeSet<i64>> = first
                .iter()
                .enumerate()
                .map(|(i, j)| j.iter().copied().filter(|r| (judged_mask >> ((i * 2 + *r as usize) % 64)) & 1 == 1).collect())
                .collect();
            let mut more = reviewers.clone();
            more.push(n + 1);
            let again = deal(items, &more, 2, &kept, seed).expect("re-deal");
            for (i, j) in again.iter().enumerate() {
                proptest::prop_assert!(kept[i].iter().all(|u| j.contains(u)));
                proptest::prop_assert!(j.len() == 2 && distinct(j));
            }
        }
    }
}
