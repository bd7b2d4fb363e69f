//! Histograms in TensorBoard's bucketed form.

use crate::proto;

/// A histogram as TensorBoard stores it: summary statistics plus buckets.
///
/// Bucket `i` holds `bucket[i]` values in `(bucket_limit[i - 1], bucket_limit[i]]`; the
/// first bucket is bounded below by `min`. TensorBoard needs `bucket_limit` strictly
/// increasing and as long as `bucket`; [`EventWriter::histogram`](crate::EventWriter::histogram)
/// refuses anything else.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values (a float, as in the protobuf, so weighted counts fit).
    pub num: f64,
    /// Sum of the values.
    pub sum: f64,
    /// Sum of the squared values.
    pub sum_squares: f64,
    /// Right edge of each bucket.
    pub bucket_limit: Vec<f64>,
    /// Count in each bucket.
    pub bucket: Vec<f64>,
}

impl Histogram {
    /// A histogram of discrete values, given as `(value, count)` pairs in any order, e.g.
    /// "how many sequences halted after k steps" as `(k, count)`.
    ///
    /// Each value gets its own bucket reaching at most 0.5 either side of it (less where
    /// values are closer than 1, so buckets never overlap), with empty buckets filling the
    /// gaps, so integer values show as unit-wide bars centred on the integers. Repeated
    /// values are merged; pairs with a non-finite value or a count that is not a positive
    /// finite number are ignored.
    pub fn from_counts(values_and_counts: &[(f64, f64)]) -> Histogram {
        let mut points: Vec<(f64, f64)> =
            values_and_counts.iter().copied().filter(|&(v, c)| v.is_finite() && c.is_finite() && c > 0.0).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(points.len());
        for (v, c) in points {
            match merged.last_mut() {
                Some(last) if last.0 == v => last.1 += c,
                _ => merged.push((v, c)),
            }
        }

        let (Some(&(min, _)), Some(&(max, _))) = (merged.first(), merged.last()) else {
            return Histogram::default();
        };
        let mut h = Histogram {
            min,
            max,
            num: merged.iter().map(|&(_, c)| c).sum(),
            sum: merged.iter().map(|&(v, c)| v * c).sum(),
            sum_squares: merged.iter().map(|&(v, c)| v * v * c).sum(),
            bucket_limit: Vec::with_capacity(2 * merged.len()),
            bucket: Vec::with_capacity(2 * merged.len()),
        };
        for (i, &(v, count)) in merged.iter().enumerate() {
            if let Some(&(prev, _)) = i.checked_sub(1).and_then(|j| merged.get(j)) {
                // An empty bucket up to this value's left edge, if there is a gap.
                h.push_bucket((v - 0.5).max(prev.midpoint(v)), 0.0);
            }
            let right = match merged.get(i + 1) {
                Some(&(next, _)) => (v + 0.5).min(v.midpoint(next)),
                None => v + 0.5,
            };
            h.push_bucket(right, count);
        }
        h
    }

    /// Appends a bucket, or adds to the last one when rounding (values a few ulps apart)
    /// would make the limits not strictly increase.
    fn push_bucket(&mut self, limit: f64, count: f64) {
        match (self.bucket_limit.last(), self.bucket.last_mut()) {
            (Some(&last), Some(last_count)) if limit <= last => *last_count += count,
            _ => {
                self.bucket_limit.push(limit);
                self.bucket.push(count);
            }
        }
    }

    /// Why TensorBoard could not display this histogram, if it could not.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.bucket_limit.len() != self.bucket.len() {
            return Some("bucket_limit and bucket differ in length");
        }
        // `!(a < b)` rather than `a >= b` so that NaN limits are refused too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if self.bucket_limit.windows(2).any(|w| !(w[0] < w[1])) {
            return Some("bucket_limit is not strictly increasing");
        }
        None
    }
}

impl From<&Histogram> for proto::HistogramProto {
    fn from(h: &Histogram) -> Self {
        proto::HistogramProto {
            min: h.min,
            max: h.max,
            num: h.num,
            sum: h.sum,
            sum_squares: h.sum_squares,
            bucket_limit: h.bucket_limit.clone(),
            bucket: h.bucket.clone(),
        }
    }
}

impl From<proto::HistogramProto> for Histogram {
    fn from(h: proto::HistogramProto) -> Self {
        Histogram {
            min: h.min,
            max: h.max,
            num: h.num,
            sum: h.sum,
            sum_squares: h.sum_squares,
            bucket_limit: h.bucket_limit,
            bucket: h.bucket,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_integers_get_unit_buckets() {
        let h = Histogram::from_counts(&[(3.0, 1.0), (1.0, 2.0), (2.0, 5.0), (1.0, 1.0)]);
        assert_eq!(h.bucket_limit, [1.5, 2.5, 3.5]);
        assert_eq!(h.bucket, [3.0, 5.0, 1.0]);
        assert_eq!((h.min, h.max, h.num), (1.0, 3.0, 9.0));
        assert_eq!(h.sum, 3.0 + 10.0 + 3.0);
        assert_eq!(h.sum_squares, 3.0 + 20.0 + 9.0);
        assert_eq!(h.problem(), None);
    }

    #[test]
    fn gaps_get_empty_buckets() {
        let h = Histogram::from_counts(&[(1.0, 4.0), (4.0, 2.0)]);
        assert_eq!(h.bucket_limit, [1.5, 3.5, 4.5]);
        assert_eq!(h.bucket, [4.0, 0.0, 2.0]);
    }

    #[test]
    fn close_values_split_the_difference() {
        let h = Histogram::from_counts(&[(0.0, 1.0), (0.25, 1.0), (0.5, 1.0)]);
        assert_eq!(h.bucket_limit, [0.125, 0.375, 1.0]);
        assert_eq!(h.bucket, [1.0, 1.0, 1.0]);
    }

    #[test]
    fn bad_input_is_skipped_and_limits_stay_increasing() {
        let h = Histogram::from_counts(&[
            (f64::NAN, 1.0),
            (f64::INFINITY, 1.0),
            (2.0, -1.0),
            (3.0, 0.0),
            (5.0, f64::NAN),
            (1.0, 1.0),
            (1.0 + f64::EPSILON, 1.0),
            (f64::MAX, 1.0),
            (-0.0, 1.0),
            (0.0, 1.0),
        ]);
        assert_eq!(h.problem(), None);
        assert_eq!(h.num, 5.0);
        assert_eq!(h.bucket.iter().sum::<f64>(), 5.0);
        assert_eq!((h.min, h.max), (0.0, f64::MAX));
    }

    #[test]
    fn empty() {
        let h = Histogram::from_counts(&[]);
        assert_eq!(h, Histogram::default());
        assert_eq!(h.problem(), None);
    }

    #[test]
    fn problems_are_found() {
        let mut h = Histogram::from_counts(&[(1.0, 1.0), (2.0, 1.0)]);
        h.bucket.pop();
        assert!(h.problem().is_some());
        h.bucket_limit = vec![2.0, 1.0];
        h.bucket = vec![1.0, 1.0];
        assert!(h.problem().is_some());
        h.bucket_limit = vec![1.0, f64::NAN];
        assert!(h.problem().is_some());
    }
}
