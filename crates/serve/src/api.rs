//! The routes: parameters checked, the store read on a blocking thread, JSON or text out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use leaktrail_report::{render_trend, utc_stamp, Format, RenderOptions, TrendContext};
use leaktrail_store::{
    create_private_dir, now_ms, SampleRecord, SnapshotRecord, Store, StoreError, Target,
};
use leaktrail_trend::TrendReport;

use crate::diff::CensusDiff;
use crate::metrics::{exposition, CONTENT_TYPE};
use crate::Shared;

type AppState = Arc<Shared>;

/// The dashboard page.
const DASHBOARD: &str = include_str!("dashboard.html");

/// Samples per target when `limit` is not given, and the most a request may ask for.
const DEFAULT_SAMPLES: i64 = 5000;
const MAX_SAMPLES: i64 = 100_000;
/// Classes per diff when `top` is not given.
const DEFAULT_TOP: i64 = 50;

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

/// A query string as its name-value pairs in order: a map would keep only the last of a
/// repeated name, silently.
type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Query parameters, checked against the names a route takes.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(query: RawQuery, allowed: &[&str]) -> Result<Params, ApiError> {
        let Query(pairs) =
            query.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {name:?} (this route takes {})",
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
            if map.contains_key(&name) {
                return Err(ApiError::bad_request(format!(
                    "parameter {name:?} given more than once: give it once"
                )));
            }
            map.insert(name, value);
        }
        Ok(Params(map))
    }

    fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name).map(String::as_str) {
            Some("") => Err(ApiError::bad_request(format!("{name}: empty"))),
            v => Ok(v),
        }
    }

    /// An integer in `min..=max`.
    fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.0.get(name) else {
            return Ok(None);
        };
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{name}={v:?}: expected an integer")))?;
        if !(min..=max).contains(&n) {
            return Err(ApiError::bad_request(format!(
                "{name}={n}: expected {min} to {max}"
            )));
        }
        Ok(Some(n))
    }
}

