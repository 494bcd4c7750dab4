//! Shipping: standard by weight band, free above a spend; express at a flat rate.

use crate::money::Cents;

/// Orders of at least this much ship standard for free.
pub const FREE_STANDARD_SHIPPING_FROM: Cents = Cents(7_500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShippingMethod {
    Standard,
    Express,
    Pickup,
}

impl ShippingMethod {
    /// What shipping `weight_grams` costs for an order of `subtotal`.
    pub fn cost(self, weight_grams: u32, subtotal: Cents) -> Cents {
        match self {
            ShippingMethod::Pickup => Cents::ZERO,
            ShippingMethod::Express => Cents(1_999),
            ShippingMethod::Standard if subtotal >= FREE_STANDARD_SHIPPING_FROM => Cents::ZERO,
            ShippingMethod::Standard => match weight_grams {
                0..=1_000 => Cents(599),
                1_001..=5_000 => Cents(999),
                _ => Cents(1_499),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_shipping_by_weight_band() {
        assert_eq!(ShippingMethod::Standard.cost(1_000, Cents(100)), Cents(599));
        assert_eq!(ShippingMethod::Standard.cost(1_001, Cents(100)), Cents(999));
        assert_eq!(
            ShippingMethod::Standard.cost(9_000, Cents(100)),
            Cents(1_499)
        );
    }

    #[test]
    fn standard_shipping_is_free_from_the_threshold() {
        assert_eq!(
            ShippingMethod::Standard.cost(9_000, FREE_STANDARD_SHIPPING_FROM),
            Cents::ZERO
        );
    }

    #[test]
    fn express_is_never_free() {
        assert_eq!(
            ShippingMethod::Express.cost(100, Cents(100_000)),
            Cents(1_999)
        );
    }

    #[test]
    fn pickup_is_free() {
        assert_eq!(ShippingMethod::Pickup.cost(20_000, Cents(100)), Cents::ZERO);
    }
}
