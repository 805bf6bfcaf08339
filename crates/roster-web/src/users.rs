//! One user with its devices, and the forms that create, edit and delete users with the
//! create and update APIs' rules (the list, the home page, is `list.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use maud::{html, Markup};
use roster_domain::{AgentState, Field, Precondition, Role, RuleError, User, UserFields};
use roster_service::{CreateUser, ServiceError, UpdateUser};
use serde::Deserialize;

use crate::error::PageError;
use crate::form::{WebForm, WebPath};
use crate::page::{self, csrf_input, Flash, Input, Problems, Section};
use crate::session::Signed;
use crate::signin::CsrfOnly;
use crate::{devices, WebState};

/// What a page reads of a user: its devices and last login too.
pub(crate) const WITH_DEVICES: UserFields = UserFields {
    devices: true,
    active_call: false,
    last_login: true,
};

pub(crate) fn verified_badge(verified: bool) -> Markup {
    html! {
        @if verified { span class="badge verified" { "verified" } }
        @else { span class="badge unverified" { "unverified" } }
    }
}

pub(crate) fn presence_badge(user: &User) -> Markup {
    let presence = AgentState::of(user.devices.as_deref().unwrap_or_default()).as_str();
    html! { span class={ "presence " (presence) } { (presence) } }
}

pub(crate) fn full_name(user: &User) -> String {
    format!("{} {}", user.first_name.as_str(), user.last_name.as_str())
}

/// The fields of the create form, kept as typed so a refused form comes back filled in.
#[derive(Deserialize, Default)]
pub(crate) struct NewUserForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    device_contact_uri: String,
    #[serde(default)]
    device_name: String,
}

pub(crate) async fn new_form(signed: Signed) -> Response {
    new_page(&signed, &NewUserForm::default(), &Problems::default())
}

pub(crate) async fn create(
    State(state): State<WebState>,
    signed: Signed,
    WebForm(form): WebForm<NewUserForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let given = |value: &str| (!value.trim().is_empty()).then(|| value.to_owned());
    let input = CreateUser {
        first_name: given(&form.first_name),
        last_name: given(&form.last_name),
        email: given(&form.email),
        device_contact_uri: given(&form.device_contact_uri),
        device_name: given(&form.device_name),
        role: given(&form.role),
    };
    match state
        .app
        .directory
        .create_user(&signed.account, input)
        .await
    {
        Ok(user) => Ok(page::redirect_with(
            &format!("/users/{}", user.id.to_hex().as_str()),
            Flash::UserCreated,
        )),
        Err(error) => {
            let problems = Problems::of(error, &CREATE_FIELDS)?;
            let mut response = new_page(&signed, &form, &problems);
            *response.status_mut() = problems.status();
            Ok(response)
        }
    }
}

const CREATE_FIELDS: [Field; 6] = [
    Field::FirstName,
    Field::LastName,
    Field::Email,
    Field::Role,
    Field::DeviceContactUri,
    Field::DeviceName,
];

fn new_page(signed: &Signed, form: &NewUserForm, problems: &Problems) -> Response {
    let voip = signed.account.voip_enabled;
    // A new user's phone is a number: softphones come from the account's VOIP setting,
    // or are added on the user's page.
    let contact_hint = if voip {
        "E.164, such as +919812345678. Optional: this account has VOIP, so the user also gets a softphone."
    } else {
        "E.164, such as +919812345678."
    };
    let body = html! {
        p class="crumbs" { a href="/" { "Users" } }
        h1 data-canonical="/users/new" { "New user" }
        (problems.summary())
        form method="post" action="/users/new" class="stack" novalidate {
            (csrf_input(signed.csrf()))
            (Input::text("First name", "first_name", &form.first_name).autocomplete("off").required().render(problems))
            (Input::text("Last name", "last_name", &form.last_name).required().render(problems))
            (Input::text("Email", "email", &form.email).kind("email").hint("Optional").render(problems))
            (role_select(&form.role, problems))
            (Input::text("Phone number", "device_contact_uri", &form.device_contact_uri)
                .kind("text").hint(contact_hint).render(problems))
            (Input::text("Device name", "device_name", &form.device_name).hint("Optional").render(problems))
            button type="submit" class="primary" { "Create user" }
        }
    };
    page::page(signed, Section::Users, "New user", body)
}

