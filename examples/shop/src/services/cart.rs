//! cart: each customer's cart, kept in a JSON file in a volume and reloaded on start, so
//! that a restarted cart container still has every cart (an emptyDir volume lives as
//! long as the pod, across its containers' restarts). Every change is also appended to
//! a log file, which the pod's logger sidecar prints.
//!
//! - `GET /carts/{customer}`: `{"customer", "items", "total_cents"}`.
//! - `POST /carts/{customer}/items` with a line (`product_id`, `name`, `price_cents`,
//!   `quantity`): adds it (to the same product's line if there is one); 201 and the cart.
//! - `DELETE /carts/{customer}`: empties the cart; 200 and the empty cart.
//! - `POST /admin/exit`: answers, then ends the container with a failure, to show that a
//!   restarted container keeps the carts.
//! - `GET /healthz`: 200.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::server::Next;
use crate::json::{self, Value};
use crate::model::{
    Line, MAXIMUM_QUANTITY, ModelError, format_price, is_identifier, lines_from_json,
    lines_to_json, total_cents,
};
use crate::storage::{JsonFile, append_line, now_rfc3339};

/// Where the carts are kept when `$CART_DATA_FILE` names no other file.
pub const DEFAULT_DATA_FILE: &str = "/var/lib/cart/carts.json";

/// Where the actions are logged when `$CART_LOG_FILE` names no other file.
pub const DEFAULT_LOG_FILE: &str = "/var/log/cart/cart.log";

/// The carts and where they are kept.
pub struct Carts {
    file: JsonFile,
    log_file: PathBuf,
    carts: BTreeMap<String, Vec<Line>>,
}

impl Carts {
    /// Loads the carts saved in `data_file`, if any.
    pub fn load(data_file: PathBuf, log_file: PathBuf) -> Result<Carts, String> {
        let file = JsonFile::new(data_file);
        let mut carts = BTreeMap::new();
        let saved = file
            .load()
            .map_err(|error| format!("cannot load {}: {error}", file.path().display()))?;
        if let Some(Value::Object(members)) = saved {
            for (customer, lines) in members {
                let lines = lines_from_json(Some(&lines)).map_err(|ModelError(problem)| {
                    format!("{}: cart {customer:?}: {problem}", file.path().display())
                })?;
                carts.insert(customer, lines);
            }
        }
        let carts = Carts {
            file,
            log_file,
            carts,
        };
        let lines: usize = carts.carts.values().map(Vec::len).sum();
        carts.log(&format!(
            "cart started: restored {} cart(s) with {lines} line(s) from {}",
            carts.carts.len(),
            carts.file.path().display()
        ));
        Ok(carts)
    }

    fn save(&self) -> Result<(), String> {
        let document = Value::Object(
            self.carts
                .iter()
                .map(|(customer, lines)| (customer.clone(), lines_to_json(lines)))
                .collect(),
        );
        self.file
            .save(&document)
            .map_err(|error| format!("cannot save {}: {error}", self.file.path().display()))
    }

    /// Writes `message` to the action log, with the time. Only there: the cart's
    /// stdout has its requests, and the logger sidecar prints the actions.
    fn log(&self, message: &str) {
        let line = format!("{} {message}", now_rfc3339());
        if let Err(error) = append_line(&self.log_file, &line) {
            eprintln!("cart: cannot write {}: {error}", self.log_file.display());
        }
    }

    fn cart_json(&self, customer: &str) -> Value {
        let lines = self.carts.get(customer).map_or(&[][..], Vec::as_slice);
        Value::Object(vec![
            ("customer".to_owned(), Value::string(customer)),
            ("items".to_owned(), lines_to_json(lines)),
            (
                "total_cents".to_owned(),
                Value::from_u64(total_cents(lines).unwrap_or(u64::MAX)),
            ),
        ])
    }

    fn add(&mut self, customer: &str, body: &str) -> Response {
        let line = match json::parse(body)
            .map_err(|error| error.to_string())
            .and_then(|value| Line::from_json(&value).map_err(|ModelError(problem)| problem))
        {
            Ok(line) => line,
            Err(problem) => return Response::json_error(400, &problem),
        };
        let mut lines = self.carts.get(customer).cloned().unwrap_or_default();
        match lines
            .iter_mut()
            .find(|known| known.product_id == line.product_id)
        {
            Some(known) => {
                known.quantity += line.quantity;
                known.name.clone_from(&line.name);
                known.price_cents = line.price_cents;
                if known.quantity > MAXIMUM_QUANTITY {
                    return Response::json_error(
                        409,
                        &format!("a cart holds at most {MAXIMUM_QUANTITY} of one product"),
                    );
                }
            }
            None => lines.push(line.clone()),
        }
        if total_cents(&lines).is_none() {
            return Response::json_error(409, "the cart's total is too large");
        }
        let previous = self.carts.insert(customer.to_owned(), lines);
        if let Err(problem) = self.save() {
            self.restore(customer, previous);
            return Response::json_error(500, &problem);
        }
        let total = self
            .carts
            .get(customer)
            .and_then(|lines| total_cents(lines));
        self.log(&format!(
            "customer {customer} added {} x {} ({}) at {}; cart total {}",
            line.quantity,
            line.name,
            line.product_id,
            format_price(line.price_cents),
            format_price(total.unwrap_or_default())
        ));
        Response::json(201, &self.cart_json(customer))
    }

