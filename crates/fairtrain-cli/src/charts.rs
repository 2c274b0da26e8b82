//! SVG charts for the reports, drawn with plotters: curves of a quantity
//! against training time (mean over seeds with a 25-75% band and a dashed
//! line at the bound), and points (scattered, or trade-off curves labelled
//! with their bounds). Every chart has its legend outside the plot, tick
//! text as large as the tables', and takes its colours from one
//! [`Palette`] per report.

use anyhow::{Result, anyhow};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Colours of the series, in order (colour-blind friendly: Okabe-Ito, with
/// grey and brown before the pale yellow for larger legends).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(128, 128, 128),
    RGBColor(140, 86, 75),
    RGBColor(240, 228, 66),
];

/// One colour per series label across every chart of a report: a label's
/// colour is its place in the report's list of labels.
#[derive(Debug, Clone, Default)]
pub struct Palette(Vec<String>);

impl Palette {
    /// A palette over `labels`, in their order (duplicates ignored).
    pub fn new<S: AsRef<str>>(labels: impl IntoIterator<Item = S>) -> Palette {
        let mut list: Vec<String> = Vec::new();
        for l in labels {
            if !list.iter().any(|x| x == l.as_ref()) {
                list.push(l.as_ref().to_string());
            }
        }
        Palette(list)
    }

    /// The colour of `label` (labels the palette does not list share the last colour).
    pub fn colour(&self, label: &str) -> RGBColor {
        let i = self.0.iter().position(|l| l == label).unwrap_or(PALETTE.len() - 1);
        PALETTE[i % PALETTE.len()]
    }
}

/// One curve: x values and, per x, the mean and the 25% and 75% quantiles.
#[derive(Debug, Clone)]
pub struct Band {
    pub label: String,
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// Points of a chart: optional labels drawn beside them (e.g. the bound
/// of each point of a trade-off curve), joined in order or not.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub labels: Vec<String>,
    pub joined: bool,
}

/// A chart's frame.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Reference lines (e.g. the bound), with labels: horizontal in band
    /// charts, vertical in point charts.
    pub hlines: Vec<(f64, String)>,
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad, hi + pad)
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw a chart: {e:?}")
}

/// Tick text without a sign on zero ("-0.0" reads as a number below zero)
/// and without trailing zeros.
fn tick(v: &f64) -> String {
    let digits = if v.abs() >= 100.0 { 0 } else { 4 };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// Size of every chart: the plot, then the legend to its right.
const PLOT: (u32, u32) = (600, 380);
const LEGEND_WIDTH: u32 = 330;

/// The charts' drawing context: f64 axes on an SVG backend.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;

/// Fills `root`, splits off the legend area on the right, and draws the
/// frame's caption, axes and a light grid on the rest.
fn framed<'a, 'b>(
    plot: &'a Area<'b>,
    frame: &Frame,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(plot)
        .caption(frame.title, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(frame.x_label)
        .y_desc(frame.y_label)
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 14))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dashed,
    LineAndDot,
    Dot,
    Triangle,
}

/// The legend, outside the plot: one line per entry.
fn legend(area: &Area, entries: &[(String, RGBColor, Mark)], note: Option<&str>) -> Result<()> {
    for (i, (label, c, mark)) in entries.iter().enumerate() {
        let y = 50 + 26 * i as i32;
        match mark {
            Mark::Line | Mark::LineAndDot => {
                area.draw(&PathElement::new(vec![(8, y), (30, y)], c.stroke_width(2))).map_err(plot_error)?;
            }
            Mark::Dashed => {
                for x in [8, 20] {
                    area.draw(&PathElement::new(vec![(x, y), (x + 7, y)], c.stroke_width(1))).map_err(plot_error)?;
                }
            }
            _ => {}
        }
        match mark {
            Mark::LineAndDot | Mark::Dot => area.draw(&Circle::new((19, y), 4, c.filled())).map_err(plot_error)?,
            Mark::Triangle => area.draw(&TriangleMarker::new((19, y), 7, c.filled())).map_err(plot_error)?,
            _ => {}
        }
        area.draw(&Text::new(label.clone(), (38, y - 8), ("sans-serif", 14).into_font())).map_err(plot_error)?;
    }
    if let Some(note) = note {
        let y = 50 + 26 * entries.len() as i32 + 6;
        let style = ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90));
        area.draw(&Text::new(note.to_string(), (8, y), style)).map_err(plot_error)?;
    }
    Ok(())
}

