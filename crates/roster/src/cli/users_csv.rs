//! `roster users import` and `roster users export`: the file and the terminal around the
//! service's users CSV (reading, checking, creating and writing are in `roster_service`).

use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use roster_domain::{Account, User, UserFields};
use roster_service::{
    read_users_csv, write_users_csv, CsvError, CsvImport, Directory, ImportOutcome, ImportStage,
    ReportLine, UserFilter, IMPORT_MAX_ROWS,
};

use super::print_json;

/// Users read per page while exporting.
const EXPORT_PAGE: u32 = 1_000;

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
    let csv = read_file(file)?;

    let outcome = directory
        .import_csv(&account, csv, dry_run, |stage| match stage {
            ImportStage::Checking(total) => status(&format!("checking {total} rows")),
            ImportStage::Creating(count) => {
                status(&format!("creating {count} users in one transaction"));
            }
        })
        .await?;
    status("");

    match outcome {
        ImportOutcome::WouldCreate(count) => {
            print_json(&serde_json::json!({ "sid": sid, "dry_run": true, "would_create": count }))
        }
        ImportOutcome::Created(created) => {
            print_json(&serde_json::json!({ "sid": sid, "created": created.len() }))
        }
        ImportOutcome::Refused { lines, total } => refuse(&lines, total),
    }
}

/// Reads the file's rows, with a progress bar on a terminal.
fn read_file(path: &Path) -> anyhow::Result<CsvImport> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| anyhow::anyhow!("cannot open {name}: {e}"))?;
    let (size, ends_with_newline) =
        last_byte(&mut file).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;

    let mut progress = Progress::new("reading", size);
    read_users_csv(file, size, ends_with_newline, |done| {
        if let Some(progress) = &mut progress {
            progress.set(done);
        }
    })
    .map_err(|e| unreadable(&name, e))
}

/// The service's reason with the file's name put in: in front, or as the subject where the
/// sentence is about the file.
fn unreadable(name: &str, error: CsvError) -> anyhow::Error {
    match error {
        CsvError::Empty => {
            anyhow::anyhow!("{name} is empty: it needs a header row naming its columns")
        }
        CsvError::TooManyRows => anyhow::anyhow!(
            "{name} has more than {IMPORT_MAX_ROWS} rows, the most one import takes; split it"
        ),
        CsvError::Read(reason) => anyhow::anyhow!("cannot read {name}: {reason}"),
        other => anyhow::anyhow!("{name}: {other}"),
    }
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

/// Prints every bad row, one a line in row order, and fails with the count.
fn refuse(lines: &[ReportLine], total: usize) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr().lock();
    for line in lines {
        writeln!(stderr, "{line}")?;
    }
    anyhow::bail!(
        "{} of {total} rows cannot be created; nothing was imported",
        lines.len()
    )
}

pub(crate) async fn export(directory: &Directory, sid: &str) -> anyhow::Result<()> {
    let account = directory.require_account(sid).await?;
    let mut stdout = std::io::stdout().lock();
    let write_error = |e: std::io::Error| anyhow::anyhow!("cannot write to stdout: {e}");

    // The header goes out first, so it is there even when reading the first page fails.
    write_users_csv(&[], &mut stdout, true).map_err(write_error)?;
    let mut offset = 0;
    loop {
        let page = list_page(directory, &account, offset).await?;
        write_users_csv(&page, &mut stdout, false).map_err(write_error)?;
        if page.len() < EXPORT_PAGE as usize {
            return Ok(());
        }
        offset += u64::from(EXPORT_PAGE);
    }
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
