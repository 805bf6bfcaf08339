//! Users as CSV, for every door that imports or exports them (`roster users import/export`,
//! the dashboard): a header row naming the create API's fields and one row per user. An
//! import checks every row before it writes, then creates all the users in one
//! transaction, or none, and names each refused row with the file line it starts on.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use roster_domain::{Account, ContactUri, User};

use crate::import::{ImportError, ImportRow, RowError, IMPORT_MAX_ROWS};
use crate::users::CreateUser;
use crate::Directory;

/// The columns, in the order export writes them; an import's header may order them freely
/// and leave any out.
pub const USERS_CSV_COLUMNS: [&str; 6] = [
    "first_name",
    "last_name",
    "email",
    "device_contact_uri",
    "device_name",
    "role",
];

/// The data rows of a CSV file: those well formed enough to check, and those that are not.
#[derive(Debug, Clone, Default)]
pub struct CsvImport {
    pub rows: Vec<ImportRow>,
    /// The file line each data row starts on, by row number.
    pub lines: HashMap<usize, u64>,
    /// Rows whose cells do not match the header, with why, by row number.
    pub malformed: Vec<(usize, String)>,
}

impl CsvImport {
    /// Every data row, well formed or not.
    pub fn total(&self) -> usize {
        self.rows.len() + self.malformed.len()
    }
}

/// Why a whole file cannot be read. The texts do not name the file, so each door can put
/// its own name for it in front.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the file is empty: it needs a header row naming its columns")]
    Empty,
    #[error("the header is not UTF-8 text; save the file as UTF-8")]
    HeaderNotUtf8,
    #[error("unknown column {0:?} in the header; the columns are {columns}", columns = USERS_CSV_COLUMNS.join(", "))]
    UnknownColumn(String),
    #[error("column {0:?} appears twice in the header")]
    RepeatedColumn(String),
    #[error("line {line} is not UTF-8 text; save the file as UTF-8")]
    RowNotUtf8 { line: u64 },
    #[error("the file has more than {IMPORT_MAX_ROWS} rows, the most one import takes; split it")]
    TooManyRows,
    /// The input failed underneath the CSV reader, with the failure's text.
    #[error("cannot read the file: {0}")]
    Read(String),
}

/// Reads the header and every data row, streaming, up to [`IMPORT_MAX_ROWS`]. `size` is the
/// input's length in bytes and `ends_with_newline` whether its last byte is `\n`: with them
/// the last row's line is known without reading ahead. `progress` hears the bytes read so
/// far after each well-formed row.
pub fn read_users_csv(
    input: impl Read,
    size: u64,
    ends_with_newline: bool,
    mut progress: impl FnMut(u64),
) -> Result<CsvImport, CsvError> {
    // Records end at `\n` only, with a `\r` before it dropped below: with CRLF taken as
    // one terminator, the reader would count each record as starting a line early.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    let mut record = csv::ByteRecord::new();

    if !next_record(&mut reader, &mut record)? {
        return Err(CsvError::Empty);
    }
    let columns = header(&record)?;

    let mut csv = CsvImport::default();
    let mut row = 0;
    while next_record(&mut reader, &mut record)? {
        row += 1;
        if row > IMPORT_MAX_ROWS {
            return Err(CsvError::TooManyRows);
        }
        // Counted back from where the row ended, since the reader's own start position
        // lies before any blank lines it skipped.
        let end = reader.position();
        let after_newline = end.byte() < size || ends_with_newline;
        let newlines = record.iter().flatten().filter(|b| **b == b'\n').count() as u64;
        let line = end
            .line()
            .saturating_sub(u64::from(after_newline) + newlines);
        csv.lines.insert(row, line);
        if record.len() != columns.len() {
            let reason = format!(
                "has {} cells where the header has {}",
                record.len(),
                columns.len()
            );
            csv.malformed.push((row, reason));
            continue;
        }
        let user = user_of(&record, &columns).map_err(|_| CsvError::RowNotUtf8 { line })?;
        csv.rows.push(ImportRow { row, user });
        progress(reader.position().byte());
    }
    Ok(csv)
}

