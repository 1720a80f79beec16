//! The report: rows, and their JSON, markdown and SVG forms.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::json;

/// What a row must reach.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// `ratio <= x`.
    RatioAtMost(f64),
    /// `ratio >= x` (throughput ratios).
    RatioAtLeast(f64),
    /// The measured value itself `<= x` (allocations, bytes).
    ValueAtMost(f64),
    /// Context only.
    None,
}

impl Target {
    fn describe(self) -> String {
        match self {
            Self::RatioAtMost(x) => format!("ratio ≤ {x}"),
            Self::RatioAtLeast(x) => format!("ratio ≥ {x}"),
            Self::ValueAtMost(0.0) => "= 0".to_owned(),
            Self::ValueAtMost(x) => format!("≤ {x}"),
            Self::None => "—".to_owned(),
        }
    }
}

/// One measured row.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) param: String,
    /// ventus's median (ns per operation unless `unit` says otherwise).
    pub(crate) ventus: f64,
    pub(crate) floor_name: String,
    pub(crate) floor: f64,
    /// `ventus / floor`, except where `ratio_kind` says otherwise.
    pub(crate) ratio: f64,
    pub(crate) ratio_kind: &'static str,
    pub(crate) ratio_of_rounds: Option<f64>,
    pub(crate) unit: &'static str,
    pub(crate) target: Target,
    pub(crate) rounds: usize,
    pub(crate) note: String,
    /// False when a check of this workload failed.
    pub(crate) valid: bool,
}

impl Row {
    /// A timing row: `ratio = ventus / floor`.
    pub(crate) fn timing(
        workload: &str,
        param: impl Into<String>,
        samples: &crate::harness::Samples,
        floor_name: &str,
        target: Target,
    ) -> Self {
        let ventus = samples.ventus_median();
        let floor = samples.floor_median();
        Self {
            workload: workload.to_owned(),
            param: param.into(),
            ventus,
            floor_name: floor_name.to_owned(),
            floor,
            ratio: ventus / floor,
            ratio_kind: "ventus_ns / floor_ns",
            ratio_of_rounds: Some(samples.ratio_of_rounds()),
            unit: "ns",
            target,
            rounds: samples.ventus.len(),
            note: String::new(),
            valid: true,
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    pub(crate) fn met(&self) -> Option<bool> {
        let ok = match self.target {
            Target::RatioAtMost(x) => self.ratio <= x,
            Target::RatioAtLeast(x) => self.ratio >= x,
            Target::ValueAtMost(x) => self.ventus <= x,
            Target::None => return None,
        };
        Some(self.valid && ok)
    }

    fn verdict(&self) -> &'static str {
        if !self.valid {
            return "FAILED CHECK";
        }
        match self.met() {
            Some(true) => "met",
            Some(false) => "missed",
            None => "context",
        }
    }
}

fn fmt_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    match unit {
        "ns" if v >= 1_000_000.0 => format!("{:.2} ms", v / 1_000_000.0),
        "ns" if v >= 1_000.0 => format!("{:.2} µs", v / 1_000.0),
        "ns" => format!("{v:.1} ns"),
        "allocs" => format!("{v:.2} allocs"),
        "bytes" => format!("{v:.1} B"),
        other => format!("{v:.2} {other}"),
    }
}

fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}")
    } else {
        "—".to_owned()
    }
}

/// The markdown table (also printed to stdout).
pub(crate) fn markdown(rows: &[Row], header: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    let _ = writeln!(
        s,
        "| workload | param | ventus | floor | floor value | ratio | target | result | notes |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.param,
            fmt_value(r.ventus, r.unit),
            r.floor_name,
            fmt_value(r.floor, r.unit),
            fmt_ratio(r.ratio),
            r.target.describe(),
            r.verdict(),
            r.note
        );
    }
    let targeted: Vec<&Row> = rows.iter().filter(|r| r.met().is_some()).collect();
    let met = targeted.iter().filter(|r| r.met() == Some(true)).count();
    let _ = writeln!(
        s,
        "\n{met} of {} targets met. Ratios are `ventus / floor` of medians over the rounds \
         (W5, W6: throughput with two threads or tasks / with one; W3 and W7 scale: the \
         largest size against the smallest).",
        targeted.len()
    );
    s
}

fn num(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// `report.json`.
pub(crate) fn json(rows: &[Row], meta: serde_json::Value) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "workload": r.workload,
                "param": r.param,
                "ventus_ns": num(r.ventus),
                "floor": r.floor_name,
                "floor_ns": num(r.floor),
                "ratio": num(r.ratio),
                "ratio_kind": r.ratio_kind,
                "ratio_median_of_rounds": r.ratio_of_rounds.map_or(serde_json::Value::Null, num),
                "unit": r.unit,
                "target": r.target.describe(),
                "met": r.met(),
                "valid": r.valid,
                "rounds": r.rounds,
                "note": r.note,
            })
        })
        .collect();
    let doc = json!({ "meta": meta, "rows": rows });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `report.svg`: ratios against targets on top, W3's scaling curves below.
pub(crate) fn svg(rows: &[Row], path: &Path) -> Result<(), String> {
    draw_svg(rows, path).map_err(|e| e.to_string())
}

