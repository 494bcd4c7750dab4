//! The shop's HTML page: plain forms that POST and are answered with a redirect, so it
//! works in any browser without JavaScript.

use std::fmt::Write;

use super::backends::BackendError;
use crate::http::form::escape_html;
use crate::model::{Line, Order, Product, format_price, total_cents};

/// What the page shows; each backend's part is what it answered, or why it did not.
pub struct PageContent<'content> {
    pub customer: &'content str,
    pub pod_name: &'content str,
    pub backends: String,
    pub notice: Option<&'static str>,
    pub products: Result<Vec<Product>, BackendError>,
    pub cart: Result<Vec<Line>, BackendError>,
    pub orders: Result<Vec<Order>, BackendError>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;\
padding:0 1rem;color:#222}h1{margin-bottom:.2rem}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}.price{text-align:right}\
.notice{background:#e7f5e7;padding:.6rem;border-radius:.3rem}\
.error{background:#fbe9e9;padding:.6rem;border-radius:.3rem}footer{color:#777;margin-top:2rem;\
font-size:.85rem}input[type=number]{width:4rem}";

/// The whole page.
pub fn render(content: &PageContent<'_>) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>wasmkube shop</title><style>{STYLE}</style></head><body>\n\
         <h1>wasmkube shop</h1><p>Every part of this shop is a WebAssembly container. \
         You are customer <code>{}</code>.</p>\n",
        escape_html(content.customer)
    );
    if let Some(notice) = content.notice {
        let _ = writeln!(html, "<p class=\"notice\">{}</p>", escape_html(notice));
    }
    html.push_str("<h2>Products</h2>\n");
    match &content.products {
        Ok(products) => render_products(&mut html, products),
        Err(error) => render_error(&mut html, "catalogue", error),
    }
    html.push_str("<h2>Your cart</h2>\n");
    match &content.cart {
        Ok(lines) => render_cart(&mut html, lines),
        Err(error) => render_error(&mut html, "cart", error),
    }
    html.push_str("<h2>Your orders</h2>\n");
    match &content.orders {
        Ok(orders) => render_orders(&mut html, orders),
        Err(error) => render_error(&mut html, "orders", error),
    }
    let _ = write!(
        html,
        "<footer>Served by pod <code>{}</code>; {}.</footer>\n</body></html>\n",
        escape_html(content.pod_name),
        escape_html(&content.backends)
    );
    html
}

fn render_error(html: &mut String, service: &str, error: &BackendError) {
    let _ = writeln!(
        html,
        "<p class=\"error\">The {service} service is not available: {}</p>",
        escape_html(&error.to_string())
    );
}

fn render_products(html: &mut String, products: &[Product]) {
    if products.is_empty() {
        html.push_str("<p>The catalogue is empty.</p>\n");
        return;
    }
    html.push_str("<table><tr><th>Product</th><th>Description</th><th class=\"price\">Price</th><th></th></tr>\n");
    for product in products {
        let _ = writeln!(
            html,
            "<tr><td>{name}</td><td>{description}</td><td class=\"price\">{price}</td><td>\
             <form method=\"post\" action=\"/cart\"><input type=\"hidden\" name=\"product_id\" \
             value=\"{id}\"><input type=\"number\" name=\"quantity\" value=\"1\" min=\"1\" \
             max=\"{maximum}\"> <button type=\"submit\">Add to cart</button></form></td></tr>",
            name = escape_html(&product.name),
            description = escape_html(&product.description),
            price = format_price(product.price_cents),
            id = escape_html(&product.id),
            maximum = crate::model::MAXIMUM_QUANTITY,
        );
    }
    html.push_str("</table>\n");
}

fn render_lines(html: &mut String, lines: &[Line]) {
    html.push_str("<table><tr><th>Product</th><th class=\"price\">Quantity</th><th class=\"price\">Price</th><th class=\"price\">Subtotal</th></tr>\n");
    for line in lines {
        let subtotal = line.price_cents.saturating_mul(line.quantity);
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"price\">{}</td><td class=\"price\">{}</td>\
             <td class=\"price\">{}</td></tr>",
            escape_html(&line.name),
            line.quantity,
            format_price(line.price_cents),
            format_price(subtotal)
        );
    }
    let total = total_cents(lines).unwrap_or(u64::MAX);
    let _ = writeln!(
        html,
        "<tr><th colspan=\"3\">Total</th><th class=\"price\">{}</th></tr></table>",
        format_price(total)
    );
}

fn render_cart(html: &mut String, lines: &[Line]) {
    if lines.is_empty() {
        html.push_str("<p>Your cart is empty.</p>\n");
        return;
    }
    render_lines(html, lines);
    html.push_str(
        "<form method=\"post\" action=\"/orders\"><button type=\"submit\">Place order</button></form>\n",
    );
}

fn render_orders(html: &mut String, orders: &[Order]) {
    if orders.is_empty() {
        html.push_str("<p>No orders yet.</p>\n");
        return;
    }
    for order in orders {
        let _ = writeln!(
            html,
            "<h3>{} <small>placed {}, total {}</small></h3>",
            escape_html(&order.id),
            escape_html(&order.placed_at),
            format_price(order.total_cents)
        );
        render_lines(html, &order.lines);
    }
}

/// A page for a form POST that failed, with a way back.
pub fn error_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wasmkube shop: \
         error</title><style>{STYLE}</style></head><body><h1>Something went wrong</h1>\
         <p class=\"error\">{}</p><p><a href=\"/\">Back to the shop</a></p></body></html>\n",
        escape_html(message)
    )
}
