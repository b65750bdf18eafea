//! `leaktrail serve --store DIR [--listen ADDR] [--token TOKEN]`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use leaktrail_harness::GrowthFloor;
use leaktrail_serve::ServeConfig;

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
    #[arg(long, value_name = "SIZE/h", value_parser = super::trend::parse_floor)]
    floor: Option<GrowthFloor>,

    /// Significance level of the trend test.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
}

/// Serves until killed.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    leaktrail_watch::own_memory::configure_allocator();
    let mut config = ServeConfig::new(args.store.clone(), args.listen, args.token.clone());
    config.policy = super::trend::policy(args.floor, args.alpha)?;
    let server = leaktrail_serve::spawn(config)?;
    leaktrail_watch::own_memory::release_free_memory_periodically()?;
    eprintln!(
        "leaktrail serve: http://{}/ (store {}{})",
        server.addr(),
        args.store.display(),
        if args.token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    server.wait()?;
    Ok(())
}
