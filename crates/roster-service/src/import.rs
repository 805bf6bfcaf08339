//! Bulk onboarding: many users checked together with the create rules, then created
//! together in one transaction, or not at all.

use std::collections::{HashMap, HashSet};

use roster_domain::{Account, ContactUri, DeviceId, NewUser, RuleError, User, UserFields};
use roster_store::{Conflict, StoreError, UserQuery};

use crate::users::{CreateUser, ID_ATTEMPTS};
use crate::{Directory, ServiceError};

/// Most rows one import takes: a larger file is split by the operator, so one transaction
/// (and the memory holding its users) stays bounded.
pub const IMPORT_MAX_ROWS: usize = 100_000;

/// Values looked up in one query when checking for users already in the account.
const LOOKUP_CHUNK: usize = 500;

/// Why one row of an import cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    /// A rule of the create API, with the API's message.
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("this email is also on row {0}")]
    EmailRepeated(usize),
    #[error("this number is also on row {0}")]
    NumberRepeated(usize),
}

/// One user to import, numbered by the caller (a file's data rows, from 1) so problems
/// name the row the operator sees.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub user: CreateUser,
}

/// A row that cannot be created, by the caller's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub problem: RowProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Every bad row, in row order, one problem each; nothing was written.
    #[error("{} of the rows cannot be created; nothing was imported", .0.len())]
    Rows(Vec<RowError>),
    #[error("an import takes at most {IMPORT_MAX_ROWS} rows; split the file")]
    TooManyRows,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for ImportError {
    fn from(error: StoreError) -> Self {
        ImportError::Service(error.into())
    }
}

/// Users that passed every check of an import, ready to be created together.
#[derive(Debug, Clone)]
pub struct CheckedImport {
    /// The row each user came from, to name it if a clash appears while writing.
    rows: Vec<usize>,
    users: Vec<NewUser>,
}

