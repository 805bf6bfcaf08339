//! The small chart of agents available, busy and off over the last hours: stacked bars
//! drawn as SVG on the server, with the same figures in a table for those who do not see
//! the picture.

use jiff::{SignedDuration, Timestamp};
use maud::{html, Markup};
use roster_domain::{Presence, PresenceSample};

use crate::list::CHART_HOURS;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
/// Room below the axis line.
const AXIS: f64 = 2.0;

/// The chart for the samples since `now` minus [`CHART_HOURS`], and `current` as the
/// last bar.
pub(crate) fn figure(
    history: &[PresenceSample],
    current: Presence,
    now: Timestamp,
    zone: &str,
) -> Markup {
    let mut samples: Vec<PresenceSample> = history.to_vec();
    samples.push(PresenceSample {
        taken_at: now,
        presence: current,
    });
    let span = SignedDuration::from_hours(CHART_HOURS).as_secs_f64();
    let start = now - SignedDuration::from_hours(CHART_HOURS);
    let tallest = samples
        .iter()
        .map(|s| s.presence.total())
        .max()
        .unwrap_or(0)
        .max(1);
    // One bar per 5-minute sample, so bars never overlap.
    let slot = WIDTH / (span / 300.0 + 1.0);
    let bar = (slot - 1.0).max(1.0);
    let plot = HEIGHT - AXIS;
    // Counts of one account stay far below 2^52, where f64 would start to round.
    let scale = plot / tallest as f64;
    let x_of = |at: Timestamp| {
        let offset = at.duration_since(start).as_secs_f64().clamp(0.0, span);
        offset / span * (WIDTH - slot)
    };

    html! {
        figure id="presence-chart" class="chart" data-live-region {
            figcaption { "Agents available, busy and off, last " (CHART_HOURS) " hours" }
            svg role="img" aria-labelledby="presence-chart-title presence-chart-desc"
                viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } preserveAspectRatio="none"
                xmlns="http://www.w3.org/2000/svg" {
                title id="presence-chart-title" { "Agents over the last " (CHART_HOURS) " hours" }
                desc id="presence-chart-desc" {
                    "Now: " (current.available) " available, " (current.busy) " busy, " (current.off) " off."
                }
                @for sample in &samples {
                    @let x = x_of(sample.taken_at);
                    @let p = sample.presence;
                    @let off = f64::from(p.off) * scale;
                    @let busy = f64::from(p.busy) * scale;
                    @let available = f64::from(p.available) * scale;
                    rect class="off" x=(fmt(x)) y=(fmt(plot - off)) width=(fmt(bar)) height=(fmt(off)) {}
                    rect class="busy" x=(fmt(x)) y=(fmt(plot - off - busy)) width=(fmt(bar)) height=(fmt(busy)) {}
                    rect class="available" x=(fmt(x)) y=(fmt(plot - off - busy - available)) width=(fmt(bar)) height=(fmt(available)) {}
                }
                line class="axis" x1="0" y1=(fmt(plot)) x2=(fmt(WIDTH)) y2=(fmt(plot)) {}
            }
            // Outside the picture, which stretches to the page's width: text inside it
            // would stretch too.
            div class="ticks" aria-hidden="true" {
                span { (CHART_HOURS) " h ago" }
                span { (CHART_HOURS / 2) " h ago" }
                span { "now" }
            }
            ul class="legend" aria-hidden="true" {
                li { span class="swatch available" {} "available" }
                li { span class="swatch busy" {} "busy" }
                li { span class="swatch off" {} "off" }
            }
            // Ids, so the page's script keeps the table open and focused across refreshes.
            details id="presence-figures" {
                summary id="presence-figures-summary" { "The figures" }
                table {
                    caption class="visually-hidden" { "Agents available, busy and off by time (" (zone) ")" }
                    thead {
                        tr {
                            th scope="col" { "Time" }
                            th scope="col" { "Available" }
                            th scope="col" { "Busy" }
                            th scope="col" { "Off" }
                        }
                    }
                    tbody {
                        @for sample in samples.iter().rev() {
                            tr {
                                th scope="row" { (clock(sample.taken_at, zone)) }
                                td { (sample.presence.available) }
                                td { (sample.presence.busy) }
                                td { (sample.presence.off) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The time of day in the account's zone.
fn clock(at: Timestamp, zone: &str) -> String {
    match at.in_tz(zone) {
        Ok(zoned) => zoned.strftime("%H:%M").to_string(),
        Err(_) => at.strftime("%H:%M UTC").to_string(),
    }
}

/// Coordinates with one decimal: enough for the picture, short in the page.
fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("a test time")
    }

    #[test]
    fn bars_stay_inside_the_picture_and_the_table_has_every_sample() {
        let now = at(1_800_000_000);
        let history = vec![
            PresenceSample {
                // Older than the window: drawn at its left edge, not outside.
                taken_at: now - SignedDuration::from_hours(9),
                presence: Presence {
                    available: 3,
                    busy: 1,
                    off: 0,
                },
            },
            PresenceSample {
                taken_at: now - SignedDuration::from_mins(30),
                presence: Presence {
                    available: 1,
                    busy: 2,
                    off: 5,
                },
            },
        ];
        let current = Presence {
            available: 2,
            busy: 2,
            off: 4,
        };
        let svg = figure(&history, current, now, "Asia/Kolkata").into_string();
        assert_eq!(svg.matches("<tr>").count(), 1 + 3, "{svg}");
        assert!(svg.contains("Now: 2 available, 2 busy, 4 off."));
        for value in svg.split(" x=\"").skip(1) {
            let x: f64 = value
                .split('"')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("x in {value}"));
            assert!((0.0..=WIDTH).contains(&x), "{x}");
        }
        for value in svg.split(" y=\"").skip(1) {
            let y: f64 = value
                .split('"')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("y");
            assert!((0.0..=HEIGHT).contains(&y), "{y}");
        }
    }

    #[test]
    fn an_empty_account_draws_no_bar_height() {
        let svg = figure(&[], Presence::default(), at(1_800_000_000), "UTC").into_string();
        assert!(svg.contains("height=\"0.0\""));
        assert!(!svg.contains("NaN"));
    }
}