fn role_select(chosen: &str, problems: &Problems) -> Markup {
    let chosen = if chosen.is_empty() { "user" } else { chosen };
    let problem = problems.about("role");
    html! {
        div class={ "field" @if problem.is_some() { " invalid" } } {
            label for="role" { "Role" }
            select id="role" name="role" aria-invalid=[problem.map(|_| "true")]
                aria-describedby=[problem.map(|_| "role-error")] {
                @for role in Role::ALL.iter().rev() {
                    option value=(role.as_str()) selected[role.as_str() == chosen] { (role.as_str()) }
                }
            }
            @if let Some(problem) = problem {
                p id="role-error" class="field-error" { (problem) }
            }
        }
    }
}

/// The user a page is about, with its devices and last login, as its page shows it.
pub(crate) async fn find_user(
    state: &WebState,
    signed: &Signed,
    id: &str,
) -> Result<User, PageError> {
    Ok(state
        .app
        .directory
        .get_user(&signed.account, id, WITH_DEVICES)
        .await?)
}

/// One user: details to edit, devices to switch, and a way to delete it.
pub(crate) async fn show(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(id): WebPath<String>,
) -> Result<Response, PageError> {
    let live_from = state
        .app
        .directory
        .event_bounds(&signed.account)
        .await?
        .newest;
    let user = find_user(&state, &signed, &id).await?;
    let page_state = UserPageState {
        live_from: Some(live_from),
        ..UserPageState::default()
    };
    Ok(user_page(&signed, &user, page_state))
}

/// What a user page shows besides the user: a refused form's values and problems.
#[derive(Default)]
pub(crate) struct UserPageState<'a> {
    pub details: Option<&'a EditForm>,
    pub details_problems: Problems,
    pub device_problems: Problems,
    pub add_device: Option<(&'a str, &'a str)>,
    pub add_problems: Problems,
    pub status: Option<StatusCode>,
    /// The account's newest event when the user was read, where the page's stream starts.
    pub live_from: Option<u64>,
}

pub(crate) fn user_page(signed: &Signed, user: &User, page_state: UserPageState<'_>) -> Response {
    let zone = signed.account.timezone.as_str();
    let id = user.id.to_hex();
    let id = id.as_str();
    let name = full_name(user);
    let stored_email = user.email.as_ref().map(|e| e.as_str().to_owned());
    let (first, last, email) = match page_state.details {
        // A stored email is shown read-only and sent back as it is, so it must be the
        // stored one: an address typed before someone else set another could neither be
        // saved nor corrected.
        Some(form) => (
            form.first_name.clone(),
            form.last_name.clone(),
            stored_email.unwrap_or_else(|| form.email.clone()),
        ),
        None => (
            user.first_name.as_str().to_owned(),
            user.last_name.as_str().to_owned(),
            stored_email.unwrap_or_default(),
        ),
    };
    let (new_contact, new_name) = page_state.add_device.unwrap_or(("", ""));
    let body = html! {
        p class="crumbs" { a href="/" { "Users" } }
        h1 data-canonical={ "/users/" (id) } { (name) }
        div id="user-status" data-live-region data-live-from=[page_state.live_from] {
            p class="meta" {
                span class="role" { (user.role.as_str()) }
                " " (presence_badge(user))
                @if user.email.is_some() { " email " (verified_badge(user.email_verified)) }
                " · created " (date(user.date_created, zone))
                " · last login " @match user.last_login { Some(at) => (date(at, zone)), None => "never" }
            }
        }
        section aria-labelledby="details-heading" {
            h2 id="details-heading" { "Details" }
            (page_state.details_problems.summary())
            form method="post" action={ "/users/" (id) } class="stack" novalidate {
                (csrf_input(signed.csrf()))
                // What the form was filled in from, so a save can tell whether someone
                // else changed these details in between.
                input type="hidden" name="was_first_name" value=(user.first_name.as_str());
                input type="hidden" name="was_last_name" value=(user.last_name.as_str());
                input type="hidden" name="was_email" value=(user.email.as_ref().map(|e| e.as_str()).unwrap_or_default());
                (Input::text("First name", "first_name", &first).required().render(&page_state.details_problems))
                (Input::text("Last name", "last_name", &last).required().render(&page_state.details_problems))
                @if user.email.is_some() {
                    (Input::text("Email", "email", &email).kind("email").readonly(true)
                        .hint("An email is set once and then kept, as the API keeps it.")
                        .render(&page_state.details_problems))
                } @else {
                    (Input::text("Email", "email", &email).kind("email").hint("Optional; once set, it is kept.")
                        .render(&page_state.details_problems))
                }
                button type="submit" class="primary" { "Save changes" }
            }
        }
        (devices::section(signed, user, &page_state.device_problems))
        section aria-labelledby="add-device-heading" {
            h2 id="add-device-heading" { "Add a device" }
            (page_state.add_problems.summary())
            form method="post" action={ "/users/" (id) "/devices" } class="stack" novalidate {
                (csrf_input(signed.csrf()))
                (Input::text("Phone number or SIP URI", "contact_uri", new_contact)
                    .hint("E.164, such as +919812345678, or a SIP URI").required().render(&page_state.add_problems))
                (Input::text("Device name", "name", new_name).hint("Optional").render(&page_state.add_problems))
                button type="submit" { "Add device" }
            }
        }
        section aria-labelledby="danger-heading" class="danger-zone" {
            h2 id="danger-heading" { "Delete" }
            p { a href={ "/users/" (id) "/delete" } class="button danger" { "Delete user" } }
        }
    };
    page::page_with_status(
        signed,
        Section::Users,
        &name,
        page_state.status.unwrap_or(StatusCode::OK),
        body,
    )
}

