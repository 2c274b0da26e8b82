//! SVG charts for the bench report, drawn with plotters: curves of a
//! quantity against training time (mean over seeds with a 25-75% band and
//! a dashed line at the bound) and scatter/trade-off charts.

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

/// The colour of series `i`.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
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

/// A chart's frame.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Horizontal reference lines (e.g. the bound), with labels.
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

/// The charts' drawing context: f64 axes on an SVG backend.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Fills `root` and draws the frame's caption, axes and a light grid.
fn framed<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    frame: &Frame,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, 'b>> {
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(root)
        .caption(frame.title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(62)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(frame.x_label)
        .y_desc(frame.y_label)
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}

/// Curves with bands against x, as an SVG document.
pub fn bands(frame: &Frame, series: &[Band]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 330)).into_drawing_area();
        let (x0, x1) = range(series.iter().flat_map(|s| s.x.iter().copied()));
        let (y0, y1) = range(
            series
                .iter()
                .flat_map(|s| s.low.iter().chain(&s.high).chain(&s.mean).copied())
                .chain(frame.hlines.iter().map(|h| h.0)),
        );
        let mut chart = framed(&root, frame, x0.max(0.0)..x1, y0..y1)?;
        for (value, label) in &frame.hlines {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0.max(0.0), *value), (x1, *value)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))
                .map_err(plot_error)?
                .label(label.clone())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
        }
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            let mut polygon: Vec<(f64, f64)> = s.x.iter().copied().zip(s.high.iter().copied()).collect();
            polygon.extend(s.x.iter().copied().zip(s.low.iter().copied()).rev());
            chart.draw_series(std::iter::once(Polygon::new(polygon, c.mix(0.18).filled()))).map_err(plot_error)?;
            chart
                .draw_series(LineSeries::new(s.x.iter().copied().zip(s.mean.iter().copied()), c.stroke_width(2)))
                .map_err(plot_error)?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Points (one list per series), optionally joined by lines in order.
pub fn scatter(frame: &Frame, series: &[(String, Vec<(f64, f64)>)], joined: bool) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 360)).into_drawing_area();
        let (x0, x1) =
            range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)).chain(frame.hlines.iter().map(|h| h.0)));
        let (y0, y1) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
        let mut chart = framed(&root, frame, x0..x1, y0..y1)?;
        // Vertical reference lines at the bounds.
        for (value, label) in &frame.hlines {
            chart
                .draw_series(DashedLineSeries::new(vec![(*value, y0), (*value, y1)], 6, 4, BLACK.stroke_width(1)))
                .map_err(plot_error)?
                .label(label.clone())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
        }
        for (i, (label, points)) in series.iter().enumerate() {
            let c = colour(i);
            if joined && points.len() > 1 {
                chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2))).map_err(plot_error)?;
            }
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(plot_error)?
                .label(label.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A series of a frontier chart: points, optional labels drawn beside them
/// (e.g. the bound of each point of a trade-off curve), joined in order or not.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub labels: Vec<String>,
    pub joined: bool,
}

/// Tick text without a sign on zero ("-0.0" reads as a number below zero).
fn tick(v: &f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if s == "-0" { "0".into() } else { s }
}

/// Curves (joined series, each point labelled) and points (the
/// alternatives), with the legend outside the plot area on the right.
pub fn frontier(frame: &Frame, series: &[Series]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (980, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (plot, legend) = root.split_horizontally(640);
        let (x0, x1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
        let (y0, y1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
        let mut chart = ChartBuilder::on(&plot)
            .caption(frame.title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(46)
            .y_label_area_size(66)
            .build_cartesian_2d(x0.max(0.0)..x1, y0..y1)
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
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            if s.joined && s.points.len() > 1 {
                chart.draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2))).map_err(plot_error)?;
            }
            if s.joined {
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled()))).map_err(plot_error)?;
            } else {
                chart
                    .draw_series(s.points.iter().map(|&p| TriangleMarker::new(p, 7, c.filled())))
                    .map_err(plot_error)?;
            }
            let text = ("sans-serif", 13).into_font().color(&c);
            chart
                .draw_series(s.points.iter().zip(&s.labels).map(|(&p, l)| Text::new(l.clone(), p, text.clone())))
                .map_err(plot_error)?;
        }
        // The legend, outside the plot: one line per series.
        for (i, s) in series.iter().enumerate() {
            let c = colour(i);
            let y = 50 + 26 * i as i32;
            if s.joined {
                legend.draw(&PathElement::new(vec![(8, y), (30, y)], c.stroke_width(2))).map_err(plot_error)?;
                legend.draw(&Circle::new((19, y), 4, c.filled())).map_err(plot_error)?;
            } else {
                legend.draw(&TriangleMarker::new((19, y), 7, c.filled())).map_err(plot_error)?;
            }
            legend
                .draw(&Text::new(s.label.clone(), (38, y - 8), ("sans-serif", 14).into_font()))
                .map_err(plot_error)?;
        }
        legend
            .draw(&Text::new(
                "curves: fairtrain, labelled with the bound".to_string(),
                (8, 50 + 26 * series.len() as i32 + 6),
                ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
