//! Planning a bulk device-value change: which machines change (current → new), which already
//! have the value, what it costs, and the plan that restores the previous values.
//!
//! `setDeviceValue` has no bulk form, so every machine that changes is one call; the cost of a
//! plan is therefore its machine count, paced by the same budget as every other call
//! ([`pacing_ms`] runs core's own [`RateLimiter`] over it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use thiserror::Error;

use crate::api::{self, ApiRequest};
use crate::model::{DeviceValue, DeviceValueError, Machine, MachineId};
use crate::plan::ExpectedOutcome;
use crate::throttle::{Acquire, RateLimiter, RateLimits};

/// A target machine and what is known of its device value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceValueState {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, for display.
    pub name: Option<String>,
    /// Its current value; `None` when unknown (the call is then sent anyway).
    pub current: Option<DeviceValue>,
}

impl From<&Machine> for DeviceValueState {
    fn from(m: &Machine) -> Self {
        Self {
            id: m.id.clone(),
            name: m.computer_dns_name.clone(),
            current: m.device_value.clone(),
        }
    }
}

/// One machine's line of a device-value plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceValueOutcome {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, if known.
    pub name: Option<String>,
    /// Its value when planned (`None`: unknown).
    pub current: Option<DeviceValue>,
    /// The value it is to have (always settable).
    pub target: DeviceValue,
    /// What to expect: already in place means no call.
    pub expected: ExpectedOutcome,
}

impl DeviceValueOutcome {
    /// Whether this machine gets a call.
    pub fn is_called(&self) -> bool {
        self.expected != ExpectedOutcome::AlreadyInPlace
    }

    /// The request for this machine (an error only for a target that is not settable, which
    /// the constructors never plan).
    pub fn to_request(&self) -> Result<ApiRequest, DeviceValueError> {
        api::set_device_value(&self.id, &self.target)
    }
}

/// A planned device-value change: one line per distinct machine, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceValuePlan {
    /// The machines.
    pub outcomes: Vec<DeviceValueOutcome>,
    /// Machines listed more than once (each is planned once), with their count.
    pub duplicates: Vec<(MachineId, usize)>,
}

/// Why a restore cannot put a machine back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RestoreError {
    /// Its value before the run was not known.
    #[error("its device value before the run is not known")]
    UnknownBefore,
    /// Its value before the run is one `setDeviceValue` does not accept.
    #[error(transparent)]
    NotSettable(#[from] DeviceValueError),
}

impl DeviceValuePlan {
    /// Plans setting `target` on `machines`: duplicates merged (a known value wins over an
    /// unknown one), machines that already have `target` left out of the calls. A target
    /// `setDeviceValue` would refuse is refused here, before anything is planned.
    pub fn new(
        target: &DeviceValue,
        machines: &[DeviceValueState],
    ) -> Result<DeviceValuePlan, DeviceValueError> {
        if !target.is_settable() {
            return Err(DeviceValueError::NotSettable {
                found: target.as_str().to_owned(),
            });
        }
        let (merged, duplicates) = merge(machines.iter().map(|m| (m, target.clone())));
        Ok(DeviceValuePlan {
            outcomes: merged,
            duplicates,
        })
    }

    /// The plan that puts each of `machines` back to its value before a run (`current` there
    /// is the value the run set, `target` of `before` the value to restore). Machines whose
    /// earlier value is unknown or not settable cannot be restored and are returned apart.
    pub fn restore(
        machines: &[(DeviceValueState, Option<DeviceValue>)],
    ) -> (DeviceValuePlan, Vec<(DeviceValueState, RestoreError)>) {
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        for (state, before) in machines {
            match before {
                None => refused.push((state.clone(), RestoreError::UnknownBefore)),
                Some(v) if !v.is_settable() => refused.push((
                    state.clone(),
                    RestoreError::NotSettable(DeviceValueError::NotSettable {
                        found: v.as_str().to_owned(),
                    }),
                )),
                Some(v) => ok.push((state, v.clone())),
            }
        }
        let (outcomes, duplicates) = merge(ok.into_iter());
        (
            DeviceValuePlan {
                outcomes,
                duplicates,
            },
            refused,
        )
    }

