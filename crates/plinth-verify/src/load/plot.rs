//! The two latency plots of the HTML report as self-contained SVG (no script, no external font
//! or style): the percentile curve, on an x axis in "nines" so the tail gets as much room as the
//! median, and latency over time (p50, p99 and max per slice), where stalls and queueing show.

use super::report::{LoadReport, TimelinePoint};
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 32.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 44.0;
const P50_COLOUR: &str = "#2563eb";
const P99_COLOUR: &str = "#ea580c";
const MAX_COLOUR: &str = "#dc2626";

/// Which latency of a timeline point a line plots.
type SeriesValue = fn(&TimelinePoint) -> u64;

/// Latency (ms) against percentile, the x axis in nines: 0 = p0, 1 = p90, 2 = p99, 3 = p99.9.
pub fn svg_percentiles(report: &LoadReport) -> String {
    let title = format!("Latency by percentile — {}", describe(report));
    let mut svg = open_svg(&title);
    let Some(last) = report.percentiles.last() else {
        no_data(&mut svg);
        return close_svg(svg);
    };
    // The axis always reaches p99, the percentile the report is about, even when a short or
    // slow run measured too few answers to have one.
    let highest_nines = last.nines.max(2.0);
    let y_axis = Axis::new(milliseconds(last.latency));
    let x_of = |nines: f64| LEFT + nines / highest_nines * plot_width();
    let y_of = |value: f64| TOP + plot_height() - value / y_axis.top * plot_height();

    y_axis.draw_horizontal_grid(&mut svg, "ms");
    let mut nines = 0.0;
    while nines <= highest_nines + 1e-9 {
        let x = x_of(nines);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e5e7eb"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_height(),
            TOP + plot_height() + 16.0,
            percentile_label(nines)
        );
        nines += 1.0;
    }
    axis_label(&mut svg, "percentile");

    let points: Vec<String> = report
        .percentiles
        .iter()
        .filter(|point| point.percentile < 100.0)
        .map(|point| {
            format!(
                "{:.1},{:.1}",
                x_of(point.nines),
                y_of(milliseconds(point.latency))
            )
        })
        .collect();
    let _ = write!(
        svg,
        r#"<polyline fill="none" stroke="{P50_COLOUR}" stroke-width="2" points="{}"/>"#,
        points.join(" ")
    );
    let (max_x, max_y) = (x_of(last.nines), y_of(milliseconds(last.latency)));
    let _ = write!(
        svg,
        r#"<circle cx="{max_x:.1}" cy="{max_y:.1}" r="4" fill="{MAX_COLOUR}"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{MAX_COLOUR}">max {}</text>"#,
        max_x - 8.0,
        (max_y - 8.0).max(TOP + 12.0),
        format_milliseconds(last.latency)
    );
    let summary = &report.latency;
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" fill="#374151">p50 {} · p90 {} · p99 {} · p99.9 {}</text>"##,
        LEFT,
        TOP - 10.0,
        format_milliseconds(summary.p50),
        format_milliseconds(summary.p90),
        format_milliseconds(summary.p99),
        format_milliseconds(summary.p999)
    );
    close_svg(svg)
}

/// p50, p99 and max latency (ms) of each slice of the run against time (s).
pub fn svg_timeline(report: &LoadReport) -> String {
    let title = format!("Latency over time — {}", describe(report));
    let mut svg = open_svg(&title);
    let answered: Vec<_> = report
        .timeline
        .iter()
        .filter(|point| point.count > point.errors || point.max > 0)
        .collect();
    if answered.is_empty() {
        no_data(&mut svg);
        return close_svg(svg);
    }
    let highest = answered.iter().map(|point| point.max).max().unwrap_or(0);
    let y_axis = Axis::new(milliseconds(highest));
    let x_axis = Axis::new(report.duration_seconds.max(0.1));
    let x_of = |seconds: f64| LEFT + seconds / x_axis.top * plot_width();
    let y_of = |value: f64| TOP + plot_height() - value / y_axis.top * plot_height();
    let half_slice = report.timeline_bucket_milliseconds as f64 / 2000.0;

    y_axis.draw_horizontal_grid(&mut svg, "ms");
    for tick in x_axis.ticks() {
        let x = x_of(tick);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#9ca3af"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_height(),
            TOP + plot_height() + 4.0,
            TOP + plot_height() + 16.0,
            trim_number(tick)
        );
    }
    axis_label(&mut svg, "seconds");

    let series: [(&str, &str, SeriesValue); 3] = [
        ("max", MAX_COLOUR, |point| point.max),
        ("p99", P99_COLOUR, |point| point.p99),
        ("p50", P50_COLOUR, |point| point.p50),
    ];
    for (name, colour, value) in series {
        let points: Vec<String> = answered
            .iter()
            .map(|point| {
                format!(
                    "{:.1},{:.1}",
                    x_of(point.start_seconds + half_slice),
                    y_of(milliseconds(value(point)))
                )
            })
            .collect();
        let dash = if name == "max" {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{}"/>"#,
            points.join(" ")
        );
    }
    // Legend, top right.
    for (position, (name, colour)) in [
        ("p50", P50_COLOUR),
        ("p99", P99_COLOUR),
        ("max", MAX_COLOUR),
    ]
    .into_iter()
    .enumerate()
    {
        let x = WIDTH - RIGHT - 150.0 + position as f64 * 50.0;
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            TOP - 10.0,
            x + 14.0,
            TOP - 10.0,
            x + 18.0,
            TOP - 6.0
        );
    }
    close_svg(svg)
}

