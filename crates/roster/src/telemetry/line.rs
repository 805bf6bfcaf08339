//! The text log line: `TIME LEVEL message key=value ...`, written straight into the
//! subscriber's buffer. The request line is written once per request, so it avoids the
//! general formatting machinery where it can: the time's date part is reused within a
//! second, and plain values are copied as they are.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use jiff::Timestamp;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as one compact line; spans are not shown (roster logs none per request).
#[derive(Debug, Clone, Copy, Default)]
pub struct CompactLine;

impl<S, N> FormatEvent<S, N> for CompactLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_time(&mut writer, Timestamp::now())?;
        let level = event.metadata().level().as_str();
        writer.write_str(&"      "[level.len()..])?;
        writer.write_str(level)?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// Writes `2026-12-04T15:58:01.123456Z`, reusing the text up to the seconds.
fn write_time(writer: &mut Writer<'_>, now: Timestamp) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        let second = now.as_second();
        if cached.0 != second {
            let whole = Timestamp::from_second(second).unwrap_or(now);
            let text = whole.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            *cached = (second, text);
        }
        writer.write_str(&cached.1)?;
        let micros = now.subsec_microsecond().unsigned_abs();
        let mut fraction = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'Z'];
        let mut rest = micros;
        for digit in fraction[1..7].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        writer.write_str(std::str::from_utf8(&fraction).unwrap_or(".000000Z"))
    })
}

struct Fields<'w, 'b> {
    writer: &'w mut Writer<'b>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            self.writer.write_char(' ')?;
            if field.name() != "message" {
                self.writer.write_str(field.name())?;
                self.writer.write_char('=')?;
            }
            value(self.writer)
        })();
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| write_plain_or_quoted(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields and the message arrive here; render them, then quote them when
        // they would break the line apart.
        let mut text = String::new();
        if write!(text, "{value:?}").is_err() {
            return;
        }
        if field.name() == "message" && is_plain_message(&text) {
            self.put(field, |w| w.write_str(&text));
        } else {
            self.put(field, |w| write_plain_or_quoted(w, &text));
        }
    }
}

/// A value with no spaces, quotes, `=` or control characters is written as it is;
/// anything else is quoted and escaped, so one event is always one line.
fn write_plain_or_quoted(writer: &mut Writer<'_>, value: &str) -> fmt::Result {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '"' && c != '=');
    if plain {
        writer.write_str(value)
    } else {
        write!(writer, "{value:?}")
    }
}

fn is_plain_message(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;

        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn logged(emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .event_format(CompactLine)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = capture.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_request_line_has_time_level_message_and_fields() {
        let text = logged(|| {
            tracing::info!(
                request_id = %"0123456789abcdef0123456789abcdef",
                http.method = %"GET",
                url.path = %"/v2/accounts/acme/users",
                http.status_code = 200_u16,
                latency_us = 41_u64,
                account.sid = "acme",
                "request completed"
            );
        });
        let line = text.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'));
        let (time, rest) = line.split_once(' ').unwrap();
        let parsed: Timestamp = time.parse().unwrap();
        assert!((Timestamp::now().as_second() - parsed.as_second()).abs() < 60);
        assert_eq!(time.len(), "2026-12-04T15:58:01.123456Z".len());
        assert_eq!(
            rest,
            " INFO request completed request_id=0123456789abcdef0123456789abcdef \
             http.method=GET url.path=/v2/accounts/acme/users http.status_code=200 \
             latency_us=41 account.sid=acme"
        );
    }

    #[test]
    fn values_that_would_break_the_line_are_quoted() {
        let text = logged(|| {
            tracing::warn!(error = %"two words\nand a line", sid = "a=b", "it failed");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.ends_with(" WARN it failed error=\"two words\\nand a line\" sid=\"a=b\"\n"),
            "{text}"
        );
    }
}
