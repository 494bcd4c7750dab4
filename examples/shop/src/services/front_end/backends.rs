//! The services the front-end calls, each at a base URL from its environment: the
//! catalogue and the cart by their Service names (cluster DNS), the orders through the
//! ambassador on the pod's loopback.

use std::fmt;

use crate::http::client::{CallError, authority_of, call_json};
use crate::json::Value;
use crate::model::{Line, ModelError, Order, Product, lines_from_json, products_from_json};

/// Why a call to a backend did not give what the front-end needs.
#[derive(Debug)]
pub enum BackendError {
    Call(CallError),
    /// The backend answered 2xx with a document that does not describe what it should.
    Document {
        service: &'static str,
        problem: String,
    },
}

impl BackendError {
    /// The status to pass on to the front-end's own client: a backend's 4xx is the
    /// client's fault and passed on as it is; anything else is a 502 Bad Gateway.
    pub fn status(&self) -> u16 {
        match self {
            Self::Call(CallError::Status { status, .. }) if (400..500).contains(status) => *status,
            _ => 502,
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Call(error) => error.fmt(formatter),
            Self::Document { service, problem } => {
                write!(
                    formatter,
                    "the {service} service sent a bad document: {problem}"
                )
            }
        }
    }
}

impl std::error::Error for BackendError {}

impl From<CallError> for BackendError {
    fn from(error: CallError) -> BackendError {
        BackendError::Call(error)
    }
}

fn document_error(service: &'static str) -> impl Fn(ModelError) -> BackendError {
    move |ModelError(problem)| BackendError::Document { service, problem }
}

/// Where the backends are: `host:port` of each.
pub struct Backends {
    catalogue: String,
    cart: String,
    orders: String,
}

impl Backends {
    /// From the base URLs (`http://catalogue`, `http://127.0.0.1:8001`, ...).
    pub fn new(
        catalogue_url: &str,
        cart_url: &str,
        orders_url: &str,
    ) -> Result<Backends, CallError> {
        Ok(Backends {
            catalogue: authority_of(catalogue_url)?,
            cart: authority_of(cart_url)?,
            orders: authority_of(orders_url)?,
        })
    }

    /// What the page says about where each backend is.
    pub fn describe(&self) -> String {
        format!(
            "catalogue at {}, cart at {}, orders at {}",
            self.catalogue, self.cart, self.orders
        )
    }

    pub fn products(&self) -> Result<Vec<Product>, BackendError> {
        let value = call_json(&self.catalogue, "GET", "/products", None)?;
        products_from_json(&value).map_err(document_error("catalogue"))
    }

    pub fn product(&self, id: &str) -> Result<Product, BackendError> {
        let value = call_json(&self.catalogue, "GET", &format!("/products/{id}"), None)?;
        Product::from_json(&value).map_err(document_error("catalogue"))
    }

    pub fn cart(&self, customer: &str) -> Result<Vec<Line>, BackendError> {
        let value = call_json(&self.cart, "GET", &format!("/carts/{customer}"), None)?;
        lines_from_json(value.get("items")).map_err(document_error("cart"))
    }

    /// Adds `quantity` of the product `product_id` (looked up in the catalogue for its
    /// name and price) to the customer's cart.
    pub fn add_to_cart(
        &self,
        customer: &str,
        product_id: &str,
        quantity: u64,
    ) -> Result<Value, BackendError> {
        let product = self.product(product_id)?;
        let line = Line {
            product_id: product.id,
            name: product.name,
            price_cents: product.price_cents,
            quantity,
        };
        let path = format!("/carts/{customer}/items");
        Ok(call_json(&self.cart, "POST", &path, Some(&line.to_json()))?)
    }

    /// Orders what is in the customer's cart, then empties the cart; `Ok(None)` when
    /// the cart is empty.
    pub fn place_order(&self, customer: &str) -> Result<Option<Order>, BackendError> {
        let lines = self.cart(customer)?;
        if lines.is_empty() {
            return Ok(None);
        }
        let request = Value::Object(vec![
            ("customer".to_owned(), Value::string(customer)),
            ("items".to_owned(), crate::model::lines_to_json(&lines)),
        ]);
        let placed = call_json(&self.orders, "POST", "/orders", Some(&request))?;
        let order = Order::from_json(&placed).map_err(document_error("orders"))?;
        call_json(&self.cart, "DELETE", &format!("/carts/{customer}"), None)?;
        Ok(Some(order))
    }

    pub fn orders(&self, customer: &str) -> Result<Vec<Order>, BackendError> {
        let value = call_json(
            &self.orders,
            "GET",
            &format!("/orders?customer={customer}"),
            None,
        )?;
        value
            .get("orders")
            .and_then(Value::as_array)
            .ok_or_else(|| BackendError::Document {
                service: "orders",
                problem: "no \"orders\" array".to_owned(),
            })?
            .iter()
            .map(|order| Order::from_json(order).map_err(document_error("orders")))
            .collect()
    }
}
