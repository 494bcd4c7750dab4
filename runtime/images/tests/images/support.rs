//! What the tests share: small valid modules, an in-memory cluster image store that
//! counts the calls made to it, and a tiny HTTP/1.1 server on 127.0.0.1.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wasmkube_images::{BoxFuture, ClusterImageSource, Digest, PullError};

/// A valid core module whose one custom section holds `label`, so that each label gives a
/// distinct module with a distinct digest.
pub fn wasm_module(label: &str) -> Vec<u8> {
    let section_name = b"label";
    let mut section = vec![u8::try_from(section_name.len()).unwrap()];
    section.extend_from_slice(section_name);
    section.extend_from_slice(label.as_bytes());
    assert!(
        section.len() < 128,
        "the section size must fit one LEB128 byte"
    );
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.push(0);
    module.push(u8::try_from(section.len()).unwrap());
    module.extend_from_slice(&section);
    module
}

/// The cluster's image store kept in memory, counting how often a node asks it.
#[derive(Default)]
pub struct InMemoryClusterStore {
    tags: Mutex<HashMap<(String, String), Digest>>,
    modules: Mutex<HashMap<Digest, Bytes>>,
    resolve_calls: AtomicUsize,
    fetch_calls: AtomicUsize,
}

impl InMemoryClusterStore {
    /// Stores `module` and points `NAME:TAG` at it, as `wasmkube image push` would.
    pub fn push(&self, name: &str, tag: &str, module: &[u8]) -> Digest {
        let digest = Digest::of_bytes(module);
        self.modules
            .lock()
            .unwrap()
            .insert(digest, Bytes::copy_from_slice(module));
        self.tags
            .lock()
            .unwrap()
            .insert((name.to_owned(), tag.to_owned()), digest);
        digest
    }

    /// Points `NAME:TAG` at `digest` and serves `bytes` for it, whatever their real
    /// digest: a corrupt store.
    pub fn push_corrupt(&self, name: &str, tag: &str, digest: Digest, bytes: &[u8]) {
        self.modules
            .lock()
            .unwrap()
            .insert(digest, Bytes::copy_from_slice(bytes));
        self.tags
            .lock()
            .unwrap()
            .insert((name.to_owned(), tag.to_owned()), digest);
    }

    /// How many tags were resolved.
    pub fn resolves(&self) -> usize {
        self.resolve_calls.load(Ordering::SeqCst)
    }

    /// How many modules were fetched.
    pub fn fetches(&self) -> usize {
        self.fetch_calls.load(Ordering::SeqCst)
    }
}

impl ClusterImageSource for InMemoryClusterStore {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<Digest, PullError>> {
        self.resolve_calls.fetch_add(1, Ordering::SeqCst);
        let found = self
            .tags
            .lock()
            .unwrap()
            .get(&(name.to_owned(), tag.to_owned()))
            .copied();
        Box::pin(async move {
            found.ok_or_else(|| PullError::NotInClusterStore {
                image: format!("{name}:{tag}"),
            })
        })
    }

    fn fetch<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<Bytes, PullError>> {
        self.fetch_calls.fetch_add(1, Ordering::SeqCst);
        let found = self.modules.lock().unwrap().get(digest).cloned();
        Box::pin(async move { found.ok_or(PullError::ModuleNotInClusterStore { digest: *digest }) })
    }
}

/// One answer of the test server.
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// 200 with `body`.
    pub fn ok(body: &[u8]) -> TestResponse {
        TestResponse {
            status: 200,
            headers: vec![("Content-Type", "application/wasm".to_owned())],
            body: body.to_vec(),
        }
    }

    /// A JSON answer with `status`.
    pub fn json(status: u16, value: serde_json::Value) -> TestResponse {
        TestResponse {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body: serde_json::to_vec(&value).unwrap(),
        }
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: &str) -> TestResponse {
        TestResponse {
            status,
            headers: vec![("Location", location.to_owned())],
            body: Vec::new(),
        }
    }

    /// 404 with a Kubernetes Status, as the API server answers.
    pub fn not_found_status(message: &str) -> TestResponse {
        TestResponse::json(
            404,
            serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": message, "reason": "NotFound", "code": 404
            }),
        )
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that answers each GET with what `handler`
/// gives for its path, one request per connection, and remembers the paths asked for.
pub struct TestHttpServer {
    pub address: SocketAddr,
    requested_paths: Arc<Mutex<Vec<String>>>,
    accept_loop: JoinHandle<()>,
}

type Handler = Arc<dyn Fn(&str) -> TestResponse + Send + Sync>;

impl TestHttpServer {
    pub async fn start(handler: impl Fn(&str) -> TestResponse + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requested_paths = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let paths = Arc::clone(&requested_paths);
        let accept_loop = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(answer(connection, Arc::clone(&handler), Arc::clone(&paths)));
            }
        });
        TestHttpServer {
            address,
            requested_paths,
            accept_loop,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The paths asked for so far, in order.
    pub fn requested_paths(&self) -> Vec<String> {
        self.requested_paths.lock().unwrap().clone()
    }
}

impl Drop for TestHttpServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Reads one request's head, answers it and closes the connection.
async fn answer(mut connection: TcpStream, handler: Handler, paths: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match connection.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
        // Anything but a GET (a TLS handshake, say) is hung up on, as a plain HTTP server
        // would answer it with an error and close.
        if head.len() >= 4 && !head.starts_with(b"GET ") {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
    paths.lock().unwrap().push(path.clone());
    let response = handler(&path);
    let reason = http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    let mut text = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.body.len()
    );
    for (name, value) in &response.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&response.body);
    let _ = connection.write_all(&bytes).await;
    let _ = connection.shutdown().await;
}
