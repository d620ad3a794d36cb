//! axum extractors and fallbacks that answer with problems.
//!
//! axum's own extractors answer with `text/plain` bodies. Handlers use [`ApiJson`],
//! [`ApiQuery`] and [`ApiPath`] instead, which reject with a [`Problem`]; routers install
//! [`not_found_fallback`] and [`method_not_allowed_fallback`]. The rejection mapping is
//! tabulated in [`crate::problem`].

use std::error::Error as StdError;

use axum::Json;
use axum::extract::rejection::{
    BytesRejection, FailedToBufferBody, JsonRejection, PathRejection, QueryRejection,
};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

// --- axum's rejections. ---

/// The first error of type `E` in `err`'s source chain (including `err` itself).
fn find_in_chain<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The field a serde error names: the path where deserialization failed, extended by the
/// member a `missing field` / `unknown field` / `duplicate field` message names when the
/// path stops at the enclosing object. `None` when nothing identifies a field.
fn field_of(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    let path = path.to_string();
    let path = if path == "." { None } else { Some(path) };
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| {
            let rest = message.split_once(prefix)?.1;
            Some(rest.split_once('`')?.0)
        });
    match (path, named) {
        // serde_path_to_error already includes an unknown member's own name.
        (Some(path), Some(name)) if path.rsplit('.').next() == Some(name) => Some(path),
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (Some(path), None) => Some(path),
        (None, Some(name)) => Some(name.to_owned()),
        (None, None) => None,
    }
}

/// A rejection axum may add in a later version: 4xx keep their status under a generic
/// code; anything else is an internal error.
fn unknown_rejection(status: StatusCode, body_text: String, context: &str) -> Problem {
    if status.is_client_error() {
        Problem::new(status, "invalid_request", "Invalid request").with_detail(body_text)
    } else {
        tracing::error!(context, error = %body_text, "unexpected extractor rejection");
        Problem::internal_without_cause()
    }
}

/// `problem` completed from a deserialization error `err` (a JSON body's or a query
/// string's): the serde message as detail and, when known, the field it names. Without a
/// `serde_path_to_error` wrapper in `err`'s chain, `body_text` is the detail.
fn with_serde_error<E: StdError + 'static>(
    problem: Problem,
    err: &(dyn StdError + 'static),
    body_text: String,
) -> Problem {
    match find_in_chain::<serde_path_to_error::Error<E>>(err) {
        Some(inner) => {
            let message = inner.inner().to_string();
            let problem = match field_of(inner.path(), &message) {
                Some(field) => problem.with_field(field),
                None => problem,
            };
            problem.with_detail(message)
        }
        None => problem.with_detail(body_text),
    }
}

fn from_bytes_rejection(rejection: &BytesRejection) -> Problem {
    match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            Problem::payload_too_large()
        }
        BytesRejection::FailedToBufferBody(FailedToBufferBody::UnknownBodyError(_)) => {
            Problem::bad_request("unreadable_body", "The request body could not be read.")
        }
        other => unknown_rejection(other.status(), other.body_text(), "reading the body"),
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonSyntaxError(err) => {
                let detail = find_in_chain::<serde_json::Error>(err)
                    .map_or_else(|| err.body_text(), ToString::to_string);
                Problem::bad_request(
                    "malformed_json",
                    format!("The body is not valid JSON: {detail}"),
                )
            }
            JsonRejection::JsonDataError(err) => {
                let problem = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    "Invalid body",
                );
                with_serde_error::<serde_json::Error>(problem, err, err.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(
                "The body must be JSON, sent with `Content-Type: application/json`.",
            ),
            JsonRejection::BytesRejection(err) => from_bytes_rejection(err),
            other => unknown_rejection(other.status(), other.body_text(), "JSON body"),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        match &rejection {
            QueryRejection::FailedToDeserializeQueryString(err) => {
                let problem = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "Invalid query string",
                );
                with_serde_error::<serde_urlencoded::de::Error>(problem, err, err.body_text())
            }
            other => unknown_rejection(other.status(), other.body_text(), "query string"),
        }
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        match rejection {
            PathRejection::FailedToDeserializePathParams(err) => {
                let invalid = |field: Option<String>, detail: String| {
                    let problem = Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_path",
                        "Invalid path parameter",
                    )
                    .with_detail(detail);
                    match field {
                        Some(field) => problem.with_field(field),
                        None => problem,
                    }
                };
                let body_text = err.body_text();
                match err.into_kind() {
                    ErrorKind::ParseErrorAtKey {
                        key, expected_type, ..
                    } => invalid(
                        Some(key),
                        format!("The path parameter must be a valid {expected_type}."),
                    ),
                    ErrorKind::DeserializeError { key, message, .. } => invalid(Some(key), message),
                    ErrorKind::InvalidUtf8InPathParam { key } => invalid(
                        Some(key),
                        "The path parameter is not valid UTF-8 once percent-decoded.".to_owned(),
                    ),
                    ErrorKind::ParseErrorAtIndex { expected_type, .. }
                    | ErrorKind::ParseError { expected_type, .. } => invalid(
                        None,
                        format!("A path parameter must be a valid {expected_type}."),
                    ),
                    ErrorKind::Message(message) => invalid(None, message),
                    // Wrong parameter count or an unsupported target type: the route and
                    // the handler disagree, which is our bug, not the client's.
                    _ => {
                        tracing::error!(error = %body_text, "path extractor misuse");
                        Problem::internal_without_cause()
                    }
                }
            }
            other => {
                tracing::error!(error = %other.body_text(), "path extractor misuse");
                Problem::internal_without_cause()
            }
        }
    }
}

