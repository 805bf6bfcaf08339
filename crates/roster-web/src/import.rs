//! Bulk onboarding from the dashboard: the same CSV, checks and report as
//! `roster users import`, all rows created together or none.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roster_service::{read_users_csv, ImportError, ImportOutcome, ReportLine, USERS_CSV_COLUMNS};

use crate::error::PageError;
use crate::page::{self, csrf_input, Flash, Section};
use crate::session::Signed;
use crate::WebState;

pub(crate) async fn form(signed: Signed) -> Response {
    render(&signed, StatusCode::OK, &Report::None)
}

/// What the last upload came to, for the page that answers it.
enum Report {
    None,
    /// The file itself could not be read (no header, unknown column, not UTF-8...).
    Unreadable(String),
    /// Some rows cannot be created; nothing was.
    Refused {
        lines: Vec<ReportLine>,
        total: usize,
    },
    /// A dry run found every row valid.
    Valid(usize),
}

pub(crate) async fn submit(
    State(state): State<WebState>,
    signed: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let mut multipart =
        multipart.map_err(|error| PageError::malformed(error.status(), error.body_text()))?;
    let mut csrf = None;
    let mut file = None;
    let mut dry_run = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(PageError::malformed(error.status(), error.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        // With no file chosen, a browser still sends the field, with an empty file name.
        let chosen = field.file_name().is_some_and(|n| !n.is_empty());
        let bytes = field
            .bytes()
            .await
            .map_err(|error| PageError::malformed(error.status(), error.body_text()))?;
        match name.as_str() {
            "_csrf" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => file = (chosen || !bytes.is_empty()).then_some(bytes),
            "dry_run" => dry_run = !bytes.is_empty(),
            _ => {}
        }
    }
    // Checked before the file is looked at: a forged upload costs a parse, never a write.
    signed.check_csrf(csrf.as_deref().unwrap_or_default())?;
    let Some(file) = file else {
        let report = Report::Unreadable("Choose a CSV file to import.".to_owned());
        return Ok(render(&signed, StatusCode::UNPROCESSABLE_ENTITY, &report));
    };

    let ends_with_newline = file.last() == Some(&b'\n');
    let csv = match read_users_csv(&file[..], file.len() as u64, ends_with_newline, |_| {}) {
        Ok(csv) => csv,
        Err(error) => {
            let report = Report::Unreadable(sentence(&error.to_string()));
            return Ok(render(&signed, StatusCode::UNPROCESSABLE_ENTITY, &report));
        }
    };
    let outcome = state
        .app
        .directory
        .import_csv(&signed.account, csv, dry_run, |_| {})
        .await;
    let report = match outcome {
        Ok(ImportOutcome::Created(users)) => {
            tracing::info!(account.sid = %signed.account.sid, created = users.len(), "dashboard import");
            return Ok(page::redirect_with("/", Flash::Imported(users.len())));
        }
        Ok(ImportOutcome::WouldCreate(count)) => Report::Valid(count),
        Ok(ImportOutcome::Refused { lines, total }) => Report::Refused { lines, total },
        Err(ImportError::TooManyRows) => Report::Unreadable(ImportError::TooManyRows.to_string()),
        Err(ImportError::Service(error)) => return Err(error.into()),
        Err(other) => Report::Unreadable(other.to_string()),
    };
    let status = match report {
        Report::Valid(_) => StatusCode::OK,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok(render(&signed, status, &report))
}

fn render(signed: &Signed, status: StatusCode, report: &Report) -> Response {
    let body = html! {
        h1 data-canonical="/import" { "Import users" }
        (report_markup(report))
        p {
            "Upload a CSV file with a header row naming its columns, in any order: "
            @for (i, column) in USERS_CSV_COLUMNS.iter().enumerate() {
                @if i > 0 { ", " }
                code { (column) }
            }
            ". Each row is checked with the create API's rules; then every user is created, "
            "or, if any row is wrong, none is."
        }
        form method="post" action="/import" enctype="multipart/form-data" class="stack" {
            (csrf_input(signed.csrf()))
            div class="field" {
                label for="file" { "CSV file" }
                input id="file" name="file" type="file" accept=".csv,text/csv" required;
            }
            div class="field checkbox" {
                input id="dry_run" name="dry_run" type="checkbox" value="1";
                label for="dry_run" { "Check only (dry run)" }
            }
            button type="submit" class="primary" { "Import" }
        }
        p class="hint" { "The same import runs from a terminal: " code { "roster users import SID FILE.csv [--dry-run]" } "." }
    };
    page::page_with_status(signed, Section::Import, "Import users", status, body)
}

fn report_markup(report: &Report) -> Markup {
    html! {
        @match report {
            Report::None => {}
            Report::Unreadable(reason) => div role="alert" class="problem" { p { (reason) } },
            Report::Refused { lines, total } => div role="alert" class="problem" {
                p { (page::count(lines.len() as u64, "row", "rows")) " of " (total) " cannot be created; nothing was imported." }
                ul class="report" { @for line in lines { li { (line.to_string()) } } }
            },
            Report::Valid(count) => p role="status" class="flash" {
                (page::count(*count as u64, "row is", "rows are")) " valid; nothing was created."
            },
        }
    }
}

/// A message of the service's as a sentence of its own: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
