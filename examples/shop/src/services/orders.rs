//! orders: the placed orders, kept in a JSON file in a volume (an emptyDir, so they last
//! as long as the pod).
//!
//! - `GET /orders?customer={customer}`: `{"orders": [...]}`, that customer's orders, the
//!   newest first.
//! - `POST /orders` with `{"customer", "items"}`: places an order (the total is worked
//!   out here, from the lines); 201 and the order.
//! - `GET /healthz`: 200.

use std::path::PathBuf;

use crate::http::form::{form_value, parse_form};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::server::Next;
use crate::json::{self, Value};
use crate::model::{ModelError, Order, is_identifier, lines_from_json, total_cents};
use crate::storage::{JsonFile, now_rfc3339};

/// Where the orders are kept when `$ORDERS_DATA_FILE` names no other file.
pub const DEFAULT_DATA_FILE: &str = "/var/lib/orders/orders.json";

/// The orders and where they are kept.
pub struct Orders {
    file: JsonFile,
    orders: Vec<Order>,
}

impl Orders {
    pub fn load(data_file: PathBuf) -> Result<Orders, String> {
        let file = JsonFile::new(data_file);
        let saved = file
            .load()
            .map_err(|error| format!("cannot load {}: {error}", file.path().display()))?;
        let orders = match saved {
            Some(Value::Array(items)) => items
                .iter()
                .map(Order::from_json)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|ModelError(problem)| format!("{}: {problem}", file.path().display()))?,
            Some(_) => return Err(format!("{} is not a JSON array", file.path().display())),
            None => Vec::new(),
        };
        println!(
            "orders: restored {} order(s) from {}",
            orders.len(),
            file.path().display()
        );
        Ok(Orders { file, orders })
    }

    fn place(&mut self, body: &str) -> Response {
        let value = match json::parse(body) {
            Ok(value) => value,
            Err(error) => return Response::json_error(400, &error.to_string()),
        };
        let Some(customer) = value
            .get("customer")
            .and_then(Value::as_str)
            .filter(|customer| is_identifier(customer))
        else {
            return Response::json_error(400, "\"customer\" must be a customer id");
        };
        let lines = match lines_from_json(value.get("items")) {
            Ok(lines) if lines.is_empty() => {
                return Response::json_error(400, "an order needs at least one item");
            }
            Ok(lines) => lines,
            Err(ModelError(problem)) => return Response::json_error(400, &problem),
        };
        let Some(total) = total_cents(&lines) else {
            return Response::json_error(400, "the order's total is too large");
        };
        let order = Order {
            id: format!("order-{:05}", self.orders.len() + 1),
            customer: customer.to_owned(),
            lines,
            total_cents: total,
            placed_at: now_rfc3339(),
        };
        self.orders.push(order.clone());
        let document = Value::Array(self.orders.iter().map(Order::to_json).collect());
        if let Err(error) = self.file.save(&document) {
            self.orders.pop();
            return Response::json_error(
                500,
                &format!("cannot save {}: {error}", self.file.path().display()),
            );
        }
        println!(
            "orders: {} placed by {} for {} cents",
            order.id, order.customer, order.total_cents
        );
        Response::json(201, &order.to_json())
    }

    fn list(&self, request: &Request) -> Response {
        let query = parse_form(request.query());
        let customer = form_value(&query, "customer");
        let orders = self
            .orders
            .iter()
            .rev()
            .filter(|order| customer.is_none_or(|customer| order.customer == customer))
            .map(Order::to_json)
            .collect();
        Response::json(
            200,
            &Value::Object(vec![("orders".to_owned(), Value::Array(orders))]),
        )
    }

    /// Answers one request.
    pub fn handle(&mut self, request: &Request) -> (Response, Next) {
        let response = match (request.method.as_str(), request.path()) {
            (_, "/healthz") => Response::text(200, "ok\n"),
            ("GET" | "HEAD", "/orders") => self.list(request),
            ("POST", "/orders") => self.place(&request.body_text()),
            (_, "/orders") => Response::json_error(405, "method not allowed"),
            _ => Response::json_error(404, "not found"),
        };
        (response, Next::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_placed_listed_per_customer_and_kept() {
        let directory = std::env::temp_dir().join(format!("shop-orders-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("a directory");
        let data = directory.join("orders.json");
        let mut orders = Orders::load(data.clone()).expect("an empty start");
        let body = r#"{"customer":"alice","items":[{"product_id":"mug","name":"Mug","price_cents":850,"quantity":3}]}"#;
        let (placed, _) = orders.handle(&Request::without_headers("POST", "/orders", body));
        assert_eq!(placed.status, 201);
        let placed = String::from_utf8_lossy(&placed.body).into_owned();
        assert!(placed.contains("\"id\":\"order-00001\""), "{placed}");
        assert!(placed.contains("\"total_cents\":2550"), "{placed}");
        let empty = r#"{"customer":"alice","items":[]}"#;
        assert_eq!(
            orders
                .handle(&Request::without_headers("POST", "/orders", empty))
                .0
                .status,
            400
        );

        let mut reloaded = Orders::load(data).expect("the saved orders");
        let (alice, _) = reloaded.handle(&Request::without_headers(
            "GET",
            "/orders?customer=alice",
            "",
        ));
        assert!(String::from_utf8_lossy(&alice.body).contains("order-00001"));
        let (bob, _) =
            reloaded.handle(&Request::without_headers("GET", "/orders?customer=bob", ""));
        assert_eq!(String::from_utf8_lossy(&bob.body), "{\"orders\":[]}\n");
        std::fs::remove_dir_all(&directory).expect("cleaned up");
    }
}
