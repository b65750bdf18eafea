use super::*;
use crate::memory::memory_trend;
use leaktrail_analysis::{ClassStats, Family, GroupTotal, SnapshotCensus, SnapshotInfo};
use leaktrail_stats::GrowthPolicy;
use leaktrail_store::{Incarnation, MemoryReading, SampleRecord, SnapshotRecord, Target};

#[test]
fn collections_of_one_shape_are_one_group() {
    let events =
        "sessions\u{1}Map\u{2}table\u{1}system\u{2}[]\u{1}Session\u{2}events\u{1}Array\u{2}";
    let trend =
        |id: u32, shape: Option<&str>, first: u64, last: u64, a: Assessment| CollectionTrend {
            id,
            kind: "Array".into(),
            path: format!("(GC roots) → sessions → table → {id} → Session.events"),
            entries_first: first,
            entries_last: last,
            retained_last: last * 10,
            rate: RatePerHour {
                slope: 100.0,
                low: 50.0,
                high: 150.0,
            },
            assessment: a,
            shape: shape.map(str::to_owned),
        };
    let groups = CollectionGroup::group(&[
        trend(1, Some(events), 100, 900, Assessment::Leaking),
        trend(2, Some(events), 100, 800, Assessment::Growing),
        trend(3, None, 500, 400, Assessment::Stable),
        trend(4, Some(events), 100, 700, Assessment::Growing),
    ]);
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(
        g.label,
        "`Session.events` (Array), one per entry of `sessions`"
    );
    assert_eq!((g.count, g.growing), (3, 3));
    assert_eq!(g.ids, [1, 2, 4]);
    assert_eq!((g.entries_first, g.entries_last), (300, 2400));
    assert_eq!(g.entries_growth, 2100);
    assert_eq!(g.entries_per_hour, 300.0);
    assert_eq!(g.assessment, Assessment::Leaking);
    assert_eq!(groups[1].label, "Array @3");
    assert_eq!(groups[1].growing, 0);
}

fn census(t: u64, leak: u64) -> SnapshotCensus {
    let class = |name: &str, count: u64, size: u64| ClassStats {
        class: name.into(),
        family: Family::Objects,
        count,
        self_size: size,
        retained_size: Some(size),
    };
    SnapshotCensus {
        info: SnapshotInfo {
            path: format!("{t}"),
            file_size: 0,
            node_count: 0,
            edge_count: 0,
            total_self_size: 50_000_000 + leak,
        },
        families: vec![GroupTotal {
            name: "objects".into(),
            count: 0,
            self_size: 0,
        }],
        classes: vec![
            class("StreamEntry", leak / 100, leak),
            // Steady, with noise.
            class("Session", 500, 64_000 + (t * 7919 % 13) * 64),
        ],
        collections: vec![],
        max_node_id: None,
        leaks: None,
        places: Vec::new(),
    }
}

fn input(hours: u64, heap_limit: Option<i64>) -> TrendInput {
    let target = Target {
        id: 1,
        name: "api".into(),
        command: None,
        created_at: 0,
    };
    let inc = Incarnation {
        id: 1,
        target_id: 1,
        pid: 7,
        started_at: 0,
        ended_at: None,
        exit_code: None,
        signal: None,
        end_reason: None,
        heap_limit,
        memory_limit: None,
    };
    let hour = 3_600_000i64;
    let snapshots = (0..hours)
        .map(|h| {
            let t = h as i64 * hour;
            let rec = SnapshotRecord {
                id: h as i64,
                incarnation_id: 1,
                t,
                file: String::new(),
                file_size: 0,
                file_deleted_at: None,
                node_count: 0,
                edge_count: 0,
                total_self_size: 0,
                reason: "schedule".into(),
            };
            (rec, census(h, (h * 20) << 20))
        })
        .collect();
    let samples = (0..hours * 6)
        .map(|k| SampleRecord {
            incarnation_id: 1,
            t: k as i64 * hour / 6,
            memory: MemoryReading {
                rss: 200 << 20,
                threads: 11,
                // 20 MiB/h, with a GC sawtooth of 3 MiB.
                heap_used: Some((100 << 20) + (k * (20 << 20)) / 6 + (k % 3) * (1 << 20)),
                ..MemoryReading::default()
            },
            ..SampleRecord::default()
        })
        .collect();
    TrendInput {
        target,
        incarnations: vec![inc],
        samples,
        snapshots,
    }
}

