//! front-end: the shop's web page and a JSON API over the same actions, built from the
//! catalogue, cart and orders services. A customer is a cookie (`customer`), made up on
//! the first request that comes without one.
//!
//! - `GET /`: the page. `POST /cart` (form: `product_id`, `quantity`) and `POST /orders`
//!   (form: nothing) act and answer `303 See Other` back to `/`.
//! - `GET /api/products`, `GET /api/cart`, `POST /api/cart` (JSON: `product_id`,
//!   `quantity`), `GET /api/orders`, `POST /api/orders` (orders the cart).
//! - `GET /healthz`: 200 as soon as the server answers; it does not call the backends,
//!   so that one backend being down does not take the page away (the page says which
//!   one is missing instead).

mod backends;
mod page;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::SystemTime;

pub use backends::{BackendError, Backends};

use crate::http::form::{cookie, form_value, parse_form};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::server::Next;
use crate::json::{self, Value};
use crate::model::{MAXIMUM_QUANTITY, Order, Product, is_identifier, lines_to_json};
use page::{PageContent, error_page, render};

/// The cookie that names the customer.
const CUSTOMER_COOKIE: &str = "customer";

/// The front-end's settings and its backends.
pub struct FrontEnd {
    pub backends: Backends,
    /// The pod's name, shown in the page's footer.
    pub pod_name: String,
}

/// A notice the page shows after a redirect, by its key in the query.
fn notice(key: &str) -> Option<&'static str> {
    match key {
        "added" => Some("Added to your cart."),
        "ordered" => Some("Thank you! Your order is placed."),
        "empty-cart" => Some("Your cart is empty: add something first."),
        _ => None,
    }
}

/// The customer the request's cookie names, or a new one (and the cookie to set).
fn customer_of(request: &Request) -> (String, Option<String>) {
    let known = request
        .header("cookie")
        .and_then(|header| cookie(header, CUSTOMER_COOKIE))
        .filter(|customer| is_identifier(customer));
    match known {
        Some(customer) => (customer.to_owned(), None),
        None => {
            // std's RandomState is seeded from the platform's random source (WASI's
            // random interface in a guest), so a hash from a new one is a random number.
            // (A guest has no process id to hash: `std::process::id` panics on WASI.)
            let customer = format!("{:016x}", RandomState::new().hash_one(SystemTime::now()));
            let set_cookie =
                format!("{CUSTOMER_COOKIE}={customer}; Path=/; HttpOnly; SameSite=Lax");
            (customer, Some(set_cookie))
        }
    }
}

/// The quantity field of a form or document: 1 when absent, else a whole number from 1
/// to the maximum.
fn parse_quantity(text: Option<&str>) -> Result<u64, String> {
    match text.map(str::trim) {
        None | Some("") => Ok(1),
        Some(text) => text
            .parse()
            .ok()
            .filter(|quantity| (1..=MAXIMUM_QUANTITY).contains(quantity))
            .ok_or_else(|| {
                format!("the quantity must be a whole number from 1 to {MAXIMUM_QUANTITY}")
            }),
    }
}

fn checked_product_id(text: Option<&str>) -> Result<&str, String> {
    text.filter(|id| is_identifier(id))
        .ok_or_else(|| "product_id must name a product of the catalogue".to_owned())
}

fn backend_failure(error: &BackendError) -> Response {
    Response::json_error(error.status(), &error.to_string())
}