/// `closed loop, 64 connections` or `open loop at 500 req/s, 64 connections`.
fn describe(report: &LoadReport) -> String {
    match &report.open_loop {
        Some(open) => format!(
            "open loop at {} req/s, {} connections",
            trim_number(open.requested_rate),
            report.connections
        ),
        None => format!("closed loop, {} connections", report.connections),
    }
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

fn milliseconds(microseconds: u64) -> f64 {
    microseconds as f64 / 1000.0
}

fn format_milliseconds(microseconds: u64) -> String {
    format!("{} ms", trim_number(milliseconds(microseconds)))
}

/// At most two decimals, without trailing zeros: `1.5`, `12`, `0.25`.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// `0%`, `90%`, `99%`, `99.9%`, ... for whole nines.
fn percentile_label(nines: f64) -> String {
    let whole = nines.round() as usize;
    match whole {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(whole - 2)).replace("99.%", "99%"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open_svg(title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11" role="img"><title>{title}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="16" font-size="13" font-weight="bold" fill="#111827">{title}</text>"##,
        title = escape(title)
    )
}

fn close_svg(mut svg: String) -> String {
    svg.push_str("</svg>");
    svg
}

fn no_data(svg: &mut String) {
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#6b7280">no answers were measured</text>"##,
        WIDTH / 2.0,
        HEIGHT / 2.0
    );
}

fn axis_label(svg: &mut String, label: &str) {
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#374151">{label}</text>"##,
        LEFT + plot_width() / 2.0,
        HEIGHT - 8.0
    );
}

/// A linear axis from 0 to a round number at or above the data's top, in steps of 1, 2 or 5
/// times a power of ten.
struct Axis {
    top: f64,
    step: f64,
}

impl Axis {
    fn new(highest: f64) -> Axis {
        let highest = if highest.is_finite() && highest > 0.0 {
            highest
        } else {
            1.0
        };
        let rough_step = highest / 5.0;
        let magnitude = 10f64.powf(rough_step.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|factor| factor * magnitude)
            .find(|step| highest / step <= 5.0 + 1e-9)
            .unwrap_or(10.0 * magnitude);
        Axis {
            top: (highest / step).ceil().max(1.0) * step,
            step,
        }
    }

    fn ticks(&self) -> Vec<f64> {
        let count = (self.top / self.step).round() as usize;
        (0..=count).map(|index| index as f64 * self.step).collect()
    }

    fn draw_horizontal_grid(&self, svg: &mut String, unit: &str) {
        for tick in self.ticks() {
            let y = TOP + plot_height() - tick / self.top * plot_height();
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{:.1}" y="{:.1}" text-anchor="end">{} {unit}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                trim_number(tick)
            );
        }
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#9ca3af"/>"##,
            plot_width(),
            plot_height()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_count_nines() {
        let labels: Vec<String> = (0..5)
            .map(|nines| percentile_label(f64::from(nines)))
            .collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn axes_end_on_round_numbers_above_the_data() {
        let axis = Axis::new(7.3);
        assert_eq!((axis.top, axis.step), (8.0, 2.0));
        assert_eq!(axis.ticks(), [0.0, 2.0, 4.0, 6.0, 8.0]);
        let axis = Axis::new(0.0);
        assert!(axis.top > 0.0);
        assert_eq!(trim_number(12.50), "12.5");
        assert_eq!(trim_number(0.0), "0");
    }
}