#[test]
fn a_growing_class_leaks_and_a_steady_one_does_not() {
    let r = TrendReport::assess(&input(24, Some(2 << 30)), &TrendPolicy::default());
    assert_eq!(r.overall, Assessment::Leaking, "{}", r.sentence);
    assert_eq!(r.classes[0].class, "StreamEntry");
    assert_eq!(r.classes[0].assessment, Assessment::Leaking);
    // Session only wobbles (by far less than the noise floor): left out as stable.
    assert!(
        r.classes.iter().all(|c| c.class != "Session"),
        "{:?}",
        r.classes
    );
    let heap = &r.memory[0];
    assert!(
        (heap.rate.slope - 20.0 * 1048576.0).abs() < 2.0 * 1048576.0,
        "{heap:?}"
    );
    // (2048 - ~580) MiB at 20 MiB/h: about 73 h.
    let t = heap.time_to_oom.as_ref().expect("time to oom");
    assert!((65.0..80.0).contains(&(t.seconds / 3600.0)), "{t:?}");
    assert!(t.seconds_early <= t.seconds && t.seconds_late.is_some_and(|l| l >= t.seconds));
    // RSS is flat here: stable.
    assert_eq!(r.memory[1].assessment, Assessment::Stable);
}

#[test]
fn rss_samples_taken_during_a_snapshot_are_left_out() {
    // RSS flat at 200 MiB, but 1 GiB higher at the samples of the second half's
    // snapshots, the last sample among them.
    let mut with_jumps = input(24, None);
    let n = with_jumps.samples.len();
    for (k, s) in with_jumps.samples.iter_mut().enumerate() {
        if k >= n / 2 && (k % 6 < 2 || k == n - 1) {
            s.memory.rss += 1 << 30;
            s.in_snapshot = true;
            s.memory.heap_used = None;
        }
    }
    let rss = |r: &TrendReport| {
        r.memory
            .iter()
            .find(|m| m.series == MemorySeries::Rss)
            .cloned()
            .expect("rss series")
    };
    let marked = rss(&TrendReport::assess(&with_jumps, &TrendPolicy::default()));
    assert_eq!(marked.assessment, Assessment::Stable, "{marked:?}");
    assert_eq!(marked.current, 200 << 20, "the latest unmarked sample");
    // The same samples unmarked are counted: the mark is what leaves them out.
    for s in &mut with_jumps.samples {
        s.in_snapshot = false;
    }
    let unmarked = rss(&TrendReport::assess(&with_jumps, &TrendPolicy::default()));
    assert_eq!(unmarked.current, (200 << 20) + (1 << 30), "{unmarked:?}");
    assert!(unmarked.p_value < marked.p_value, "{unmarked:?} {marked:?}");
}