/// Curves with bands against x, as an SVG document.
pub fn bands(frame: &Frame, series: &[Band], palette: &Palette) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (PLOT.0 + LEGEND_WIDTH, PLOT.1)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (plot, legend_area) = root.split_horizontally(PLOT.0);
        let (x0, x1) = range(series.iter().flat_map(|s| s.x.iter().copied()));
        let (y0, y1) = range(
            series
                .iter()
                .flat_map(|s| s.low.iter().chain(&s.high).chain(&s.mean).copied())
                .chain(frame.hlines.iter().map(|h| h.0)),
        );
        let mut chart = framed(&plot, frame, x0.max(0.0)..x1, y0..y1)?;
        let mut entries = Vec::new();
        for (value, label) in &frame.hlines {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0.max(0.0), *value), (x1, *value)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))
                .map_err(plot_error)?;
            entries.push((label.clone(), BLACK, Mark::Dashed));
        }
        for s in series {
            let c = palette.colour(&s.label);
            let mut polygon: Vec<(f64, f64)> = s.x.iter().copied().zip(s.high.iter().copied()).collect();
            polygon.extend(s.x.iter().copied().zip(s.low.iter().copied()).rev());
            chart.draw_series(std::iter::once(Polygon::new(polygon, c.mix(0.18).filled()))).map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(s.x.iter().copied().zip(s.mean.iter().copied()), c.stroke_width(2)))
                .map_err(plot_error)?;
            entries.push((s.label.clone(), c, Mark::Line));
        }
        legend(&legend_area, &entries, None)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Points: curves (joined series, each point labelled, e.g. with its
/// bound) and scattered points, with vertical reference lines at the
/// frame's `hlines`, and the legend outside the plot.
pub fn points(frame: &Frame, series: &[Series], palette: &Palette, note: Option<&str>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (PLOT.0 + LEGEND_WIDTH, PLOT.1 + 40)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (plot, legend_area) = root.split_horizontally(PLOT.0);
        let (x0, x1) =
            range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(frame.hlines.iter().map(|h| h.0)));
        let (y0, y1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
        let mut chart = framed(&plot, frame, x0.max(0.0)..x1, y0..y1)?;
        let curves = series.iter().any(|s| s.joined);
        let mut entries = Vec::new();
        for (value, label) in &frame.hlines {
            chart
                .draw_series(DashedLineSeries::new(vec![(*value, y0), (*value, y1)], 6, 4, BLACK.stroke_width(1)))
                .map_err(plot_error)?;
            entries.push((label.clone(), BLACK, Mark::Dashed));
        }
        for s in series {
            let c = palette.colour(&s.label);
            if s.joined && s.points.len() > 1 {
                chart.draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2))).map_err(plot_error)?;
            }
            // Among curves, scattered points are triangles (the alternatives).
            let mark = match (s.joined, curves) {
                (true, _) => Mark::LineAndDot,
                (false, true) => Mark::Triangle,
                (false, false) => Mark::Dot,
            };
            match mark {
                Mark::Triangle => chart.draw_series(s.points.iter().map(|&p| TriangleMarker::new(p, 7, c.filled()))),
                _ => chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled()))),
            }
            .map_err(plot_error)?;
            let text = ("sans-serif", 13).into_font().color(&c);
            chart
                .draw_series(s.points.iter().zip(&s.labels).map(|(&p, l)| Text::new(l.clone(), p, text.clone())))
                .map_err(plot_error)?;
            entries.push((s.label.clone(), c, mark));
        }
        legend(&legend_area, &entries, note)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_have_no_negative_zero_and_no_trailing_zeros() {
        assert_eq!(tick(&-0.00001), "0");
        assert_eq!(tick(&0.05), "0.05");
        assert_eq!(tick(&0.8), "0.8");
        assert_eq!(tick(&1500.0), "1500");
    }

    #[test]
    fn a_label_keeps_its_colour_whatever_the_chart_holds() {
        let p = Palette::new(["ssl-alm", "ssw", "adam"]);
        assert_eq!(p.colour("adam"), PALETTE[2]);
        assert_ne!(p.colour("ssw"), p.colour("adam"));
    }
}
