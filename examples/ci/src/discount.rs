//! Discount codes: a percentage off (capped), or a fixed amount off above a minimum spend.

use crate::money::Cents;

/// A discount code the shop accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscountCode {
    /// `basis_points` off the subtotal, at most `cap`.
    Percent { basis_points: u64, cap: Cents },
    /// `amount` off when the subtotal is at least `minimum_spend`.
    Fixed { amount: Cents, minimum_spend: Cents },
}

/// Why a code was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscountError {
    Unknown(String),
}

impl DiscountCode {
    /// The code a customer typed, in any case and with surrounding spaces.
    pub fn parse(typed: &str) -> Result<DiscountCode, DiscountError> {
        match typed.trim().to_ascii_uppercase().as_str() {
            "SAVE10" => Ok(DiscountCode::Percent {
                basis_points: 1_000,
                cap: Cents(5_000),
            }),
            "WELCOME5" => Ok(DiscountCode::Fixed {
                amount: Cents(500),
                minimum_spend: Cents(2_500),
            }),
            _ => Err(DiscountError::Unknown(typed.to_owned())),
        }
    }

    /// What the code takes off `subtotal`: never more than the subtotal itself.
    pub fn amount_off(&self, subtotal: Cents) -> Cents {
        let off = match self {
            DiscountCode::Percent { basis_points, cap } => {
                subtotal.percent_basis_points(*basis_points).min(*cap)
            }
            DiscountCode::Fixed {
                amount,
                minimum_spend,
            } => {
                if subtotal >= *minimum_spend {
                    *amount
                } else {
                    Cents::ZERO
                }
            }
        };
        off.min(subtotal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bug_injected;

    #[test]
    fn codes_are_read_in_any_case() {
        assert_eq!(
            DiscountCode::parse(" save10 "),
            DiscountCode::parse("SAVE10")
        );
    }

    #[test]
    fn an_unknown_code_is_refused() {
        assert_eq!(
            DiscountCode::parse("FREESTUFF"),
            Err(DiscountError::Unknown("FREESTUFF".to_owned()))
        );
    }

    #[test]
    fn percent_off_the_subtotal() {
        let code = DiscountCode::parse("SAVE10").expect("SAVE10 is a known code");
        // With CI_EXAMPLE_BREAK=discount the test expects 15% instead of 10%: the bug a
        // demonstration injects to show a failing shard.
        let expected = if bug_injected("discount") {
            Cents(600)
        } else {
            Cents(400)
        };
        assert_eq!(code.amount_off(Cents(4_000)), expected);
    }

    #[test]
    fn percent_off_is_capped() {
        let code = DiscountCode::parse("SAVE10").expect("SAVE10 is a known code");
        assert_eq!(code.amount_off(Cents(100_000)), Cents(5_000));
    }

    #[test]
    fn fixed_amount_needs_the_minimum_spend() {
        let code = DiscountCode::parse("WELCOME5").expect("WELCOME5 is a known code");
        assert_eq!(code.amount_off(Cents(2_499)), Cents::ZERO);
        assert_eq!(code.amount_off(Cents(2_500)), Cents(500));
    }

    #[test]
    fn never_more_than_the_subtotal() {
        let code = DiscountCode::Fixed {
            amount: Cents(500),
            minimum_spend: Cents::ZERO,
        };
        assert_eq!(code.amount_off(Cents(300)), Cents(300));
    }
}
