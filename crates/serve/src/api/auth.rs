//! Who may ask: the bearer token on the data routes, and the guard against what a web page
//! in the user's browser must not do to a server on loopback (DNS rebinding, cross-site
//! writes).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::Shared;

/// Answers 401 unless the request carries `Authorization: Bearer TOKEN` (when the server
/// has a token).
pub(super) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme's name is case-insensitive (RFC 9110 §11.1): `bearer` too.
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
            let mut r = ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: "this server needs Authorization: Bearer TOKEN".into(),
            }
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
}

/// Refuses what HTTP/1.1 forbids in the headers the server decides by, then what a web
/// page in the user's browser must not do to a server on loopback:
/// - a request without the host it is addressed to, or with two `Host`, `Origin` or
///   `Authorization` headers (400): the checks below and the token check read one, and a
///   second could say otherwise;
/// - read it through DNS rebinding (a site whose name now resolves to 127.0.0.1): without a
///   token, only requests addressed to a loopback name (`Host: localhost`, `127.x.x.x`,
///   `[::1]`) are answered;
/// - write through it from another site (a cross-site form posting to
///   `/api/memory/trend/save`): a request that changes something and carries an `Origin`
///   must come from this server's own origin.
pub(super) async fn browser_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match refused_request(&state, &req) {
        Some(error) => error.into_response(),
        None => next.run(req).await,
    }
}

/// The headers that decide whether a request is answered: one of each at most.
const DECIDING_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::HOST, "Host"),
    (header::ORIGIN, "Origin"),
    (header::AUTHORIZATION, "Authorization"),
];

/// Why [`browser_guard`] refuses `req`, if it does.
fn refused_request(state: &Shared, req: &Request) -> Option<ApiError> {
    for (name, shown) in &DECIDING_HEADERS {
        if req.headers().get_all(name).iter().nth(1).is_some() {
            return Some(ApiError::bad_request(format!(
                "two {shown} headers: a request carries one (RFC 9110), and this server will not guess which to believe"
            )));
        }
    }
    let host = match addressed_to(req) {
        Ok(host) => host,
        Err(e) => return Some(e),
    };
    if state.token.is_none() && !is_loopback_host(&host) {
        return Some(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "the request is addressed to {host:?}, not a loopback name: this server answers only requests to localhost (a guard against DNS rebinding; serve with --token to be reached by other names)"
            ),
        });
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())?;
    let same = origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host);
    (!safe && !same).then(|| ApiError {
        status: StatusCode::FORBIDDEN,
        message: format!(
            "{} from origin {origin:?}: only this server's own pages may change the store",
            req.method()
        ),
    })
}

/// The host (and port) a request is addressed to: an absolute URL's (`GET http://name/…`,
/// which overrides `Host`, RFC 9112 §3.2.2), else the `Host` header's, which HTTP/1.1
/// requires (§3.2) and every browser sends — without it the rebinding guard could not
/// tell where the request was sent.
fn addressed_to(req: &Request) -> Result<String, ApiError> {
    if let Some(authority) = req.uri().authority() {
        return Ok(authority.as_str().to_owned());
    }
    let value = req.headers().get(header::HOST).ok_or_else(|| {
        ApiError::bad_request(
            "no Host header: HTTP/1.1 requires one (RFC 9112 §3.2), and this server checks it",
        )
    })?;
    value
        .to_str()
        .ok()
        // A name and port only: `user@` has no place in Host.
        .filter(|h| !h.contains('@') && h.parse::<axum::http::uri::Authority>().is_ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Host {:?} is not a host name with an optional port",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                n
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares without stopping at the first difference, so the time taken does not tell
/// how much of a guess was right (only whether its length was).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "LOCALHOST:7878",
            "127.0.0.1",
            "127.0.0.1:7878",
            "127.9.9.9:1",
            "[::1]",
            "[::1]:7878",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:7878",
            "localhost.evil.example",
            "10.0.0.1:7878",
            "[::2]:7878",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abcdef", b"abcde"));
        assert!(constant_time_eq(b"", b""));
    }
}
