//! The simulator's prefix cache, as vLLM's automatic prefix caching works: a prompt is cut into
//! full blocks (16 tokens; the simulator counts 4 bytes a token, so 64 bytes), each block named
//! by a hash chained over every block before it, so a block is found only when the whole prefix
//! up to it was seen. A new prompt's leading blocks that are cached are hits: their prefill is
//! skipped (a shorter TTFT). The cache holds at most `capacity` blocks and forgets the least
//! recently used first. `/metrics` exports the lookups and hits in tokens, as vLLM does
//! (`vllm:prefix_cache_queries_total`, `vllm:prefix_cache_hits_total`).

use std::collections::{BTreeMap, HashMap};

/// Bytes of prompt text per simulated token (see `answer::prompt_tokens`).
pub const BYTES_PER_TOKEN: usize = 4;

#[derive(Debug, Default)]
pub struct PrefixCache {
    capacity: usize,
    tick: u64,
    /// Block hash -> when it was last used.
    used: HashMap<u64, u64>,
    /// When -> block hash (the least recently used first).
    order: BTreeMap<u64, u64>,
}

/// The chained hashes of the prompt's full blocks of `block_bytes` (FNV-1a, seeded by the
/// previous block's hash).
pub fn block_hashes(prompt: &[u8], block_bytes: usize) -> Vec<u64> {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    prompt
        .chunks_exact(block_bytes.max(1))
        .map(|block| {
            h = block.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
            h
        })
        .collect()
}

impl PrefixCache {
    pub fn new(capacity_blocks: usize) -> PrefixCache {
        PrefixCache {
            capacity: capacity_blocks,
            ..Default::default()
        }
    }

    /// Blocks held now.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }

    /// How many of the prompt's leading blocks are cached (stopping at the first that is not);
    /// then every block of the prompt is kept, as the most recently used.
    pub fn lookup_and_keep(&mut self, hashes: &[u64]) -> usize {
        if self.capacity == 0 {
            return 0;
        }
        let hits = hashes.iter().take_while(|h| self.used.contains_key(h)).count();
        for h in hashes {
            self.tick += 1;
            if let Some(old) = self.used.insert(*h, self.tick) {
                self.order.remove(&old);
            }
            self.order.insert(self.tick, *h);
        }
        while self.used.len() > self.capacity {
            match self.order.pop_first() {
                Some((_, h)) => {
                    self.used.remove(&h);
                }
                None => break,
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(prefix: &str, n: usize) -> Vec<u8> {
        format!("{prefix}{}", "x".repeat(n)).into_bytes()
    }

    #[test]
    fn a_prompt_seen_before_is_all_hits_and_a_new_one_none() {
        let mut c = PrefixCache::new(100);
        let p = block_hashes(&prompt("alpha ", 250), 64);
        assert_eq!(p.len(), 4, "256 bytes: four full blocks of 64, the partial one not cached");
        assert_eq!(c.lookup_and_keep(&p), 0);
        assert_eq!(c.lookup_and_keep(&p), 4);
        assert_eq!(c.lookup_and_keep(&block_hashes(&prompt("beta! ", 250), 64)), 0);
    }

    #[test]
    fn only_the_shared_leading_blocks_hit() {
        let mut c = PrefixCache::new(100);
        let shared = "s".repeat(128);
        let a = block_hashes(format!("{shared}{}", "a".repeat(128)).as_bytes(), 64);
        let b = block_hashes(format!("{shared}{}", "b".repeat(128)).as_bytes(), 64);
        c.lookup_and_keep(&a);
        assert_eq!(c.lookup_and_keep(&b), 2, "the two shared blocks, not the different ones");
        // The same block text after a different prefix is a different block.
        let d = block_hashes(format!("{}{shared}", "d".repeat(64)).as_bytes(), 64);
        assert_eq!(c.lookup_and_keep(&d), 0);
    }

    #[test]
    fn the_least_recently_used_blocks_go_first_beyond_capacity() {
        let mut c = PrefixCache::new(4);
        let (a, b) = (block_hashes(&prompt("a", 127), 64), block_hashes(&prompt("b", 127), 64));
        c.lookup_and_keep(&a);
        c.lookup_and_keep(&b);
        assert_eq!(c.len(), 4);
        c.lookup_and_keep(&a); // a is now the most recent
        let e = block_hashes(&prompt("e", 127), 64);
        c.lookup_and_keep(&e); // evicts b
        assert_eq!(c.len(), 4);
        assert_eq!(c.lookup_and_keep(&a), 2);
        assert_eq!(c.lookup_and_keep(&b), 0, "b was evicted");
    }

    #[test]
    fn a_cache_of_no_capacity_is_off() {
        let mut c = PrefixCache::new(0);
        let p = block_hashes(&prompt("p", 200), 64);
        c.lookup_and_keep(&p);
        assert_eq!(c.lookup_and_keep(&p), 0);
        assert!(c.is_empty());
    }
}