#[test]
fn the_heap_reaches_its_limit_at_the_live_heaps_pace() {
    // Samples read without a GC: the garbage grows with the heap, 40 MiB/h in all,
    // while the censuses (after a GC) grow 20 MiB/h.
    let mut i = input(24, Some(2 << 30));
    for (k, s) in i.samples.iter_mut().enumerate() {
        s.memory.heap_used = Some((100 << 20) + (k as u64 * (40 << 20)) / 6);
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    // With 24 snapshots the live heap decides the row too, not only the time.
    assert_eq!(heap.basis, SeriesBasis::AfterGc);
    assert!((heap.rate.slope / 1048576.0 - 20.0).abs() < 1.0, "{heap:?}");
    let t = heap.time_to_oom.as_ref().expect("time to oom");
    assert_eq!((t.slope_from, t.points), (SlopeSource::LiveHeap, 24));
    assert!((t.slope_per_hour / 1048576.0 - 20.0).abs() < 1.0, "{t:?}");
    // The last census (~508 MiB) carried 50 min on: (2048 - ~524) MiB at 20 MiB/h.
    assert!((74.0..78.0).contains(&(t.seconds / 3600.0)), "{t:?}");
    assert!(t.seconds_early <= t.seconds && t.seconds_late.is_some_and(|l| l >= t.seconds));
    assert!(
        r.sentence.contains("from the live heap of 24 snapshots"),
        "{}",
        r.sentence
    );
    // With two snapshots, the samples' slope stands: twice as fast, half the time.
    i.snapshots.truncate(2);
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let t = r.memory[0].time_to_oom.as_ref().expect("time to oom");
    assert_eq!(t.slope_from, SlopeSource::Samples);
    assert!((t.slope_per_hour / 1048576.0 - 40.0).abs() < 2.0, "{t:?}");
    assert!((t.seconds / 3600.0) < 40.0, "{t:?}");
}

#[test]
fn code_and_v8_internals_growing_alone_leave_the_heap_stable() {
    // 24 censuses whose total rises 4 MiB/h, all of it code and V8's internals (JIT
    // warm-up that goes on): the data stays flat, and the heap is stable.
    let mut i = input(24, Some(2 << 30));
    for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
        let code = (40 << 20) + h as u64 * (3 << 20);
        let system = (5 << 20) + h as u64 * (1 << 20);
        c.info.total_self_size = (50 << 20) + code + system;
        c.families = vec![
            GroupTotal {
                name: "code".into(),
                count: 0,
                self_size: code,
            },
            GroupTotal {
                name: "system".into(),
                count: 0,
                self_size: system,
            },
        ];
        c.classes.retain(|k| k.class == "Session");
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_eq!(heap.basis, SeriesBasis::AfterGc);
    assert_eq!(heap.assessment, Assessment::Stable, "{heap:?}");
    assert!(heap.time_to_oom.is_none(), "{heap:?}");
    // The same censuses with the data growing 2 MiB/h besides: leaking.
    for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
        c.info.total_self_size += h as u64 * (2 << 20);
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_eq!(heap.assessment, Assessment::Leaking, "{heap:?}");
    // The row and the time to OOM are the live total's: 6 MiB/h.
    assert!((heap.rate.slope / 1048576.0 - 6.0).abs() < 0.1, "{heap:?}");
    let t = heap.time_to_oom.as_ref().expect("time to oom");
    assert!((t.slope_per_hour / 1048576.0 - 6.0).abs() < 0.1, "{t:?}");
}

#[test]
fn code_growing_ten_times_the_floor_leaks_on_its_own() {
    // Code generated per request: 12 MiB/h of code, the data flat.
    let mut i = input(24, Some(2 << 30));
    for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
        let code = (40 << 20) + h as u64 * (12 << 20);
        c.info.total_self_size = (50 << 20) + code;
        c.families = vec![GroupTotal {
            name: "code".into(),
            count: 0,
            self_size: code,
        }];
        c.classes.retain(|k| k.class == "Session");
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_eq!(heap.assessment, Assessment::Leaking, "{heap:?}");
    assert!(heap.time_to_oom.is_some(), "{heap:?}");
}

#[test]
fn a_memory_series_leaks_only_once_its_growth_comes_to_something() {
    // RSS at 100 MiB, ten points over four minutes, rising steadily: at 3 MiB/h the
    // rise is significant but is 200 KB in all (under 1 % of the level): growing;
    // at 60 MiB/h it is 4 MiB: leaking.
    let gp = GrowthPolicy {
        max_growth: 1048576.0 / 3600.0,
        alpha: 0.05,
        warmup: None,
    };
    let series = |per_hour: f64| -> Vec<(f64, f64)> {
        (0..10)
            .map(|k| {
                let t = k as f64 * 24.0;
                let wobble = if k % 2 == 0 { 2048.0 } else { 0.0 };
                (
                    t,
                    100.0 * 1048576.0 + per_hour * 1048576.0 * t / 3600.0 + wobble,
                )
            })
            .collect()
    };
    let slow = memory_trend(MemorySeries::Rss, &series(3.0), &gp, 256 * 1024, None).expect("trend");
    assert!(slow.rate.low > 1048576.0, "{slow:?}");
    assert_eq!(slow.assessment, Assessment::Growing, "{slow:?}");
    let fast =
        memory_trend(MemorySeries::Rss, &series(60.0), &gp, 256 * 1024, None).expect("trend");
    assert_eq!(fast.assessment, Assessment::Leaking, "{fast:?}");
}

#[test]
fn few_snapshots_decide_nothing() {
    let r = TrendReport::assess(&input(4, None), &TrendPolicy::default());
    assert!(r
        .classes
        .iter()
        .all(|c| c.assessment == Assessment::Insufficient));
}

#[test]
fn a_rise_under_the_floor_is_stable_memory_and_a_suspect_class() {
    // The heap and StreamEntry rise 20 MiB/h, significantly, under a 100 MiB/h floor.
    let policy = TrendPolicy {
        floor_per_hour: 100.0 * 1048576.0,
        ..TrendPolicy::default()
    };
    let r = TrendReport::assess(&input(24, Some(2 << 30)), &policy);
    let heap = &r.memory[0];
    assert!(heap.p_value < 0.05 && heap.rate.high < policy.floor_per_hour);
    assert_eq!(heap.assessment, Assessment::Stable, "{heap:?}");
    assert!(heap.time_to_oom.is_none());
    assert_eq!(r.classes[0].class, "StreamEntry");
    assert_eq!(r.classes[0].assessment, Assessment::Growing);
    // A suspect class is shown, but only a leaking one raises the overall assessment.
    assert_eq!(r.overall, Assessment::Stable, "{}", r.sentence);
}

#[test]
fn time_to_oom_is_against_the_nearer_limit() {
    let mut input = input(24, Some(2 << 30));
    // RSS climbs 4 MiB/h towards a cgroup limit of 320 MiB: hours away, where the
    // heap is days from V8's limit.
    input.incarnations[0].memory_limit = Some(320 << 20);
    for (k, s) in input.samples.iter_mut().enumerate() {
        s.memory.rss = (200 << 20) + (k as u64 * (4 << 20)) / 6;
    }
    let r = TrendReport::assess(&input, &TrendPolicy::default());
    let heap = r.memory[0].time_to_oom.as_ref().expect("heap time to oom");
    assert_eq!(heap.limit_kind, MemoryLimit::V8Heap);
    let t = r.time_to_oom.as_ref().expect("time to oom");
    assert_eq!(t.limit_kind, MemoryLimit::Cgroup, "{t:?}");
    // (320 - ~296) MiB at 4 MiB/h: about 6 h.
    assert!((5.0..7.0).contains(&(t.seconds / 3600.0)), "{t:?}");
    assert!(t.seconds < heap.seconds);
    assert!(r.sentence.contains("cgroup memory.max"), "{}", r.sentence);
}

/// Censuses of a class `Session` with `counts` instances, a minute apart; the newest
/// keeps a cluster of 900 sessions allocated between the two before it.
fn culprit_censuses(counts: &[u64]) -> Vec<(SnapshotRecord, SnapshotCensus)> {
    let n = counts.len();
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let file = format!("api-{}.heapsnapshot", i + 1);
            let rec = SnapshotRecord {
                id: i as i64 + 1,
                incarnation_id: 1,
                t: i as i64 * 60_000,
                file: file.clone(),
                file_size: 0,
                file_deleted_at: None,
                node_count: 0,
                edge_count: 0,
                total_self_size: 0,
                reason: "schedule".into(),
            };
            let mut c = census(i as u64, 0);
            c.classes[1].count = count;
            c.classes[1].self_size = count * 100;
            if i + 1 == n && n >= 3 {
                c.leaks = Some(leaktrail_analysis::CensusLeaks {
                    window: leaktrail_analysis::LeakWindow {
                        base: format!("api-{}.heapsnapshot", n - 2),
                        base_max_id: 1000,
                        target: format!("api-{}.heapsnapshot", n - 1),
                        target_max_id: 2000,
                    },
                    leak_roots: 900,
                    leak_roots_retained: 900 << 10,
                    min_cluster_bytes: 64 << 10,
                    clusters: vec![leaktrail_analysis::CensusCluster {
                        class: "Session".into(),
                        count: 900,
                        retained_size: 900 << 10,
                        class_count: count,
                        holder: "`sessions` (Map) of Store".into(),
                        path: "(GC roots) → store → sessions → table → 17 (Session)".into(),
                        example_id: 1501,
                    }],
                });
            }
            (rec, c)
        })
        .collect()
}

