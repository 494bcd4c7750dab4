//! `wasmkube up --demo`, as the README's first command runs it: the binary pushes its
//! embedded example images, deploys the shop and prints an address whose page lists the
//! catalogue's products; a second start with `--demo` re-applies the same objects.

mod support;

use std::time::Duration;

use support::{Cluster, http_get, ok};

/// Reads the page at an `http://HOST:PORT/` address with a plain HTTP/1.1 request.
fn get_page(url: &str) -> String {
    let address = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not an http://HOST:PORT/ address: {url}"));
    http_get(address, "/")
}

#[test]
fn up_with_demo_pushes_the_examples_deploys_the_shop_and_prints_its_address() {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut cluster = Cluster::start_with_arguments(data_dir.path(), &["--demo"]);
    let (url_line, before) =
        cluster.wait_for_output_line("the shop is open at ", Duration::from_secs(240));
    for image in [
        "hello:1.0",
        "hog:1.0",
        "shop-front-end:1.0",
        "shop-cart:1.0",
    ] {
        assert!(
            before.contains(&format!("pushed {image}")),
            "{image} was not pushed: {before:#?}"
        );
    }
    assert!(
        before.iter().any(|line| line == "namespace/shop created"),
        "{before:#?}"
    );
    let url = url_line
        .strip_prefix("the shop is open at ")
        .expect("the prefix")
        .to_owned();
    let page = get_page(&url);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for product in [
        "Wool socks",
        "WebAssembly mug",
        "Crab plush",
        "Sticker pack",
    ] {
        assert!(
            page.contains(product),
            "the catalogue's {product} is not listed: {page}"
        );
    }

    let images = ok(cluster.wasmkube(&["image", "ls"]));
    assert!(images.contains("shop-catalogue"), "{images}");
    assert!(
        data_dir.path().join("demo").join("shop.yaml").is_file(),
        "the manifests are kept for the user"
    );

    // A second start (with --demo, as the first) applies the same manifests again.
    cluster.restart();
    let (again, before) =
        cluster.wait_for_output_line("the shop is open at ", Duration::from_secs(240));
    assert_eq!(again, url_line, "the same NodePort after a restart");
    assert!(
        before.iter().any(|line| line == "namespace/shop unchanged"),
        "{before:#?}"
    );
}
