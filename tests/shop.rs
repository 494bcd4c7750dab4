//! The shop example end to end, with a real `wasmkube up`: its six images pushed,
//! examples/shop/manifests/shop.yaml applied with kubectl, then, through the front-end's
//! NodePort from the host: the page lists the catalogue's products (a ConfigMap), an
//! item goes into the cart (a Service reached by DNS) and an order is placed (through the
//! ambassador container on the front-end pod's loopback); the logger sidecar prints the
//! cart's actions from a shared emptyDir; and the cart container, made to exit with a
//! failure, is restarted by the kubelet and still holds the cart from its emptyDir.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Cluster, ok};
use wasmkube_wasm_guests::WasmTarget;

/// The manifests as the example ships them.
const SHOP_MANIFESTS: &str = include_str!("../examples/shop/manifests/shop.yaml");

/// The services' images, by guest name: each is pushed as `NAME:1.0`.
const SHOP_IMAGES: [&str; 6] = [
    "shop-front-end",
    "shop-catalogue",
    "shop-cart",
    "shop-orders",
    "shop-logger",
    "shop-ambassador",
];

/// The cookie that names this test's customer.
const CUSTOMER_COOKIE: &str = "customer=e2e-shopper";

/// An HTTP answer: status, head and body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Sends one request to `127.0.0.1:port` as this test's customer and reads the answer.
fn request(port: &str, method: &str, path: &str, body: Option<(&str, &str)>) -> Answer {
    let mut connection = TcpStream::connect(format!("127.0.0.1:{port}")).expect("a connection");
    connection
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let mut message = format!(
        "{method} {path} HTTP/1.1\r\nHost: shop\r\nCookie: {CUSTOMER_COOKIE}\r\nConnection: close\r\n"
    );
    match body {
        Some((content_type, body)) => message.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => message.push_str("\r\n"),
    }
    connection
        .write_all(message.as_bytes())
        .expect("the request is sent");
    let mut answer = String::new();
    connection.read_to_string(&mut answer).expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Repeats `attempt` until it returns `Some`, failing with `what` after `timeout`.
fn eventually<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A port of the NodePort range that no process of this host listens on now, tried from
/// a start that differs from run to run.
fn free_node_port() -> u16 {
    const FIRST: u32 = 30000;
    const RANGE: u32 = 2768;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos())
        % RANGE;
    (0..RANGE)
        .map(|offset| FIRST + (start + offset) % RANGE)
        .filter_map(|port| u16::try_from(port).ok())
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port in the NodePort range")
}