/// Reads the next record that is not a blank line (LF or CRLF); false at the end.
fn next_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
) -> Result<bool, CsvError> {
    loop {
        let more = reader
            .read_byte_record(record)
            .map_err(|e| CsvError::Read(e.to_string()))?;
        strip_carriage_return(record);
        if !more || record.len() > 1 || record.get(0).is_some_and(|c| !c.is_empty()) {
            return Ok(more);
        }
    }
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
/// name is dropped, as spreadsheets write one: the CSV reader drops it only when its first
/// read of the input holds the whole mark, which a streamed upload need not.
fn header(record: &csv::ByteRecord) -> Result<Vec<usize>, CsvError> {
    let mut columns = Vec::with_capacity(record.len());
    for (index, cell) in record.iter().enumerate() {
        let cell = std::str::from_utf8(cell).map_err(|_| CsvError::HeaderNotUtf8)?;
        let cell = if index == 0 {
            cell.trim_start_matches('\u{feff}')
        } else {
            cell
        };
        let cell = cell.trim();
        let Some(column) = USERS_CSV_COLUMNS.iter().position(|c| *c == cell) else {
            return Err(CsvError::UnknownColumn(cell.to_owned()));
        };
        if columns.contains(&column) {
            return Err(CsvError::RepeatedColumn(cell.to_owned()));
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

/// One refused row as the report shows it: `row {row} (line {line}): {reason}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub row: usize,
    /// The file line the row starts on; 0 when the import did not say.
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for ReportLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} (line {}): {}", self.row, self.line, self.reason)
    }
}

/// How an import of a CSV file ended, short of a failure of the service itself.
#[derive(Debug)]
pub enum ImportOutcome {
    /// A dry run: every row is valid, and this many users would be created.
    WouldCreate(usize),
    Created(Vec<User>),
    /// Nothing was written; every bad row, in row order, out of `total` data rows.
    Refused {
        lines: Vec<ReportLine>,
        total: usize,
    },
}

/// What an import is doing now, for a caller showing progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    /// Checking this many rows, malformed ones included.
    Checking(usize),
    /// Creating this many users in one transaction.
    Creating(usize),
}

impl Directory {
    /// Checks every row (malformed ones included in the report), then creates all in one
    /// transaction unless `dry_run`. Bad rows come back as [`ImportOutcome::Refused`]; an
    /// error is a failure of the service (storage, for one), not of the file.
    pub async fn import_csv(
        &self,
        account: &Account,
        csv: CsvImport,
        dry_run: bool,
        mut progress: impl FnMut(ImportStage),
    ) -> Result<ImportOutcome, ImportError> {
        let total = csv.total();
        let CsvImport {
            rows,
            lines,
            malformed,
        } = csv;

        progress(ImportStage::Checking(total));
        let checked = match self.validate_import(account, rows).await {
            Ok(checked) if malformed.is_empty() => checked,
            Ok(_) => return Ok(refused(Vec::new(), malformed, &lines, total)),
            Err(ImportError::Rows(bad)) => return Ok(refused(bad, malformed, &lines, total)),
            Err(other) => return Err(other),
        };
        if dry_run {
            return Ok(ImportOutcome::WouldCreate(checked.len()));
        }

        progress(ImportStage::Creating(checked.len()));
        match self.import_users(account, checked).await {
            Ok(created) => Ok(ImportOutcome::Created(created)),
            // Users created since the check took an email or number of these rows.
            Err(ImportError::Rows(bad)) => Ok(refused(bad, Vec::new(), &lines, total)),
            Err(other) => Err(other),
        }
    }
}

