//! `roster users import` and `roster users export`: users as CSV, a header row naming the
//! create API's fields and one row per user. An import checks every row before it writes,
//! then creates all the users in one transaction, or none.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use roster_domain::{Account, ContactUri, User, UserFields};
use roster_service::{
    CreateUser, Directory, ImportError, ImportRow, RowError, UserFilter, IMPORT_MAX_ROWS,
};

use super::print_json;

/// The columns, in the order export writes them; an import's header may order them freely
/// and leave any out.
const COLUMNS: [&str; 6] = [
    "first_name",
    "last_name",
    "email",
    "device_contact_uri",
    "device_name",
    "role",
];

/// Users read per page while exporting.
const EXPORT_PAGE: u32 = 1_000;

/// The data rows of a file: those well formed enough to check, and those that are not.
struct Rows {
    rows: Vec<ImportRow>,
    /// The file line each data row starts on, by row number.
    lines: HashMap<usize, u64>,
    malformed: Vec<(usize, String)>,
}

pub(crate) async fn import(
    directory: &Directory,
    sid: &str,
    file: &Path,
    dry_run: bool,
) -> anyhow::Result<()> {
    let result = check_and_create(directory, sid, file, dry_run).await;
    // The status line goes before anything else is printed, an error included.
    status("");
    result
}

async fn check_and_create(
    directory: &Directory,
    sid: &str,
    file: &Path,
    dry_run: bool,
) -> anyhow::Result<()> {
    let account = directory.require_account(sid).await?;
    let Rows {
        rows,
        lines,
        malformed,
    } = read_rows(file)?;
    let total = rows.len() + malformed.len();

    status(&format!("checking {total} rows"));
    let checked = directory.validate_import(&account, rows).await;
    let checked = match checked {
        Ok(checked) if malformed.is_empty() => checked,
        Ok(_) => return refuse(Vec::new(), malformed, &lines, total),
        Err(ImportError::Rows(bad)) => return refuse(bad, malformed, &lines, total),
        Err(other) => return Err(other.into()),
    };
    if dry_run {
        status("");
        let count = checked.len();
        return print_json(
            &serde_json::json!({ "sid": sid, "dry_run": true, "would_create": count }),
        );
    }

    status(&format!(
        "creating {} users in one transaction",
        checked.len()
    ));
    let created = match directory.import_users(&account, checked).await {
        Ok(created) => created,
        Err(ImportError::Rows(bad)) => return refuse(bad, Vec::new(), &lines, total),
        Err(other) => return Err(other.into()),
    };
    status("");
    print_json(&serde_json::json!({ "sid": sid, "created": created.len() }))
}

/// Reads the header and every data row, streaming, up to [`IMPORT_MAX_ROWS`].
fn read_rows(path: &Path) -> anyhow::Result<Rows> {
    let name = path.display();
    let mut file = File::open(path).map_err(|e| anyhow::anyhow!("cannot open {name}: {e}"))?;
    let (size, ends_with_newline) =
        last_byte(&mut file).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
    // Records end at `\n` only, with a `\r` before it dropped below: with CRLF taken as
    // one terminator, the reader would count each record as starting a line early.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(BufReader::new(file));
    let mut record = csv::ByteRecord::new();

    let read = |reader: &mut csv::Reader<_>, record: &mut csv::ByteRecord| loop {
        let more = reader
            .read_byte_record(record)
            .map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
        strip_carriage_return(record);
        // A blank line, LF or CRLF, is no row.
        if !more || record.len() > 1 || record.get(0).is_some_and(|c| !c.is_empty()) {
            return Ok::<_, anyhow::Error>(more);
        }
    };
    if !read(&mut reader, &mut record)? {
        anyhow::bail!("{name} is empty: it needs a header row naming its columns");
    }
    let columns = header(&record, &name.to_string())?;

    let mut rows = Rows {
        rows: Vec::new(),
        lines: HashMap::new(),
        malformed: Vec::new(),
    };
    let mut progress = Progress::new("reading", size);
    let mut row = 0;
    while read(&mut reader, &mut record)? {
        row += 1;
        if row > IMPORT_MAX_ROWS {
            anyhow::bail!(
                "{name} has more than {IMPORT_MAX_ROWS} rows, the most one import takes; split it"
            );
        }
        // Counted back from where the row ended, since the reader's own start position
        // lies before any blank lines it skipped.
        let end = reader.position();
        let after_newline = end.byte() < size || ends_with_newline;
        let newlines = record.iter().flatten().filter(|b| **b == b'\n').count() as u64;
        let line = end
            .line()
            .saturating_sub(u64::from(after_newline) + newlines);
        rows.lines.insert(row, line);
        if record.len() != columns.len() {
            let reason = format!(
                "has {} cells where the header has {}",
                record.len(),
                columns.len()
            );
            rows.malformed.push((row, reason));
            continue;
        }
        let user = user_of(&record, &columns).map_err(|_| {
            anyhow::anyhow!("{name}: line {line} is not UTF-8 text; save the file as UTF-8")
        })?;
        rows.rows.push(ImportRow { row, user });
        if let Some(progress) = &mut progress {
            progress.set(reader.position().byte());
        }
    }
    Ok(rows)
}