    /// The machines that get a call, in order.
    pub fn called(&self) -> impl Iterator<Item = &DeviceValueOutcome> {
        self.outcomes.iter().filter(|o| o.is_called())
    }

    /// API calls: one per machine that changes (there is no bulk endpoint).
    pub fn calls(&self) -> usize {
        self.called().count()
    }

    /// The least time the calls take under `limits` from an unused budget (see [`pacing_ms`]).
    pub fn pacing_ms(&self, limits: RateLimits) -> u64 {
        pacing_ms(self.calls(), limits)
    }
}

/// Merges duplicates and decides each machine's expected outcome against its target.
fn merge<'a>(
    items: impl Iterator<Item = (&'a DeviceValueState, DeviceValue)>,
) -> (Vec<DeviceValueOutcome>, Vec<(MachineId, usize)>) {
    let mut index: HashMap<MachineId, usize> = HashMap::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut out: Vec<DeviceValueOutcome> = Vec::new();
    for (m, target) in items {
        match index.entry(m.id.clone()) {
            Entry::Occupied(e) => {
                let i = *e.get();
                counts[i] += 1;
                let existing = &mut out[i];
                if existing.current.is_none() {
                    existing.current = m.current.clone();
                }
                if existing.name.is_none() {
                    existing.name = m.name.clone();
                }
            }
            Entry::Vacant(e) => {
                e.insert(out.len());
                counts.push(1);
                out.push(DeviceValueOutcome {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    current: m.current.clone(),
                    target,
                    expected: ExpectedOutcome::WillChange,
                });
            }
        }
    }
    for o in &mut out {
        o.expected = match &o.current {
            None => ExpectedOutcome::UnknownSendAnyway,
            // The API stores the value as sent; the comparison is exact, as decoding keeps the
            // documented spelling for known values.
            Some(v) if *v == o.target => ExpectedOutcome::AlreadyInPlace,
            Some(_) => ExpectedOutcome::WillChange,
        };
    }
    let duplicates = out
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 1)
        .map(|(o, n)| (o.id.clone(), *n))
        .collect();
    (out, duplicates)
}