// --- Extractors that reject with a `Problem`. ---

/// [`axum::Json`] that rejects with a [`Problem`]; as a response, plain JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// [`axum::extract::Query`] that rejects with a [`Problem`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// [`axum::extract::Path`] that rejects with a [`Problem`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

// --- Fallbacks. ---

/// `Router::fallback`: 404 `route_not_found` for a path no route matches.
pub async fn not_found_fallback() -> Problem {
    Problem::not_found("route_not_found", "No resource at this path.")
}

/// `Router::method_not_allowed_fallback`: 405 `method_not_allowed` for a path that exists
/// under other methods. (axum still adds the `Allow` header.)
pub async fn method_not_allowed_fallback() -> Problem {
    Problem::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{INTERNAL_DETAIL, PROBLEM_JSON};
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::{get, post};
    use serde::Deserialize;
    use serde_json::Value;
    use tower::ServiceExt;

    fn is_problem_json(response: &Response) -> bool {
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            == Some(PROBLEM_JSON)
    }

    async fn body_of(response: Response) -> Value {
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[derive(Deserialize)]
    struct Order {
        #[serde(rename = "price")]
        _price: String,
        #[serde(rename = "quantity")]
        _quantity: u64,
        #[serde(default, rename = "leg")]
        _leg: Option<Leg>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Leg {
        #[serde(rename = "ratio")]
        _ratio: u32,
    }

    #[derive(Deserialize)]
    struct Page {
        #[serde(rename = "limit")]
        _limit: u32,
    }

    async fn create(ApiJson(_): ApiJson<Order>) -> StatusCode {
        StatusCode::CREATED
    }

    async fn list(ApiQuery(_): ApiQuery<Page>) -> StatusCode {
        StatusCode::OK
    }

    async fn show(ApiPath(_): ApiPath<u64>) -> StatusCode {
        StatusCode::OK
    }

    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "market")]
        _market: u32,
        #[serde(rename = "id")]
        _id: u64,
    }

    async fn show_named(ApiPath(_): ApiPath<Ids>) -> StatusCode {
        StatusCode::OK
    }

    async fn wrong_arity(ApiPath(_): ApiPath<(u64, u64)>) -> StatusCode {
        StatusCode::OK
    }

    fn app() -> Router {
        Router::new()
            .route("/orders", post(create).get(list))
            .route("/orders/{id}", get(show))
            .route("/markets/{market}/orders/{id}", get(show_named))
            .route("/broken/{id}", get(wrong_arity))
            .fallback(not_found_fallback)
            .method_not_allowed_fallback(method_not_allowed_fallback)
    }

    async fn send(request: Request) -> (StatusCode, Response) {
        let response = app().oneshot(request).await.unwrap();
        (response.status(), response)
    }

    fn post_json(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = Request::post("/orders");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    fn get_req(uri: &str) -> Request {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    /// Asserts a problem+json answer and returns its body.
    async fn expect(request: Request, status: u16, code: &str) -> Value {
        let (got, response) = send(request).await;
        assert!(is_problem_json(&response), "{:?}", response.headers());
        let body = body_of(response).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
        body
    }

    const JSON: Option<&str> = Some("application/json");

    #[tokio::test]
    async fn valid_requests_pass() {
        let ok = post_json(JSON, r#"{"price":"1.5","quantity":3}"#);
        assert_eq!(send(ok).await.0, StatusCode::CREATED);
        assert_eq!(send(get_req("/orders?limit=5")).await.0, StatusCode::OK);
        assert_eq!(send(get_req("/orders/42")).await.0, StatusCode::OK);
        assert_eq!(send(get_req("/markets/1/orders/2")).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn malformed_json_is_400() {
        let body = expect(post_json(JSON, r#"{"price": "#), 400, "malformed_json").await;
        assert!(body.get("field").is_none());
        let trailing = r#"{"price":"1","quantity":1} trailing"#;
        expect(post_json(JSON, trailing), 400, "malformed_json").await;
    }

    #[tokio::test]
    async fn wrong_or_missing_content_type_is_415() {
        let body = r#"{"price":"1","quantity":1}"#;
        expect(post_json(None, body), 415, "unsupported_media_type").await;
        expect(
            post_json(Some("text/plain"), body),
            415,
            "unsupported_media_type",
        )
        .await;
    }

    #[tokio::test]
    async fn missing_field_is_422_naming_it() {
        let body = expect(post_json(JSON, r#"{"price":"1"}"#), 422, "invalid_body").await;
        assert_eq!(body["field"], "quantity");
    }

    #[tokio::test]
    async fn wrong_type_is_422_naming_the_field() {
        let request = post_json(JSON, r#"{"price":"1","quantity":"lots"}"#);
        let body = expect(request, 422, "invalid_body").await;
        assert_eq!(body["field"], "quantity");
    }

    #[tokio::test]
    async fn nested_errors_name_the_dotted_path() {
        let request = post_json(JSON, r#"{"price":"1","quantity":1,"leg":{"ratio":-1}}"#);
        let body = expect(request, 422, "invalid_body").await;
        assert_eq!(body["field"], "leg.ratio");
        let request = post_json(
            JSON,
            r#"{"price":"1","quantity":1,"leg":{"ratio":1,"x":2}}"#,
        );
        let body = expect(request, 422, "invalid_body").await;
        assert_eq!(body["field"], "leg.x");
        let request = post_json(JSON, r#"{"price":"1","quantity":1,"leg":{}}"#);
        let body = expect(request, 422, "invalid_body").await;
        assert_eq!(body["field"], "leg.ratio");
    }

    #[tokio::test]
    async fn bad_query_is_400_naming_the_parameter() {
        let body = expect(get_req("/orders?limit=many"), 400, "invalid_query").await;
        assert_eq!(body["field"], "limit");
        let body = expect(get_req("/orders"), 400, "invalid_query").await;
        assert_eq!(body["field"], "limit");
    }

    #[tokio::test]
    async fn bad_path_is_400() {
        let body = expect(get_req("/orders/abc"), 400, "invalid_path").await;
        assert!(body["detail"].is_string());
        let body = expect(get_req("/markets/x/orders/2"), 400, "invalid_path").await;
        assert_eq!(body["field"], "market");
    }

    #[tokio::test]
    async fn path_extractor_misuse_is_a_bare_500() {
        let body = expect(get_req("/broken/1"), 500, "internal").await;
        assert_eq!(body["detail"], INTERNAL_DETAIL);
    }

    #[tokio::test]
    async fn unknown_route_is_404_problem() {
        expect(get_req("/nope"), 404, "route_not_found").await;
    }

    #[tokio::test]
    async fn wrong_method_is_405_problem_with_allow() {
        let request = Request::delete("/orders").body(Body::empty()).unwrap();
        let (status, response) = send(request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(is_problem_json(&response));
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(allow.is_some_and(|a| a.contains("POST") && a.contains("GET")));
        assert_eq!(body_of(response).await["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let app = app().layer(axum::extract::DefaultBodyLimit::max(16));
        let request = post_json(JSON, r#"{"price":"1","quantity":1,"padding":"xxxxxxxx"}"#);
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(is_problem_json(&response));
        assert_eq!(body_of(response).await["code"], "payload_too_large");
    }
}