/// The targets a request names: all of them, or the one called `name` (404 if none is).
fn select_targets(store: &Store, name: Option<&str>) -> Result<Vec<Target>, ApiError> {
    let mut targets = store.targets()?;
    if let Some(name) = name {
        let known: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        targets.retain(|t| t.name == name);
        if targets.is_empty() {
            return Err(ApiError::not_found(format!(
                "no target {name:?} in the store (targets: {})",
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    Ok(targets)
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
async fn browser_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
    let mut r = Html(DASHBOARD).into_response();
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

/// One diff of `diff-analysis`.
#[derive(Serialize)]
struct DiffEntry {
    target: String,
    before: SnapshotEntry,
    after: SnapshotEntry,
    seconds: f64,
    /// What makes this pair a doubtful leak comparison (empty when none).
    caveats: Vec<String>,
    #[serde(flatten)]
    diff: CensusDiff,
    classes_changed: usize,
}

/// Why a difference between `before` and `after` may not measure a leak: the ids of
/// `?base=&target=` are free, and a wrong pair still gives plausible numbers.
fn pair_caveats(before: &SnapshotEntry, after: &SnapshotEntry) -> Vec<String> {
    let mut caveats = Vec::new();
    if before.target != after.target {
        caveats.push(format!(
            "base is a snapshot of {:?} and target of {:?}: the difference compares two services",
            before.target, after.target
        ));
    } else if before.incarnation_id != after.incarnation_id {
        caveats.push(
            "base and target are of different processes (a restart between them starts a new heap)"
                .to_owned(),
        );
    }
    if before.t > after.t {
        caveats.push("base was taken after target: the deltas read backwards".to_owned());
    }
    caveats
}

fn diff_entry(
    store: &Store,
    before: &SnapshotEntry,
    after: &SnapshotEntry,
    top: usize,
) -> Result<DiffEntry, ApiError> {
    let census = |e: &SnapshotEntry| -> Result<_, ApiError> {
        let rec = store
            .snapshot(e.id)?
            .ok_or_else(|| ApiError::not_found(format!("no snapshot {}", e.id)))?;
        Ok(store.census(&rec)?)
    };
    let mut diff = CensusDiff::between(&census(before)?, &census(after)?);
    let changed = diff.classes.len();
    diff.classes.truncate(top);
    Ok(DiffEntry {
        target: after.target.clone(),
        before: before.clone(),
        after: after.clone(),
        seconds: (after.t - before.t) as f64 / 1000.0,
        caveats: pair_caveats(before, after),
        diff,
        classes_changed: changed,
    })
}

async fn diff_analysis(State(state): State<AppState>, query: RawQuery) -> ApiResult {
    let params = Params::parse(query, &["base", "target", "top"])?;
    let base = params.int("base", 1, i64::MAX)?;
    let target = params.int("target", 1, i64::MAX)?;
    let top = params.int("top", 1, 100_000)?.unwrap_or(DEFAULT_TOP) as usize;
    if base.is_some() != target.is_some() {
        return Err(ApiError::bad_request(
            "give both base and target (snapshot ids from /api/memory/snapshots), or neither",
        ));
    }
    let diffs = with_store(&state, move |_, store| {
        let targets = store.targets()?;
        let mut index = Vec::new();
        for t in &targets {
            index.push(index_of(store, t)?);
        }
        let find = |id: i64| {
            index
                .iter()
                .flatten()
                .find(|e| e.id == id)
                .ok_or_else(|| ApiError::not_found(format!("no snapshot {id} in the store")))
        };
        let mut diffs = Vec::new();
        if let (Some(b), Some(t)) = (base, target) {
            diffs.push(diff_entry(store, find(b)?, find(t)?, top)?);
            return Ok(diffs);
        }
        // Oldest vs newest snapshot of each target's latest incarnation (a restart starts
        // a new heap: comparing across it says nothing about a leak).
        for list in &index {
            let Some(latest) = list.iter().map(|e| e.incarnation_id).max() else {
                continue;
            };
            let recent: Vec<&SnapshotEntry> =
                list.iter().filter(|e| e.incarnation_id == latest).collect();
            if let (Some(a), Some(b)) = (recent.first(), recent.last()) {
                if recent.len() >= 2 {
                    diffs.push(diff_entry(store, a, b, top)?);
                }
            }
        }
        Ok(diffs)
    })
    .await?;
    Ok(Json(Listing::new("leaktrail.diff-analysis/1", "diffs", &diffs)).into_response())
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

/// Reports `POST /api/memory/trend/save` keeps: each save removes the oldest it wrote
/// beyond these, so that a script saving on a schedule (or in a loop) cannot fill the
/// disk, as `watch --keep` does for snapshots. Files it did not write stay.
pub(crate) const KEPT_REPORTS: usize = 100;

/// What a save wrote and removed.
struct Saved {
    name: String,
    bytes: usize,
    removed: Vec<String>,
}

/// A report name this server writes, `trend-<UTC stamp>[-n].md`, as its sort key: the
/// stamp (fixed width, so text order is time order), then `n` (1 when absent) for those
/// saved within the same second.
fn report_key(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix("trend-")?.strip_suffix(".md")?;
    // `20261206T133719Z`
    let stamp = rest.get(..16)?;
    let b = stamp.as_bytes();
    let is_stamp =
        b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) && b[8] == b'T' && b[15] == b'Z';
    if !is_stamp {
        return None;
    }
    match &rest[16..] {
        "" => Some((stamp, 1)),
        more => {
            let n: u32 = more.strip_prefix('-')?.parse().ok()?;
            (n >= 2 && !more.starts_with("-0")).then_some((stamp, n))
        }
    }
}

fn report_name(stamp: &str, n: u32) -> String {
    if n == 1 {
        format!("trend-{stamp}.md")
    } else {
        format!("trend-{stamp}-{n}.md")
    }
}

/// The reports this server wrote in `dir`, oldest first.
fn saved_reports(dir: &std::path::Path) -> Result<Vec<String>, ApiError> {
    let listing = std::fs::read_dir(dir)
        .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
    let mut names: Vec<String> = listing
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| report_key(n).is_some())
        .collect();
    names.sort_by(|a, b| report_key(a).cmp(&report_key(b)));
    Ok(names)
}

/// Writes `text` to a new file `trend-<UTC time>[-n].md` in `dir` (created 0700), mode
/// 0600, then removes the oldest reports written here beyond [`KEPT_REPORTS`].
fn save_report(dir: &std::path::Path, text: &str) -> Result<Saved, ApiError> {
    use std::io::Write;
    create_private_dir(dir)?;
    let stamp = utc_stamp(now_ms());
    // Numbered after those saved within this second, so that names keep time order (a
    // number freed by a removal is not used again).
    let mut n = saved_reports(dir)?
        .iter()
        .filter_map(|name| report_key(name))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, n)| n + 1)
        .max()
        .unwrap_or(1);
    let mut written = None;
    // Another save at the same moment may take a name first: the next number then.
    for _ in 0..1000 {
        let name = report_name(&stamp, n);
        let path = dir.join(&name);
        match leaktrail_snapshot::private::create_new_file(&path) {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
                written = Some(name);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
        }
    }
    let name = written.ok_or_else(|| ApiError::internal("too many reports saved at once"))?;
    let mut removed = Vec::new();
    let reports = saved_reports(dir)?;
    let excess = reports.len().saturating_sub(KEPT_REPORTS);
    // Never the one just written, though a clock set back can make it sort first.
    for old in reports.into_iter().filter(|r| *r != name).take(excess) {
        match std::fs::remove_file(dir.join(&old)) {
            Ok(()) => removed.push(old),
            // Removed by a save at the same moment.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ApiError::internal(format!(
                    "{}: {e}",
                    dir.join(&old).display()
                )))
            }
        }
    }
    Ok(Saved {
        name,
        bytes: text.len(),
        removed,
    })
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
    let params = Params::parse(query, &["since", "target", "limit"])?;
    let since = params.int("since", 0, i64::MAX)?.unwrap_or(0);
    let limit = params
        .int("limit", 1, MAX_SAMPLES)?
        .unwrap_or(DEFAULT_SAMPLES) as usize;
    let name = params.text("target")?.map(str::to_owned);
    let list = with_store(&state, move |_, store| {
        let mut out = Vec::new();
        for t in select_targets(store, name.as_deref())? {
            out.push(TargetSamples {
                samples: store.samples(t.id, since, limit)?,
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
    use super::*;

    fn entry(id: i64, target: &str, incarnation_id: i64, t: i64) -> SnapshotEntry {
        SnapshotEntry {
            id,
            target: target.to_owned(),
            incarnation_id,
            pid: None,
            t,
            file: String::new(),
            file_size: 0,
            file_on_disk: false,
            file_deleted_at: None,
            node_count: 0,
            edge_count: 0,
            total_self_size: 0,
            reason: "schedule".to_owned(),
        }
    }

    #[test]
    fn doubtful_pairs_say_why() {
        let a = entry(1, "api", 1, 1_000);
        assert!(pair_caveats(&a, &entry(2, "api", 1, 2_000)).is_empty());
        let other_service = pair_caveats(&a, &entry(3, "worker", 2, 2_000));
        assert_eq!(other_service.len(), 1);
        assert!(
            other_service[0].contains("two services"),
            "{other_service:?}"
        );
        let restarted = pair_caveats(&a, &entry(4, "api", 2, 2_000));
        assert_eq!(restarted.len(), 1);
        assert!(restarted[0].contains("restart"), "{restarted:?}");
        let backwards = pair_caveats(&entry(4, "api", 2, 2_000), &a);
        assert_eq!(backwards.len(), 2, "{backwards:?}");
    }

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
    fn report_names_sort_by_time_then_number() {
        assert_eq!(
            report_key("trend-20261206T133719Z.md"),
            Some(("20261206T133719Z", 1))
        );
        assert_eq!(
            report_key("trend-20261206T133719Z-12.md"),
            Some(("20261206T133719Z", 12))
        );
        for not_ours in [
            "trend-notes.md",
            "trend-20261206T133719Z.txt",
            "trend-20261206T133719Z-1.md",
            "trend-20261206T133719Z-02.md",
            "trend-20261206T133719Z-x.md",
            "trend-2026120XT133719Z.md",
            "notes.md",
            "trend-.md",
        ] {
            assert_eq!(report_key(not_ours), None, "{not_ours}");
        }
        let mut names = vec![
            "trend-20261206T133720Z.md",
            "trend-20261206T133719Z-10.md",
            "trend-20261206T133719Z-2.md",
            "trend-20261206T133719Z.md",
        ];
        names.sort_by(|a, b| report_key(a).cmp(&report_key(b)));
        assert_eq!(
            names,
            [
                "trend-20261206T133719Z.md",
                "trend-20261206T133719Z-2.md",
                "trend-20261206T133719Z-10.md",
                "trend-20261206T133720Z.md",
            ]
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abcdef", b"abcde"));
        assert!(constant_time_eq(b"", b""));
    }
}