#[test]
fn three_censuses_name_a_culprit_whose_class_grew_in_both_intervals() {
    let policy = TrendPolicy::default();
    let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400, 2300]), &policy);
    let c = t.culprits.first().expect("a culprit");
    assert_eq!(c.class_counts, [Some(500), Some(1400), Some(2300)]);
    assert!(
        c.sentence.starts_with("900 Session objects (900.0 KiB retained) allocated between snapshots api-1.heapsnapshot and api-2.heapsnapshot are still alive in `sessions` (Map) of Store; Session instances went 500 → 1,400 → 2,300"),
        "{}",
        c.sentence
    );
    // A cache that filled before the second census and stopped: no culprit.
    let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400, 1400]), &policy);
    assert!(t.culprits.is_empty(), "{:?}", t.culprits);
    // Fewer than three censuses: nothing to name.
    let t = SnapshotTrends::assess(&culprit_censuses(&[500, 1400]), &policy);
    assert!(t.culprits.is_empty());
    // A window whose censuses are not in the series (another incarnation's): none.
    let mut series = culprit_censuses(&[500, 1400, 2300]);
    series.remove(0);
    let t = SnapshotTrends::assess(&series, &policy);
    assert!(t.culprits.is_empty());
}

#[test]
fn a_class_stable_over_eight_censuses_overrules_the_newest_three() {
    let policy = TrendPolicy::default();
    // Eight flat censuses, then the newest three rise a little: a cache's churn.
    let counts = [2300, 2300, 2300, 2300, 2300, 2300, 2301, 2302, 2303];
    let t = SnapshotTrends::assess(&culprit_censuses(&counts), &policy);
    assert!(t.culprits.is_empty(), "{:?}", t.culprits);
    // Growing all along: the culprit stands.
    let counts: Vec<u64> = (0..9).map(|i| 500 + i * 900).collect();
    let t = SnapshotTrends::assess(&culprit_censuses(&counts), &policy);
    assert_eq!(t.culprits.len(), 1, "{:?}", t.classes);
}

