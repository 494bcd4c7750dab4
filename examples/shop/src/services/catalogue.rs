//! catalogue: serves the products, read from a JSON file (a ConfigMap mounted as a
//! volume) on every request, so that the catalogue is data and an update of the
//! ConfigMap reaches the pods without a restart once the node refreshes the volume.
//!
//! - `GET /products`: the products, a JSON array.
//! - `GET /products/{id}`: one product, or 404.
//! - `GET /healthz`: 200 while the file holds a valid catalogue, else 503 (the readiness
//!   probe keeps a pod with a broken catalogue out of the Service).

use std::path::Path;

use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::server::Next;
use crate::json::{self, Value};
use crate::model::{Product, products_from_json};

/// Where the catalogue is read from when `$CATALOGUE_FILE` names no other file.
pub const DEFAULT_CATALOGUE_FILE: &str = "/etc/catalogue/products.json";

/// Reads and checks the catalogue file.
pub fn load_catalogue(path: &Path) -> Result<Vec<Product>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let value = json::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    products_from_json(&value).map_err(|error| format!("{}: {error}", path.display()))
}

/// Answers one request.
pub fn handle(request: &Request, catalogue_file: &Path) -> (Response, Next) {
    if request.method != "GET" && request.method != "HEAD" {
        return (
            Response::json_error(405, "the catalogue is read-only"),
            Next::Continue,
        );
    }
    let products = match load_catalogue(catalogue_file) {
        Ok(products) => products,
        Err(problem) => {
            eprintln!("catalogue: {problem}");
            return (Response::json_error(503, &problem), Next::Continue);
        }
    };
    let response = match request.path() {
        "/healthz" => Response::text(200, "ok\n"),
        "/products" => Response::json(
            200,
            &Value::Array(products.iter().map(Product::to_json).collect()),
        ),
        path => match path.strip_prefix("/products/") {
            Some(id) => match products.iter().find(|product| product.id == id) {
                Some(product) => Response::json(200, &product.to_json()),
                None => Response::json_error(404, &format!("no product {id:?}")),
            },
            None => Response::json_error(404, "not found"),
        },
    };
    (response, Next::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, file: &Path) -> Response {
        handle(&Request::without_headers("GET", path, ""), file).0
    }

    #[test]
    fn products_are_served_from_the_file_and_a_broken_file_is_unhealthy() {
        let directory = std::env::temp_dir().join(format!("shop-catalogue-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("a directory");
        let file = directory.join("products.json");
        std::fs::write(
            &file,
            r#"[{"id":"socks","name":"Wool socks","price_cents":1299},{"id":"mug","name":"Mug","price_cents":850}]"#,
        )
        .expect("written");
        let all = get("/products", &file);
        assert_eq!(all.status, 200);
        assert!(String::from_utf8_lossy(&all.body).contains("\"name\":\"Mug\""));
        assert_eq!(get("/products/socks", &file).status, 200);
        assert_eq!(get("/products/hat", &file).status, 404);
        assert_eq!(get("/healthz", &file).status, 200);
        std::fs::write(&file, "[{").expect("written");
        assert_eq!(get("/healthz", &file).status, 503);
        std::fs::remove_dir_all(&directory).expect("cleaned up");
    }
}