/// The least time, in ms, that `calls` calls take when each is granted by core's
/// [`RateLimiter`] under `limits`, starting from an unused budget, with calls taking no time:
/// the wait the pacing itself imposes (100 calls fit in the first minute, the next 100 one
/// minute later, and past 1,500 the hourly window holds them back).
pub fn pacing_ms(calls: usize, limits: RateLimits) -> u64 {
    let mut limiter = RateLimiter::new(limits);
    let mut now = 0u64;
    for _ in 0..calls {
        loop {
            match limiter.try_acquire(now) {
                Acquire::Granted => break,
                Acquire::Wait { ms } => now = now.saturating_add(ms.max(1)),
            }
        }
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u32) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    fn state(n: u32, current: Option<DeviceValue>) -> DeviceValueState {
        DeviceValueState {
            id: id(n),
            name: Some(format!("ws-{n}")),
            current,
        }
    }

    #[test]
    fn plans_one_call_per_machine_that_changes() {
        let machines = [
            state(1, Some(DeviceValue::Normal)),
            state(2, Some(DeviceValue::High)),
            state(3, None),
            state(1, Some(DeviceValue::Normal)),
        ];
        let plan = DeviceValuePlan::new(&DeviceValue::High, &machines).unwrap();
        let expected: Vec<_> = plan.outcomes.iter().map(|o| o.expected).collect();
        assert_eq!(
            expected,
            vec![
                ExpectedOutcome::WillChange,
                ExpectedOutcome::AlreadyInPlace,
                ExpectedOutcome::UnknownSendAnyway
            ]
        );
        assert_eq!(plan.calls(), 2);
        assert_eq!(plan.duplicates, vec![(id(1), 2)]);
        let request = plan.outcomes[0].to_request().unwrap();
        assert_eq!(
            request.path,
            format!("/api/machines/{}/setDeviceValue", id(1))
        );
        assert_eq!(request.body.as_deref(), Some(r#"{"DeviceValue":"High"}"#));
    }

    #[test]
    fn a_value_the_api_refuses_is_refused_before_planning() {
        let err = DeviceValuePlan::new(&DeviceValue::Other("Critical".into()), &[state(1, None)])
            .unwrap_err();
        assert!(err.to_string().contains("Critical"), "{err}");
    }

    #[test]
    fn restore_targets_each_machines_previous_value_and_lists_what_it_cannot() {
        let (plan, refused) = DeviceValuePlan::restore(&[
            (state(1, Some(DeviceValue::High)), Some(DeviceValue::Low)),
            (state(2, Some(DeviceValue::High)), None),
            (
                state(3, Some(DeviceValue::High)),
                Some(DeviceValue::Other("Weird".into())),
            ),
            (state(4, Some(DeviceValue::High)), Some(DeviceValue::High)),
        ]);
        assert_eq!(plan.outcomes.len(), 2);
        assert_eq!(plan.outcomes[0].target, DeviceValue::Low);
        assert_eq!(plan.outcomes[0].expected, ExpectedOutcome::WillChange);
        assert_eq!(plan.outcomes[1].expected, ExpectedOutcome::AlreadyInPlace);
        assert_eq!(plan.calls(), 1);
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[0].1, RestoreError::UnknownBefore);
        assert!(matches!(refused[1].1, RestoreError::NotSettable(_)));
    }

    #[test]
    fn pacing_follows_the_documented_windows() {
        let l = RateLimits::DOCUMENTED;
        assert_eq!(pacing_ms(0, l), 0);
        assert_eq!(pacing_ms(100, l), 0);
        assert_eq!(pacing_ms(101, l), 60_000);
        assert_eq!(pacing_ms(250, l), 120_000);
        // Past 1,500 calls the hourly window holds the 1,501st back to the first call's hour.
        assert_eq!(pacing_ms(1_501, l), 3_600_000);
    }

    fn value() -> impl Strategy<Value = Option<DeviceValue>> {
        prop_oneof![
            Just(None),
            Just(Some(DeviceValue::Low)),
            Just(Some(DeviceValue::Normal)),
            Just(Some(DeviceValue::High)),
        ]
    }

    proptest! {
        /// Every distinct machine has one line; exactly those not already at the target are
        /// called; applying the plan then its restore brings every known settable value back.
        #[test]
        fn plan_then_restore_round_trips(
            machines in proptest::collection::vec((0u32..20, value()), 0..60),
            target in 0usize..3,
        ) {
            let target = DeviceValue::SETTABLE[target].clone();
            let states: Vec<_> = machines.iter().map(|(n, v)| state(*n, v.clone())).collect();
            let plan = DeviceValuePlan::new(&target, &states).unwrap();
            let mut distinct: Vec<u32> = machines.iter().map(|(n, _)| *n).collect();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(plan.outcomes.len(), distinct.len());
            for o in &plan.outcomes {
                prop_assert_eq!(o.is_called(), o.current.as_ref() != Some(&target));
            }
            // Simulate the run: every called machine ends at the target.
            let after: Vec<(DeviceValueState, Option<DeviceValue>)> = plan
                .called()
                .map(|o| {
                    (
                        DeviceValueState { id: o.id.clone(), name: o.name.clone(), current: Some(o.target.clone()) },
                        o.current.clone(),
                    )
                })
                .collect();
            let (restore, refused) = DeviceValuePlan::restore(&after);
            prop_assert_eq!(restore.outcomes.len() + refused.len(), plan.calls());
            for o in &restore.outcomes {
                let was = plan.outcomes.iter().find(|p| p.id == o.id).and_then(|p| p.current.clone());
                prop_assert_eq!(Some(o.target.clone()), was);
            }
        }
    }
}