#[test]
fn a_code_class_alone_raises_no_alarm() {
    // A day of censuses where only a class of the code family grows (JIT, or a program
    // compiling more and more), the heap and RSS flat.
    let mut i = input(24, None);
    for (_, c) in &mut i.snapshots {
        c.info.total_self_size = 50_000_000;
        c.classes[0].family = Family::Code;
    }
    for s in &mut i.samples {
        s.memory.heap_used = Some(100 << 20);
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let class = r.classes.first().expect("the class");
    assert_eq!(
        (class.family.as_str(), class.assessment),
        ("code", Assessment::Leaking)
    );
    assert_eq!(r.overall, Assessment::Stable, "{}", r.sentence);
    // Nor does it head the verdict's sentence.
    assert!(!r.sentence.contains("Top class"), "{}", r.sentence);
    // The same class as data is the alarm.
    for (_, c) in &mut i.snapshots {
        c.classes[0].family = Family::Objects;
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    assert_eq!(r.overall, Assessment::Leaking, "{}", r.sentence);
}

#[test]
fn the_heap_samples_of_the_first_30_s_are_warm_up() {
    // A clean service watched for 150 s with the defaults: one sample every 10 s, its
    // first read before its modules had loaded (4 MiB), then a sawtooth of garbage that
    // does not grow. Judged with the first sample, it was leaking (p = 0.048), with a time
    // to OOM.
    let mut i = input(0, Some(4 << 30));
    i.snapshots.clear();
    // As read (KiB): fetch-inventory-clean under `watch` with the defaults.
    let heap = [
        3883u64, 23135, 20643, 24707, 20999, 29289, 19931, 37300, 21341, 38525, 25112, 30745,
        36002, 38679, 18862,
    ];
    i.samples = heap_samples(127, 10_000, heap.iter().map(|kib| kib << 10));
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_ne!(heap.assessment, Assessment::Leaking, "{heap:?}");
    assert!(heap.time_to_oom.is_none(), "{heap:?}");
    // Twelve samples of a sawtooth of 18–39 MiB: an interval too wide to call it stable
    // yet, and no growth.
    assert_eq!(r.overall, Assessment::Insufficient, "{}", r.sentence);
    // The three samples of the first 30 s count as warm-up.
    assert!(heap.warmup_samples >= 3, "{heap:?}");
}

#[test]
fn a_watch_shorter_than_twice_the_start_up_is_judged_whole() {
    // `watch` for 45 s of a leak, a heap sample a second: 15 s of its sawtooth after
    // the first 30 s could not show what 45 s did (a CI run failed so). Every sample
    // counts, and the leak has its time to OOM.
    let mut i = input(0, Some(4 << 30));
    i.snapshots.clear();
    i.samples = heap_samples(
        100,
        1_000,
        (0..46u64).map(|k| (20 << 20) + k * (512 << 10) + (k % 5) * (2 << 20)),
    );
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_eq!(heap.samples + heap.warmup_samples, 46, "{heap:?}");
    assert!(heap.samples > 30, "the start-up's samples count: {heap:?}");
    assert_eq!(heap.assessment, Assessment::Leaking, "{heap:?}");
    assert!(heap.time_to_oom.is_some(), "{heap:?}");
}

#[test]
fn backing_stores_reach_no_heap_limit() {
    // A day of censuses where what grows is ArrayBuffer backing stores (family
    // `external`): outside V8's heap, they do not bring its limit nearer.
    let mut i = input(24, Some(4 << 30));
    for (_, c) in &mut i.snapshots {
        let grown = c.info.total_self_size - 50_000_000;
        c.families.push(GroupTotal {
            name: Family::External.key().into(),
            count: 1,
            self_size: grown,
        });
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert!(heap.time_to_oom.is_none(), "{heap:?}");
    // The same growth as objects on the heap does.
    let r = TrendReport::assess(&input(24, Some(4 << 30)), &TrendPolicy::default());
    assert!(r.memory[0].time_to_oom.is_some(), "{:?}", r.memory[0]);
}

#[test]
fn a_stable_heap_gives_its_slope_with_the_interval() {
    // Ten minutes of a flat heap with a little noise: stable, and the headline's slope
    // comes with its interval (alone, a sawtooth's slope read as growth).
    let mut i = input(0, Some(4 << 30));
    i.snapshots.clear();
    i.samples = heap_samples(
        40_000,
        10_000,
        (0..60u64).map(|k| (50 << 20) + (k * 7 % 5) * (100 << 10)),
    );
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    assert_eq!(r.overall, Assessment::Stable, "{}", r.sentence);
    assert!(r.sentence.contains("/h (95 % interval "), "{}", r.sentence);
}

#[test]
fn a_cache_full_before_the_window_ends_is_not_leaking() {
    // A day of censuses of a cache that fills for 16 hours and then holds every key: a
    // fit over the whole day rises, its last quarter does not. Growing, no time to OOM.
    let mut i = input(24, Some(4 << 30));
    for (h, (_, c)) in i.snapshots.iter_mut().enumerate() {
        *c = census(h as u64, (h.min(16) as u64 * 20) << 20);
    }
    let r = TrendReport::assess(&i, &TrendPolicy::default());
    let heap = &r.memory[0];
    assert_eq!(heap.assessment, Assessment::Growing, "{heap:?}");
    assert!(heap.saturating, "{heap:?}");
    assert!(heap.time_to_oom.is_none(), "{heap:?}");
    // Still rising in its last quarter: leaking.
    let r = TrendReport::assess(&input(24, Some(4 << 30)), &TrendPolicy::default());
    assert_eq!(
        r.memory[0].assessment,
        Assessment::Leaking,
        "{:?}",
        r.memory[0]
    );
}

/// Samples of a process with a flat RSS (180 MiB) and these heap readings, the first at
/// `first` ms and one every `every` ms.
fn heap_samples(first: i64, every: i64, heap: impl Iterator<Item = u64>) -> Vec<SampleRecord> {
    heap.enumerate()
        .map(|(k, bytes)| SampleRecord {
            incarnation_id: 1,
            t: first + k as i64 * every,
            memory: MemoryReading {
                rss: 180 << 20,
                threads: 8,
                heap_used: Some(bytes),
                ..MemoryReading::default()
            },
            ..SampleRecord::default()
        })
        .collect()
}
