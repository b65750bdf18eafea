//! The watcher's outer loop: make the store, then start an incarnation, follow it to its
//! end, record how it ended, and start the command again (backing off in a crash loop)
//! until the watch is over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use leaktrail_store::Store;

use crate::analyser::Analyser;
use crate::incarnation::Incarnation;
use crate::retention::remove_stray_files;
use crate::{
    check_target, node_process, WatchConfig, WatchError, WatchEvent, WatchSummary, WatchTarget,
};

/// Runs the watcher until the process ends (and is not restarted), `stop` is set, or the
/// duration is over.
pub fn watch(
    config: &WatchConfig,
    stop: &AtomicBool,
    mut on_event: impl FnMut(&WatchEvent),
) -> Result<WatchSummary, WatchError> {
    check_target(&config.target)?;
    let mut store = Store::create(&config.store_dir)?;
    remove_stray_files(&store, &mut on_event)?;
    let (name, command) = match &config.target {
        WatchTarget::Pid(pid) => {
            let cmdline = node_process::cmdline(*pid).ok_or(WatchError::NoProcess(*pid))?;
            (
                config
                    .name
                    .clone()
                    .unwrap_or_else(|| node_process::default_name(&cmdline)),
                cmdline.join(" "),
            )
        }
        WatchTarget::Command(c) => (
            config
                .name
                .clone()
                .unwrap_or_else(|| node_process::default_name(c)),
            c.join(" "),
        ),
    };
    let target = store.target(&name, Some(&command))?;
    let (census_tx, census_rx) = channel();
    let analyser = Analyser::spawn(census_tx, config.census, config.census_worker.clone());
    let started = Instant::now();
    let mut summary = WatchSummary {
        target: name.clone(),
        ..WatchSummary::default()
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        let incarnation_start = Instant::now();
        let mut run = Incarnation::start(config, &mut store, target, &name, &mut on_event)?;
        summary.incarnations += 1;
        let end = run.follow(
            config,
            &mut store,
            stop,
            started,
            &analyser,
            &census_rx,
            &mut summary,
            &mut on_event,
        )?;
        // Censuses still being analysed belong to this incarnation.
        run.drain_censuses(
            &mut store,
            &census_rx,
            config,
            &mut summary,
            &mut on_event,
            true,
        )?;
        store.end_incarnation(run.id, &end)?;
        on_event(&WatchEvent::Ended(end.clone()));
        summary.last_end = Some(end.clone());
        let stopped = end.reason.by_the_watcher();
        let over = config.duration.is_some_and(|d| started.elapsed() >= d);
        if !config.restart
            || stopped
            || over
            || stop.load(Ordering::SeqCst)
            || matches!(config.target, WatchTarget::Pid(_))
        {
            return Ok(summary);
        }
        // A crash loop backs off up to 30 s; a run that lived a minute resets it.
        if incarnation_start.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        on_event(&WatchEvent::Restarting { after: backoff });
        let until = Instant::now() + backoff;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(summary);
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