/// How every page writes a moment: in the account's time zone (as the API writes its
/// dates), to the minute, with the zone's abbreviation.
pub(crate) fn date(at: Timestamp, zone: &str) -> String {
    match at.in_tz(zone) {
        Ok(zoned) => zoned.strftime("%Y-%m-%d %H:%M %Z").to_string(),
        // The account's zone was checked when it was set; UTC is the safe fallback.
        Err(_) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct EditForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    was_first_name: String,
    #[serde(default)]
    was_last_name: String,
    #[serde(default)]
    was_email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
}

const EDIT_FIELDS: [Field; 3] = [Field::FirstName, Field::LastName, Field::Email];

/// The details form again after someone else changed the user: what is stored now is
/// said above the form, which keeps what this person typed (and now carries the stored
/// details as its starting point, so saving again applies it knowingly).
fn changed_meanwhile(signed: &Signed, current: &User, form: &EditForm) -> Response {
    let email = current.email.as_ref().map_or("none", |e| e.as_str());
    let problems = Problems::general(format!(
        "Someone changed this user while you were editing. Now stored: {}, email {email}. \
         The form keeps what you typed; save again to apply it.",
        full_name(current)
    ));
    refused_details(signed, current, Some(form), problems, StatusCode::CONFLICT)
}

/// How often a save is tried again when only the user's devices changed under it (a call
/// starting, say): those changes move the user's version but do not touch this form.
const SAVE_ATTEMPTS: usize = 3;

/// Saves the details form. The form carries the details it was filled in from: when
/// someone else changed them in between, the save is refused rather than silently undoing
/// their change; a change of the user's devices alone does not count.
pub(crate) async fn update(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(id): WebPath<String>,
    WebForm(form): WebForm<EditForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let directory = &state.app.directory;
    let mut attempt = 0;
    let error = loop {
        attempt += 1;
        let current = find_user(&state, &signed, &id).await?;
        let stored_email = current
            .email
            .as_ref()
            .map(|e| e.as_str())
            .unwrap_or_default();
        if current.first_name.as_str() != form.was_first_name
            || current.last_name.as_str() != form.was_last_name
            || stored_email != form.was_email
        {
            return Ok(changed_meanwhile(&signed, &current, &form));
        }
        // A field left empty is sent empty, so the API's own rule answers for it.
        let input = UpdateUser {
            first_name: Some(form.first_name.clone()),
            last_name: Some(form.last_name.clone()),
            email: (!form.email.trim().is_empty()).then(|| form.email.clone()),
            sends_role: false,
            sends_id: false,
        };
        let expect = Precondition::OneOf(vec![current.version]);
        match directory
            .update_user(&signed.account, &id, input, &expect)
            .await
        {
            Ok(user) => {
                return Ok(page::redirect_with(
                    &format!("/users/{}#details-heading", user.id.to_hex().as_str()),
                    Flash::UserSaved,
                ))
            }
            Err(ServiceError::Rule(RuleError::PreconditionFailed)) if attempt < SAVE_ATTEMPTS => {}
            Err(error) => break error,
        }
    };
    if matches!(error, ServiceError::Rule(RuleError::PreconditionFailed)) {
        // The user kept changing under every attempt: say so, as for a changed detail.
        let current = find_user(&state, &signed, &id).await?;
        return Ok(changed_meanwhile(&signed, &current, &form));
    }
    let user = find_user(&state, &signed, &id).await?;
    let problems = Problems::of(error, &EDIT_FIELDS)?;
    let status = problems.status();
    Ok(refused_details(
        &signed,
        &user,
        Some(&form),
        problems,
        status,
    ))
}

fn refused_details(
    signed: &Signed,
    user: &User,
    form: Option<&EditForm>,
    problems: Problems,
    status: StatusCode,
) -> Response {
    user_page(
        signed,
        user,
        UserPageState {
            details: form,
            details_problems: problems,
            status: Some(status),
            ..UserPageState::default()
        },
    )
}

pub(crate) async fn confirm_delete(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(id): WebPath<String>,
) -> Result<Response, PageError> {
    let user = find_user(&state, &signed, &id).await?;
    let name = full_name(&user);
    let id = user.id.to_hex();
    let id = id.as_str();
    let devices = user.devices.as_deref().unwrap_or_default().len() as u64;
    let title = format!("Delete {name}?");
    let body = html! {
        p class="crumbs" { a href="/" { "Users" } " / " a href={ "/users/" (id) } { (name) } }
        h1 { (title) }
        p { "This deletes " (name) " and " (page::count(devices, "device", "devices")) ". It cannot be undone." }
        form method="post" action={ "/users/" (id) "/delete" } class="actions" {
            (csrf_input(signed.csrf()))
            button type="submit" class="danger" { "Delete user" }
            a href={ "/users/" (id) } { "Cancel" }
        }
    };
    Ok(page::page(&signed, Section::Users, &title, body))
}

pub(crate) async fn delete(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(id): WebPath<String>,
    WebForm(form): WebForm<CsrfOnly>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    state
        .app
        .directory
        .delete_user(&signed.account, &id, &Precondition::None)
        .await?;
    Ok(page::redirect_with("/", Flash::UserDeleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a test time")
    }

    #[test]
    fn moments_are_written_in_the_accounts_zone_across_daylight_saving() {
        let zone = "America/New_York";
        assert_eq!(
            date(at("2026-01-15T17:30:00Z"), zone),
            "2026-01-15 12:30 EST"
        );
        assert_eq!(
            date(at("2026-07-15T17:30:00Z"), zone),
            "2026-07-15 13:30 EDT"
        );
        // The hour that repeats when the clocks go back is told apart by its zone.
        assert_eq!(
            date(at("2026-11-01T05:30:00Z"), zone),
            "2026-11-01 01:30 EDT"
        );
        assert_eq!(
            date(at("2026-11-01T06:30:00Z"), zone),
            "2026-11-01 01:30 EST"
        );
        assert_eq!(
            date(at("2026-07-15T17:30:00Z"), "Asia/Kolkata"),
            "2026-07-15 23:00 IST"
        );
        // A date past midnight in the zone is that zone's date, not UTC's.
        assert_eq!(
            date(at("2026-07-15T20:00:00Z"), "Asia/Kolkata"),
            "2026-07-16 01:30 IST"
        );
    }

    #[test]
    fn a_zone_that_cannot_be_read_falls_back_to_utc_and_says_so() {
        assert_eq!(
            date(at("2026-07-15T17:30:00Z"), "Nowhere/Else"),
            "2026-07-15 17:30 UTC"
        );
    }
}
