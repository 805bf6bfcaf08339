//! The counters `/metrics` shows, kept per server in plain atomics: a request costs a
//! route lookup (a hash of its route template and one load) and three relaxed additions,
//! with no lock and no allocation. Written out in Prometheus' text format when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use roster_service::StoreStats;

/// Route templates tracked; the router has a few dozen, so this only bounds a mistake.
const ROUTE_SLOTS: usize = 128;

/// Methods with a series of their own; any other is counted as `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];

/// Statuses counted under their own code; any other is counted under its class (`4xx`).
const STATUSES: [u16; 37] = [
    200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 410,
    411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 428, 429, 431, 500, 501, 502, 503, 504,
];
const CLASSES: [&str; 9] = [
    "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx",
];
const STATUS_SLOTS: usize = STATUSES.len() + CLASSES.len();

/// A status code's slot, looked up by the code itself.
static STATUS_SLOT: [u8; 1000] = status_slots();

const fn status_slots() -> [u8; 1000] {
    let mut slots = [0u8; 1000];
    let mut code = 100;
    while code < 1000 {
        slots[code] = (STATUSES.len() + code / 100 - 1) as u8;
        code += 1;
    }
    let mut i = 0;
    while i < STATUSES.len() {
        slots[STATUSES[i] as usize] = i as u8;
        i += 1;
    }
    slots
}

/// Upper bounds of the latency buckets, in microseconds, and as `le` shows them.
const BUCKETS: [(u64, &str); 16] = [
    (100, "0.0001"),
    (250, "0.00025"),
    (500, "0.0005"),
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (5_000_000, "5"),
    (10_000_000, "10"),
];

/// Why a request was answered 429.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RateLimitReason {
    /// The account spent its request budget.
    AccountBudget = 0,
    /// The client address failed authentication too often.
    FailedAuth = 1,
}