/// The report of a refused import: the checked rows' problems and the malformed rows
/// together, in row order, each with its line.
fn refused(
    bad: Vec<RowError>,
    malformed: Vec<(usize, String)>,
    lines: &HashMap<usize, u64>,
    total: usize,
) -> ImportOutcome {
    let mut report: Vec<ReportLine> = bad
        .into_iter()
        .map(|e| (e.row, e.problem.to_string()))
        .chain(malformed)
        .map(|(row, reason)| ReportLine {
            row,
            line: lines.get(&row).copied().unwrap_or(0),
            reason,
        })
        .collect();
    report.sort_by_key(|line| line.row);
    ImportOutcome::Refused {
        lines: report,
        total,
    }
}

/// Writes users as CSV rows, after the header row when `header` is set; a caller writing
/// page after page sets it on the first page only. Flushes `out` before it returns.
pub fn write_users_csv(users: &[User], out: &mut impl Write, header: bool) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    if header {
        writer.write_record(USERS_CSV_COLUMNS).map_err(io_error)?;
    }
    for user in users {
        writer.write_record(cells_of(user)).map_err(io_error)?;
    }
    writer.flush()
}

/// A user's row: its first phone device stands for `device_contact_uri` and `device_name`;
/// a softphone is made again by an import into a VOIP account.
fn cells_of(user: &User) -> [&str; 6] {
    let phone = user
        .devices
        .iter()
        .flatten()
        .find(|d| matches!(d.contact_uri, ContactUri::Tel(_)));
    [
        user.first_name.as_str(),
        user.last_name.as_str(),
        user.email.as_ref().map_or("", |e| e.as_str()),
        phone.map_or("", |d| d.contact_uri.as_str()),
        phone.map_or("", |d| d.name.as_str()),
        user.role.as_str(),
    ]
}

