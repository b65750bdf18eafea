//! The routes: parameters checked, the store read on a blocking thread, JSON or text out.
//!
//! Beside the router and the handlers here: [`auth`] (the bearer token and the browser
//! guard), [`params`] (query parameters), [`diff`] (the census diff route), [`reports`]
//! (saved trend reports); the Prometheus page is written by [`crate::metrics`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use leaktrail_report::{render_trend, Format, RenderOptions, TrendContext};
use leaktrail_store::{now_ms, SampleRecord, SnapshotRecord, Store, StoreError, Target};
use leaktrail_trend::TrendReport;

use crate::metrics::{exposition, CONTENT_TYPE};
use crate::Shared;

mod auth;
mod diff;
mod params;
mod reports;

use auth::{browser_guard, require_token};
use diff::diff_analysis;
use params::{select_targets, Params, RawQuery};
use reports::save_report;

type AppState = Arc<Shared>;

/// The dashboard page, with [`BYTE_UNITS`](leaktrail_analysis::units::BYTE_UNITS) written
/// into its script: its byte labels use the same unit table as `leaktrail`'s text.
static DASHBOARD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let units: Vec<String> = leaktrail_analysis::units::BYTE_UNITS
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect();
    include_str!("dashboard.html").replace("BYTE_UNITS_FROM_SERVER", &units.join(", "))
});

/// Samples per target when `limit` is not given, and the most a request may ask for.
const DEFAULT_SAMPLES: i64 = 5000;
const MAX_SAMPLES: i64 = 100_000;

/// The router of every route, with the token check on the data routes.
pub(crate) fn router(state: AppState) -> Router {
    let data = Router::new()
        .route("/api/memory/snapshots", get(snapshots))
        .route("/api/memory/diff-analysis", get(diff_analysis))
        .route("/api/memory/trend", get(trend_json))
        .route("/api/memory/trend.md", get(trend_markdown))
        .route("/api/memory/trend/save", post(trend_save))
        .route("/api/memory/samples", get(samples))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/", get(dashboard))
        .merge(data)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), browser_guard))
        .layer(middleware::map_response(common_headers))
        .with_state(state)
}

/// A JSON error with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        // A store error names the path and says its cause (SQLite's or the system's words).
        ApiError::internal(format!("store: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Runs store work on a blocking thread with a pooled connection.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Shared, &Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || state.with_store(|store| f(&state, store)))
        .await
        .map_err(|e| ApiError::internal(format!("request failed: {e}")))?
}

async fn common_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

async fn dashboard() -> Response {
    let mut r = Html(DASHBOARD.as_str()).into_response();
    // The page loads nothing from anywhere: scripts and styles are inline, data comes
    // from this server.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

/// One entry of the snapshot index.
#[derive(Clone, Serialize)]
struct SnapshotEntry {
    id: i64,
    target: String,
    incarnation_id: i64,
    pid: Option<i64>,
    t: i64,
    file: String,
    file_size: i64,
    file_on_disk: bool,
    file_deleted_at: Option<i64>,
    node_count: i64,
    edge_count: i64,
    total_self_size: i64,
    reason: String,
}

impl SnapshotEntry {
    fn of(s: &SnapshotRecord, target: &str, pid: Option<i64>) -> SnapshotEntry {
        SnapshotEntry {
            id: s.id,
            target: target.to_owned(),
            incarnation_id: s.incarnation_id,
            pid,
            t: s.t,
            file: s.file.clone(),
            file_size: s.file_size,
            file_on_disk: s.file_deleted_at.is_none(),
            file_deleted_at: s.file_deleted_at,
            node_count: s.node_count,
            edge_count: s.edge_count,
            total_self_size: s.total_self_size,
            reason: s.reason.clone(),
        }
    }
}

/// The index of `target`'s snapshots with the pid of each incarnation.
fn index_of(store: &Store, target: &Target) -> Result<Vec<SnapshotEntry>, ApiError> {
    let pids: HashMap<i64, i64> = store
        .incarnations(target.id)?
        .iter()
        .map(|i| (i.id, i.pid))
        .collect();
    Ok(store
        .snapshots(target.id)?
        .iter()
        .map(|s| SnapshotEntry::of(s, &target.name, pids.get(&s.incarnation_id).copied()))
        .collect())
}

async fn snapshots(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let params = Params::parse(query, &["target"])?;
    let name = params.text("target")?.map(str::to_owned);
    let list = with_store(&state, move |_, store| {
        let mut all = Vec::new();
        for t in select_targets(store, name.as_deref())? {
            all.extend(index_of(store, &t)?);
        }
        all.sort_by_key(|s| (s.t, s.id));
        Ok(all)
    })
    .await?;
    Ok(Json(Listing::new("leaktrail.snapshots/1", "snapshots", &list)).into_response())
}

impl Shared {
    /// The trend of one target, through the cache.
    pub(crate) fn trend(&self, store: &Store, target: &Target) -> Result<TrendReport, StoreError> {
        self.trend_cache().report(store, target, &self.policy)
    }
}

/// Trend reports of the targets named (all by default).
fn trends(
    shared: &Shared,
    store: &Store,
    name: Option<&str>,
) -> Result<(TrendContext, Vec<TrendReport>), ApiError> {
    let targets = select_targets(store, name)?;
    let mut reports = Vec::with_capacity(targets.len());
    for t in &targets {
        reports.push(shared.trend(store, t)?);
    }
    let context = TrendContext {
        source: "store".to_owned(),
        path: shared.dir.display().to_string(),
        order: None,
        generated_at: now_ms(),
        floor_per_hour: shared.policy.floor_per_hour,
        alpha: shared.policy.alpha,
    };
    Ok((context, reports))
}

fn options(format: Format) -> RenderOptions {
    RenderOptions {
        format,
        color: false,
        top: 20,
        min_bytes: 0,
    }
}

async fn trend_text(state: &AppState, query: RawQuery, format: Format) -> Result<String, ApiError> {
    let params = Params::parse(query, &["target"])?;
    let name = params.text("target")?.map(str::to_owned);
    with_store(state, move |shared, store| {
        let (context, reports) = trends(shared, store, name.as_deref())?;
        Ok(render_trend(&context, &reports, options(format)))
    })
    .await
}

async fn trend_json(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let body = trend_text(&state, query, Format::Json).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn trend_markdown(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let body = trend_text(&state, query, Format::Markdown).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        body,
    )
        .into_response())
}

async fn trend_save(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let body = trend_text(&state, query, Format::Markdown).await?;
    let dir = state.dir.join("reports");
    let saved = tokio::task::spawn_blocking(move || save_report(&dir, &body))
        .await
        .map_err(|e| ApiError::internal(format!("request failed: {e}")))??;
    let in_reports = |name: &str| format!("reports/{name}");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "saved": in_reports(&saved.name),
            "bytes": saved.bytes,
            "removed": saved.removed.iter().map(|n| in_reports(n)).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}

/// A response body `{"schema": …, KEY: [items]}`, serialized straight into the response:
/// `json!` would first build a `serde_json::Value` tree several times the size of the
/// text (thousands of samples), and the server's threads would keep that high-water mark.
struct Listing<'a, T> {
    schema: &'static str,
    key: &'static str,
    items: &'a [T],
}