/// Every counter of one server. Shared through [`crate::AppState`]; the webhook
/// dispatcher reports its deliveries here too.
pub struct Metrics {
    routes: Box<[OnceLock<Box<RouteStats>>]>,
    /// Requests no route matched.
    unmatched: Box<RouteStats>,
    /// Requests of routes past [`ROUTE_SLOTS`].
    other: Box<RouteStats>,
    rate_limited: [AtomicU64; 2],
    webhook_delivered: AtomicU64,
    webhook_failed: AtomicU64,
    webhook_parked: AtomicU64,
    event_streams: AtomicUsize,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            routes: (0..ROUTE_SLOTS).map(|_| OnceLock::new()).collect(),
            unmatched: RouteStats::new("unmatched"),
            other: RouteStats::new("other"),
            rate_limited: [const { AtomicU64::new(0) }; 2],
            webhook_delivered: AtomicU64::new(0),
            webhook_failed: AtomicU64::new(0),
            webhook_parked: AtomicU64::new(0),
            event_streams: AtomicUsize::new(0),
        }
    }

    /// Counts an event delivered to a webhook (the receiver answered 2xx).
    pub fn webhook_delivered(&self) {
        self.webhook_delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a delivery attempt that failed (an error, a timeout or a status not 2xx).
    pub fn webhook_failed(&self) {
        self.webhook_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a delivery given up after its retry time.
    pub fn webhook_parked(&self) {
        self.webhook_parked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self, reason: RateLimitReason) {
        self.rate_limited[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an event stream as open until the guard is dropped, which happens however
    /// the stream ends: the server stopping it, or the client going away.
    pub(crate) fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.event_streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(self))
    }

    /// The counters of the route a request matched. Labels are route templates, never
    /// paths, so their number stays that of the router's routes.
    pub(crate) fn route(&self, matched: Option<&MatchedPath>) -> &RouteStats {
        let Some(template) = matched.map(MatchedPath::as_str) else {
            return &self.unmatched;
        };
        let start = fnv1a(template.as_bytes()) as usize;
        for probe in 0..ROUTE_SLOTS {
            let slot = &self.routes[(start + probe) % ROUTE_SLOTS];
            let stats = slot.get_or_init(|| RouteStats::new(template));
            if *stats.route == *template {
                return stats;
            }
        }
        &self.other
    }

    /// Writes every metric in Prometheus' text exposition format (version 0.0.4).
    pub(crate) fn render(&self, storage: &StoreStats) -> String {
        let mut routes: Vec<&RouteStats> = self
            .routes
            .iter()
            .filter_map(|slot| slot.get().map(|stats| &**stats))
            .collect();
        routes.sort_by(|a, b| a.route.cmp(&b.route));
        routes.push(&self.unmatched);
        routes.push(&self.other);

        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "roster_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        for route in &routes {
            route.write_requests(&mut out);
        }
        header(
            &mut out,
            "roster_http_request_duration_seconds",
            "histogram",
            "Time from a request reaching the application to its answer being ready to send, by route template and method.",
        );
        for route in &routes {
            route.write_latency(&mut out);
        }

        header(
            &mut out,
            "roster_rate_limited_total",
            "counter",
            "Requests refused with 429: the account spent its budget, or the client address failed authentication too often.",
        );
        for (reason, label) in ["account_budget", "failed_auth"].iter().enumerate() {
            let value = self.rate_limited[reason].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "roster_rate_limited_total{{reason=\"{label}\"}} {value}"
            );
        }

        header(
            &mut out,
            "roster_storage_connections",
            "gauge",
            "Storage connections by state (SQLite: read connections; PostgreSQL: the pool's).",
        );
        let _ = writeln!(
            out,
            "roster_storage_connections{{state=\"idle\"}} {}\nroster_storage_connections{{state=\"in_use\"}} {}",
            storage.idle_connections, storage.busy_connections
        );
        header(
            &mut out,
            "roster_storage_waiting",
            "gauge",
            "Callers waiting for storage: writes queued for SQLite's writer, or callers waiting for a PostgreSQL connection.",
        );
        let _ = writeln!(out, "roster_storage_waiting {}", storage.waiting);

        header(
            &mut out,
            "roster_events_emitted_total",
            "counter",
            "Change events this process wrote in committed transactions.",
        );
        let _ = writeln!(
            out,
            "roster_events_emitted_total {}",
            storage.events_written
        );

        header(
            &mut out,
            "roster_webhook_deliveries_total",
            "counter",
            "Webhook deliveries by outcome: events delivered, attempts failed, events parked after their retry time.",
        );
        for (outcome, counter) in [
            ("delivered", &self.webhook_delivered),
            ("failed", &self.webhook_failed),
            ("parked", &self.webhook_parked),
        ] {
            let value = counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "roster_webhook_deliveries_total{{outcome=\"{outcome}\"}} {value}"
            );
        }

        header(
            &mut out,
            "roster_sse_clients",
            "gauge",
            "Event streams (GET .../events) open now.",
        );
        let _ = writeln!(
            out,
            "roster_sse_clients {}",
            self.event_streams.load(Ordering::Relaxed)
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Keeps an event stream counted as open; see [`Metrics::stream_opened`].
pub(crate) struct StreamGuard(Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.event_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One route template's counters: requests by method and status, latency by method.
pub(crate) struct RouteStats {
    route: Box<str>,
    requests: [AtomicU64; METHODS.len() * STATUS_SLOTS],
    latency: [Histogram; METHODS.len()],
}

struct Histogram {
    /// Requests per bucket, not cumulative; the last is past the largest bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn new(route: &str) -> Box<Self> {
        Box::new(Self {
            route: route.into(),
            requests: [const { AtomicU64::new(0) }; METHODS.len() * STATUS_SLOTS],
            latency: [const {
                Histogram {
                    buckets: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
                    sum_micros: AtomicU64::new(0),
                }
            }; METHODS.len()],
        })
    }

    /// Counts one answered request.
    pub(crate) fn record(&self, method: &Method, status: StatusCode, elapsed: Duration) {
        let method = method_slot(method);
        let status = STATUS_SLOT[usize::from(status.as_u16())] as usize;
        self.requests[method * STATUS_SLOTS + status].fetch_add(1, Ordering::Relaxed);

        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS
            .iter()
            .position(|(bound, _)| micros <= *bound)
            .unwrap_or(BUCKETS.len());
        let histogram = &self.latency[method];
        histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        histogram.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn write_requests(&self, out: &mut String) {
        for (method, name) in METHODS.iter().enumerate() {
            for slot in 0..STATUS_SLOTS {
                let value = self.requests[method * STATUS_SLOTS + slot].load(Ordering::Relaxed);
                if value == 0 {
                    continue;
                }
                let _ = write!(out, "roster_http_requests_total{{route=\"");
                escape(out, &self.route);
                let _ = match STATUSES.get(slot) {
                    Some(code) => writeln!(out, "\",method=\"{name}\",status=\"{code}\"}} {value}"),
                    None => {
                        let class = CLASSES[slot - STATUSES.len()];
                        writeln!(out, "\",method=\"{name}\",status=\"{class}\"}} {value}")
                    }
                };
            }
        }
    }

    fn write_latency(&self, out: &mut String) {
        for (method, name) in METHODS.iter().enumerate() {
            let histogram = &self.latency[method];
            let counts: Vec<u64> = histogram
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let count: u64 = counts.iter().sum();
            if count == 0 {
                continue;
            }
            let mut labels = String::from("route=\"");
            escape(&mut labels, &self.route);
            let _ = write!(labels, "\",method=\"{name}\"");
            let mut cumulative = 0;
            for ((_, le), n) in BUCKETS.iter().zip(&counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "roster_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = histogram.sum_micros.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
                 roster_http_request_duration_seconds_sum{{{labels}}} {}.{:06}\n\
                 roster_http_request_duration_seconds_count{{{labels}}} {count}",
                sum / 1_000_000,
                sum % 1_000_000
            );
        }
    }
}

fn method_slot(method: &Method) -> usize {
    match method.as_str() {
        "GET" => 0,
        "HEAD" => 1,
        "POST" => 2,
        "PUT" => 3,
        "DELETE" => 4,
        "PATCH" => 5,
        "OPTIONS" => 6,
        _ => 7,
    }
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// FNV-1a: a few instructions a byte, plenty to spread a few dozen route templates.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> StoreStats {
        StoreStats::default()
    }

    #[test]
    fn every_status_has_a_slot_and_known_ones_their_own() {
        for (i, code) in STATUSES.iter().enumerate() {
            assert_eq!(STATUS_SLOT[usize::from(*code)] as usize, i);
        }
        assert_eq!(STATUS_SLOT[418] as usize, STATUSES.len() + 3);
        assert_eq!(STATUS_SLOT[599] as usize, STATUSES.len() + 4);
        assert!(STATUS_SLOT[100..]
            .iter()
            .all(|s| (*s as usize) < STATUS_SLOTS));
    }

    #[test]
    fn a_request_shows_in_its_counter_and_in_one_cumulative_bucket() {
        let metrics = Metrics::new();
        let route = metrics.route(None);
        route.record(&Method::GET, StatusCode::OK, Duration::from_micros(700));
        route.record(
            &Method::GET,
            StatusCode::IM_A_TEAPOT,
            Duration::from_secs(20),
        );
        let text = metrics.render(&stats());
        assert!(text.contains(
            "roster_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"200\"} 1\n"
        ));
        assert!(text.contains(
            "roster_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"4xx\"} 1\n"
        ));
        let series = "roster_http_request_duration_seconds";
        let labels = "route=\"unmatched\",method=\"GET\"";
        assert!(text.contains(&format!("{series}_bucket{{{labels},le=\"0.0005\"}} 0\n")));
        assert!(text.contains(&format!("{series}_bucket{{{labels},le=\"0.001\"}} 1\n")));
        assert!(text.contains(&format!("{series}_bucket{{{labels},le=\"10\"}} 1\n")));
        assert!(text.contains(&format!("{series}_bucket{{{labels},le=\"+Inf\"}} 2\n")));
        assert!(text.contains(&format!("{series}_sum{{{labels}}} 20.000700\n")));
        assert!(text.contains(&format!("{series}_count{{{labels}}} 2\n")));
        // Methods with no request have no series.
        assert!(!text.contains("method=\"POST\""));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn every_metric_has_help_and_type_before_its_samples() {
        let metrics = Arc::new(Metrics::new());
        let _stream = metrics.stream_opened();
        let text = metrics.render(&stats());
        let mut typed = std::collections::HashSet::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                let name = help.split(' ').next().unwrap();
                let kind = lines.next().unwrap();
                assert!(kind.starts_with(&format!("# TYPE {name} ")), "{kind}");
                typed.insert(name.to_owned());
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| typed.contains(*base))
                .unwrap_or(name);
            assert!(typed.contains(family), "{line}");
        }
        assert!(text.contains("roster_sse_clients 1\n"));
        assert!(text.ends_with('\n'));
    }
}
