//! A user's devices on its page: switching them ON and OFF, adding and removing them, with
//! the device APIs' rules (only a verified device turns on; one device ON at a time).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use roster_api::dashboard::rule_status;
use roster_domain::{Device, DeviceStatus, Field, Precondition, RuleError, User};
use roster_service::{AddDevice, ServiceError, UpdateDevice};
use serde::Deserialize;

use crate::error::PageError;
use crate::form::{WebForm, WebPath};
use crate::page::{self, csrf_input, Flash, Problems};
use crate::session::Signed;
use crate::signin::CsrfOnly;
use crate::users::{self, UserPageState};
use crate::WebState;

/// The devices table of a user's page, with a problem from the last switch above it.
pub(crate) fn section(signed: &Signed, user: &User, problems: &Problems) -> Markup {
    let id = user.id.to_hex();
    let id = id.as_str();
    let devices = user.devices.as_deref().unwrap_or_default();
    html! {
        // The heading and the last switch's problem stay outside the live part: a refresh
        // would otherwise wipe the problem and drop the keyboard focus a form put on
        // either of them.
        section aria-labelledby="devices-heading" {
            h2 id="devices-heading" { "Devices" }
            (problems.summary())
            div id="devices-region" data-live-region {
                @if devices.is_empty() {
                    p class="empty" { "No devices yet." }
                } @else {
                    table id="devices" class="cards" {
                        caption class="visually-hidden" { "The user's devices" }
                        thead {
                            tr {
                                th scope="col" { "Number" }
                                th scope="col" { "Name" }
                                th scope="col" { "State" }
                                th scope="col" { "Actions" }
                            }
                        }
                        tbody {
                            @for device in devices {
                                (row(signed, id, device))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn row(signed: &Signed, user: &str, device: &Device) -> Markup {
    let number = device.contact_uri.as_str();
    let on = device.available == Some(true);
    let base = format!("/users/{user}/devices/{}", device.id.get());
    let (verb, wanted) = if on {
        ("Turn off", "false")
    } else {
        ("Turn on", "true")
    };
    html! {
        tr data-device-id=(device.id.get()) {
            th scope="row" data-label="Number" {
                span class="number" { (number) }
                // The id is what `roster calls start` and the API's device paths take.
                " " span class="kind" { (device.kind().as_str()) " · id " (device.id.get()) }
            }
            td data-label="Name" { (device.name.as_str()) }
            td data-label="State" {
                (on_off_badge(device)) " " (busy_badge(device)) " " (users::verified_badge(device.verified))
            }
            td data-label="Actions" class="actions" {
                form method="post" action={ (base) "/toggle" } {
                    (csrf_input(signed.csrf()))
                    input type="hidden" name="available" value=(wanted);
                    button type="submit" id={ "toggle-" (device.id.get()) }
                        aria-label={ (verb) " " (number) } { (verb) }
                }
                form method="post" action={ (base) "/remove" } {
                    (csrf_input(signed.csrf()))
                    button type="submit" class="danger" id={ "remove-" (device.id.get()) }
                        aria-label={ "Remove " (number) } { "Remove" }
                }
            }
        }
    }
}

pub(crate) fn on_off_badge(device: &Device) -> Markup {
    html! {
        @if device.available == Some(true) { span class="badge on" { "ON" } }
        @else { span class="badge off" { "OFF" } }
    }
}

pub(crate) fn busy_badge(device: &Device) -> Markup {
    html! {
        @match device.status {
            DeviceStatus::Busy => span class="badge busy" { "busy" },
            DeviceStatus::Free => span class="badge free" { "free" },
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ToggleForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    available: String,
}

/// Switches a device to the state its button showed, so a double click or a stale page
/// never flips it back.
pub(crate) async fn toggle(
    State(state): State<WebState>,
    signed: Signed,
    WebPath((user, device)): WebPath<(String, String)>,
    WebForm(form): WebForm<ToggleForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let available = match form.available.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(PageError::malformed(
                StatusCode::BAD_REQUEST,
                "available must be true or false",
            ))
        }
    };
    let change = UpdateDevice {
        available: Some(available),
        contact_uri: None,
    };
    let directory = &state.app.directory;
    match directory
        .update_device(&signed.account, &user, &device, change, &Precondition::None)
        .await
    {
        Ok(_) => {
            let flash = if available {
                Flash::DeviceOn
            } else {
                Flash::DeviceOff
            };
            // Back on the same button, so a keyboard user keeps their place.
            Ok(page::redirect_with(
                &format!("/users/{user}#toggle-{device}"),
                flash,
            ))
        }
        Err(error) => refused(&state, &signed, &user, error, Section::Devices).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    contact_uri: String,
    #[serde(default)]
    name: String,
}

pub(crate) async fn add(
    State(state): State<WebState>,
    signed: Signed,
    WebPath(user): WebPath<String>,
    WebForm(form): WebForm<AddForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let input = AddDevice {
        contact_uri: (!form.contact_uri.trim().is_empty()).then(|| form.contact_uri.clone()),
        name: (!form.name.trim().is_empty()).then(|| form.name.clone()),
    };
    match state
        .app
        .directory
        .add_device(&signed.account, &user, input)
        .await
    {
        Ok(_) => Ok(page::redirect_with(
            &format!("/users/{user}#devices-heading"),
            Flash::DeviceAdded,
        )),
        Err(error) => {
            refused(
                &state,
                &signed,
                &user,
                error,
                Section::Add(&form.contact_uri, &form.name),
            )
            .await
        }
    }
}

pub(crate) async fn remove(
    State(state): State<WebState>,
    signed: Signed,
    WebPath((user, device)): WebPath<(String, String)>,
    WebForm(form): WebForm<CsrfOnly>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    match state
        .app
        .directory
        .delete_device(&signed.account, &user, &device, &Precondition::None)
        .await
    {
        Ok(()) => Ok(page::redirect_with(
            &format!("/users/{user}#devices-heading"),
            Flash::DeviceRemoved,
        )),
        Err(error) => refused(&state, &signed, &user, error, Section::Devices).await,
    }
}

/// Which part of the user's page a refused device form belongs to.
enum Section<'a> {
    Devices,
    /// The add form, with what was typed.
    Add(&'a str, &'a str),
}

/// Shows the user's page again with the API's reason beside the form that was refused,
/// under the status the API would have answered.
async fn refused(
    state: &WebState,
    signed: &Signed,
    user: &str,
    error: ServiceError,
    section: Section<'_>,
) -> Result<Response, PageError> {
    let ServiceError::Rule(rule) = error else {
        return Err(error.into());
    };
    // A user that is gone has no page to show the problem on.
    if rule == RuleError::UserNotFound {
        return Err(ServiceError::Rule(rule).into());
    }
    let found = users::find_user(state, signed, user).await?;
    let mut page_state = UserPageState {
        status: Some(rule_status(&rule)),
        ..UserPageState::default()
    };
    match section {
        Section::Devices => page_state.device_problems.add(&rule, &[]),
        Section::Add(contact, name) => {
            // The create API calls the number `device_contact_uri`; here it is the
            // add form's `contact_uri`.
            let field = match rule.field() {
                Some(Field::DeviceContactUri) => Some(Field::ContactUri),
                Some(Field::DeviceName) => Some(Field::Name),
                other => other,
            };
            match field.filter(|f| [Field::ContactUri, Field::Name].contains(f)) {
                Some(field) => page_state
                    .add_problems
                    .at(field.wire_name(), page::describe(&rule)),
                None => page_state.add_problems.add(&rule, &[]),
            }
            page_state.add_device = Some((contact, name));
        }
    }
    Ok(users::user_page(signed, &found, page_state))
}
