//! The `http://host[:port][/path][?query]` URLs echo-client calls.

use std::fmt;

/// The port of an `http://` URL that names none.
const DEFAULT_HTTP_PORT: u16 = 80;

/// A parsed `http://` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// The host to resolve: a name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
    /// The authority as the URL wrote it, which is what the Host header carries.
    pub authority: String,
    /// The request target: the path and query, `/` when the URL has no path.
    pub path_and_query: String,
}

/// Why a URL cannot be called.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub problem: &'static str,
}

impl fmt::Display for UrlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "cannot call {:?}: {}", self.url, self.problem)
    }
}

impl std::error::Error for UrlError {}

/// Parses an `http://` URL. A fragment is dropped, as clients never send it.
pub fn parse_http_url(url: &str) -> Result<HttpUrl, UrlError> {
    let error = |problem| UrlError {
        url: url.to_owned(),
        problem,
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| error("it is not an http:// URL"))?;
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(error("only http:// is supported"));
    }
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(error("user information in the URL is not supported"));
    }
    let (host, port) =
        split_host_and_port(authority).ok_or_else(|| error("its host or port is not valid"))?;
    if host.is_empty() {
        return Err(error("it has no host"));
    }
    if !path_and_query.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(error(
            "its path holds spaces or characters that are not ASCII",
        ));
    }
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else {
        format!("/{path_and_query}")
    };
    Ok(HttpUrl {
        host: host.to_owned(),
        port,
        authority: authority.to_owned(),
        path_and_query,
    })
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when the port is not a
/// number, or the brackets do not close.
fn split_host_and_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None | Some("") => DEFAULT_HTTP_PORT,
        Some(digits) if digits.bytes().all(|byte| byte.is_ascii_digit()) => digits.parse().ok()?,
        Some(_) => return None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, authority: &str, path_and_query: &str) -> HttpUrl {
        HttpUrl {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path_and_query: path_and_query.to_owned(),
        }
    }

    #[test]
    fn urls_are_split_into_host_port_and_target() {
        assert_eq!(
            parse_http_url("http://echo.default"),
            Ok(url("echo.default", 80, "echo.default", "/"))
        );
        assert_eq!(
            parse_http_url("HTTP://localhost:8080/status/503?x=1#top"),
            Ok(url("localhost", 8080, "localhost:8080", "/status/503?x=1"))
        );
        assert_eq!(
            parse_http_url("http://echo.default.svc.cluster.local?q"),
            Ok(url(
                "echo.default.svc.cluster.local",
                80,
                "echo.default.svc.cluster.local",
                "/?q"
            ))
        );
        assert_eq!(
            parse_http_url("http://[::1]:9000/a"),
            Ok(url("::1", 9000, "[::1]:9000", "/a"))
        );
        assert_eq!(
            parse_http_url("http://[fd00::5]"),
            Ok(url("fd00::5", 80, "[fd00::5]", "/"))
        );
        assert_eq!(
            parse_http_url("http://10.0.0.1:/"),
            Ok(url("10.0.0.1", 80, "10.0.0.1:", "/"))
        );
    }

    #[test]
    fn urls_that_cannot_be_called_are_refused() {
        for bad in [
            "echo:8080",
            "https://echo",
            "http://",
            "http://:80/",
            "http://echo:http/",
            "http://echo:70000/",
            "http://[::1/",
            "http://[::1]x/",
            "http://user@echo/",
            "http://echo/a b",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }
}
