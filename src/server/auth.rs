//! API-token auth: `Authorization: Bearer TOKEN` or `x-api-key: TOKEN` (what the official
//! OpenAI and Anthropic SDKs send as their api key), compared in constant time with the
//! `subtle` crate so the answer's timing says nothing about how much of a guess was right.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::{ApiError, Format};
use super::AppState;

/// The token every request must carry. Never logged or printed.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// A token; `None` when it is empty (an empty token would let every caller in).
    pub fn new(token: impl Into<Vec<u8>>) -> Option<Token> {
        let t = token.into();
        (!t.is_empty()).then_some(Token(t))
    }

    /// Whether the headers carry this token, in either form.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter()
            .filter_map(|v| bearer_token(v.as_bytes()));
        let api_key = headers.get_all("x-api-key").iter().map(|v| v.as_bytes());
        // Every candidate is compared (no early exit) so timing does not tell which matched.
        bearer
            .chain(api_key)
            .fold(false, |ok, given| ok | self.matches(given))
    }

    /// Constant-time equality; the lengths are compared first, which tells only the length.
    fn matches(&self, given: &[u8]) -> bool {
        self.0.as_slice().ct_eq(given).into()
    }
}

/// The token of an `Authorization: Bearer …` value (the scheme is case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Middleware: lets a request through when no token is configured or it carries the token;
/// otherwise 401 `invalid_api_key` in the endpoint's format.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = state.auth_token() {
        if !token.admits(req.headers()) {
            let format = Format::of_path(req.uri().path());
            state
                .metrics()
                .route_error("", ApiError::unauthorized().code);
            return ApiError::unauthorized().into_response_as(format);
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_or_api_key() {
        let t = Token::new("s3cret").unwrap();
        assert!(t.admits(&headers(&[("authorization", "Bearer s3cret")])));
        assert!(t.admits(&headers(&[("authorization", "bearer s3cret")])));
        assert!(t.admits(&headers(&[("x-api-key", "s3cret")])));
        assert!(!t.admits(&headers(&[])));
        assert!(!t.admits(&headers(&[("authorization", "Bearer s3cre")])));
        assert!(!t.admits(&headers(&[("authorization", "Bearer s3cret2")])));
        assert!(!t.admits(&headers(&[("authorization", "Basic s3cret")])));
        assert!(!t.admits(&headers(&[("authorization", "s3cret")])));
        assert!(!t.admits(&headers(&[("x-api-key", "")])));
    }

    #[test]
    fn an_empty_token_is_no_token() {
        assert!(Token::new("").is_none());
        assert_eq!(format!("{:?}", Token::new("x").unwrap()), "Token(<hidden>)");
    }
}
