//! A shopping cart's pricing rules: money in cents, line items, discount codes, sales
//! tax by region and shipping by weight, put together into a checkout total.
//!
//! It is an ordinary library with ordinary `#[test]` unit tests (and one integration
//! test file, `tests/checkout.rs`). Its point in this repository is its test suite:
//! built with `cargo test --no-run --target wasm32-wasip2`, the test binary is a WASI
//! component that wasmkube runs sharded over the pods of an Indexed Job (see README.md).

pub mod cart;
pub mod discount;
pub mod money;
pub mod shipping;
pub mod tax;

use cart::Cart;
use discount::DiscountCode;
use money::Cents;
use shipping::ShippingMethod;
use tax::Region;

/// What a checkout costs, part by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub subtotal: Cents,
    pub discount: Cents,
    pub tax: Cents,
    pub shipping: Cents,
    pub total: Cents,
}

/// Prices a cart: the discount comes off the subtotal, tax is charged on what is left,
/// and shipping (never taxed, never discounted) is added last.
pub fn checkout(
    cart: &Cart,
    code: Option<&DiscountCode>,
    region: Region,
    method: ShippingMethod,
) -> Receipt {
    let subtotal = cart.subtotal();
    let discount = code.map_or(Cents::ZERO, |code| code.amount_off(subtotal));
    let taxable = subtotal.saturating_sub(discount);
    let tax = region.tax_on(taxable);
    let shipping = method.cost(cart.weight_grams(), subtotal);
    Receipt {
        subtotal,
        discount,
        tax,
        shipping,
        total: taxable + tax + shipping,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Whether a bug was injected into `area` for a demonstration: a CI run with
    /// `CI_EXAMPLE_BREAK=discount` makes one discount test expect a wrong value, so that
    /// the failing path of a sharded run can be shown without building a second binary.
    pub fn bug_injected(area: &str) -> bool {
        std::env::var("CI_EXAMPLE_BREAK")
            .is_ok_and(|areas| areas.split(',').any(|broken| broken.trim() == area))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cart::LineItem;

    fn cart() -> Cart {
        let mut cart = Cart::default();
        cart.add(LineItem::new("mug", Cents(1_250), 350), 2);
        cart.add(LineItem::new("tea", Cents(899), 250), 1);
        cart
    }

    #[test]
    fn checkout_without_a_code_adds_tax_and_shipping() {
        let receipt = checkout(&cart(), None, Region::Oregon, ShippingMethod::Standard);
        assert_eq!(receipt.subtotal, Cents(3_399));
        assert_eq!(receipt.discount, Cents::ZERO);
        assert_eq!(receipt.tax, Cents::ZERO);
        assert_eq!(receipt.shipping, Cents(599));
        assert_eq!(receipt.total, Cents(3_998));
    }

    #[test]
    fn checkout_taxes_the_discounted_amount() {
        let code = DiscountCode::parse("SAVE10").expect("SAVE10 is a known code");
        let receipt = checkout(
            &cart(),
            Some(&code),
            Region::California,
            ShippingMethod::Standard,
        );
        assert_eq!(receipt.discount, Cents(340));
        // 7.25% of 30.59, rounded half up.
        assert_eq!(receipt.tax, Cents(222));
        assert_eq!(receipt.total, Cents(3_059 + 222 + 599));
    }
}
