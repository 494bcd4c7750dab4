//! Downloads of `https://...@sha256:` images (and plain `http://` to loopback hosts),
//! following up to five redirects, each held to the same rules as the image's URL.

use bytes::Bytes;
use http::{StatusCode, Uri, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::OnceCell;

use crate::error::{PullError, describe_error_chain};
use crate::module_bytes::read_body_up_to_limit;
use crate::reference::{ImageReferenceError, check_download_url};

/// How many redirects a download follows, as a browser would follow a few but not loop.
pub const MAXIMUM_REDIRECTS: usize = 5;

/// The `User-Agent` of downloads, so that servers can tell nodes' requests apart.
const USER_AGENT: &str = "wasmkube-node";

/// An HTTP client for image downloads.
pub(crate) struct WebDownloader {
    /// The client for `http://` to loopback hosts.
    plain_http: Client<HttpConnector, Empty<Bytes>>,
    /// The client for `https://`, built at the first https download: loading the node's
    /// trusted roots can fail on a machine without any, which must not stop a node that
    /// never downloads over https.
    https: OnceCell<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>>,
}

impl WebDownloader {
    /// A downloader with no connection open yet.
    pub(crate) fn new() -> Self {
        WebDownloader {
            plain_http: Client::builder(TokioExecutor::new()).build_http(),
            https: OnceCell::new(),
        }
    }

    /// Downloads `url` (already checked by the image reference's rules), following
    /// redirects, and reads the whole body.
    pub(crate) async fn download(&self, url: &str) -> Result<Bytes, PullError> {
        let mut current = check_download_url(url).map_err(|source| PullError::RedirectRefused {
            url: url.to_owned(),
            source,
        })?;
        let mut redirects_followed = 0;
        loop {
            let response = self
                .get(&current)
                .await
                .map_err(|message| PullError::Download {
                    url: current.to_string(),
                    message,
                })?;
            let status = response.status();
            if is_followed_redirect(status) {
                if redirects_followed == MAXIMUM_REDIRECTS {
                    return Err(PullError::TooManyRedirects {
                        url: url.to_owned(),
                        limit: MAXIMUM_REDIRECTS,
                    });
                }
                redirects_followed += 1;
                current = redirect_target(&current, &response)?;
                continue;
            }
            if !status.is_success() {
                return Err(PullError::DownloadStatus {
                    url: current.to_string(),
                    status,
                });
            }
            return read_body_up_to_limit(response.into_body())
                .await
                .map_err(|error| error.into_download_error(&current.to_string()));
        }
    }

    /// Sends `GET uri` with the client for its scheme; the error is the failure's text.
    async fn get(&self, uri: &Uri) -> Result<http::Response<Incoming>, String> {
        let request = http::Request::get(uri.clone())
            .header(header::USER_AGENT, USER_AGENT)
            .body(Empty::new())
            .map_err(|error| error.to_string())?;
        let result = if uri.scheme_str() == Some("https") {
            self.https_client()
                .await
                .map_err(|error| describe_error_chain(&error))?
                .request(request)
                .await
        } else {
            self.plain_http.request(request).await
        };
        result.map_err(|error| describe_error_chain(&error))
    }

    /// The https client, built on first use with the node's trusted roots and rustls'
    /// ring provider (the one kube uses, so only one provider is compiled in).
    async fn https_client(
        &self,
    ) -> Result<&Client<HttpsConnector<HttpConnector>, Empty<Bytes>>, std::io::Error> {
        self.https
            .get_or_try_init(|| async {
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(rustls::crypto::ring::default_provider())?
                    .https_only()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(connector))
            })
            .await
    }
}

/// Whether `status` is a redirect with a `Location` to follow (300 Multiple Choices and
/// 304 Not Modified are not).
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// The checked URL a redirect response points to.
fn redirect_target(current: &Uri, response: &http::Response<Incoming>) -> Result<Uri, PullError> {
    let refused = |source| PullError::RedirectRefused {
        url: current.to_string(),
        source,
    };
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .filter(|location| !location.is_empty())
        .ok_or_else(|| {
            refused(ImageReferenceError::InvalidUrl {
                url: String::new(),
                problem: format!("the {} redirect has no Location", response.status()),
            })
        })?;
    check_download_url(&resolve_location(current, location)).map_err(refused)
}

/// Resolves a `Location` header against the URL that sent it: absolute, scheme-relative
/// (`//host/path`), absolute-path (`/path`) or relative to the current directory, with
/// `.` and `..` segments removed as RFC 3986 says.
fn resolve_location(current: &Uri, location: &str) -> String {
    let scheme = current.scheme_str().unwrap_or("https");
    let authority = current
        .authority()
        .map(|authority| authority.as_str())
        .unwrap_or_default();
    if has_scheme(location) {
        return location.to_owned();
    }
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let split_at = location.find(['?', '#']).unwrap_or(location.len());
    let (location_path, query_and_fragment) = location.split_at(split_at);
    let path = if location_path.starts_with('/') {
        location_path.to_owned()
    } else {
        let current_path = current.path();
        let directory = &current_path[..current_path.rfind('/').map_or(0, |slash| slash + 1)];
        format!("/{}{location_path}", directory.trim_start_matches('/'))
    };
    format!(
        "{scheme}://{authority}{}{query_and_fragment}",
        remove_dot_segments(&path)
    )
}

/// Removes `.` and `..` segments from an absolute path (`..` above the root stays at
/// the root); a path ending in one of them ends in a slash.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut ends_in_directory = false;
    for segment in path.split('/').skip(1) {
        ends_in_directory = matches!(segment, "." | "..");
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    if ends_in_directory {
        segments.push("");
    }
    format!("/{}", segments.join("/"))
}

/// Whether a URL starts with a scheme: a letter, then letters, digits, `+`, `-` or `.`,
/// then a colon.
fn has_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else {
        return false;
    };
    let mut characters = scheme.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && characters.all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_redirecting_url() {
        let current: Uri = "https://example.com:8443/modules/v1/app.wasm?x=1"
            .parse()
            .unwrap();
        let cases = [
            (
                "https://other.example/app.wasm",
                "https://other.example/app.wasm",
            ),
            ("//cdn.example/app.wasm", "https://cdn.example/app.wasm"),
            ("/moved/app.wasm", "https://example.com:8443/moved/app.wasm"),
            (
                "app-2.wasm",
                "https://example.com:8443/modules/v1/app-2.wasm",
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(
                resolve_location(&current, location),
                expected,
                "Location: {location}"
            );
        }
    }

    #[test]
    fn only_redirects_with_a_location_are_followed() {
        assert!(is_followed_redirect(StatusCode::FOUND));
        assert!(is_followed_redirect(StatusCode::PERMANENT_REDIRECT));
        assert!(!is_followed_redirect(StatusCode::NOT_MODIFIED));
        assert!(!is_followed_redirect(StatusCode::MULTIPLE_CHOICES));
    }
}
