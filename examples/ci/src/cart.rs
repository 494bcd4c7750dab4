//! A cart: line items with quantities; adding an item already in the cart adds to its
//! quantity.

use crate::money::Cents;

/// A product as it is sold: its name, unit price and unit weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineItem {
    pub name: String,
    pub unit_price: Cents,
    pub unit_weight_grams: u32,
}

impl LineItem {
    pub fn new(name: &str, unit_price: Cents, unit_weight_grams: u32) -> LineItem {
        LineItem {
            name: name.to_owned(),
            unit_price,
            unit_weight_grams,
        }
    }
}

/// The items in a cart and how many of each.
#[derive(Clone, Debug, Default)]
pub struct Cart {
    lines: Vec<(LineItem, u32)>,
}

impl Cart {
    /// Adds `quantity` of `item`; a quantity of zero changes nothing.
    pub fn add(&mut self, item: LineItem, quantity: u32) {
        if quantity == 0 {
            return;
        }
        match self
            .lines
            .iter_mut()
            .find(|(line, _)| line.name == item.name)
        {
            Some((_, held)) => *held += quantity,
            None => self.lines.push((item, quantity)),
        }
    }

    /// Takes out up to `quantity` of the item named `name`; the line goes when none is left.
    pub fn remove(&mut self, name: &str, quantity: u32) {
        if let Some(position) = self.lines.iter().position(|(line, _)| line.name == name) {
            let held = &mut self.lines[position].1;
            *held = held.saturating_sub(quantity);
            if *held == 0 {
                self.lines.remove(position);
            }
        }
    }

    /// How many of the item named `name` the cart holds.
    pub fn quantity_of(&self, name: &str) -> u32 {
        self.lines
            .iter()
            .find(|(line, _)| line.name == name)
            .map_or(0, |(_, quantity)| *quantity)
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn subtotal(&self) -> Cents {
        self.lines
            .iter()
            .fold(Cents::ZERO, |sum, (line, quantity)| {
                sum + line.unit_price * *quantity
            })
    }

    pub fn weight_grams(&self) -> u32 {
        self.lines
            .iter()
            .map(|(line, quantity)| line.unit_weight_grams * quantity)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mug() -> LineItem {
        LineItem::new("mug", Cents(1_250), 350)
    }

    #[test]
    fn an_empty_cart_costs_nothing() {
        let cart = Cart::default();
        assert!(cart.is_empty());
        assert_eq!(cart.subtotal(), Cents::ZERO);
        assert_eq!(cart.weight_grams(), 0);
    }

    #[test]
    fn adding_the_same_item_twice_adds_up_the_quantity() {
        let mut cart = Cart::default();
        cart.add(mug(), 1);
        cart.add(mug(), 2);
        assert_eq!(cart.quantity_of("mug"), 3);
        assert_eq!(cart.subtotal(), Cents(3_750));
    }

    #[test]
    fn adding_zero_items_changes_nothing() {
        let mut cart = Cart::default();
        cart.add(mug(), 0);
        assert!(cart.is_empty());
    }

    #[test]
    fn removing_every_unit_removes_the_line() {
        let mut cart = Cart::default();
        cart.add(mug(), 2);
        cart.remove("mug", 5);
        assert!(cart.is_empty());
    }

    #[test]
    fn removing_an_unknown_item_changes_nothing() {
        let mut cart = Cart::default();
        cart.add(mug(), 2);
        cart.remove("teapot", 1);
        assert_eq!(cart.quantity_of("mug"), 2);
    }

    #[test]
    fn weight_counts_every_unit() {
        let mut cart = Cart::default();
        cart.add(mug(), 2);
        cart.add(LineItem::new("tea", Cents(899), 250), 1);
        assert_eq!(cart.weight_grams(), 950);
    }
}
