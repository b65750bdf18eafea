//! `leaktrail serve --store DIR [--listen ADDR] [--token TOKEN]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use leaktrail_harness::GrowthFloor;
use leaktrail_serve::{ConnectionLimits, ServeConfig};

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The store written by `leaktrail watch`.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,

    /// Address to listen on; anything but loopback needs --token.
    #[arg(long, value_name = "ADDR", default_value = leaktrail_serve::DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Bearer token every data route requires (at least 16 characters); prefer the
    /// environment variable, which other users cannot read in the process list.
    #[arg(
        long,
        env = "LEAKTRAIL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Growth at or below this is not a leak, per hour, minute or second: `1MB/h`
    /// (default), `64KB/min`.
    #[arg(long, value_name = "SIZE/h", value_parser = super::policy::parse_floor)]
    floor: Option<GrowthFloor>,

    /// Significance level of the trend test.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,

    /// Connections held at once; a new one beyond it closes the one that has waited
    /// longest for a request. Lowered to what the open-file limit leaves room for.
    #[arg(
        long,
        value_name = "N",
        default_value_t = leaktrail_serve::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    max_connections: usize,

    /// How long a client may take to send a request's headers (and an idle keep-alive
    /// connection stays open) before it is closed: `10s` by default.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    header_timeout: Option<Duration>,
}

/// Serves until killed.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    leaktrail_watch::own_memory::configure_allocator();
    let mut config = ServeConfig::new(args.store.clone(), args.listen, args.token.clone());
    config.policy = super::policy::policy(args.floor, args.alpha)?;
    config.build = super::build_info();
    config.limits = ConnectionLimits {
        max_connections: args.max_connections,
        header_timeout: args
            .header_timeout
            .unwrap_or(leaktrail_serve::DEFAULT_HEADER_TIMEOUT),
    };
    let limits = config.limits;
    let server = leaktrail_serve::spawn(config)?;
    leaktrail_watch::own_memory::release_free_memory_periodically()?;
    // One line: whoever reads where the server is may stop reading after it.
    let cap = limits.effective_max_connections();
    eprintln!(
        "leaktrail serve: http://{}/ (store {}{}{})",
        server.addr(),
        args.store.display(),
        if args.token.is_some() {
            ", bearer token required"
        } else {
            ""
        },
        if cap < args.max_connections {
            format!(
                "; at most {cap} connections, not {}: the open-file limit leaves room for no more",
                args.max_connections
            )
        } else {
            String::new()
        }
    );
    server.wait()?;
    Ok(())
}
