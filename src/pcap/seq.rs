//! TCP sequence numbers: 32-bit values compared modulo 2^32.
//!
//! Ordering is only meaningful between numbers less than 2^31 apart
//! (RFC 793 / RFC 1982 serial arithmetic), which holds inside any live
//! TCP window. That is why [`SeqNumber`] implements `PartialOrd` but not
//! `Ord`: it is not a total order.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

/// A TCP sequence number with wrapping arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (`self - other`).
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Sub for SeqNumber {
    type Output = i32;
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.diff(rhs)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn wraps_and_compares_across_zero() {
        let near_end = SeqNumber(u32::MAX - 1);
        let after = near_end + 5;
        assert_eq!(after, SeqNumber(3));
        assert_eq!(after - near_end, 5);
        assert_eq!(near_end - after, -5);
        assert!(after > near_end);
        assert!(near_end < after);
    }
}
