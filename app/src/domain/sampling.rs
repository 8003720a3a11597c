//! Which answers reviewers see: a stratified random sample, so rare answers (a Strong No, a
//! handback) are not left out by chance.

use super::rng::SplitMix64;
use std::collections::BTreeMap;

/// Pick `size` ids from `(id, stratum)` pairs: each stratum gets its share (largest remainder),
/// at least one where possible, chosen at random (seeded). The result is shuffled.
pub fn stratified_sample(items: &[(String, String)], size: usize, seed: u64) -> Vec<String> {
    let size = size.min(items.len());
    if size == 0 {
        return Vec::new();
    }
    let mut strata: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, s) in items {
        strata.entry(s.as_str()).or_default().push(id.as_str());
    }
    let n = items.len() as f64;
    let mut quota: Vec<(&str, usize, f64)> = strata
        .iter()
        .map(|(s, ids)| {
            let exact = ids.len() as f64 * size as f64 / n;
            (*s, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    // Give every stratum one if the size allows, then the largest remainders.
    if size >= quota.len() {
        for q in quota.iter_mut().filter(|q| q.1 == 0) {
            q.1 = 1;
            q.2 = -1.0;
        }
    }
    let mut assigned: usize = quota.iter().map(|q| q.1).sum();
    while assigned > size {
        if let Some(q) = quota.iter_mut().filter(|q| q.1 > 1).max_by_key(|q| q.1) {
            q.1 -= 1;
            assigned -= 1;
        } else {
            break;
        }
    }
    let mut order: Vec<usize> = (0..quota.len()).collect();
    order.sort_by(|&a, &b| quota[b].2.total_cmp(&quota[a].2));
    for i in order {
        if assigned >= size {
            break;
        }
        if quota[i].1 < strata[quota[i].0].len() {
            quota[i].1 += 1;
            assigned += 1;
        }
    }
    let mut g = SplitMix64::new(seed);
    let mut out = Vec::new();
    for (s, take, _) in quota {
        let mut ids: Vec<&str> = strata[s].clone();
        shuffle(&mut ids, &mut g);
        out.extend(ids.into_iter().take(take).map(str::to_string));
    }
    shuffle(&mut out, &mut g);
    out
}

/// Fisher-Yates.
pub fn shuffle<T>(v: &mut [T], g: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        let j = g.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = (0..90).map(|i| (format!("y{i}"), "Yes".to_string())).collect();
        v.extend((0..9).map(|i| (format!("n{i}"), "No".to_string())));
        v.push(("sn".into(), "Strong No".into()));
        v
    }

    #[test]
    fn every_stratum_is_represented_in_proportion() {
        let s = stratified_sample(&items(), 20, 1);
        assert_eq!(s.len(), 20);
        assert!(s.contains(&"sn".to_string()), "the rare stratum is kept");
        let no = s.iter().filter(|x| x.starts_with('n')).count();
        assert!((1..=3).contains(&no), "{no}");
        let unique: std::collections::HashSet<_> = s.iter().collect();
        assert_eq!(unique.len(), 20);
    }

    #[test]
    fn same_seed_same_sample_and_size_is_capped() {
        assert_eq!(stratified_sample(&items(), 10, 4), stratified_sample(&items(), 10, 4));
        assert_eq!(stratified_sample(&items(), 1000, 4).len(), 100);
    }
}