/// The I/O error under a CSV writer's error, keeping its kind (a closed pipe stays one).
fn io_error(error: csv::Error) -> io::Error {
    let kind = match error.kind() {
        csv::ErrorKind::Io(e) => e.kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use roster_domain::{AccountSettings, SystemClock, UserFields};
    use roster_store::SqliteStore;

    use super::*;
    use crate::{DirectoryOptions, TokenHasher, UserFilter};

    const HEADER: &str = "first_name,last_name,email,device_contact_uri,device_name,role";

    fn read(text: &str) -> Result<CsvImport, CsvError> {
        let bytes = text.as_bytes();
        read_users_csv(bytes, bytes.len() as u64, bytes.ends_with(b"\n"), |_| {})
    }

    /// Each data row's number with the line it starts on, in row order.
    fn lines_of(csv: &CsvImport) -> Vec<(usize, u64)> {
        let mut lines: Vec<(usize, u64)> = csv.lines.iter().map(|(r, l)| (*r, *l)).collect();
        lines.sort_unstable();
        lines
    }

    fn field(csv: &CsvImport, index: usize, pick: fn(&CreateUser) -> &Option<String>) -> &str {
        pick(&csv.rows[index].user).as_deref().unwrap_or("<unset>")
    }

    #[test]
    fn a_crlf_file_has_no_carriage_returns_in_its_cells_and_right_lines() {
        for text in [
            "first_name,last_name,role\r\nAsha,Rao,admin\r\nRavi,Kumar,user\r\n",
            "first_name,last_name,role\r\nAsha,Rao,admin\r\nRavi,Kumar,user",
        ] {
            let csv = read(text).unwrap();

            assert_eq!(field(&csv, 0, |u| &u.role), "admin", "{text:?}");
            assert_eq!(field(&csv, 1, |u| &u.role), "user", "{text:?}");
            assert_eq!(lines_of(&csv), [(1, 2), (2, 3)], "{text:?}");
        }
    }

    /// Hands out its bytes one per read, as a slow stream would.
    struct OneByteAtATime<'a>(&'a [u8]);

    impl Read for OneByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let (Some(byte), Some(slot)) = (self.0.first(), buf.first_mut()) else {
                return Ok(0);
            };
            *slot = *byte;
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_dropped_however_the_input_arrives() {
        let text = "\u{feff}email,first_name\nasha@example.com,Asha\n";
        let size = text.len() as u64;

        let whole = read(text).unwrap();
        let streamed = read_users_csv(OneByteAtATime(text.as_bytes()), size, true, |_| {}).unwrap();

        for csv in [whole, streamed] {
            assert_eq!(field(&csv, 0, |u| &u.email), "asha@example.com");
            assert_eq!(field(&csv, 0, |u| &u.first_name), "Asha");
            assert_eq!(lines_of(&csv), [(1, 2)]);
        }
    }

    #[test]
    fn blank_lines_are_no_rows_but_still_count_as_lines() {
        let csv = read("\r\nfirst_name,last_name\n\nAsha,Rao\n\r\n\nRavi,Kumar\n\n").unwrap();

        assert_eq!(csv.total(), 2);
        assert_eq!(field(&csv, 1, |u| &u.first_name), "Ravi");
        assert_eq!(lines_of(&csv), [(1, 4), (2, 7)]);
    }

    #[test]
    fn a_quoted_cell_spanning_lines_keeps_the_later_rows_on_their_lines() {
        let text = format!(
            "{HEADER}\n\
             Asha,Rao,,+919812345678,\"Desk\nA\",\n\
             Ravi,Kumar,,+919812345679,\"x\r\ny\r\nz\",\n\
             Meera,Iyer,,+919812345670,,\n"
        );

        let csv = read(&text).unwrap();

        assert_eq!(field(&csv, 0, |u| &u.device_name), "Desk\nA");
        assert_eq!(field(&csv, 1, |u| &u.device_name), "x\r\ny\r\nz");
        assert_eq!(lines_of(&csv), [(1, 2), (2, 4), (3, 7)]);
    }

    #[test]
    fn a_short_row_is_malformed_with_its_line_and_the_others_are_read() {
        let csv =
            read("first_name,last_name,role\nAsha,Rao,admin\n\nRavi,Kumar\nMeera,Iyer,user\n")
                .unwrap();

        assert_eq!(
            csv.malformed,
            [(2, "has 2 cells where the header has 3".to_owned())]
        );
        assert_eq!(csv.lines[&2], 4);
        assert_eq!(csv.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(csv.total(), 3);
    }

    #[test]
    fn a_file_that_cannot_be_read_says_why_without_naming_it() {
        let unknown = read("first_name,phone\nA,B\n").unwrap_err();
        assert!(matches!(&unknown, CsvError::UnknownColumn(c) if c == "phone"));
        assert_eq!(
            unknown.to_string(),
            "unknown column \"phone\" in the header; the columns are first_name, last_name, \
             email, device_contact_uri, device_name, role"
        );

        let twice = read("email,first_name, email\n").unwrap_err();
        assert_eq!(
            twice.to_string(),
            "column \"email\" appears twice in the header"
        );
        assert!(matches!(read("\n\r\n"), Err(CsvError::Empty)));
        let latin1 = b"first_name\nAsha\nJos\xe9\n";
        let not_utf8 = read_users_csv(&latin1[..], latin1.len() as u64, true, |_| {});
        assert!(matches!(not_utf8, Err(CsvError::RowNotUtf8 { line: 3 })));
    }

    #[test]
    fn progress_ends_at_the_size_of_the_input() {
        let text = "first_name\nAsha\nRavi\n";
        let mut heard = Vec::new();

        read_users_csv(text.as_bytes(), text.len() as u64, true, |b| heard.push(b)).unwrap();

        assert_eq!(heard, [16, 21]);
    }

    #[test]
    fn a_report_line_reads_row_line_and_reason() {
        let line = ReportLine {
            row: 4,
            line: 9,
            reason: "last_name is mandatory".to_owned(),
        };

        assert_eq!(line.to_string(), "row 4 (line 9): last_name is mandatory");
    }

    async fn directory_with_account(dir: &tempfile::TempDir) -> (Directory, Account) {
        let store = SqliteStore::open(&dir.path().join("roster.db")).unwrap();
        let directory = Directory::new(
            Arc::new(store),
            Arc::new(SystemClock),
            TokenHasher::new(b"test pepper"),
            DirectoryOptions::default(),
        );
        let account = directory
            .create_account("acme", AccountSettings::default())
            .await
            .unwrap();
        (directory, account)
    }

    async fn users_of(directory: &Directory, account: &Account) -> Vec<User> {
        let fields = UserFields {
            devices: true,
            ..UserFields::default()
        };
        let page = directory
            .list_users(account, UserFilter::default(), fields, 0, 100)
            .await
            .unwrap();
        page.users
    }

    #[tokio::test]
    async fn a_refused_import_reports_checked_and_malformed_rows_together_in_row_order() {
        let dir = tempfile::tempdir().unwrap();
        let (directory, account) = directory_with_account(&dir).await;
        let text = format!(
            "{HEADER}\n\
             Asha,Rao,asha@example.com,+919812345678,,\n\
             Ravi,Kumar,not-an-email,+919812345679,,\n\
             Meera,Iyer\n\
             \n\
             Kiran,Das,ASHA@example.com,+919812345671,,\n\
             Uma,\"Se\nn\",uma@example.com,+919812345673,,\n\
             Dev,Shah\n\
             Good,Row,good@example.com,+919812345674,,\n"
        );
        let mut stages = Vec::new();

        let outcome = directory
            .import_csv(&account, read(&text).unwrap(), false, |s| stages.push(s))
            .await
            .unwrap();

        let ImportOutcome::Refused { lines, total } = outcome else {
            panic!("not refused: {outcome:?}");
        };
        let report: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(
            report,
            [
                "row 2 (line 3): invalid email: must look like name@example.com",
                "row 3 (line 4): has 2 cells where the header has 6",
                "row 4 (line 6): this email is also on row 1",
                "row 5 (line 7): invalid last_name: may hold only A-Z, a-z, 0-9, '.', ''', '-' \
                 and space",
                "row 6 (line 9): has 2 cells where the header has 6",
            ]
        );
        assert_eq!(total, 7);
        assert_eq!(stages, [ImportStage::Checking(7)]);
        assert!(users_of(&directory, &account).await.is_empty());
    }

    #[tokio::test]
    async fn a_dry_run_counts_then_an_import_creates_and_exports_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (directory, account) = directory_with_account(&dir).await;
        let text = format!(
            "{HEADER}\n\
             Asha,Rao,asha@example.com,+919812345678,\"Desk, main\",admin\n\
             Ravi,Kumar,,+919812345679,,\n"
        );
        let mut stages = Vec::new();

        let dry = directory
            .import_csv(&account, read(&text).unwrap(), true, |s| stages.push(s))
            .await
            .unwrap();
        let listed_after_dry_run = users_of(&directory, &account).await;
        let created = directory
            .import_csv(&account, read(&text).unwrap(), false, |s| stages.push(s))
            .await
            .unwrap();

        assert!(matches!(dry, ImportOutcome::WouldCreate(2)), "{dry:?}");
        assert!(listed_after_dry_run.is_empty());
        let ImportOutcome::Created(created) = created else {
            panic!("not created: {created:?}");
        };
        assert_eq!(
            stages,
            [
                ImportStage::Checking(2),
                ImportStage::Checking(2),
                ImportStage::Creating(2)
            ]
        );
        let mut exported = Vec::new();
        write_users_csv(&created, &mut exported, true).unwrap();
        assert_eq!(
            String::from_utf8(exported).unwrap(),
            format!(
                "{HEADER}\n\
                 Asha,Rao,asha@example.com,+919812345678,\"Desk, main\",admin\n\
                 Ravi,Kumar,,+919812345679,Phone,user\n"
            )
        );
    }
}
