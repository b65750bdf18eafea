//! `leaktrail serve`: a watcher's store over HTTP — a JSON API, the trend report in
//! Markdown, Prometheus metrics and a dashboard.
//!
//! | route | answers |
//! |---|---|
//! | `GET /` | the dashboard: one self-contained page (no external fetches) charting the V8 heap, external memory and RSS with the trend table, refreshed every 5 s |
//! | `GET /api/memory/snapshots[?target=NAME]` | the snapshot index, sorted by time (`leaktrail.snapshots/1`); never the raw files |
//! | `GET /api/memory/diff-analysis[?base=ID&target=ID][&top=N]` | class and family deltas between two stored censuses: the oldest and newest snapshot of each target's latest incarnation, or the two ids given (`leaktrail.diff-analysis/1`) |
//! | `GET /api/memory/trend[?target=NAME]` | the trend report, as `leaktrail trend --format json` (`leaktrail.trend/1`) |
//! | `GET /api/memory/trend.md[?target=NAME]` | the same in Markdown |
//! | `POST /api/memory/trend/save[?target=NAME]` | writes the Markdown report to `STORE/reports/trend-<UTC time>.md` (0600) and returns its name; keeps the newest 100 it wrote, naming those it removed |
//! | `GET /api/memory/samples[?since=MS][&target=NAME][&limit=N]` | samples per target, oldest first, the newest `limit` (default 5000) at or after `since` (`leaktrail.samples/1`) |
//! | `GET /metrics` | Prometheus text format 0.0.4: per target heap, RSS, growth per second, assessment, time to OOM, restarts, sample age; the build |
//!
//! Errors are JSON `{"error": "..."}`: 400 for a bad, unknown or repeated parameter, a
//! request without `Host` or with two `Host`, `Origin` or `Authorization` headers, or one
//! that is not HTTP; 401 without the bearer token, 403 for what a web page of another site
//! must not do (below), 404 for an unknown target, snapshot or route, 405 for a wrong
//! method, 414 for a URL over 65,534 bytes, 431 for over 100 headers, 500 when the store
//! fails, 503 when every connection held is being answered.
//!
//! ## Connections
//!
//! A client has [`ConnectionLimits::header_timeout`] (10 s) to send a request's line and
//! headers, from when it connects or its previous answer was sent; then the connection is
//! closed. At most [`ConnectionLimits::max_connections`] (512, fewer when the open-file
//! limit leaves no room for them) are held: a new one beyond that closes the one that has
//! waited longest for a request, never one being answered, so clients that send half a
//! request and wait cannot keep others out. No route reads a request body, and a body is
//! not waited for: the answer is sent and the connection closed.
//!
//! ## Security
//!
//! - The server binds loopback by default; [`ServeConfig::check`] refuses any other address
//!   without a token. With a token, every route under `/api` and `/metrics` needs
//!   `Authorization: Bearer TOKEN`, compared in constant time. `/` is a static page holding
//!   no data: it asks for the token (or reads it from the URL fragment `#token=…`, which the
//!   browser never sends) and sends it with each request.
//! - A browser on the same machine is a way in: without a token only requests addressed to
//!   a loopback name (`Host: localhost`, `127.x.x.x`, `[::1]`) are answered, so a site
//!   whose name is rebound to 127.0.0.1 (DNS rebinding) reads nothing; a request that
//!   writes (`POST`) and carries another site's `Origin` is refused (cross-site forms).
//! - No route serves a raw snapshot (they hold the heap's strings: tokens, secrets), and no
//!   parameter is a path: snapshots are named by integer id, targets by name looked up in
//!   the database, reports are written under a name the server makes.
//!
//! The store is read through a few pooled connections on tokio's blocking threads; the
//! watcher writes at the same time (WAL mode and a busy timeout make that safe). Class and
//! collection trends are kept between requests and recomputed only when a snapshot is
//! added ([`TrendCache`]), so the dashboard's refresh every 5 s reads samples, not
//! censuses.

