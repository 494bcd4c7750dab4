//! The image reference rules, good and bad, with the exact errors a pod's status shows.

use std::path::PathBuf;

use wasmkube_images::{
    Digest, ImageCache, ImageError, ImageReference, PullPolicy, PullPolicyError,
};

use crate::support::InMemoryClusterStore;

fn digest() -> Digest {
    Digest::of_bytes(b"\0asm\x01\0\0\0")
}

fn cluster_store(name: &str, tag: &str) -> ImageReference {
    ImageReference::ClusterStore {
        name: name.to_owned(),
        tag: tag.to_owned(),
    }
}

#[test]
fn good_references_parse_into_their_kind() {
    let hex = digest().hex();
    let cases = [
        ("hello", cluster_store("hello", "latest")),
        ("hello:1.0", cluster_store("hello", "1.0")),
        (
            "team/hello-world_x.y__z:V1.2-rc_3",
            cluster_store("team/hello-world_x.y__z", "V1.2-rc_3"),
        ),
        ("a--b/c0:_tag", cluster_store("a--b/c0", "_tag")),
        (
            &format!("hello@sha256:{hex}"),
            ImageReference::ClusterStoreDigest {
                name: "hello".to_owned(),
                digest: digest(),
            },
        ),
        (
            &format!("team/hello:1.0@sha256:{hex}"),
            ImageReference::ClusterStoreDigest {
                name: "team/hello".to_owned(),
                digest: digest(),
            },
        ),
        (
            "file:///opt/modules/app.wasm",
            ImageReference::File {
                path: PathBuf::from("/opt/modules/app.wasm"),
            },
        ),
        (
            &format!("https://example.com/modules/app.wasm@sha256:{hex}"),
            ImageReference::Https {
                url: "https://example.com/modules/app.wasm".to_owned(),
                digest: digest(),
            },
        ),
        (
            &format!("http://127.0.0.1:8080/app.wasm@sha256:{hex}"),
            ImageReference::Https {
                url: "http://127.0.0.1:8080/app.wasm".to_owned(),
                digest: digest(),
            },
        ),
        (
            &format!("http://localhost/app.wasm@sha256:{hex}"),
            ImageReference::Https {
                url: "http://localhost/app.wasm".to_owned(),
                digest: digest(),
            },
        ),
        (
            &format!("http://[::1]:9000/app.wasm@sha256:{hex}"),
            ImageReference::Https {
                url: "http://[::1]:9000/app.wasm".to_owned(),
                digest: digest(),
            },
        ),
    ];
    for (image, expected) in cases {
        assert_eq!(ImageReference::parse(image), Ok(expected), "image: {image}");
    }
}

#[test]
fn bad_references_are_refused_with_the_reason() {
    let hex = digest().hex();
    let long_tag = "t".repeat(129);
    let cases = [
        ("", "image reference is empty".to_owned()),
        (
            "Hello",
            "invalid reference format: repository name \"Hello\" must be lowercase".to_owned(),
        ),
        (
            "hello..world",
            "invalid reference format: repository name \"hello..world\" has the component \"hello..world\", which is not lowercase letters and digits separated by '.', '_', '__' or '-'".to_owned(),
        ),
        (
            "team/-hello",
            "invalid reference format: repository name \"team/-hello\" has the component \"-hello\", which is not lowercase letters and digits separated by '.', '_', '__' or '-'".to_owned(),
        ),
        (
            "team//hello",
            "invalid reference format: repository name \"team//hello\" has an empty component".to_owned(),
        ),
        (
            ":1.0",
            "invalid reference format: repository name \"\" must not be empty".to_owned(),
        ),
        (
            "hello:",
            "invalid reference format: tag \"\" must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'".to_owned(),
        ),
        (
            "hello:.v1",
            "invalid reference format: tag \".v1\" must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'".to_owned(),
        ),
        (
            &format!("hello:{long_tag}"),
            format!("invalid reference format: tag \"{long_tag}\" must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"),
        ),
        (
            "hello@sha256:abc",
            "invalid digest \"sha256:abc\": a sha256 digest is 64 lowercase hex digits after \"sha256:\"".to_owned(),
        ),
        (
            "hello@md5:0123",
            "unsupported digest algorithm \"md5\" in \"md5:0123\": only sha256 is supported".to_owned(),
        ),
        (
            "docker.io/library/nginx:1.25",
            "image \"docker.io/library/nginx:1.25\" names the registry \"docker.io\": OCI registries are not supported yet; push the module into the cluster's image store with `wasmkube image push`, or use file:///path or https://...@sha256:<digest>".to_owned(),
        ),
        (
            "localhost:5000/app:1",
            "image \"localhost:5000/app:1\" names the registry \"localhost:5000\": OCI registries are not supported yet; push the module into the cluster's image store with `wasmkube image push`, or use file:///path or https://...@sha256:<digest>".to_owned(),
        ),
        (
            "localhost/app",
            "image \"localhost/app\" names the registry \"localhost\": OCI registries are not supported yet; push the module into the cluster's image store with `wasmkube image push`, or use file:///path or https://...@sha256:<digest>".to_owned(),
        ),
        (
            "file://relative/app.wasm",
            "\"file://relative/app.wasm\" must name an absolute path on the node, as file:///path/to/module.wasm".to_owned(),
        ),
        (
            "https://example.com/app.wasm",
            "\"https://example.com/app.wasm\" is not pinned by digest: an https image must end in @sha256:<digest of the module>".to_owned(),
        ),
        (
            &format!("http://example.com/app.wasm@sha256:{hex}"),
            "\"http://example.com/app.wasm\": plain http is only allowed to 127.0.0.1, ::1 and localhost; use https".to_owned(),
        ),
        (
            &format!("https:///app.wasm@sha256:{hex}"),
            "invalid URL \"https:///app.wasm\": invalid format".to_owned(),
        ),
        (
            "ftp://example.com/app.wasm",
            "unsupported image scheme \"ftp://\": use NAME[:TAG], file:///path or https://...@sha256:<digest>".to_owned(),
        ),
    ];
    for (image, expected) in cases {
        let error = ImageReference::parse(image).expect_err(image);
        assert_eq!(error.to_string(), expected, "image: {image}");
    }
}

