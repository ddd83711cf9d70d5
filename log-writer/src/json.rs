//! One JSON object per log line, written straight into the line's buffer.
//!
//! `tracing_subscriber`'s JSON format serialises each event through serde into a scratch
//! buffer and checks it is UTF-8 again before copying it on; at a line per request that was
//! a few percent of a proxy's CPU. This format writes the same object (`timestamp`, `level`,
//! the event's fields flattened, `message` among them, `target`) with its own escaping, which
//! RFC 8259 makes small: `"`, `\` and control characters (and the three Unicode line
//! separators some line splitters honour). Every string, field names and values included,
//! goes through it, so nothing a client sends can end a line or an object early. Spans are
//! not written: neither program uses them.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON line format: `tracing_subscriber::fmt().event_format(JsonLines)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A `log` crate record (rustls logs through it) comes through one callsite whose
        // target is "log"; its own target rides in `log.*` fields. Report it as tracing's own
        // formats do: its real target, without those fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_char('"')?;
        let mut fields = Fields {
            out: &mut writer,
            result: Ok(()),
            skip_log_fields: normalized.is_some(),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        write_string(&mut writer, meta.target())?;
        writer.write_str("}\n")
    }
}

/// Writes each field as `,"name":value`.
struct Fields<'a, W: Write> {
    out: &'a mut W,
    result: fmt::Result,
    /// The event is a `log` record: its `log.*` fields are in the metadata already.
    skip_log_fields: bool,
}

impl<W: Write> Fields<'_, W> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.skip_log_fields && field.name().starts_with("log.") {
            return;
        }
        if self.result.is_ok() {
            self.result = (|| {
                self.out.write_char(',')?;
                write_string(self.out, field.name())?;
                self.out.write_char(':')?;
                value(self.out)
            })();
        }
    }
}

impl<W: Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |out| write_string(out, value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |out| write!(out, "{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |out| write!(out, "{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Rust prints a finite f64 without an exponent: a valid JSON number.
        self.field(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                out.write_str("null")
            }
        });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here too, their Debug being their Display.
        self.field(field, |out| {
            out.write_char('"')?;
            write!(Escaping(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// A JSON string: quoted, escaped.
pub fn write_string(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaping(out).write_str(s)?;
    out.write_char('"')
}

/// Escapes what passes through it for the inside of a JSON string.
struct Escaping<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        let bytes = s.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let (escape, len) = match b {
                b'"' => ("\\\"", 1),
                b'\\' => ("\\\\", 1),
                b'\n' => ("\\n", 1),
                b'\r' => ("\\r", 1),
                b'\t' => ("\\t", 1),
                0..=0x1f => ("", 1),
                // NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: valid inside a JSON string, but
                // some line splitters end a line there.
                0xc2 if bytes.get(i + 1) == Some(&0x85) => ("\\u0085", 2),
                0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa8) => {
                    ("\\u2028", 3)
                }
                0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa9) => {
                    ("\\u2029", 3)
                }
                _ => continue,
            };
            self.0.write_str(&s[clean..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            clean = i + len;
        }
        self.0.write_str(&s[clean..])
    }
}

/// RFC 3339 in UTC with microseconds, as `2026-11-22T07:45:29.668451Z`.
pub fn write_timestamp(out: &mut impl Write, at: SystemTime) -> fmt::Result {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date (year, month, day) of a day counted from 1970-01-01
/// (H. Hinnant's `civil_from_days`, for days on or after the epoch).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> String {
        let mut s = String::new();
        write_timestamp(
            &mut s,
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros.into()),
        )
        .unwrap();
        s
    }

    #[test]
    fn timestamps() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        assert_eq!(at(1_795_332_329, 668_451), "2026-11-22T07:25:29.668451Z");
    }

    #[test]
    fn strings_round_trip_through_a_json_parser() {
        for s in [
            "",
            "plain /v1.41/containers/json",
            "quote \" backslash \\ slash /",
            "line\nbreak\r\ttab \u{0} \u{1f} \u{7f} é 日本 \u{2028}",
            "}\n{\"level\":\"ERROR\"",
            "separators \u{85} \u{2028} \u{2029} and their neighbours \u{84} \u{2027} \u{202a}",
        ] {
            let mut out = String::new();
            write_string(&mut out, s).unwrap();
            assert!(
                !out.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']),
                "{out}"
            );
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    /// Collects what the fmt layer writes.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `JsonLines` writes for the events `emit` sends.
    fn captured(emit: impl FnOnce()) -> String {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn an_event_is_one_json_object_per_line() {
        let text = captured(|| {
            let path = "/v1.41/containers/json\n\"}{";
            tracing::info!(
                target: "audit",
                client = %"127.0.0.1:5000",
                path = %path,
                status = 200u16,
                bytes = 12_345u64,
                delta = -3i64,
                duration_ms = 0.125f64,
                nan = f64::NAN,
                stream = true,
                endpoint = "container.list",
                reason = ?Some("CONTAINERS=1"),
            );
            tracing::warn!("a message with \"quotes\"\nand a line break");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let audit: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(audit["level"], "INFO");
        assert_eq!(audit["target"], "audit");
        assert_eq!(audit["client"], "127.0.0.1:5000");
        assert_eq!(audit["path"], "/v1.41/containers/json\n\"}{");
        assert_eq!(audit["status"], 200);
        assert_eq!(audit["bytes"], 12_345);
        assert_eq!(audit["delta"], -3);
        assert_eq!(audit["duration_ms"], 0.125);
        assert!(audit["nan"].is_null());
        assert_eq!(audit["stream"], true);
        assert_eq!(audit["endpoint"], "container.list");
        assert_eq!(audit["reason"], "Some(\"CONTAINERS=1\")");
        let stamp = audit["timestamp"].as_str().unwrap();
        assert_eq!(
            (stamp.len(), &stamp[10..11], &stamp[26..]),
            (27, "T", "Z"),
            "{stamp}"
        );
        let warn: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(warn["level"], "WARN");
        assert_eq!(
            warn["message"],
            "a message with \"quotes\"\nand a line break"
        );
        assert_eq!(warn["target"], "log_writer::json::tests");
    }

    #[test]
    fn a_log_crate_record_has_its_own_target_and_no_log_fields() {
        let text = captured(|| {
            tracing_log::format_trace(
                &log::Record::builder()
                    .level(log::Level::Warn)
                    .target("rustls::server")
                    .module_path(Some("rustls::server::hs"))
                    .file(Some("hs.rs"))
                    .line(Some(7))
                    .args(format_args!("no shared cipher"))
                    .build(),
            )
            .unwrap();
        });
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["target"], "rustls::server", "{text}");
        assert_eq!(line["level"], "WARN", "{text}");
        assert_eq!(line["message"], "no shared cipher", "{text}");
        assert!(
            line.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("log.")),
            "{text}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(s in proptest::prelude::any::<String>()) {
            let mut out = String::new();
            write_string(&mut out, &s).unwrap();
            proptest::prop_assert!(!out.bytes().any(|b| b < 0x20), "{out:?}");
            proptest::prop_assert!(!out.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{out:?}");
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }
}