    fn empty(&mut self, customer: &str) -> Response {
        let previous = self.carts.remove(customer);
        if let Err(problem) = self.save() {
            self.restore(customer, previous);
            return Response::json_error(500, &problem);
        }
        let lines = previous.as_ref().map_or(0, Vec::len);
        self.log(&format!(
            "customer {customer} emptied the cart ({lines} line(s))"
        ));
        Response::json(200, &self.cart_json(customer))
    }

    /// Puts a cart back as it was when saving its change failed.
    fn restore(&mut self, customer: &str, previous: Option<Vec<Line>>) {
        match previous {
            Some(lines) => self.carts.insert(customer.to_owned(), lines),
            None => self.carts.remove(customer),
        };
    }

    /// Answers one request.
    pub fn handle(&mut self, request: &Request) -> (Response, Next) {
        let path = request.path();
        let method = request.method.as_str();
        if path == "/healthz" {
            return (Response::text(200, "ok\n"), Next::Continue);
        }
        if path == "/admin/exit" {
            if method != "POST" {
                return (Response::json_error(405, "POST to exit"), Next::Continue);
            }
            self.log("cart exiting on request (POST /admin/exit)");
            return (Response::text(200, "exiting\n"), Next::Stop);
        }
        let Some(rest) = path.strip_prefix("/carts/") else {
            return (Response::json_error(404, "not found"), Next::Continue);
        };
        let (customer, items) = match rest.strip_suffix("/items") {
            Some(customer) => (customer, true),
            None => (rest, false),
        };
        if !is_identifier(customer) {
            return (
                Response::json_error(400, "a customer id is 1 to 64 of a-z, 0-9, - and _"),
                Next::Continue,
            );
        }
        let response = match (method, items) {
            ("GET" | "HEAD", false) => Response::json(200, &self.cart_json(customer)),
            ("DELETE", false) => self.empty(customer),
            ("POST", true) => self.add(customer, &request.body_text()),
            _ => Response::json_error(405, "method not allowed"),
        };
        (response, Next::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carts_survive_a_reload_and_every_change_is_logged() {
        let directory = std::env::temp_dir().join(format!("shop-cart-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("a directory");
        let data = directory.join("carts.json");
        let log = directory.join("cart.log");
        let mut carts = Carts::load(data.clone(), log.clone()).expect("an empty start");
        let socks = r#"{"product_id":"socks","name":"Wool socks","price_cents":1299,"quantity":2}"#;
        let (added, _) = carts.handle(&Request::without_headers(
            "POST",
            "/carts/alice/items",
            socks,
        ));
        assert_eq!(added.status, 201);
        let (again, _) = carts.handle(&Request::without_headers(
            "POST",
            "/carts/alice/items",
            socks,
        ));
        assert!(String::from_utf8_lossy(&again.body).contains("\"quantity\":4"));
        assert_eq!(
            carts
                .handle(&Request::without_headers(
                    "POST",
                    "/carts/alice/items",
                    "{}"
                ))
                .0
                .status,
            400
        );
        assert_eq!(
            carts
                .handle(&Request::without_headers("GET", "/carts/Bad%20Id", ""))
                .0
                .status,
            400
        );

        let mut reloaded = Carts::load(data.clone(), log.clone()).expect("the saved carts");
        let (cart, _) = reloaded.handle(&Request::without_headers("GET", "/carts/alice", ""));
        let body = String::from_utf8_lossy(&cart.body).into_owned();
        assert!(body.contains("\"total_cents\":5196"), "{body}");

        let (exit, next) = carts.handle(&Request::without_headers("POST", "/admin/exit", ""));
        assert_eq!(exit.status, 200);
        assert!(matches!(next, Next::Stop));
        assert_eq!(
            carts
                .handle(&Request::without_headers("DELETE", "/carts/alice", ""))
                .0
                .status,
            200
        );
        let logged = std::fs::read_to_string(&log).expect("the log");
        assert!(
            logged.contains("customer alice added 2 x Wool socks (socks)"),
            "{logged}"
        );
        assert!(logged.contains("restored 1 cart(s)"), "{logged}");
        assert!(
            logged.contains("customer alice emptied the cart"),
            "{logged}"
        );
        std::fs::remove_dir_all(&directory).expect("cleaned up");
    }
}
