//! A sliding-window rate limiter with an injected clock.

use std::collections::VecDeque;

use super::RetryAfter;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;

/// Call budgets per sliding minute and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    per_minute: u32,
    per_hour: u32,
}

impl RateLimits {
    /// The documented budget of every machine endpoint: 100 calls/min and 1,500 calls/h
    /// (per application + tenant).
    pub const DOCUMENTED: RateLimits = RateLimits {
        per_minute: 100,
        per_hour: 1_500,
    };

    /// The advanced hunting budget: 45 calls/min and 1,500 calls/h per tenant (the retired
    /// Defender hunting API's documented quota, assumed for Graph's `runHuntingQuery`; see
    /// `crate::hunting::HUNTING_LIMITS`).
    pub const HUNTING: RateLimits = RateLimits {
        per_minute: 45,
        per_hour: 1_500,
    };

    /// Custom budgets (e.g. a safety margin, or the emulator's). Zero is raised to one, so the
    /// limiter can always make progress.
    pub fn new(per_minute: u32, per_hour: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            per_hour: per_hour.max(1),
        }
    }

    /// Calls allowed per sliding minute.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Calls allowed per sliding hour.
    pub fn per_hour(&self) -> u32 {
        self.per_hour
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::DOCUMENTED
    }
}

/// The outcome of [`RateLimiter::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// The call may be made now; it has been counted.
    Granted,
    /// Wait this long, then ask again.
    Wait {
        /// Milliseconds to wait.
        ms: u64,
    },
}

/// How much of the budget is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Calls in the last 60 s, calls in flight included.
    pub minute: u32,
    /// Calls in the last hour, calls in flight included.
    pub hour: u32,
    /// The minute budget.
    pub minute_limit: u32,
    /// The hour budget.
    pub hour_limit: u32,
    /// Milliseconds until a call may be made (0 = now).
    pub wait_ms: u64,
}

/// Counts calls in sliding windows and says how long to wait so that no 60 s window holds
/// more than `per_minute` calls and no 3,600 s window more than `per_hour`.
///
/// The clock is injected: pass Unix-epoch milliseconds (JS `Date.now()`), scaled if you run the
/// emulator faster than real time. A clock that steps backwards is treated as standing still.
/// One limiter should serve every endpoint: whether the service counts per endpoint or overall
/// is unconfirmed, and sharing is the safe reading.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    /// Times of granted calls within the last hour, ascending.
    calls: VecDeque<u64>,
    /// Grant times of calls from [`RateLimiter::try_begin`] whose answer has not arrived yet.
    /// They hold a slot in both windows until settled, however long they take: the service may
    /// count such a call at any moment up to its answer.
    in_flight: Vec<u64>,
    blocked_until: u64,
    last_now: u64,
}

