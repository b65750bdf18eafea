//! Deciding whether a memory series grows, soundly.
//!
//! Memory samples of a running program are noisy (GC timing, caches of the runtime), start
//! with a warm-up (heaps and caches filling), and are strongly autocorrelated (each sample
//! is the previous one plus a little). Counting "grew N times in a row" — what memwatch and
//! leakage do — has no error control and fires on all three. This crate uses:
//!
//! - [`theil_sen`]: the median of pairwise slopes, robust to 29 % outliers, with Sen's
//!   confidence interval;
//! - [`mann_kendall`]: the rank-based trend test, with the tie correction and the
//!   Hamed–Rao (1998) variance correction for autocorrelation, so that serially correlated
//!   samples do not make every wiggle "significant";
//! - [`warmup_end`]: a two-segment least-squares split that finds where a steep start
//!   (warm-up) gives way to the steady state;
//! - [`decide`]: a [`GrowthVerdict`] — leak, no leak, or inconclusive with the number of
//!   samples that would decide — from significance *and* a practical floor on the slope,
//!   telling saturating growth (a cache filling to its cap) from linear growth.

#![deny(missing_docs)]

mod normal;
mod slope;
mod verdict;

pub use normal::normal_cdf;
pub use slope::{mann_kendall, theil_sen, warmup_end, SlopeEstimate, TrendTest};
pub use verdict::{decide, samples_needed, GrowthPolicy, GrowthVerdict, Outcome, MIN_SAMPLES};
