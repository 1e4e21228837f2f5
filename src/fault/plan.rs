//! Which rules apply to which connection.
//!
//! A rule with a chance (`p=`, `seed=`) applies to a connection when a
//! hash of the seed, the rule's number and the connection's number (its
//! order of arrival, from 1) falls under `p`: no hidden random state, so
//! the same seed and the same order of connections fault the same ones.

use super::{DirTap, Rule};
use crate::wire::Direction;

/// The rules given to `record` or `replay`, in order (rule numbers count from 1).
#[derive(Clone, Debug, Default)]
pub struct Plan {
    rules: Vec<Rule>,
}

/// The taps of one connection: one per direction that has a rule.
#[derive(Debug)]
pub struct ConnFaults {
    /// For the client's frames.
    pub c2s: Option<DirTap>,
    /// For the server's frames.
    pub s2c: Option<DirTap>,
}

impl Plan {
    /// A plan of these rules.
    pub fn new(rules: Vec<Rule>) -> Plan {
        Plan { rules }
    }

    /// True if there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The taps for connection number `seq` (from 1), or `None` if no rule
    /// applies to it: that connection is relayed untouched.
    pub fn for_connection(&self, seq: u64) -> Option<ConnFaults> {
        let applies = |(i, r): &(usize, &Rule)| r.chance.is_none_or(|c| draw(c.seed, *i as u64 + 1, seq) < c.p);
        let chosen: Vec<(usize, Rule)> =
            self.rules.iter().enumerate().filter(applies).map(|(i, r)| (i + 1, r.clone())).collect();
        let tap = |dir| {
            let mine: Vec<_> = chosen.iter().filter(|(_, r)| r.dir == dir).cloned().collect();
            (!mine.is_empty()).then(|| DirTap::new(dir, mine))
        };
        let faults = ConnFaults { c2s: tap(Direction::ClientToServer), s2c: tap(Direction::ServerToClient) };
        (faults.c2s.is_some() || faults.s2c.is_some()).then_some(faults)
    }
}

/// A number in [0, 1) from the seed, the rule and the connection (SplitMix64).
fn draw(seed: u64, rule: u64, seq: u64) -> f64 {
    let mut x = seed ^ rule.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seq.wrapping_mul(0xd1b5_4a32_d192_ed03);
    for _ in 0..2 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}