#[test]
fn references_print_in_their_canonical_form() {
    let hex = digest().hex();
    assert_eq!(
        ImageReference::parse("hello").unwrap().to_string(),
        "hello:latest"
    );
    assert_eq!(
        ImageReference::parse(&format!("hello:1.0@sha256:{hex}"))
            .unwrap()
            .to_string(),
        format!("hello@sha256:{hex}")
    );
    assert_eq!(
        ImageReference::parse("file:///opt/app.wasm")
            .unwrap()
            .to_string(),
        "file:///opt/app.wasm"
    );
}

#[test]
fn the_default_pull_policy_follows_kubernetes() {
    let policy = |image: &str| PullPolicy::default_for(&ImageReference::parse(image).unwrap());
    let hex = digest().hex();
    assert_eq!(policy("hello"), PullPolicy::Always);
    assert_eq!(policy("hello:latest"), PullPolicy::Always);
    assert_eq!(policy("hello:1.0"), PullPolicy::IfNotPresent);
    assert_eq!(
        policy(&format!("hello@sha256:{hex}")),
        PullPolicy::IfNotPresent
    );
    assert_eq!(policy("file:///opt/app.wasm"), PullPolicy::IfNotPresent);
    let reference = ImageReference::parse("hello").unwrap();
    assert_eq!(
        PullPolicy::for_container(None, &reference),
        Ok(PullPolicy::Always)
    );
    assert_eq!(
        PullPolicy::for_container(Some(""), &reference),
        Ok(PullPolicy::Always)
    );
    assert_eq!(
        PullPolicy::for_container(Some("Never"), &reference),
        Ok(PullPolicy::Never)
    );
    let error = PullPolicy::for_container(Some("Sometimes"), &reference).unwrap_err();
    assert_eq!(
        error,
        PullPolicyError {
            value: "Sometimes".to_owned()
        }
    );
    assert_eq!(
        error.to_string(),
        "imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
    );
}

#[tokio::test]
async fn pulling_a_bad_reference_is_invalid_image_name() {
    let directory = tempfile::tempdir().unwrap();
    let cache = ImageCache::open(directory.path()).unwrap();
    let cluster = InMemoryClusterStore::default();
    let error = cache
        .pull(
            "docker.io/library/nginx:1.25",
            PullPolicy::IfNotPresent,
            &cluster,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::InvalidImageName { .. }));
    assert_eq!(error.reason(), "InvalidImageName");
    assert!(
        error.to_string().starts_with(
            "couldn't parse image reference \"docker.io/library/nginx:1.25\": image \"docker.io/library/nginx:1.25\" names the registry \"docker.io\": OCI registries are not supported yet"
        ),
        "{error}"
    );
    assert_eq!((cluster.resolves(), cluster.fetches()), (0, 0));
}
