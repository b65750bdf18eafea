//! The integration tests, as one test binary: each module was a binary of its own, and
//! every one linked the whole program. `cargo test --test it NAME::` runs one module.

mod common;

mod bad_input;
mod census_worker;
mod cli_docs;
mod flame;
mod fuzz_regressions;
mod golden;
mod golden_trace;
mod graph_reports;
mod lanes;
mod memlab_agreement;
mod npm_package;
mod prometheus;
mod report_html;
mod run_cheap_points;
mod run_checks;
mod run_faults;
mod run_harness;
mod run_held_back;
mod run_native;
mod run_profiles;
mod run_shapes;
mod run_shapes_held_by_node;
mod run_shapes_in_place;
mod run_zero_disk;
mod serve;
mod snapshot_reports;
mod trace;
mod trace_runners;
mod trace_unseen;
mod trend;
mod watch;