#![deny(missing_docs)]

mod api;
mod conn;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use leaktrail_store::{Store, StoreError};
use leaktrail_trend::{TrendCache, TrendPolicy};

pub use conn::{
    connections_open_files_allow, ConnectionLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
// The census diff of `diff-analysis`, kept here under its old path: it lives in
// `leaktrail_analysis` beside the snapshot diff.
pub use leaktrail_analysis::{CensusClassDelta, CensusDiff, CensusFamilyDelta, ClassChange};
pub use metrics::Exposition;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// Tokens shorter than this are refused: a bearer token is the only lock off loopback.
pub const MIN_TOKEN_LEN: usize = 16;

/// What to serve and where.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The store directory.
    pub store_dir: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The bearer token every data route requires, when set.
    pub token: Option<String>,
    /// How trends are judged.
    pub policy: TrendPolicy,
    /// What clients may hold: connections at once, time to send a request's headers.
    pub limits: ConnectionLimits,
    /// What built the server, for `leaktrail_build_info`.
    pub build: BuildInfo,
}

/// The build a server reports in `leaktrail_build_info{version, commit}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    /// The release, `CARGO_PKG_VERSION` of the binary.
    pub version: &'static str,
    /// The commit it was built from, when known (a build from a git checkout).
    pub commit: Option<&'static str>,
}

impl Default for BuildInfo {
    /// This crate's version and no commit: the binary that embeds the server knows better
    /// and says so in [`ServeConfig::build`].
    fn default() -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            commit: None,
        }
    }
}

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("--listen {0}: not a loopback address; serving a store beyond this machine needs --token (a bearer token of at least {MIN_TOKEN_LEN} characters)")]
    TokenRequired(SocketAddr),
    /// A token that is too short or cannot be sent in a header.
    #[error("--token: {0}")]
    BadToken(String),
    /// The address cannot be bound.
    #[error("{addr}: cannot listen: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause, said in the message (not also a `source()`, which renderers of the
        /// chain would say again).
        error: std::io::Error,
    },
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server failed while running (the cause is in the message, not a `source()`).
    #[error("server: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for ServeError {
    fn from(e: std::io::Error) -> ServeError {
        ServeError::Io(e)
    }
}

impl ServeConfig {
    /// A configuration with the default trend policy.
    pub fn new(store_dir: PathBuf, listen: SocketAddr, token: Option<String>) -> ServeConfig {
        ServeConfig {
            store_dir,
            listen,
            token,
            policy: TrendPolicy::default(),
            limits: ConnectionLimits::default(),
            build: BuildInfo::default(),
        }
    }

    /// Refuses what must not start: a non-loopback address without a token, a weak
    /// token, a directory that holds no store.
    pub fn check(&self) -> Result<(), ServeError> {
        self.check_access()?;
        Store::open(&self.store_dir)?;
        Ok(())
    }

    /// The address and token part of [`ServeConfig::check`], for a caller that creates
    /// the store only once they are known to be good.
    pub fn check_access(&self) -> Result<(), ServeError> {
        match &self.token {
            None if !self.listen.ip().is_loopback() => {
                return Err(ServeError::TokenRequired(self.listen))
            }
            Some(t) if t.chars().count() < MIN_TOKEN_LEN => {
                return Err(ServeError::BadToken(format!(
                    "too short ({} characters, at least {MIN_TOKEN_LEN})",
                    t.chars().count()
                )))
            }
            Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ServeError::BadToken(
                    "only printable ASCII without spaces can travel in a header".into(),
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

/// Serves the store until the task is dropped or the listener fails.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    config.check()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| ServeError::Bind {
            addr: config.listen,
            error,
        })?;
    serve_on(
        listener,
        shared(&config),
        config.limits,
        std::future::pending(),
    )
    .await
}

/// Serves `state` on `listener` until `shutdown` completes, with the background task that
/// keeps the trend cache warm: it re-assesses soon after a new snapshot lands, so that no
/// request pays for it (about 170 ms over 200 snapshots against 24 ms from the cache).
async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<Shared>,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let warm = state.clone();
    let warmer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(TREND_REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let shared = warm.clone();
            let _ = tokio::task::spawn_blocking(move || shared.warm_trends()).await;
        }
    });
    conn::serve_connections(listener, api::router(state), limits, shutdown).await;
    warmer.abort();
    Ok(())
}

