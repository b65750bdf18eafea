//! Theil–Sen slopes, the Mann–Kendall test and warm-up detection.

use serde::Serialize;

use crate::normal::{normal_cdf, normal_quantile};

/// Series longer than this are reduced to [`BINS`] medians first: the estimators are
/// O(n²) and a few hundred points already pin a slope down.
const MAX_POINTS: usize = 1200;
const BINS: usize = 600;

/// A robust slope with its confidence interval.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct SlopeEstimate {
    /// Median of the pairwise slopes (units of y per unit of x).
    pub slope: f64,
    /// Median of `y - slope * x`.
    pub intercept: f64,
    /// Lower end of the confidence interval.
    pub low: f64,
    /// Upper end of the confidence interval.
    pub high: f64,
}

/// The Mann–Kendall trend test.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct TrendTest {
    /// Σ sign(y_j − y_i) over i < j.
    pub s: f64,
    /// Var(S) with the tie correction.
    pub variance: f64,
    /// Var(S) after the Hamed–Rao correction for autocorrelation (≥ `variance`).
    pub corrected_variance: f64,
    /// The normal score of S (continuity-corrected, on the corrected variance).
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Reduces a long series to bin medians, keeping x and y paired.
fn thin(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    if x.len() <= MAX_POINTS {
        return (x.to_vec(), y.to_vec());
    }
    let n = x.len();
    let mut xs = Vec::with_capacity(BINS);
    let mut ys = Vec::with_capacity(BINS);
    for b in 0..BINS {
        let (lo, hi) = (b * n / BINS, ((b + 1) * n / BINS).max(b * n / BINS + 1));
        xs.push(median(&mut x[lo..hi].to_vec()));
        ys.push(median(&mut y[lo..hi].to_vec()));
    }
    (xs, ys)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Theil–Sen slope of `y` over `x` with a `1 - alpha` confidence interval (Sen 1968,
/// using the autocorrelation-corrected Mann–Kendall variance for the interval's width).
pub fn theil_sen(x: &[f64], y: &[f64], alpha: f64) -> SlopeEstimate {
    slope_and_trend(x, y, alpha).0
}

/// The Theil–Sen estimate and the Mann–Kendall test of one series, sharing the work: the
/// test detrends by the same slope and the interval's width uses the test's variance.
pub(crate) fn slope_and_trend(x: &[f64], y: &[f64], alpha: f64) -> (SlopeEstimate, TrendTest) {
    let (x, y) = thin(x, y);
    let n = x.len();
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                slopes.push((y[j] - y[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        let level = median(&mut y.clone());
        let estimate = SlopeEstimate {
            slope: 0.0,
            intercept: level,
            low: 0.0,
            high: 0.0,
        };
        return (estimate, trend_test(mk_core(&x, &y, 0.0)));
    }
    // Order statistics by selection (O(n) each) rather than a full sort: with a few
    // hundred points there are tens of thousands of slopes, for hundreds of classes.
    let m = slopes.len();
    let mid = m / 2;
    let upper = kth(&mut slopes, mid);
    // After the selection everything left of `mid` is ≤ it: the lower middle of an even
    // count is their maximum.
    let slope = if m % 2 == 1 {
        upper
    } else {
        let lower = slopes[..mid]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    };
    let mut residuals: Vec<f64> = x.iter().zip(&y).map(|(a, b)| b - slope * a).collect();
    let intercept = median(&mut residuals);
    let core = mk_core(&x, &y, slope);
    let c = normal_quantile(1.0 - alpha / 2.0) * core.2.sqrt();
    let mf = m as f64;
    let lo_rank = ((mf - c) / 2.0).floor().clamp(0.0, mf - 1.0) as usize;
    let hi_rank = ((mf + c) / 2.0).ceil().clamp(0.0, mf - 1.0) as usize;
    let estimate = SlopeEstimate {
        slope,
        intercept,
        low: rank_around(&mut slopes, mid, lo_rank),
        high: rank_around(&mut slopes, mid, hi_rank),
    };
    (estimate, trend_test(core))
}

/// The `k`-th smallest value (0-based); reorders `v`.
fn kth(v: &mut [f64], k: usize) -> f64 {
    *v.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The `k`-th smallest of `v` once `v` is partitioned around index `mid` (as [`kth`]
/// leaves it): only the side holding `k` is searched.
fn rank_around(v: &mut [f64], mid: usize, k: usize) -> f64 {
    match k.cmp(&mid) {
        std::cmp::Ordering::Less => kth(&mut v[..mid], k),
        std::cmp::Ordering::Equal => v[mid],
        std::cmp::Ordering::Greater => kth(&mut v[mid + 1..], k - mid - 1),
    }
}

/// S, the tie-corrected Var(S), and the Hamed–Rao corrected variance, for `y` over `x`
/// detrended by `slope`.
fn mk_core(x: &[f64], y: &[f64], slope: f64) -> (f64, f64, f64) {
    let n = y.len();
    if n < 3 {
        return (0.0, 0.0, 0.0);
    }
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += (y[j] - y[i]).signum() * f64::from(u8::from(y[j] != y[i]));
        }
    }
    let nf = n as f64;
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j + 1;
    }
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;

    // Hamed & Rao (1998): autocorrelation of the ranks of the detrended series, only the
    // lags that are significant, inflate the variance by n / n*.
    let detrended: Vec<f64> = x.iter().zip(y).map(|(a, b)| b - slope * a).collect();
    let ranks = ranks(&detrended);
    let mean = ranks.iter().sum::<f64>() / nf;
    let denom: f64 = ranks.iter().map(|r| (r - mean) * (r - mean)).sum();
    let bound = normal_quantile(0.975) / nf.sqrt();
    let mut sum = 0.0;
    if denom > 0.0 {
        for k in 1..n - 1 {
            let rho: f64 = (0..n - k)
                .map(|i| (ranks[i] - mean) * (ranks[i + k] - mean))
                .sum::<f64>()
                / denom;
            if rho.abs() > bound {
                let kf = k as f64;
                sum += (nf - kf) * (nf - kf - 1.0) * (nf - kf - 2.0) * rho;
            }
        }
    }
    let factor = (1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum).max(1.0);
    (s, variance, variance * factor)
}

/// Ranks (1-based, ties get the mean rank).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = rank;
        }
        i = j + 1;
    }
    r
}

