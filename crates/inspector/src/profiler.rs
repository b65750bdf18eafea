//! Profiles over the inspector: the CPU profiler (`Profiler` domain) and the sampling heap
//! profiler (`HeapProfiler.startSampling`).
//!
//! Both answer their stop command with the whole profile inline, as the JSON that Node
//! writes for `--cpu-prof` (`.cpuprofile`) and `--heap-prof` (`.heapprofile`); the
//! methods return it as a [`Value`] for the caller to save or parse (`leaktrail-profile`
//! reads both). A profile lives in the session that started it: when the connection closes
//! before the stop command, V8 drops it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{Inspector, InspectorError};

impl Inspector {
    /// `Profiler.enable`: needed before the other `Profiler` commands.
    pub fn profiler_enable(&mut self) -> Result<(), InspectorError> {
        self.call("Profiler.enable", json!({})).map(|_| ())
    }

    /// `Profiler.setSamplingInterval`: time between CPU samples (V8 rounds to whole
    /// microseconds; only before [`Inspector::profiler_start`]).
    pub fn profiler_set_sampling_interval(
        &mut self,
        interval: Duration,
    ) -> Result<(), InspectorError> {
        let micros = interval.as_micros().clamp(1, u128::from(u32::MAX)) as u64;
        self.call(
            "Profiler.setSamplingInterval",
            json!({ "interval": micros }),
        )
        .map(|_| ())
    }

    /// `Profiler.start`: starts recording a CPU profile.
    pub fn profiler_start(&mut self) -> Result<(), InspectorError> {
        self.call("Profiler.start", json!({})).map(|_| ())
    }

    /// Enables the profiler, sets its interval and starts it.
    pub fn start_cpu_profile(&mut self, interval: Duration) -> Result<(), InspectorError> {
        self.profiler_enable()?;
        self.profiler_set_sampling_interval(interval)?;
        self.profiler_start()
    }

    /// `Profiler.stop`: stops recording and returns the CPU profile (the `.cpuprofile`
    /// JSON: `nodes`, `startTime`, `endTime`, `samples`, `timeDeltas`).
    pub fn profiler_stop(&mut self) -> Result<Value, InspectorError> {
        let answer = self.call("Profiler.stop", json!({}))?;
        take_profile("Profiler.stop", answer, "nodes")
    }

    /// `HeapProfiler.startSampling`: samples an allocation about every
    /// `sampling_interval_bytes` bytes (V8's default is 32 KiB), with its stack.
    pub fn heap_sampling_start(
        &mut self,
        sampling_interval_bytes: u64,
    ) -> Result<(), InspectorError> {
        self.call(
            "HeapProfiler.startSampling",
            json!({ "samplingInterval": sampling_interval_bytes.max(1) }),
        )
        .map(|_| ())
    }

    /// `HeapProfiler.stopSampling`: stops and returns the sampling heap profile (the
    /// `.heapprofile` JSON: a `head` call tree with `selfSize` bytes per node, and
    /// `samples`). By default V8 keeps only the samples whose objects are still alive, so
    /// the profile shows where the memory that is still held was allocated.
    pub fn heap_sampling_stop(&mut self) -> Result<Value, InspectorError> {
        let answer = self.call("HeapProfiler.stopSampling", json!({}))?;
        take_profile("HeapProfiler.stopSampling", answer, "head")
    }
}

/// Takes `profile` out of a stop command's answer, checking that it has `key`.
fn take_profile(method: &str, mut answer: Value, key: &str) -> Result<Value, InspectorError> {
    match answer.get_mut("profile").map(Value::take) {
        Some(profile) if profile.get(key).is_some() => Ok(profile),
        _ => Err(InspectorError::BadAnswer {
            method: method.to_owned(),
            detail: format!("no profile with `{key}` in the answer"),
        }),
    }
}
