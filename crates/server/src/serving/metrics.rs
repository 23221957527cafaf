//! Per-service request counts and latency histograms, in Prometheus' text format at
//! `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default, Clone)]
struct Series {
    requests: u64,
    rows: u64,
    errors: u64,
    /// Counts per bucket (not cumulative), plus one for above the last bound.
    buckets: [u64; BUCKETS.len() + 1],
    seconds: f64,
}

/// One counter of a series.
type Count = fn(&Series) -> u64;

/// Counters by (service id, route).
#[derive(Default)]
pub(super) struct Metrics {
    series: Mutex<BTreeMap<(String, &'static str), Series>>,
    filled: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Records one request of `rows` rows that took `took`; `ok` is whether it
    /// answered retcode 0.
    pub(super) fn record(
        &self,
        service: &str,
        route: &'static str,
        rows: usize,
        took: Duration,
        ok: bool,
    ) {
        let secs = took.as_secs_f64();
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = all.entry((service.to_string(), route)).or_default();
        s.requests += 1;
        s.rows += rows as u64;
        s.errors += u64::from(!ok);
        s.seconds += secs;
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        s.buckets[b] += 1;
    }

    /// Counts features filled with DataTransform's value instead of given.
    pub(super) fn filled(&self, service: &str, n: usize) {
        if n > 0 {
            *self
                .filled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(service.to_string())
                .or_default() += n as u64;
        }
    }

    /// Requests per service id (for the Board).
    pub(super) fn requests(&self) -> BTreeMap<String, (u64, u64)> {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for ((service, _), s) in all.iter() {
            let e = out.entry(service.clone()).or_default();
            e.0 += s.requests;
            e.1 += s.errors;
        }
        out
    }

    /// Prometheus' text exposition format.
    pub(super) fn render(&self) -> String {
        let all = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = String::new();
        let label = |service: &str, route: &str| {
            format!("service_id=\"{}\",route=\"{route}\"", escape(service))
        };
        let counters: [(&str, &str, Count); 3] = [
            (
                "requests",
                "Inference requests answered, by service id and route.",
                |s| s.requests,
            ),
            (
                "errors",
                "Inference requests answered with a non-zero retcode.",
                |s| s.errors,
            ),
            ("rows", "Rows scored (1 per single request).", |s| s.rows),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP fateflow_inference_{name}_total {help}\n# TYPE fateflow_inference_{name}_total counter"
            );
            for ((svc, route), s) in &all {
                let _ = writeln!(
                    out,
                    "fateflow_inference_{name}_total{{{}}} {}",
                    label(svc, route),
                    value(s)
                );
            }
        }
        out.push_str("# HELP fateflow_inference_filled_features_total Absent features filled with DataTransform's value.\n# TYPE fateflow_inference_filled_features_total counter\n");
        for (svc, n) in self.filled.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "fateflow_inference_filled_features_total{{service_id=\"{}\"}} {n}",
                escape(svc)
            );
        }
        out.push_str("# HELP fateflow_inference_seconds Time from request to answer at the guest.\n# TYPE fateflow_inference_seconds histogram\n");
        for ((svc, route), s) in &all {
            let l = label(svc, route);
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "fateflow_inference_seconds_bucket{{{l},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS.len()];
            let _ = writeln!(
                out,
                "fateflow_inference_seconds_bucket{{{l},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(out, "fateflow_inference_seconds_sum{{{l}}} {}", s.seconds);
            let _ = writeln!(
                out,
                "fateflow_inference_seconds_count{{{l}}} {}",
                s.requests
            );
        }
        out
    }
}

/// A label value as Prometheus' text format quotes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_add_up() {
        let m = Metrics::default();
        m.record("svc", "inference", 1, Duration::from_micros(300), true);
        m.record("svc", "inference", 1, Duration::from_millis(3), false);
        m.record("svc", "inference", 1, Duration::from_secs(9), true);
        let text = m.render();
        for line in [
            "fateflow_inference_requests_total{service_id=\"svc\",route=\"inference\"} 3",
            "fateflow_inference_errors_total{service_id=\"svc\",route=\"inference\"} 1",
            "fateflow_inference_seconds_bucket{service_id=\"svc\",route=\"inference\",le=\"0.0005\"} 1",
            "fateflow_inference_seconds_bucket{service_id=\"svc\",route=\"inference\",le=\"0.005\"} 2",
            "fateflow_inference_seconds_bucket{service_id=\"svc\",route=\"inference\",le=\"2.5\"} 2",
            "fateflow_inference_seconds_bucket{service_id=\"svc\",route=\"inference\",le=\"+Inf\"} 3",
            "fateflow_inference_seconds_count{service_id=\"svc\",route=\"inference\"} 3",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert_eq!(m.requests()["svc"], (3, 1));
    }
}
