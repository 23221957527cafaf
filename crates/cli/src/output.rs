//! Printing responses: FATE-style pretty JSON, and aligned text tables.

use std::io::Write;

use serde_json::Value;

use crate::pyjson;

/// Stdout's reader went away (`flow job list | head`): the command stops and `flow`
/// exits quietly with status 0, as ripgrep does.
#[derive(Debug, thiserror::Error)]
#[error("standard output closed")]
pub struct OutputClosed;

/// Writes `text` to stdout; a closed pipe is [`OutputClosed`] instead of a panic.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        written => anyhow::Context::context(written, "writing to standard output"),
    }
}

/// Pretty JSON with a four-space indent, as FATE's `flow` prints every response.
pub fn json(value: &Value) -> String {
    pyjson::to_pretty(value)
}

/// Reads a field of a FATE row that may be a "human dict" (`status`) or a raw DB
/// dict (`f_status`).
pub fn field<'a>(row: &'a Value, name: &str) -> Option<&'a Value> {
    row.get(name)
        .filter(|v| !v.is_null())
        .or_else(|| row.get(format!("f_{name}")).filter(|v| !v.is_null()))
}

/// A field as display text: strings without quotes, numbers and booleans as written,
/// missing values as `-`.
pub fn text(row: &Value, name: &str) -> String {
    match field(row, name) {
        None => "-".to_string(),
        Some(Value::String(s)) if s.is_empty() => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A field as an integer, accepting numbers and numeric strings.
pub fn int(row: &Value, name: &str) -> Option<i64> {
    match field(row, name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A plain text table: a header row and data rows, rendered with aligned columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank and extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the table: columns separated by two spaces, padded to the widest cell,
    /// with no trailing spaces; one line per row, each ending in `\n`.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = width - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The job table: one row per job row (one per party).
pub fn jobs_table(jobs: &[Value]) -> Table {
    let mut table = Table::new([
        "JOB ID",
        "ROLE",
        "PARTY",
        "STATUS",
        "PROGRESS",
        "ROLES",
        "START (UTC)",
        "ELAPSED",
    ]);
    for job in jobs {
        table.push(vec![
            text(job, "job_id"),
            text(job, "role"),
            text(job, "party_id"),
            text(job, "status"),
            int(job, "progress").map_or("-".into(), |p| format!("{p}%")),
            roles(field(job, "roles")),
            int(job, "start_time").map_or("-".into(), format_time_ms),
            int(job, "elapsed").map_or("-".into(), format_elapsed_ms),
        ]);
    }
    table
}

/// The task table: one row per task per party.
pub fn tasks_table(tasks: &[Value]) -> Table {
    let mut table = Table::new(["COMPONENT", "ROLE", "PARTY", "STATUS", "VERSION", "ELAPSED"]);
    for task in tasks {
        table.push(vec![
            text(task, "component_name"),
            text(task, "role"),
            text(task, "party_id"),
            text(task, "status"),
            text(task, "task_version"),
            int(task, "elapsed").map_or("-".into(), format_elapsed_ms),
        ]);
    }
    table
}

/// `{"guest": [9999], "host": [10000]}` as `guest:9999 host:10000`.
fn roles(value: Option<&Value>) -> String {
    let Some(Value::Object(map)) = value else {
        return "-".to_string();
    };
    let mut parts = Vec::new();
    for (role, parties) in map {
        let ids: Vec<String> = match parties {
            Value::Array(items) => items
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        parts.push(format!("{role}:{}", ids.join(",")));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A duration in milliseconds as `850ms`, `12.3s`, `4m05s` or `2h03m`.
pub fn format_elapsed_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns_and_trims() {
        let mut t = Table::new(["A", "LONGER"]);
        t.push(vec!["xxxx".into(), "y".into()]);
        t.push(vec!["z".into()]);
        assert_eq!(t.render(), "A     LONGER\nxxxx  y\nz\n");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn table_counts_characters_not_bytes() {
        let mut t = Table::new(["N", "X"]);
        t.push(vec!["é".into(), "1".into()]);
        assert_eq!(t.render(), "N  X\né  1\n");
    }

    #[test]
    fn job_table_reads_human_and_raw_dicts() {
        let human = json!({"job_id": "202201010000000000000", "role": "guest", "party_id": 9999,
            "status": "running", "progress": 40, "roles": {"guest": [9999], "host": [10000]},
            "start_time": 1_640_995_200_000_i64, "elapsed": 12_345});
        let raw = json!({"f_job_id": "j2", "f_role": "host", "f_party_id": "10000",
            "f_status": "success", "f_progress": 100, "f_elapsed": null});
        let t = jobs_table(&[human, raw]);
        assert_eq!(
            t.render(),
            "JOB ID                 ROLE   PARTY  STATUS   PROGRESS  ROLES                  START (UTC)          ELAPSED\n\
             202201010000000000000  guest  9999   running  40%       guest:9999 host:10000  2022-01-01 00:00:00  12.3s\n\
             j2                     host   10000  success  100%      -                      -                    -\n"
        );
    }

    #[test]
    fn task_table() {
        let t = tasks_table(&[json!({"f_component_name": "reader_0", "f_role": "guest",
            "f_party_id": "9999", "f_status": "failed", "f_task_version": 0, "f_elapsed": 61_000})]);
        assert_eq!(
            t.render(),
            "COMPONENT  ROLE   PARTY  STATUS  VERSION  ELAPSED\nreader_0   guest  9999   failed  0        1m01s\n"
        );
    }

    #[test]
    fn times() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_time_ms(1_700_000_000_123), "2023-11-14 22:13:20");
        assert_eq!(format_elapsed_ms(850), "850ms");
        assert_eq!(format_elapsed_ms(7_200_000 + 180_000), "2h03m");
    }

    #[test]
    fn field_prefers_human_keys_and_skips_null() {
        let row = json!({"status": null, "f_status": "failed", "error_report": "boom"});
        assert_eq!(text(&row, "status"), "failed");
        assert_eq!(text(&row, "error_report"), "boom");
        assert_eq!(text(&row, "missing"), "-");
        assert_eq!(int(&json!({"f_progress": "7"}), "progress"), Some(7));
    }
}
