//! Money as whole cents, so that sums are exact; percentages round half up, as a till does.

use std::fmt;
use std::ops::{Add, Mul};

/// An amount of money in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cents(pub u64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// `basis_points` hundredths of a percent of this amount, rounded half up.
    pub fn percent_basis_points(self, basis_points: u64) -> Cents {
        Cents((self.0 * basis_points + 5_000) / 10_000)
    }

    /// This amount less `other`, never below zero.
    pub fn saturating_sub(self, other: Cents) -> Cents {
        Cents(self.0.saturating_sub(other.0))
    }
}

impl Add for Cents {
    type Output = Cents;

    fn add(self, other: Cents) -> Cents {
        Cents(self.0 + other.0)
    }
}

impl Mul<u32> for Cents {
    type Output = Cents;

    fn mul(self, quantity: u32) -> Cents {
        Cents(self.0 * u64::from(quantity))
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_dollars_and_cents() {
        assert_eq!(Cents(1_234).to_string(), "$12.34");
        assert_eq!(Cents(5).to_string(), "$0.05");
    }

    #[test]
    fn percent_rounds_half_up() {
        // 10% of $0.05 is half a cent: rounded up.
        assert_eq!(Cents(5).percent_basis_points(1_000), Cents(1));
        assert_eq!(Cents(4).percent_basis_points(1_000), Cents(0));
    }

    #[test]
    fn saturating_sub_stops_at_zero() {
        assert_eq!(Cents(100).saturating_sub(Cents(250)), Cents::ZERO);
        assert_eq!(Cents(300).saturating_sub(Cents(250)), Cents(50));
    }

    #[test]
    fn multiplies_by_a_quantity() {
        assert_eq!(Cents(1_250) * 3, Cents(3_750));
    }
}