#[test]
fn the_shop_serves_its_catalogue_takes_an_order_and_keeps_the_cart_across_a_restart() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = Cluster::start(&directory.path().join("server"));
    for name in SHOP_IMAGES {
        cluster.push_guest(name, WasmTarget::P2, &format!("{name}:1.0"));
    }
    // The manifests fix the NodePort (30090) so that the README's address holds; here
    // it is one that nothing on this host listens on, since other clusters (other test
    // runs, a demo) may hold 30090, or the first ports an allocator would pick.
    let manifests = SHOP_MANIFESTS.replace(
        ", nodePort: 30090",
        &format!(", nodePort: {}", free_node_port()),
    );
    assert_ne!(
        manifests, SHOP_MANIFESTS,
        "the front-end's nodePort is in shop.yaml"
    );
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(&manifests)));
    ok(cluster.kubectl(
        "kubectl",
        &[
            "wait",
            "--for=condition=Available",
            "deployment",
            "--all",
            "-n",
            "shop",
            "--timeout=90s",
        ],
    ));
    let port = ok(cluster.kubectl(
        "kubectl",
        &[
            "get",
            "service",
            "front-end",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    ));

    // The page lists the catalogue's products: the front-end reached the catalogue
    // Service by its name, and the catalogue read its ConfigMap volume.
    let page = request(&port, "GET", "/", None);
    assert_eq!(page.status, 200, "{}", page.body);
    for product in [
        "Wool socks",
        "WebAssembly mug",
        "Crab plush",
        "Sticker pack",
    ] {
        assert!(page.body.contains(product), "{product}: {}", page.body);
    }
    assert!(page.body.contains("Your cart is empty."), "{}", page.body);

    // The form adds to the cart and redirects back to the page, which shows the cart.
    let form = (
        "application/x-www-form-urlencoded",
        "product_id=wool-socks&quantity=2",
    );
    let added = request(&port, "POST", "/cart", Some(form));
    assert_eq!(added.status, 303, "{}{}", added.head, added.body);
    assert!(
        added.head.contains("\r\nLocation: /?notice=added"),
        "{}",
        added.head
    );
    let page = request(&port, "GET", "/?notice=added", None);
    assert!(
        page.body.contains("Added to your cart.")
            && page.body.contains("25.98")
            && page.body.contains("Place order"),
        "{}",
        page.body
    );
    let cart = request(&port, "GET", "/api/cart", None);
    assert_eq!(cart.status, 200, "{}", cart.body);
    assert!(
        cart.body.contains(
            r#""product_id":"wool-socks","name":"Wool socks","price_cents":1299,"quantity":2"#
        ),
        "{}",
        cart.body
    );
    let unknown = ("application/json", r#"{"product_id":"no-such-thing"}"#);
    assert_eq!(
        request(&port, "POST", "/api/cart", Some(unknown)).status,
        404
    );

    // Ordering goes through the ambassador to the orders Service and empties the cart.
    let ordered = request(
        &port,
        "POST",
        "/orders",
        Some(("application/x-www-form-urlencoded", "")),
    );
    assert_eq!(ordered.status, 303, "{}{}", ordered.head, ordered.body);
    assert!(
        ordered.head.contains("\r\nLocation: /?notice=ordered"),
        "{}",
        ordered.head
    );
    let orders = request(&port, "GET", "/api/orders", None);
    assert!(
        orders
            .body
            .contains(r#""id":"order-00001","customer":"e2e-shopper""#)
            && orders.body.contains(r#""total_cents":2598"#),
        "{}",
        orders.body
    );
    let page = request(&port, "GET", "/?notice=ordered", None);
    assert!(page.body.contains("Your order is placed."), "{}", page.body);
    assert!(
        page.body.contains("order-00001") && page.body.contains("25.98"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Your cart is empty."), "{}", page.body);
    let ambassador = ok(cluster.kubectl(
        "kubectl",
        &[
            "logs",
            "-n",
            "shop",
            "deployment/front-end",
            "-c",
            "ambassador",
        ],
    ));
    assert!(ambassador.contains("\"POST /orders\" 201"), "{ambassador}");

    // The logger sidecar prints what the cart container wrote into their shared volume.
    let logger_logs = || {
        ok(cluster.kubectl(
            "kubectl",
            &["logs", "-n", "shop", "deployment/cart", "-c", "logger"],
        ))
    };
    eventually(
        "the logger printing the cart's actions",
        Duration::from_secs(20),
        || {
            let logs = logger_logs();
            (logs.contains("customer e2e-shopper added 2 x Wool socks (wool-socks) at 12.99")
                && logs.contains("customer e2e-shopper emptied the cart"))
            .then_some(())
        },
    );

    // Something in the cart, then the cart container exits with a failure; the kubelet
    // restarts it (restartPolicy Always) and it reloads the carts from its emptyDir.
    let crab = (
        "application/json",
        r#"{"product_id":"crab-plush","quantity":1}"#,
    );
    let added = request(&port, "POST", "/api/cart", Some(crab));
    assert_eq!(added.status, 201, "{}", added.body);
    let (mut forward, local_port) =
        cluster.port_forward(&["-n", "shop", "deployment/cart", ":8080"]);
    let exited = request(&local_port, "POST", "/admin/exit", None);
    let _ = forward.kill();
    let _ = forward.wait();
    assert_eq!(exited.status, 200, "{}", exited.body);
    cluster.wait_for_jsonpath(
        &["pods", "-n", "shop", "-l", "app=cart"],
        "{.items[0].status.containerStatuses[?(@.name==\"cart\")].restartCount} \
         {.items[0].status.containerStatuses[?(@.name==\"cart\")].lastState.terminated.exitCode}",
        Duration::from_secs(30),
        |restarts| restarts == "1 1",
    );
    let cart = eventually(
        "the restarted cart answering",
        Duration::from_secs(30),
        || {
            let cart = request(&port, "GET", "/api/cart", None);
            (cart.status == 200).then_some(cart.body)
        },
    );
    assert!(
        cart.contains(
            r#""product_id":"crab-plush","name":"Crab plush","price_cents":1999,"quantity":1"#
        ),
        "the cart survived the restart: {cart}"
    );
    let previous = ok(cluster.kubectl(
        "kubectl",
        &[
            "logs",
            "-n",
            "shop",
            "deployment/cart",
            "-c",
            "cart",
            "--previous",
        ],
    ));
    assert!(previous.contains("\"POST /admin/exit\" 200"), "{previous}");
    eventually(
        "the logger printing the restart",
        Duration::from_secs(20),
        || {
            logger_logs()
                .contains("cart started: restored 1 cart(s) with 1 line(s)")
                .then_some(())
        },
    );
}