impl CheckedImport {
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl Directory {
    /// Checks every row as a create would, then the rows against each other (an email,
    /// case-insensitively, or a number on two rows) and against the account's users. Each
    /// bad row is reported with its first problem: the create API's order, then a clash with
    /// the account, then a repeat of an earlier row.
    pub async fn validate_import(
        &self,
        account: &Account,
        rows: Vec<ImportRow>,
    ) -> Result<CheckedImport, ImportError> {
        if rows.len() > IMPORT_MAX_ROWS {
            return Err(ImportError::TooManyRows);
        }
        let now = self.clock.now();

        let mut problems = Vec::new();
        let mut checked = CheckedImport {
            rows: Vec::with_capacity(rows.len()),
            users: Vec::with_capacity(rows.len()),
        };
        for ImportRow { row, user } in rows {
            match self.validate_new_user(account, user, now) {
                Ok(user) => {
                    checked.rows.push(row);
                    checked.users.push(user);
                }
                Err(rule) => problems.push(RowError {
                    row,
                    problem: rule.into(),
                }),
            }
        }
        problems.extend(self.taken_in_account(account, &checked).await?);
        problems.extend(repeated_in_rows(&checked));

        if problems.is_empty() {
            return Ok(checked);
        }
        // Stable: a row keeps the first problem found for it.
        problems.sort_by_key(|p| p.row);
        problems.dedup_by_key(|p| p.row);
        Err(ImportError::Rows(problems))
    }

    /// Creates every checked user with its devices and one `user.created` event each, in
    /// one transaction. A clash with a user created since the check writes nothing and
    /// names the rows it hit.
    pub async fn import_users(
        &self,
        account: &Account,
        mut checked: CheckedImport,
    ) -> Result<Vec<User>, ImportError> {
        let now = self.clock.now();
        for attempt in 1..=ID_ATTEMPTS {
            draw_distinct_device_ids(&mut checked.users, now);
            match self.store.create_users(&account.sid, &checked.users).await {
                Ok(created) => return Ok(created),
                Err(StoreError::Conflict(Conflict::DeviceId)) if attempt < ID_ATTEMPTS => {}
                Err(StoreError::Conflict(clash @ (Conflict::Email | Conflict::Number))) => {
                    let rows = self.taken_in_account(account, &checked).await?;
                    if !rows.is_empty() {
                        return Err(ImportError::Rows(rows));
                    }
                    let rule = match clash {
                        Conflict::Email => RuleError::EmailTaken,
                        _ => RuleError::NumberTakenOnCreate,
                    };
                    return Err(ServiceError::Rule(rule).into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict(Conflict::DeviceId).into())
    }

    /// The rows whose email or number a user of the account already has, with the create
    /// API's errors for them; an email clash is named before a number clash.
    async fn taken_in_account(
        &self,
        account: &Account,
        checked: &CheckedImport,
    ) -> Result<Vec<RowError>, StoreError> {
        let emails: Vec<String> = checked
            .users
            .iter()
            .filter_map(|u| u.email.as_ref().map(|e| e.folded()))
            .collect();
        let numbers: Vec<String> = checked.users.iter().flat_map(tel_numbers).collect();

        let mut taken_emails = HashSet::new();
        for chunk in emails.chunks(LOOKUP_CHUNK) {
            let query = lookup(Some(chunk.to_vec()), None, chunk.len());
            let page = self.store.list_users(&account.sid, &query).await?;
            taken_emails.extend(
                page.users
                    .iter()
                    .filter_map(|u| u.email.as_ref().map(|e| e.folded())),
            );
        }
        let mut taken_numbers = HashSet::new();
        for chunk in numbers.chunks(LOOKUP_CHUNK) {
            let query = lookup(None, Some(chunk.to_vec()), chunk.len());
            let page = self.store.list_users(&account.sid, &query).await?;
            let devices = page
                .users
                .into_iter()
                .flat_map(|u| u.devices.unwrap_or_default());
            taken_numbers.extend(devices.map(|d| d.contact_uri.as_str().to_owned()));
        }

        let mut taken = Vec::new();
        for (row, user) in checked.rows.iter().zip(&checked.users) {
            let email_taken = user
                .email
                .as_ref()
                .is_some_and(|e| taken_emails.contains(&e.folded()));
            let rule = if email_taken {
                RuleError::EmailTaken
            } else if tel_numbers(user).any(|n| taken_numbers.contains(&n)) {
                RuleError::NumberTakenOnCreate
            } else {
                continue;
            };
            taken.push(RowError {
                row: *row,
                problem: rule.into(),
            });
        }
        Ok(taken)
    }
}

/// Gives every device of the batch a new id, none twice. Ids made in one second share their
/// upper bits, so among thousands of devices drawn independently some would surely clash.
fn draw_distinct_device_ids(users: &mut [NewUser], now: jiff::Timestamp) {
    let mut drawn = HashSet::new();
    for device in users.iter_mut().flat_map(|u| &mut u.devices) {
        device.id = loop {
            let id = DeviceId::generate(now);
            if drawn.insert(id) {
                break id;
            }
        };
    }
}

/// A query for the account's users with any of these emails or numbers, all on one page.
fn lookup(emails: Option<Vec<String>>, contacts: Option<Vec<String>>, count: usize) -> UserQuery {
    UserQuery {
        emails,
        fields: UserFields {
            devices: contacts.is_some(),
            ..UserFields::default()
        },
        contacts,
        search: None,
        offset: 0,
        // A chunk is far below u32::MAX; a number can be on at most one user.
        limit: u32::try_from(count).unwrap_or(u32::MAX),
    }
}

/// The phone numbers a new user's devices would take.
fn tel_numbers(user: &NewUser) -> impl Iterator<Item = String> + '_ {
    user.devices
        .iter()
        .filter(|d| matches!(d.contact_uri, ContactUri::Tel(_)))
        .map(|d| d.contact_uri.as_str().to_owned())
}

/// Each row whose email (case-insensitively) or number an earlier row already has.
fn repeated_in_rows(checked: &CheckedImport) -> Vec<RowError> {
    let mut first_email: HashMap<String, usize> = HashMap::new();
    let mut first_number: HashMap<String, usize> = HashMap::new();
    let mut repeated = Vec::new();
    for (&row, user) in checked.rows.iter().zip(&checked.users) {
        if let Some(email) = &user.email {
            let earlier = *first_email.entry(email.folded()).or_insert(row);
            if earlier != row {
                repeated.push(RowError {
                    row,
                    problem: RowProblem::EmailRepeated(earlier),
                });
            }
        }
        for number in tel_numbers(user) {
            let earlier = *first_number.entry(number).or_insert(row);
            if earlier != row {
                repeated.push(RowError {
                    row,
                    problem: RowProblem::NumberRepeated(earlier),
                });
            }
        }
    }
    repeated
}