/// A server running on a background thread (see [`spawn`]).
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// The address it listens on (the real port when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server stops (it stops only on an error).
    pub fn wait(mut self) -> Result<(), ServeError> {
        self.join()
    }

    /// Stops the server and waits for it.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join()
    }

    fn join(&mut self) -> Result<(), ServeError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other(
                "the server thread panicked",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Checks the configuration, binds the address (so that errors come back here, and port
/// 0 is resolved) and serves on a background thread with its own runtime. For
/// `leaktrail serve` and `leaktrail watch --serve`.
pub fn spawn(config: ServeConfig) -> Result<Server, ServeError> {
    config.check()?;
    let bind_err = |error| ServeError::Bind {
        addr: config.listen,
        error,
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(bind_err)?;
    // std listens with a backlog of 128: a burst of connections (a flood the cap then
    // sheds) overflows it, and the kernel drops the attempts beyond, each retried by its
    // client only a second later. tokio's own bind asks for 1024; Linux takes a new
    // backlog on a socket already listening.
    let _ = rustix::net::listen(&listener, LISTEN_BACKLOG);
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = shared(&config);
    let limits = config.limits;
    let thread = std::thread::Builder::new()
        .name("leaktrail-serve".into())
        .spawn(move || -> Result<(), ServeError> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(8)
                .thread_name("leaktrail-serve")
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve_on(listener, state, limits, async move {
                    let _ = stopped.await;
                })
                .await
            })
        })?;
    Ok(Server {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// What every request shares.
pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) token: Option<String>,
    pub(crate) policy: TrendPolicy,
    pub(crate) build: BuildInfo,
    /// Class and collection trends kept between requests (recomputed on a new snapshot).
    trends: Mutex<TrendCache>,
    pool: Mutex<Vec<Store>>,
}

/// How often the background task checks for new snapshots to re-assess.
const TREND_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Idle connections kept open.
const POOL_SIZE: usize = 2;

/// Connections the kernel completes and queues before the server accepts them.
const LISTEN_BACKLOG: i32 = 1024;

fn shared(config: &ServeConfig) -> Arc<Shared> {
    Arc::new(Shared {
        dir: config.store_dir.clone(),
        token: config.token.clone(),
        policy: config.policy,
        build: config.build,
        trends: Mutex::new(TrendCache::new()),
        pool: Mutex::new(Vec::new()),
    })
}

impl Shared {
    /// Brings every target's cached class and collection trends up to date with the store
    /// (reads only the snapshot index when no snapshot was added since the last call).
    /// Errors are left to the next request.
    fn warm_trends(&self) {
        let _ = self.with_store(|store| -> Result<(), StoreError> {
            let mut trends = self.trend_cache();
            for target in store.targets()? {
                trends.refresh(store, &target, &self.policy)?;
            }
            Ok(())
        });
    }

    /// The trend cache, locked (a request that panicked holding it left it consistent:
    /// entries are replaced whole).
    pub(crate) fn trend_cache(&self) -> std::sync::MutexGuard<'_, TrendCache> {
        self.trends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with a pooled store connection (opened when none is idle).
    pub(crate) fn with_store<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let idle = self
            .pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let store = match idle {
            Some(s) => s,
            None => Store::open(&self.dir)?,
        };
        let result = f(&store);
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(store);
        }
        result
    }
}
