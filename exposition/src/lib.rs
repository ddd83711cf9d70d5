//! Metrics in the format the scraper asks for. Both programs encode their metrics as
//! OpenMetrics (`prometheus-client`); a scraper that does not ask for OpenMetrics in its
//! `Accept` header (curl, `promtool check metrics`, older Prometheus versions) gets
//! Prometheus' text format 0.0.4 instead, as Go's client library answers: a counter's
//! `# HELP` and `# TYPE` name its samples' `_total` name, and OpenMetrics' `# UNIT` and
//! `# EOF` lines are left out.

/// OpenMetrics' content type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Prometheus' text format's content type.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics (Prometheus' own scrapes do).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut fields = part.split(';').map(str::trim);
            let kind = fields.next().unwrap_or("");
            let refused = fields.any(|f| {
                f.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            kind.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// The body and content type for a scrape with this `Accept` header.
pub fn negotiate(openmetrics: String, accept: Option<&str>) -> (String, &'static str) {
    if wants_openmetrics(accept) {
        (openmetrics, OPENMETRICS)
    } else {
        (prometheus_text(&openmetrics), TEXT)
    }
}

/// OpenMetrics text as Prometheus' text format 0.0.4.
pub fn prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // A family's HELP line waits for its TYPE line, which says whether its name changes.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take(), None);
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                // Types the older format does not have.
                _ => (name.to_owned(), "untyped"),
            };
            match help.take() {
                Some((h, text)) if rest.starts_with(h) && rest[h.len()..].starts_with(' ') => {
                    flush_help(&mut out, Some((h, text)), Some(&name));
                }
                other => flush_help(&mut out, other, None),
            }
            out.push_str("# TYPE ");
            out.push_str(&name);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            continue;
        }
        flush_help(&mut out, help.take(), None);
        out.push_str(line);
        out.push('\n');
    }
    flush_help(&mut out, help, None);
    out
}

/// Writes a held HELP line, under `name` when its family was renamed.
fn flush_help(out: &mut String, help: Option<(&str, &str)>, name: Option<&str>) {
    if let Some((family, text)) = help {
        out.push_str("# HELP ");
        out.push_str(name.unwrap_or(family));
        out.push(' ');
        out.push_str(text);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP app_requests Requests by code.\n# TYPE app_requests counter\napp_requests_total{code=\"200\"} 3\n# HELP app_open Open now.\n# TYPE app_open gauge\napp_open 1\n# HELP app_took Time taken.\n# TYPE app_took histogram\n# UNIT app_took seconds\napp_took_bucket{le=\"+Inf\"} 1\napp_took_sum 0.5\napp_took_count 1\n# EOF\n";

    #[test]
    fn counters_are_named_by_their_samples_and_openmetrics_lines_go() {
        let text = prometheus_text(OM);
        assert_eq!(
            text,
            "# HELP app_requests_total Requests by code.\n# TYPE app_requests_total counter\napp_requests_total{code=\"200\"} 3\n# HELP app_open Open now.\n# TYPE app_open gauge\napp_open 1\n# HELP app_took Time taken.\n# TYPE app_took histogram\napp_took_bucket{le=\"+Inf\"} 1\napp_took_sum 0.5\napp_took_count 1\n"
        );
    }

    #[test]
    fn the_format_follows_the_accept_header() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(Some("application/openmetrics-text;q=0")));
        assert_eq!(negotiate(OM.into(), None).1, TEXT);
        assert_eq!(
            negotiate(OM.into(), Some(prometheus)),
            (OM.to_owned(), OPENMETRICS)
        );
    }

    proptest::proptest! {
        /// Samples pass through unchanged, whatever the families around them.
        #[test]
        fn samples_are_kept_in_order(names in proptest::collection::vec("[a-z_]{1,8}", 1..6)) {
            let mut om = String::new();
            for (i, n) in names.iter().enumerate() {
                let kind = ["counter", "gauge", "unknown"][i % 3];
                let sample = if kind == "counter" { format!("{n}_total") } else { n.clone() };
                om.push_str(&format!("# HELP {n} h\n# TYPE {n} {kind}\n{sample} {i}\n"));
            }
            om.push_str("# EOF\n");
            let text = prometheus_text(&om);
            let samples = |s: &str| s.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect::<Vec<_>>();
            proptest::prop_assert_eq!(samples(&om), samples(&text));
            proptest::prop_assert!(!text.contains("# EOF"));
        }
    }
}
