//! Exponential backoff with seeded jitter. A tiny SplitMix64 instead of `rand`: deterministic
//! in tests and a few bytes of wasm.

/// SplitMix64, a small, fast, well-distributed PRNG (not for cryptography).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..=max` (tiny modulo bias; fine for jitter).
    pub fn next_up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Exponential backoff with "equal jitter": attempt `n` waits between half and all of
/// `min(base * 2^(n-1), max)`, so retries spread out but never fire immediately.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    rng: SplitMix64,
}

impl Backoff {
    /// Default base delay.
    pub const DEFAULT_BASE_MS: u64 = 1_000;
    /// Default cap.
    pub const DEFAULT_MAX_MS: u64 = 60_000;

    /// 1 s base, 60 s cap, jitter from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_limits(seed, Self::DEFAULT_BASE_MS, Self::DEFAULT_MAX_MS)
    }

    /// Custom base and cap (the cap is raised to the base if lower).
    pub fn with_limits(seed: u64, base_ms: u64, max_ms: u64) -> Self {
        Self {
            base_ms,
            max_ms: max_ms.max(base_ms),
            rng: SplitMix64::new(seed),
        }
    }

    /// The un-jittered ceiling for attempt `attempt` (1-based; 0 is treated as 1).
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(63);
        self.base_ms.saturating_mul(1_u64 << shift).min(self.max_ms)
    }

    /// The delay before retry number `attempt` (1-based), in `[ceiling/2, ceiling]`.
    pub fn delay_ms(&mut self, attempt: u32) -> u64 {
        let ceiling = self.ceiling_ms(attempt);
        let half = ceiling / 2;
        half + self.rng.next_up_to(ceiling - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let mut b = Backoff::new(42);
        for attempt in 1..=10 {
            let c = b.ceiling_ms(attempt);
            let d = b.delay_ms(attempt);
            assert!(
                d >= c / 2 && d <= c,
                "attempt {attempt}: {d} not in [{}, {c}]",
                c / 2
            );
        }
        assert_eq!(b.ceiling_ms(1), 1_000);
        assert_eq!(b.ceiling_ms(3), 4_000);
        assert_eq!(b.ceiling_ms(100), 60_000);
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_varies() {
        let a: Vec<u64> = (1..=5).map(|n| Backoff::new(7).delay_ms(n)).collect();
        let b: Vec<u64> = (1..=5).map(|n| Backoff::new(7).delay_ms(n)).collect();
        assert_eq!(a, b);
        let mut r = SplitMix64::new(1);
        let draws: std::collections::HashSet<u64> = (0..100).map(|_| r.next_up_to(1_000)).collect();
        assert!(draws.len() > 50, "jitter should spread");
    }
}
