//! `/proxy?url=<url>`: an outgoing wasi:http request from inside a handler, so that the
//! host's outgoing HTTP (cluster DNS, Services, other pods) can be tried from a served
//! component.

use std::io::Read;

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, IncomingBody, Method, OutgoingRequest, Scheme};

/// The largest upstream body kept; the rest is dropped.
const MAXIMUM_UPSTREAM_BYTES: u64 = 1024 * 1024;

/// An URL split into what an outgoing request is made of.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub authority: String,
    pub path_with_query: String,
}

/// Reads `http://authority/path?query` (or `https://…`, which the host decides about).
pub fn parse_url(url: &str) -> Result<Target, String> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    let (authority, path_with_query) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(Target {
        https,
        authority: authority.to_owned(),
        path_with_query,
    })
}

/// The URL in a `/proxy` target's query: everything after `url=`, taken as is (not
/// percent-decoded), so that the URL's own query comes along.
pub fn url_parameter(target: &str) -> Option<&str> {
    let (_, query) = target.split_once('?')?;
    query.strip_prefix("url=")
}

/// GETs `target` through the host's `wasi:http/outgoing-handler`: the status and body,
/// or the error code the host answered with.
pub fn fetch(target: &Target) -> Result<(u16, Vec<u8>), String> {
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_method(&Method::Get)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(&target.authority)))
        .and_then(|()| request.set_path_with_query(Some(&target.path_with_query)))
        .map_err(|()| format!("the request to {target:?} is refused"))?;
    let pending = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        Some(Err(())) => return Err("the response was already taken".to_owned()),
        None => return Err("the response is not ready after waiting for it".to_owned()),
    };
    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| "the response body was already taken".to_owned())?;
    let mut content = Vec::new();
    {
        let mut stream = body
            .stream()
            .map_err(|()| "the response body's stream was already taken".to_owned())?;
        stream
            .by_ref()
            .take(MAXIMUM_UPSTREAM_BYTES)
            .read_to_end(&mut content)
            .map_err(|error| format!("reading the response body failed: {error}"))?;
    }
    drop(IncomingBody::finish(body));
    Ok((status, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            parse_url("http://echo.default:8080/a?b=c"),
            Ok(Target {
                https: false,
                authority: "echo.default:8080".to_owned(),
                path_with_query: "/a?b=c".to_owned(),
            })
        );
        assert_eq!(
            parse_url("https://example.com").map(|target| target.path_with_query),
            Ok("/".to_owned())
        );
        assert_eq!(
            parse_url("http://h?x=1").map(|target| target.path_with_query),
            Ok("/?x=1".to_owned())
        );
        assert!(parse_url("ftp://h/").is_err());
        assert!(parse_url("http:///path").is_err());
    }

    #[test]
    fn the_url_parameter_keeps_its_own_query() {
        assert_eq!(
            url_parameter("/proxy?url=http://echo/a?b=c"),
            Some("http://echo/a?b=c")
        );
        assert_eq!(url_parameter("/proxy"), None);
    }
}
