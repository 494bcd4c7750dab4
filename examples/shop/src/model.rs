//! What the services exchange: products, cart lines and orders, to and from JSON.

use std::fmt;

use crate::json::Value;

/// A product of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// Lower-case letters, digits and dashes; what carts and orders refer to.
    pub id: String,
    pub name: String,
    pub description: String,
    pub price_cents: u64,
}

/// A product in a cart or an order: the product's name and price when it was added, and
/// how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub product_id: String,
    pub name: String,
    pub price_cents: u64,
    pub quantity: u64,
}

/// A placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub customer: String,
    pub lines: Vec<Line>,
    pub total_cents: u64,
    /// When it was placed, RFC 3339 in UTC.
    pub placed_at: String,
}

/// A JSON document that does not describe what it should, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelError(pub String);

impl fmt::Display for ModelError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

/// The most of one product a line may hold.
pub const MAXIMUM_QUANTITY: u64 = 1000;

fn text_member(value: &Value, name: &str) -> Result<String, ModelError> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ModelError(format!("the member {name:?} must be a string")))
}

fn number_member(value: &Value, name: &str) -> Result<u64, ModelError> {
    value
        .get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| ModelError(format!("the member {name:?} must be a whole number")))
}

/// Whether `id` is a usable identifier: 1 to 64 lower-case letters, digits, `-` or `_`.
pub fn is_identifier(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
        })
}

/// The sum of a list of lines' prices, or `None` on overflow.
pub fn total_cents(lines: &[Line]) -> Option<u64> {
    lines.iter().try_fold(0u64, |total, line| {
        line.price_cents
            .checked_mul(line.quantity)
            .and_then(|cost| total.checked_add(cost))
    })
}

/// `1299` as `12.99`.
pub fn format_price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

impl Product {
    pub fn from_json(value: &Value) -> Result<Product, ModelError> {
        let id = text_member(value, "id")?;
        if !is_identifier(&id) {
            return Err(ModelError(format!(
                "the product id {id:?} is not 1 to 64 lower-case letters, digits, - or _"
            )));
        }
        Ok(Product {
            id,
            name: text_member(value, "name")?,
            description: value
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            price_cents: number_member(value, "price_cents")?,
        })
    }

    pub fn to_json(&self) -> Value {
        Value::Object(vec![
            ("id".to_owned(), Value::string(&self.id)),
            ("name".to_owned(), Value::string(&self.name)),
            ("description".to_owned(), Value::string(&self.description)),
            ("price_cents".to_owned(), Value::from_u64(self.price_cents)),
        ])
    }
}

/// A list of products from a JSON array, refusing duplicate ids.
pub fn products_from_json(value: &Value) -> Result<Vec<Product>, ModelError> {
    let items = value
        .as_array()
        .ok_or_else(|| ModelError("the catalogue must be a JSON array of products".to_owned()))?;
    let mut products: Vec<Product> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let product = Product::from_json(item)
            .map_err(|error| ModelError(format!("product {index}: {error}")))?;
        if products.iter().any(|known| known.id == product.id) {
            return Err(ModelError(format!(
                "the product id {:?} appears twice",
                product.id
            )));
        }
        products.push(product);
    }
    Ok(products)
}

impl Line {
    pub fn from_json(value: &Value) -> Result<Line, ModelError> {
        let line = Line {
            product_id: text_member(value, "product_id")?,
            name: text_member(value, "name")?,
            price_cents: number_member(value, "price_cents")?,
            quantity: number_member(value, "quantity")?,
        };
        if !(1..=MAXIMUM_QUANTITY).contains(&line.quantity) {
            return Err(ModelError(format!(
                "the quantity must be from 1 to {MAXIMUM_QUANTITY}"
            )));
        }
        Ok(line)
    }

    pub fn to_json(&self) -> Value {
        Value::Object(vec![
            ("product_id".to_owned(), Value::string(&self.product_id)),
            ("name".to_owned(), Value::string(&self.name)),
            ("price_cents".to_owned(), Value::from_u64(self.price_cents)),
            ("quantity".to_owned(), Value::from_u64(self.quantity)),
        ])
    }
}

/// The lines of a JSON array.
pub fn lines_from_json(value: Option<&Value>) -> Result<Vec<Line>, ModelError> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| ModelError("the member \"items\" must be an array".to_owned()))?
        .iter()
        .map(Line::from_json)
        .collect()
}

pub fn lines_to_json(lines: &[Line]) -> Value {
    Value::Array(lines.iter().map(Line::to_json).collect())
}

impl Order {
    pub fn from_json(value: &Value) -> Result<Order, ModelError> {
        Ok(Order {
            id: text_member(value, "id")?,
            customer: text_member(value, "customer")?,
            lines: lines_from_json(value.get("items"))?,
            total_cents: number_member(value, "total_cents")?,
            placed_at: text_member(value, "placed_at")?,
        })
    }

    pub fn to_json(&self) -> Value {
        Value::Object(vec![
            ("id".to_owned(), Value::string(&self.id)),
            ("customer".to_owned(), Value::string(&self.customer)),
            ("items".to_owned(), lines_to_json(&self.lines)),
            ("total_cents".to_owned(), Value::from_u64(self.total_cents)),
            ("placed_at".to_owned(), Value::string(&self.placed_at)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn a_catalogue_is_read_and_checked() {
        let products = products_from_json(
            &parse(r#"[{"id":"socks","name":"Wool socks","price_cents":1299}]"#).expect("JSON"),
        )
        .expect("a catalogue");
        assert_eq!(products[0].name, "Wool socks");
        assert_eq!(products[0].description, "");
        let duplicate = parse(
            r#"[{"id":"a","name":"A","price_cents":1},{"id":"a","name":"B","price_cents":2}]"#,
        )
        .expect("JSON");
        assert!(products_from_json(&duplicate).is_err());
        let bad_id = parse(r#"[{"id":"A B","name":"A","price_cents":1}]"#).expect("JSON");
        assert!(products_from_json(&bad_id).is_err());
    }

    #[test]
    fn orders_round_trip_and_totals_add_up() {
        let lines = vec![
            Line {
                product_id: "socks".to_owned(),
                name: "Wool socks".to_owned(),
                price_cents: 1299,
                quantity: 2,
            },
            Line {
                product_id: "mug".to_owned(),
                name: "Mug".to_owned(),
                price_cents: 850,
                quantity: 1,
            },
        ];
        assert_eq!(total_cents(&lines), Some(3448));
        assert_eq!(format_price(3448), "34.48");
        let order = Order {
            id: "order-00001".to_owned(),
            customer: "c0ffee".to_owned(),
            total_cents: 3448,
            lines,
            placed_at: "2026-01-02T03:04:05Z".to_owned(),
        };
        assert_eq!(Order::from_json(&order.to_json()), Ok(order));
    }

    #[test]
    fn quantities_are_bounded() {
        let line = |quantity: &str| {
            parse(&format!(
                r#"{{"product_id":"a","name":"A","price_cents":1,"quantity":{quantity}}}"#
            ))
            .map(|value| Line::from_json(&value).is_ok())
        };
        assert_eq!(line("1"), Ok(true));
        assert_eq!(line("0"), Ok(false));
        assert_eq!(line("1001"), Ok(false));
        assert_eq!(line("-1"), Ok(false));
        assert_eq!(line("1.5"), Ok(false));
    }
}