fn draw_svg(rows: &[Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1280, 1200)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(600);

    // Top: every targeted row except the W3 grid (drawn below), as ratio bars on a log
    // axis, with the row's target as a black tick.
    // Reversed, so the first row of the table is the top bar.
    let bars: Vec<&Row> = rows
        .iter()
        .rev()
        .filter(|r| r.workload != "W3" && r.unit == "ns" && r.ratio.is_finite())
        .collect();
    if !bars.is_empty() {
        let labels: Vec<String> = bars
            .iter()
            .map(|r| format!("{} {}", r.workload, r.param))
            .collect();
        let hi = bars
            .iter()
            .map(|r| r.ratio)
            .fold(2.0_f64, f64::max)
            .max(2.0)
            * 1.5;
        let lo = bars
            .iter()
            .map(|r| r.ratio)
            .fold(0.5_f64, f64::min)
            .min(0.5)
            / 1.5;
        let mut chart = ChartBuilder::on(&top)
            .caption(
                "ventus / floor, log scale (green: target met, red: missed, grey: context; black tick: target)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(260)
            .build_cartesian_2d((lo..hi).log_scale(), (0..bars.len()).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_style(("sans-serif", 13))
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|x| format!("{x}×"))
            .x_desc("ratio (W5, W6: two-thread or two-task / one-thread or one-task throughput)")
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, r)| {
            let color = match r.met() {
                Some(true) => RGBColor(46, 160, 67),
                Some(false) => RGBColor(214, 39, 40),
                None => RGBColor(150, 150, 150),
            };
            let mut bar = Rectangle::new(
                [
                    (lo, SegmentValue::Exact(i)),
                    (r.ratio, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(2, 2, 0, 0);
            bar
        }))?;
        chart.draw_series(bars.iter().enumerate().map(|(i, r)| {
            Text::new(
                format!(" {:.2}", r.ratio),
                (r.ratio, SegmentValue::CenterOf(i)),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))?;
        chart.draw_series(bars.iter().enumerate().filter_map(|(i, r)| {
            let t = match r.target {
                Target::RatioAtMost(t) | Target::RatioAtLeast(t) => t,
                _ => return None,
            };
            Some(PathElement::new(
                vec![(t, SegmentValue::Exact(i)), (t, SegmentValue::Exact(i + 1))],
                BLACK.stroke_width(3),
            ))
        }))?;
    }

    // Bottom: W3, ns per emission against S for every mode, and F1.
    let w3: Vec<&Row> = rows
        .iter()
        .filter(|r| r.workload == "W3" && r.ventus.is_finite())
        .collect();
    if !w3.is_empty() {
        let mut modes: Vec<String> = Vec::new();
        for r in &w3 {
            let mode = mode_of(&r.param);
            if !modes.contains(&mode) {
                modes.push(mode);
            }
        }
        let all = w3.iter().flat_map(|r| [r.ventus, r.floor]);
        let ymax = all.clone().fold(1.0_f64, f64::max) * 2.0;
        let ymin = all.fold(f64::MAX, f64::min).max(0.1) / 2.0;
        let mut chart = ChartBuilder::on(&bottom)
            .caption(
                "W3 registry scaling: ns per emission of one event with one handler",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((5.0_f64..200_000.0).log_scale(), (ymin..ymax).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("subscriptions in the registry (S)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("time per emission")
            .y_label_formatter(&|y| fmt_value(*y, "ns"))
            .draw()?;
        for (i, mode) in modes.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = w3
                .iter()
                .filter(|r| &mode_of(&r.param) == mode)
                .filter_map(|r| Some((size_of(&r.param)?, r.ventus)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(format!("ventus {mode}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        let f1: Vec<(f64, f64)> = w3
            .iter()
            .filter(|r| mode_of(&r.param) == modes[0])
            .filter_map(|r| Some((size_of(&r.param)?, r.floor)))
            .collect();
        chart
            .draw_series(LineSeries::new(f1, BLACK.stroke_width(3)))?
            .label(format!("F1 (HashMap floor, {})", modes[0]))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// `"single/none S=100"` → `"single/none"`.
fn mode_of(param: &str) -> String {
    param.split(" S=").next().unwrap_or(param).to_owned()
}

/// `"single/none S=100"` → `100.0`.
fn size_of(param: &str) -> Option<f64> {
    param.split(" S=").nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(workload: &str, param: &str, ventus: f64, floor: f64, target: Target) -> Row {
        Row {
            workload: workload.into(),
            param: param.into(),
            ventus,
            floor_name: "F1".into(),
            floor,
            ratio: ventus / floor,
            ratio_kind: "ventus_ns / floor_ns",
            ratio_of_rounds: None,
            unit: "ns",
            target,
            rounds: 5,
            note: String::new(),
            valid: true,
        }
    }

    #[test]
    fn json_has_the_required_fields() {
        let rows = vec![row("W1", "K=1", 10.0, 20.0, Target::RatioAtMost(1.0))];
        let v: serde_json::Value =
            serde_json::from_str(&json(&rows, json!({}))).expect("valid json");
        let r = &v["rows"][0];
        for key in [
            "workload",
            "param",
            "ventus_ns",
            "floor",
            "floor_ns",
            "ratio",
        ] {
            assert!(!r[key].is_null(), "{key}");
        }
        assert_eq!(r["ratio"], json!(0.5));
        assert_eq!(r["met"], json!(true));
    }

    #[test]
    fn markdown_and_svg_render() {
        let rows = vec![
            row("W1", "K=1", 30.0, 20.0, Target::RatioAtMost(1.0)),
            row(
                "W3",
                "single/none S=10",
                30.0,
                20.0,
                Target::RatioAtMost(1.0),
            ),
            row(
                "W3",
                "single/none S=100",
                31.0,
                21.0,
                Target::RatioAtMost(1.0),
            ),
        ];
        let md = markdown(&rows, "# t");
        assert!(md.contains("| W1 | K=1 | 30.0 ns | F1 | 20.0 ns | 1.50 | ratio ≤ 1 | missed |"));
        let dir = std::env::temp_dir().join(format!("ventus-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("r.svg");
        svg(&rows, &path).expect("svg");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("<svg"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
