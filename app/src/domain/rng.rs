//! A small seeded random number generator with the same output on every platform (native and
//! wasm32), so a seed means the same schedule, sample or demo dataset everywhere.
//!
//! SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
//! 2014; constants as in Vigna's reference `splitmix64.c`). Not for cryptography.

#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator derived from a seed and a string (e.g. a `custom_id`), independent of order.
    pub fn keyed(seed: u64, key: &str) -> Self {
        // FNV-1a over the key, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut g = SplitMix64::new(seed ^ h);
        g.next_u64();
        g
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Exponential with the given mean (inverse-CDF: -mean * ln(1 - U)).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.next_f64()).ln()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = {
            let mut g = SplitMix64::new(7);
            (0..5).map(|_| g.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut g = SplitMix64::new(7);
            (0..5).map(|_| g.next_u64()).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn matches_the_reference_implementation() {
        // splitmix64.c with x = 0: first output 0xe220a8397b1dcdaf.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn exponential_mean_is_close_to_requested() {
        let mut g = SplitMix64::new(1);
        let n = 100_000;
        let m: f64 = (0..n).map(|_| g.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((m - 2.0).abs() < 0.05, "{m}");
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut g = SplitMix64::new(3);
        assert!((0..10_000).map(|_| g.next_f64()).all(|x| (0.0..1.0).contains(&x)));
    }
}