impl FrontEnd {
    /// Answers one request.
    pub fn handle(&self, request: &Request) -> (Response, Next) {
        if request.path() == "/healthz" {
            return (Response::text(200, "ok\n"), Next::Continue);
        }
        let (customer, set_cookie) = customer_of(request);
        let method = request.method.as_str();
        let response = match (method, request.path()) {
            ("GET" | "HEAD", "/") => self.page(&customer, request),
            ("POST", "/cart") => self.add_from_form(&customer, request),
            ("POST", "/orders") => self.order_from_form(&customer),
            ("GET" | "HEAD", "/api/products") => match self.backends.products() {
                Ok(products) => Response::json(
                    200,
                    &Value::Array(products.iter().map(Product::to_json).collect()),
                ),
                Err(error) => backend_failure(&error),
            },
            ("GET" | "HEAD", "/api/cart") => match self.backends.cart(&customer) {
                Ok(lines) => Response::json(200, &cart_document(&customer, &lines)),
                Err(error) => backend_failure(&error),
            },
            ("POST", "/api/cart") => self.add_from_json(&customer, request),
            ("GET" | "HEAD", "/api/orders") => match self.backends.orders(&customer) {
                Ok(orders) => Response::json(200, &orders_document(&orders)),
                Err(error) => backend_failure(&error),
            },
            ("POST", "/api/orders") => match self.backends.place_order(&customer) {
                Ok(Some(order)) => Response::json(201, &order.to_json()),
                Ok(None) => Response::json_error(409, "the cart is empty"),
                Err(error) => backend_failure(&error),
            },
            (_, "/" | "/cart" | "/orders" | "/api/products" | "/api/cart" | "/api/orders") => {
                Response::text(405, "method not allowed\n")
            }
            _ => Response::text(404, "not found\n"),
        };
        let response = match set_cookie {
            Some(set_cookie) => response.with_header("Set-Cookie", set_cookie),
            None => response,
        };
        (response, Next::Continue)
    }

    fn page(&self, customer: &str, request: &Request) -> Response {
        let query = parse_form(request.query());
        let content = PageContent {
            customer,
            pod_name: &self.pod_name,
            backends: self.backends.describe(),
            notice: form_value(&query, "notice").and_then(notice),
            products: self.backends.products(),
            cart: self.backends.cart(customer),
            orders: self.backends.orders(customer),
        };
        Response::html(200, render(&content))
    }

    fn add_from_form(&self, customer: &str, request: &Request) -> Response {
        let form = parse_form(&request.body_text());
        let added = checked_product_id(form_value(&form, "product_id")).and_then(|product_id| {
            let quantity = parse_quantity(form_value(&form, "quantity"))?;
            self.backends
                .add_to_cart(customer, product_id, quantity)
                .map_err(|error| error.to_string())
        });
        match added {
            Ok(_) => Response::see_other("/?notice=added"),
            Err(problem) => Response::html(400, error_page(&problem)),
        }
    }

    fn order_from_form(&self, customer: &str) -> Response {
        match self.backends.place_order(customer) {
            Ok(Some(_)) => Response::see_other("/?notice=ordered"),
            Ok(None) => Response::see_other("/?notice=empty-cart"),
            Err(error) => Response::html(error.status(), error_page(&error.to_string())),
        }
    }

    fn add_from_json(&self, customer: &str, request: &Request) -> Response {
        let document = match json::parse(&request.body_text()) {
            Ok(document) => document,
            Err(error) => return Response::json_error(400, &error.to_string()),
        };
        let quantity = document.get("quantity").map(|quantity| match quantity {
            Value::Number(text) => text.clone(),
            _ => "not a number".to_owned(),
        });
        let product_id =
            match checked_product_id(document.get("product_id").and_then(Value::as_str)) {
                Ok(product_id) => product_id,
                Err(problem) => return Response::json_error(400, &problem),
            };
        let quantity = match parse_quantity(quantity.as_deref()) {
            Ok(quantity) => quantity,
            Err(problem) => return Response::json_error(400, &problem),
        };
        match self.backends.add_to_cart(customer, product_id, quantity) {
            Ok(cart) => Response::json(201, &cart),
            Err(error) => backend_failure(&error),
        }
    }
}

fn cart_document(customer: &str, lines: &[crate::model::Line]) -> Value {
    Value::Object(vec![
        ("customer".to_owned(), Value::string(customer)),
        ("items".to_owned(), lines_to_json(lines)),
        (
            "total_cents".to_owned(),
            Value::from_u64(crate::model::total_cents(lines).unwrap_or(u64::MAX)),
        ),
    ])
}

fn orders_document(orders: &[Order]) -> Value {
    Value::Object(vec![(
        "orders".to_owned(),
        Value::Array(orders.iter().map(Order::to_json).collect()),
    )])
}