impl RateLimiter {
    /// A limiter with the given budgets.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            calls: VecDeque::new(),
            in_flight: Vec::new(),
            blocked_until: 0,
            last_now: 0,
        }
    }

    /// A limiter over calls already known: `counted` answered calls (the times they count
    /// from, any order), `in_flight` grants still awaiting their answer, and a block (Retry-After)
    /// until `blocked_until`. This is how a budget shared with other clients is judged: their
    /// calls, read from a common ledger, fill the windows exactly as this client's own would.
    pub fn from_calls(
        limits: RateLimits,
        mut counted: Vec<u64>,
        in_flight: Vec<u64>,
        blocked_until: u64,
    ) -> Self {
        counted.sort_unstable();
        Self {
            limits,
            calls: counted.into(),
            in_flight,
            blocked_until,
            last_now: 0,
        }
    }

    /// A limiter with the documented budget.
    pub fn documented() -> Self {
        Self::new(RateLimits::DOCUMENTED)
    }

    /// The budgets.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    fn clamp(&self, now_ms: u64) -> u64 {
        now_ms.max(self.last_now)
    }

    /// Counted calls with `t > now - window`, i.e. still inside a window ending now.
    fn counted_in_window(&self, now: u64, window: u64) -> usize {
        let start = self
            .calls
            .partition_point(|&t| t.saturating_add(window) <= now);
        self.calls.len() - start
    }

    /// Calls holding a slot of a window ending now: the counted ones inside it and every call
    /// still in flight.
    fn in_window(&self, now: u64, window: u64) -> usize {
        self.counted_in_window(now, window) + self.in_flight.len()
    }

    fn window_wait(&self, now: u64, window: u64, limit: u32) -> u64 {
        let counted = self.counted_in_window(now, window);
        let count = counted + self.in_flight.len();
        let limit = limit as usize;
        if count < limit {
            return 0;
        }
        // `count - limit + 1` calls must leave the window first, oldest counted call first.
        let must_leave = count - limit + 1;
        if must_leave > counted {
            // Only a call in flight can free the slot, and it leaves no sooner than a whole
            // window after its answer, which has not arrived: ask again after a window.
            return window;
        }
        let first = self.calls.len() - counted;
        self.calls
            .get(first + must_leave - 1)
            .map_or(0, |&t| t.saturating_add(window).saturating_sub(now))
    }

    /// Milliseconds until a call may be made (0 = now). Does not count anything.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        let now = self.clamp(now_ms);
        let blocked = self.blocked_until.saturating_sub(now);
        blocked
            .max(self.window_wait(now, MINUTE_MS, self.limits.per_minute))
            .max(self.window_wait(now, HOUR_MS, self.limits.per_hour))
    }

    /// Counts a call at `now_ms` if the budget allows it, else says how long to wait.
    pub fn try_acquire(&mut self, now_ms: u64) -> Acquire {
        let now = self.clamp(now_ms);
        self.last_now = now;
        self.prune(now);
        match self.wait_ms(now) {
            0 => {
                self.calls.push_back(now);
                Acquire::Granted
            }
            ms => Acquire::Wait { ms },
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), but the granted call counts as *in flight*: it
    /// holds a slot in both windows until [`settle`](Self::settle) counts it from its answer (or
    /// [`cancel`](Self::cancel) drops it), however long that takes. Use it when several calls
    /// may be in flight at once: a call outliving a window must not free its slot while the
    /// service may still count it.
    pub fn try_begin(&mut self, now_ms: u64) -> Acquire {
        let now = self.clamp(now_ms);
        self.last_now = now;
        self.prune(now);
        match self.wait_ms(now) {
            0 => {
                self.in_flight.push(now);
                Acquire::Granted
            }
            ms => Acquire::Wait { ms },
        }
    }

    /// Drops a call granted by [`try_begin`](Self::try_begin) at `granted_at_ms` that was never
    /// sent (e.g. aborted while its token was fetched): the service never saw it, so it frees
    /// its slot at once. Unknown grants are ignored.
    pub fn cancel(&mut self, granted_at_ms: u64) {
        if let Some(pos) = self.in_flight.iter().position(|&t| t == granted_at_ms) {
            self.in_flight.swap_remove(pos);
        }
    }

    /// Calls granted by [`try_begin`](Self::try_begin) and not yet settled or cancelled.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Moves a call granted at `granted_at_ms` to `done_ms`, when its response (or failure)
    /// arrived.
    ///
    /// The service counts a call when the request reaches it, somewhere between our grant and
    /// the response; token acquisition and network latency vary from call to call. Counting each
    /// call from its response keeps every later grant on the safe side of the service's window
    /// whatever those latencies are, so a client sharing the service's budget gets no 429 from
    /// the skew between the two clocks.
    ///
    /// A call still in flight (from [`try_begin`](Self::try_begin)) leaves the in-flight set and
    /// is counted from `done_ms` (from its grant if `done_ms` is earlier: a clock never runs
    /// backwards here). For a call from [`try_acquire`](Self::try_acquire), unknown or already
    /// expired grants, and a `done_ms` not after the grant, are ignored.
    pub fn settle(&mut self, granted_at_ms: u64, done_ms: u64) {
        if let Some(pos) = self.in_flight.iter().position(|&t| t == granted_at_ms) {
            self.in_flight.swap_remove(pos);
            let done = done_ms.max(granted_at_ms);
            let at = self.calls.partition_point(|&t| t <= done);
            self.calls.insert(at, done);
            return;
        }
        if done_ms <= granted_at_ms {
            return;
        }
        if let Some(pos) = self.calls.iter().rposition(|&t| t == granted_at_ms) {
            self.calls.remove(pos);
            let at = self.calls.partition_point(|&t| t <= done_ms);
            self.calls.insert(at, done_ms);
        }
    }

    fn prune(&mut self, now: u64) {
        while self
            .calls
            .front()
            .is_some_and(|&t| t.saturating_add(HOUR_MS) <= now)
        {
            self.calls.pop_front();
        }
    }

    /// Blocks every call until `until_ms` (e.g. after a 429). Never shortens an existing block.
    pub fn block_until(&mut self, until_ms: u64) {
        self.blocked_until = self.blocked_until.max(until_ms);
    }

    /// Applies a 429's `Retry-After` received at `now_ms`: no call before it has passed.
    pub fn on_retry_after(&mut self, retry_after: &RetryAfter, now_ms: u64) {
        self.block_until(retry_after.until_ms(now_ms));
    }

    /// Current usage, for a live budget display.
    pub fn usage(&self, now_ms: u64) -> Usage {
        let now = self.clamp(now_ms);
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Usage {
            minute: to_u32(self.in_window(now, MINUTE_MS)),
            hour: to_u32(self.in_window(now, HOUR_MS)),
            minute_limit: self.limits.per_minute,
            hour_limit: self.limits.per_hour,
            wait_ms: self.wait_ms(now),
        }
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::documented()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_budget_then_wait_until_the_oldest_call_leaves() {
        let mut l = RateLimiter::documented();
        for i in 0..100 {
            assert_eq!(l.try_acquire(1_000 + i), Acquire::Granted);
        }
        assert_eq!(l.try_acquire(1_100), Acquire::Wait { ms: 59_900 });
        assert_eq!(l.try_acquire(61_000), Acquire::Granted);
        assert_eq!(l.usage(61_000).minute, 100);
    }

    #[test]
    fn a_settled_call_counts_from_its_response() {
        let mut l = RateLimiter::new(RateLimits::new(1, 1_000));
        assert_eq!(l.try_acquire(0), Acquire::Granted);
        // The answer came back 700 ms after the grant: the service may have counted the call as
        // late as that, so its slot frees 700 ms later too.
        l.settle(0, 700);
        assert_eq!(l.try_acquire(60_001), Acquire::Wait { ms: 699 });
        assert_eq!(l.try_acquire(60_700), Acquire::Granted);
        // Settling a time that was never granted, or backwards, changes nothing.
        l.settle(5, 90_000);
        l.settle(60_700, 60_000);
        assert_eq!(l.wait_ms(120_699), 1);
        assert_eq!(l.usage(60_700).minute, 1);
    }

    #[test]
    fn the_next_window_opens_exactly_a_minute_after_each_answer() {
        let mut l = RateLimiter::documented();
        // 100 calls 10 ms apart, each answered 5 ms after its grant.
        for i in 0..100 {
            let granted = 1_000 + i * 10;
            assert_eq!(l.try_acquire(granted), Acquire::Granted);
            l.settle(granted, granted + 5);
        }
        // Call 101 starts the moment the first answer is a minute old, not a millisecond later
        // (no safety margin beyond counting from the answer) and not a millisecond earlier.
        assert_eq!(l.try_acquire(61_004), Acquire::Wait { ms: 1 });
        assert_eq!(l.try_acquire(61_005), Acquire::Granted);
        l.settle(61_005, 61_010);
        // Each later call waits for its own predecessor a window back: at most 100 per minute.
        assert_eq!(l.try_acquire(61_014), Acquire::Wait { ms: 1 });
        assert_eq!(l.try_acquire(61_015), Acquire::Granted);
        assert_eq!(l.usage(61_015).minute, 100);
    }

    #[test]
    fn a_call_in_flight_holds_its_slot_past_the_window_until_its_answer() {
        let mut l = RateLimiter::new(RateLimits::new(2, 1_000));
        assert_eq!(l.try_begin(0), Acquire::Granted);
        assert_eq!(l.try_begin(10), Acquire::Granted);
        assert_eq!(l.in_flight(), 2);
        // Both still in flight two windows later: the service may count them at any moment up
        // to their answers, so no slot is free (a grant-time count would have freed both).
        assert_eq!(l.try_begin(120_000), Acquire::Wait { ms: 60_000 });
        assert_eq!(l.usage(120_000).minute, 2);
        assert_eq!(l.usage(120_000).hour, 2);
        // The first answer arrives: its slot frees a window after it.
        l.settle(0, 130_000);
        assert_eq!(l.in_flight(), 1);
        assert_eq!(l.wait_ms(130_000), 60_000);
        assert_eq!(l.try_begin(189_999), Acquire::Wait { ms: 1 });
        assert_eq!(l.try_begin(190_000), Acquire::Granted);
        // An answer "before" its grant (clock skew) counts from the grant.
        let mut l = RateLimiter::new(RateLimits::new(1, 1_000));
        assert_eq!(l.try_begin(500), Acquire::Granted);
        l.settle(500, 100);
        assert_eq!(l.in_flight(), 0);
        assert_eq!(l.wait_ms(500), 60_000);
    }

    #[test]
    fn a_cancelled_call_was_never_sent_and_frees_its_slot_at_once() {
        let mut l = RateLimiter::new(RateLimits::new(1, 1_000));
        assert_eq!(l.try_begin(0), Acquire::Granted);
        assert_eq!(l.try_begin(1), Acquire::Wait { ms: 60_000 });
        l.cancel(7); // unknown: ignored
        assert_eq!(l.in_flight(), 1);
        l.cancel(0);
        assert_eq!(l.in_flight(), 0);
        assert_eq!(l.try_begin(1), Acquire::Granted);
    }

    /// Calls overlapping in flight, with latencies from a few ms to beyond the hour window: the
    /// service may count each call at any instant between its send and its answer, so for every
    /// send time `T` the calls that *could* fall in a window ending at `T` (sent by `T`, answered
    /// after `T - window`) must fit the budget. Checked for both windows.
    #[test]
    fn overlapping_calls_never_exceed_either_window_whenever_the_service_counts_them() {
        let limits = RateLimits::new(5, 12);
        for seed in 0..40u64 {
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let in_flight_max = 1 + (seed % 4) as usize;
            let mut l = RateLimiter::new(limits);
            let mut now = 0u64;
            // (sent, answered) of every call; in flight = (sent, due answer).
            let mut done: Vec<(u64, u64)> = Vec::new();
            let mut flying: Vec<(u64, u64)> = Vec::new();
            while done.len() + flying.len() < 60 {
                if flying.len() < in_flight_max {
                    match l.try_begin(now) {
                        Acquire::Granted => {
                            let latency = match next(10) {
                                0 => 70_000 + next(4_000_000), // beyond a window, even an hour
                                _ => 1 + next(3_000),
                            };
                            flying.push((now, now + latency));
                            continue;
                        }
                        Acquire::Wait { ms } => assert!(ms > 0),
                    }
                }
                // Advance to the next answer or to the limiter's next opening, whichever first.
                let next_answer = flying.iter().map(|&(_, a)| a).min();
                let opening = (flying.len() < in_flight_max).then(|| now + l.wait_ms(now));
                now = match (next_answer, opening) {
                    (Some(a), Some(o)) => a.min(o),
                    (Some(a), None) => a,
                    (None, Some(o)) => o,
                    (None, None) => unreachable!("nothing in flight and no opening"),
                };
                flying.retain(|&(sent, answered)| {
                    if answered <= now {
                        l.settle(sent, answered);
                        done.push((sent, answered));
                        false
                    } else {
                        true
                    }
                });
            }
            done.extend(flying.iter().copied());
            for &(t, _) in &done {
                for (window, limit) in [(MINUTE_MS, 5), (HOUR_MS, 12)] {
                    let could_count = done
                        .iter()
                        .filter(|&&(s, a)| s <= t && a > t.saturating_sub(window))
                        .count();
                    assert!(
                        could_count <= limit,
                        "seed {seed}: {could_count} calls could count in the {window} ms window \
                         ending at {t}"
                    );
                }
            }
        }
    }

    #[test]
    fn hour_budget() {
        let mut l = RateLimiter::new(RateLimits::new(1_000, 3));
        assert_eq!(l.try_acquire(0), Acquire::Granted);
        assert_eq!(l.try_acquire(10), Acquire::Granted);
        assert_eq!(l.try_acquire(20), Acquire::Granted);
        assert_eq!(l.try_acquire(30), Acquire::Wait { ms: 3_600_000 - 30 });
        assert_eq!(l.try_acquire(3_600_000), Acquire::Granted);
    }

    #[test]
    fn retry_after_blocks_and_backwards_clock_stands_still() {
        let mut l = RateLimiter::documented();
        l.on_retry_after(&RetryAfter::Seconds(5), 10_000);
        assert_eq!(l.try_acquire(12_000), Acquire::Wait { ms: 3_000 });
        l.block_until(11_000);
        assert_eq!(l.wait_ms(12_000), 3_000, "a shorter block never shortens");
        assert_eq!(l.try_acquire(15_000), Acquire::Granted);
        assert_eq!(l.try_acquire(1_000), Acquire::Granted);
        assert_eq!(l.usage(0).minute, 2);
    }
}