/// The file's size and whether it ends with a line feed; leaves it at its start.
fn last_byte(file: &mut File) -> std::io::Result<(u64, bool)> {
    let size = file.metadata()?.len();
    let mut last = [0u8];
    if size > 0 {
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        file.rewind()?;
    }
    Ok((size, last[0] == b'\n'))
}

/// Drops the `\r` of a CRLF line end from the record's last cell.
fn strip_carriage_return(record: &mut csv::ByteRecord) {
    let Some(last) = record.iter().next_back() else {
        return;
    };
    if last.last() != Some(&b'\r') {
        return;
    }
    let mut cells: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
    if let Some(cell) = cells.last_mut() {
        cell.pop();
    }
    let position = record.position().cloned();
    record.clear();
    for cell in &cells {
        record.push_field(cell);
    }
    record.set_position(position);
}

/// The column each header cell names, in order. A UTF-8 byte order mark before the first
/// name is dropped, as spreadsheets write one.
fn header(record: &csv::ByteRecord, name: &str) -> anyhow::Result<Vec<usize>> {
    let mut columns = Vec::with_capacity(record.len());
    for (index, cell) in record.iter().enumerate() {
        let cell = std::str::from_utf8(cell).map_err(|_| {
            anyhow::anyhow!("{name}: the header is not UTF-8 text; save the file as UTF-8")
        })?;
        let cell = if index == 0 {
            cell.trim_start_matches('\u{feff}')
        } else {
            cell
        };
        let cell = cell.trim();
        let Some(column) = COLUMNS.iter().position(|c| *c == cell) else {
            anyhow::bail!(
                "{name}: unknown column {cell:?} in the header; the columns are {}",
                COLUMNS.join(", ")
            );
        };
        if columns.contains(&column) {
            anyhow::bail!("{name}: column {cell:?} appears twice in the header");
        }
        columns.push(column);
    }
    Ok(columns)
}

/// The create request a row makes; a blank cell is a field not sent.
fn user_of(record: &csv::ByteRecord, columns: &[usize]) -> Result<CreateUser, std::str::Utf8Error> {
    let mut user = CreateUser::default();
    for (cell, &column) in record.iter().zip(columns) {
        let value = std::str::from_utf8(cell)?;
        let value = (!value.trim().is_empty()).then(|| value.to_owned());
        let field = match column {
            0 => &mut user.first_name,
            1 => &mut user.last_name,
            2 => &mut user.email,
            3 => &mut user.device_contact_uri,
            4 => &mut user.device_name,
            _ => &mut user.role,
        };
        *field = value;
    }
    Ok(user)
}