/// The Mann–Kendall test of a monotonic trend in `y` over `x`, with the tie correction and
/// the Hamed–Rao autocorrelation correction.
pub fn mann_kendall(x: &[f64], y: &[f64]) -> TrendTest {
    slope_and_trend(x, y, 0.05).1
}

/// The test from S and its variances.
fn trend_test((s, variance, corrected): (f64, f64, f64)) -> TrendTest {
    if corrected <= 0.0 {
        return TrendTest {
            s,
            variance,
            corrected_variance: corrected,
            z: 0.0,
            p_value: 1.0,
        };
    }
    let z = if s > 0.0 {
        (s - 1.0) / corrected.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / corrected.sqrt()
    } else {
        0.0
    };
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    TrendTest {
        s,
        variance,
        corrected_variance: corrected,
        z,
        p_value,
    }
}

/// Where a steep start gives way to the steady state: the split (at most halfway) that
/// minimises the squared error of two separate straight lines, kept when it explains at
/// least a third of the single line's error and the start climbs faster than the rest.
/// Returns the index of the first steady sample.
pub fn warmup_end(x: &[f64], y: &[f64]) -> Option<usize> {
    let n = x.len();
    if n < 12 {
        return None;
    }
    // Prefix sums give each segment's least-squares error in O(1).
    let mut p = vec![[0.0f64; 5]; n + 1];
    for i in 0..n {
        let (a, b) = (x[i], y[i]);
        let prev = p[i];
        p[i + 1] = [
            prev[0] + a,
            prev[1] + b,
            prev[2] + a * a,
            prev[3] + a * b,
            prev[4] + b * b,
        ];
    }
    let fit = |lo: usize, hi: usize| -> (f64, f64) {
        let m = (hi - lo) as f64;
        let s: [f64; 5] = std::array::from_fn(|k| p[hi][k] - p[lo][k]);
        let sxx = s[2] - s[0] * s[0] / m;
        let sxy = s[3] - s[0] * s[1] / m;
        let syy = s[4] - s[1] * s[1] / m;
        if sxx <= 0.0 {
            return (0.0, syy.max(0.0));
        }
        (sxy / sxx, (syy - sxy * sxy / sxx).max(0.0))
    };
    let (_, whole) = fit(0, n);
    let min_seg = (n / 20).max(4);
    let mut best: Option<(usize, f64, f64, f64)> = None;
    for k in min_seg..=n / 2 {
        let (s1, e1) = fit(0, k);
        let (s2, e2) = fit(k, n);
        if best.is_none_or(|b| e1 + e2 < b.1) {
            best = Some((k, e1 + e2, s1, s2));
        }
    }
    let (k, err, s1, s2) = best?;
    let explains = whole > 0.0 && err <= whole * (2.0 / 3.0);
    let steeper = s1 > 0.0 && s1 > 2.0 * s2.max(0.0);
    (explains && steeper).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Theil–Sen by sorting every slope: what the selections must reproduce exactly.
    fn sorted_estimate(x: &[f64], y: &[f64], alpha: f64) -> (f64, f64, f64) {
        let mut slopes = Vec::new();
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                if x[j] != x[i] {
                    slopes.push((y[j] - y[i]) / (x[j] - x[i]));
                }
            }
        }
        slopes.sort_by(f64::total_cmp);
        let m = slopes.len();
        let slope = if m % 2 == 1 {
            slopes[m / 2]
        } else {
            0.5 * (slopes[m / 2 - 1] + slopes[m / 2])
        };
        let c = normal_quantile(1.0 - alpha / 2.0) * mk_core(x, y, slope).2.sqrt();
        let mf = m as f64;
        let lo = ((mf - c) / 2.0).floor().clamp(0.0, mf - 1.0) as usize;
        let hi = ((mf + c) / 2.0).ceil().clamp(0.0, mf - 1.0) as usize;
        (slope, slopes[lo], slopes[hi])
    }

    #[test]
    fn selection_matches_a_full_sort() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        // Odd and even slope counts, ties in x, flat and noisy series.
        for n in [5usize, 8, 13, 40, 121, 200] {
            for trend in [0.0, 3.0, -1.5] {
                let x: Vec<f64> = (0..n)
                    .map(|i| (i / 3 * 3) as f64 + (i % 3) as f64 * 0.5)
                    .collect();
                let y: Vec<f64> = x.iter().map(|&t| trend * t + 10.0 * noise()).collect();
                let e = theil_sen(&x, &y, 0.05);
                assert_eq!(
                    (e.slope, e.low, e.high),
                    sorted_estimate(&x, &y, 0.05),
                    "n={n}"
                );
            }
        }
    }
}