impl<'a, T: Serialize> Listing<'a, T> {
    fn new(schema: &'static str, key: &'static str, items: &'a [T]) -> Self {
        Listing { schema, key, items }
    }
}

impl<T: Serialize> Serialize for Listing<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("schema", self.schema)?;
        map.serialize_entry(self.key, self.items)?;
        map.end()
    }
}

/// The samples of one target.
#[derive(Serialize)]
struct TargetSamples {
    target: String,
    samples: Vec<SampleRecord>,
}

async fn samples(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let params = Params::parse(query, &["since", "target", "limit", "max_points"])?;
    let since = params.int("since", 0, i64::MAX)?.unwrap_or(0);
    let limit = params.int("limit", 1, MAX_SAMPLES)?;
    // The newest `limit`, or `max_points` spread over the whole span (a chart of days).
    let spread = params.int("max_points", 1, MAX_SAMPLES)?;
    if limit.is_some() && spread.is_some() {
        return Err(ApiError::bad_request(
            "limit and max_points: give one (the newest samples, or points over the whole span)",
        ));
    }
    let limit = limit.unwrap_or(DEFAULT_SAMPLES) as usize;
    let name = params.text("target")?.map(str::to_owned);
    let list = with_store(&state, move |_, store| {
        let mut out = Vec::new();
        for t in select_targets(store, name.as_deref())? {
            let samples = match spread {
                Some(points) => store.samples_spread(t.id, since, points as usize)?,
                None => store.samples(t.id, since, limit)?,
            };
            out.push(TargetSamples {
                samples,
                target: t.name,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(Listing::new("leaktrail.samples/1", "targets", &list)).into_response())
}

async fn metrics(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    Params::parse(query, &[])?;
    let page = with_store(&state, |shared, store| {
        let mut rows = Vec::new();
        for t in store.targets()? {
            let latest = store.samples(t.id, 0, 1)?.pop();
            let incarnations = store.incarnations(t.id)?;
            let running = incarnations.last().is_some_and(|i| i.ended_at.is_none());
            let report = shared.trend(store, &t)?;
            rows.push((t.name, latest, running, report));
        }
        Ok(exposition(&shared.build, &rows))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dashboard_gets_the_byte_units_from_the_formatter() {
        let page = super::DASHBOARD.as_str();
        assert!(!page.contains("BYTE_UNITS_FROM_SERVER"));
        assert!(page.contains(r#"const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];"#));
    }
}