/// Prints every bad row, one a line in row order, and fails with the count.
fn refuse(
    bad: Vec<RowError>,
    malformed: Vec<(usize, String)>,
    lines: &HashMap<usize, u64>,
    total: usize,
) -> anyhow::Result<()> {
    status("");
    let mut report: Vec<(usize, String)> = bad
        .into_iter()
        .map(|e| (e.row, e.problem.to_string()))
        .chain(malformed)
        .collect();
    report.sort_by_key(|(row, _)| *row);
    let mut stderr = std::io::stderr().lock();
    for (row, reason) in &report {
        let line = lines.get(row).copied().unwrap_or(0);
        writeln!(stderr, "row {row} (line {line}): {reason}")?;
    }
    anyhow::bail!(
        "{} of {total} rows cannot be created; nothing was imported",
        report.len()
    )
}

pub(crate) async fn export(directory: &Directory, sid: &str) -> anyhow::Result<()> {
    let account = directory.require_account(sid).await?;
    let stdout = std::io::stdout().lock();
    let mut writer = csv::Writer::from_writer(stdout);
    let write_error = |e: csv::Error| anyhow::anyhow!("cannot write to stdout: {e}");

    writer.write_record(COLUMNS).map_err(write_error)?;
    let mut offset = 0;
    loop {
        let page = list_page(directory, &account, offset).await?;
        for user in &page {
            writer.write_record(cells_of(user)).map_err(write_error)?;
        }
        if page.len() < EXPORT_PAGE as usize {
            break;
        }
        offset += u64::from(EXPORT_PAGE);
    }
    writer
        .flush()
        .map_err(|e| anyhow::anyhow!("cannot write to stdout: {e}"))
}

async fn list_page(
    directory: &Directory,
    account: &Account,
    offset: u64,
) -> anyhow::Result<Vec<User>> {
    let fields = UserFields {
        devices: true,
        ..UserFields::default()
    };
    let filter = UserFilter::default();
    let page = directory
        .list_users(account, filter, fields, offset, EXPORT_PAGE)
        .await?;
    Ok(page.users)
}

/// A user's row: its first phone device stands for `device_contact_uri` and `device_name`;
/// a softphone is made again by an import into a VOIP account.
fn cells_of(user: &User) -> [String; 6] {
    let phone = user
        .devices
        .iter()
        .flatten()
        .find(|d| matches!(d.contact_uri, ContactUri::Tel(_)));
    [
        user.first_name.as_str().to_owned(),
        user.last_name.as_str().to_owned(),
        user.email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        phone
            .map(|d| d.contact_uri.as_str().to_owned())
            .unwrap_or_default(),
        phone
            .map(|d| d.name.as_str().to_owned())
            .unwrap_or_default(),
        user.role.as_str().to_owned(),
    ]
}

/// One status line on stderr while it is a terminal, replaced by the next; an empty one
/// clears it. Nothing at all when stderr is piped or redirected.
fn status(text: &str) {
    // Whether a status line is on screen, so clearing an empty one writes nothing.
    static SHOWN: AtomicBool = AtomicBool::new(false);
    let mut stderr = std::io::stderr();
    let was_shown = SHOWN.swap(!text.is_empty(), Ordering::Relaxed);
    if stderr.is_terminal() && (was_shown || !text.is_empty()) {
        let _ = write!(stderr, "\r\x1b[2K{text}");
        let _ = stderr.flush();
    }
}

/// A percentage on the terminal's status line, redrawn when it moves by a whole percent.
struct Progress {
    label: &'static str,
    total: u64,
    shown: u64,
}

impl Progress {
    /// `None` unless stderr is a terminal and there is a size to measure against.
    fn new(label: &'static str, total: u64) -> Option<Self> {
        (total > 0 && std::io::stderr().is_terminal()).then_some(Self {
            label,
            total,
            shown: u64::MAX,
        })
    }

    fn set(&mut self, done: u64) {
        let percent = done.min(self.total) * 100 / self.total;
        if percent == self.shown {
            return;
        }
        self.shown = percent;
        let filled = usize::try_from(percent / 5).unwrap_or(20);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(20 - filled));
        status(&format!("{} [{bar}] {percent:>3}%", self.label));
    }
}
