//! The frame every page shares, one-time messages, and form fields that show the API's
//! complaint about them right beside them.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use roster_domain::{Field, RuleError};
use roster_service::ServiceError;

use crate::error::PageError;
use crate::session::{set_cookie, Signed, FLASH_COOKIE};

/// The part of the dashboard a page belongs to, marked in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Users,
    Import,
    Settings,
}

/// A signed-in page in the dashboard's frame.
pub(crate) fn page(signed: &Signed, section: Section, title: &str, body: Markup) -> Response {
    page_with_status(signed, section, title, StatusCode::OK, body)
}

/// The same, with another status: a form sent back with problems is a 422.
pub(crate) fn page_with_status(
    signed: &Signed,
    section: Section,
    title: &str,
    status: StatusCode,
    body: Markup,
) -> Response {
    let nav = |target: Section, href: &str, label: &str| {
        html! {
            li {
                @if section == target {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    let markup = frame(
        title,
        html! {
            header class="top" {
                p class="brand" {
                    "roster " span class="account" { "account " (signed.account.sid.as_str()) }
                }
                nav aria-label="Main" {
                    ul {
                        (nav(Section::Users, "/", "Users"))
                        (nav(Section::Import, "/import", "Import"))
                        (nav(Section::Settings, "/settings", "API settings"))
                    }
                    form method="post" action="/signout" class="signout" {
                        (csrf_input(signed.csrf()))
                        button type="submit" { "Sign out" }
                    }
                }
            }
            main id="main" tabindex="-1" {
                @if let Some(flash) = signed.flash {
                    p role="status" class="flash" { (flash.text()) }
                }
                (body)
            }
        },
    );
    let mut response = (status, markup).into_response();
    if signed.flash.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(FLASH_COOKIE, "", 0, false));
    }
    response
}

/// A page outside the signed-in frame: sign-in and error pages.
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    frame(
        title,
        html! {
            header class="top" { p class="brand" { "roster" } }
            main id="main" tabindex="-1" {
                h1 { (title) }
                (body)
            }
        },
    )
}

fn frame(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · roster" }
                link rel="stylesheet" href=(crate::assets::CSS_PATH);
                link rel="icon" href=(crate::assets::ICON_PATH) type="image/svg+xml";
                script src=(crate::assets::JS_PATH) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                (content)
            }
        }
    }
}

pub(crate) fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(token); }
}

/// A one-time message for the page a form sends the person to, carried in a cookie as a
/// short code so no text of the request's ever reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flash {
    UserCreated,
    UserSaved,
    UserDeleted,
    DeviceAdded,
    DeviceRemoved,
    DeviceOn,
    DeviceOff,
    KeyRevoked,
    OwnKeyRevoked,
    SessionEnded,
    SignedOut,
    Imported(usize),
}

impl Flash {
    pub fn text(self) -> String {
        match self {
            Flash::UserCreated => "User created".to_owned(),
            Flash::UserSaved => "Changes saved".to_owned(),
            Flash::UserDeleted => "User deleted".to_owned(),
            Flash::DeviceAdded => "Device added".to_owned(),
            Flash::DeviceRemoved => "Device removed".to_owned(),
            Flash::DeviceOn => "Device turned on".to_owned(),
            Flash::DeviceOff => "Device turned off".to_owned(),
            Flash::KeyRevoked => "Key revoked".to_owned(),
            Flash::OwnKeyRevoked => {
                "Key revoked. It was the key this session signed in with, so the session ended too."
                    .to_owned()
            }
            Flash::SessionEnded => "Your session has ended: it was signed out elsewhere, it \
                expired, or the key it signed in with was revoked. Sign in again."
                .to_owned(),
            Flash::SignedOut => "Signed out".to_owned(),
            Flash::Imported(1) => "Imported 1 user".to_owned(),
            Flash::Imported(count) => format!("Imported {count} users"),
        }
    }

    fn code(self) -> String {
        match self {
            Flash::UserCreated => "user-created".to_owned(),
            Flash::UserSaved => "user-saved".to_owned(),
            Flash::UserDeleted => "user-deleted".to_owned(),
            Flash::DeviceAdded => "device-added".to_owned(),
            Flash::DeviceRemoved => "device-removed".to_owned(),
            Flash::DeviceOn => "device-on".to_owned(),
            Flash::DeviceOff => "device-off".to_owned(),
            Flash::KeyRevoked => "key-revoked".to_owned(),
            Flash::OwnKeyRevoked => "own-key-revoked".to_owned(),
            Flash::SessionEnded => "session-ended".to_owned(),
            Flash::SignedOut => "signed-out".to_owned(),
            Flash::Imported(count) => format!("imported-{count}"),
        }
    }

    pub fn decode(code: &str) -> Option<Self> {
        Some(match code {
            "user-created" => Flash::UserCreated,
            "user-saved" => Flash::UserSaved,
            "user-deleted" => Flash::UserDeleted,
            "device-added" => Flash::DeviceAdded,
            "device-removed" => Flash::DeviceRemoved,
            "device-on" => Flash::DeviceOn,
            "device-off" => Flash::DeviceOff,
            "key-revoked" => Flash::KeyRevoked,
            "own-key-revoked" => Flash::OwnKeyRevoked,
            "session-ended" => Flash::SessionEnded,
            "signed-out" => Flash::SignedOut,
            other => Flash::Imported(other.strip_prefix("imported-")?.parse().ok()?),
        })
    }
}

/// Sends the person to `to` with a message for the page there (post, redirect, get).
pub(crate) fn redirect_with(to: &str, flash: Flash) -> Response {
    let mut response = axum::response::Redirect::to(to).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(FLASH_COOKIE, &flash.code(), 60, false),
    );
    response
}

/// What was wrong with a form: each problem beside the field it concerns (by the API's
/// field name), and the rest above the form.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    fields: Vec<(&'static str, String)>,
    general: Vec<String>,
    /// The status the API answers the first broken rule with.
    status: Option<StatusCode>,
}

impl Problems {
    /// Sorts the API's refusal of a form: a broken rule about one of `fields` goes beside
    /// it, any other broken rule above the form; a failure that is no broken rule is no
    /// form problem and ends the request.
    pub fn of(error: ServiceError, fields: &[Field]) -> Result<Self, PageError> {
        let ServiceError::Rule(rule) = error else {
            return Err(error.into());
        };
        let mut problems = Problems::default();
        problems.add(&rule, fields);
        Ok(problems)
    }

    pub fn add(&mut self, rule: &RuleError, fields: &[Field]) {
        self.status
            .get_or_insert_with(|| roster_api::dashboard::rule_status(rule));
        let text = describe(rule);
        match rule.field().filter(|field| fields.contains(field)) {
            Some(field) => self.fields.push((field.wire_name(), text)),
            None => self.general.push(text),
        }
    }

    /// A problem beside the field named `name`.
    pub fn at(&mut self, name: &'static str, text: String) {
        self.fields.push((name, text));
    }

    pub fn general(text: impl Into<String>) -> Self {
        Problems {
            fields: Vec::new(),
            general: vec![text.into()],
            status: None,
        }
    }

    /// The status the API would have answered the same request with (400 when the
    /// problem is no rule of the API's).
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::BAD_REQUEST)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn about(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, text)| text.as_str())
    }

    /// The problems that belong to no field, as an alert above the form.
    pub fn summary(&self) -> Markup {
        html! {
            @if !self.general.is_empty() {
                div role="alert" class="problem" {
                    @for text in &self.general { p { (text) } }
                }
            } @else if !self.fields.is_empty() {
                div role="alert" class="problem" {
                    p { "Please correct the field marked below." }
                }
            }
        }
    }
}

/// The API's description of a broken rule, with its Exotel code for those who integrate.
pub(crate) fn describe(rule: &RuleError) -> String {
    format!("{rule} (code {})", rule.code())
}

/// A labelled input: `name` is the API's field name, so the problem the API reports for
/// that field appears right below it and is read out with it.
pub(crate) struct Input<'a> {
    pub label: &'a str,
    pub name: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub autocomplete: &'a str,
    pub hint: Option<&'a str>,
    pub required: bool,
    pub readonly: bool,
}

impl<'a> Input<'a> {
    pub fn text(label: &'a str, name: &'a str, value: &'a str) -> Self {
        Input {
            label,
            name,
            value,
            kind: "text",
            autocomplete: "off",
            hint: None,
            required: false,
            readonly: false,
        }
    }

    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn autocomplete(mut self, autocomplete: &'a str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    pub fn render(&self, problems: &Problems) -> Markup {
        let problem = problems.about(self.name);
        let error_id = format!("{}-error", self.name);
        let hint_id = format!("{}-hint", self.name);
        let described = [
            self.hint.map(|_| hint_id.as_str()),
            problem.map(|_| error_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        html! {
            div class={ "field" @if problem.is_some() { " invalid" } } {
                label for=(self.name) { (self.label) }
                @if let Some(hint) = self.hint {
                    p id=(hint_id) class="hint" { (hint) }
                }
                input id=(self.name) name=(self.name) type=(self.kind) value=(self.value)
                    autocomplete=(self.autocomplete) required[self.required] readonly[self.readonly]
                    aria-invalid=[problem.map(|_| "true")]
                    aria-describedby=[(!described.is_empty()).then_some(described.as_str())];
                @if let Some(problem) = problem {
                    p id=(error_id) class="field-error" { (problem) }
                }
            }
        }
    }
}

/// A sentence-case summary of a count: "1 user", "3 users".
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The non-breaking en dash pages use in ranges.
pub(crate) const EN_DASH: PreEscaped<&str> = PreEscaped("&ndash;");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashes_survive_their_cookie() {
        for flash in [
            Flash::UserCreated,
            Flash::UserSaved,
            Flash::UserDeleted,
            Flash::DeviceAdded,
            Flash::DeviceRemoved,
            Flash::DeviceOn,
            Flash::DeviceOff,
            Flash::KeyRevoked,
            Flash::OwnKeyRevoked,
            Flash::SessionEnded,
            Flash::SignedOut,
            Flash::Imported(0),
            Flash::Imported(12_345),
        ] {
            assert_eq!(Flash::decode(&flash.code()), Some(flash));
        }
        assert_eq!(Flash::decode("<script>"), None);
        assert_eq!(Flash::decode("imported-x"), None);
    }

    #[test]
    fn a_rule_about_a_field_goes_beside_it() {
        let rule = RuleError::invalid(Field::Email, "no @");
        let problems = Problems::of(rule.clone().into(), &[Field::Email]).expect("a rule");
        let field = Input::text("Email", "email", "x")
            .render(&problems)
            .into_string();
        assert!(field.contains("aria-invalid=\"true\""), "{field}");
        assert!(field.contains("id=\"email-error\""), "{field}");
        assert!(field.contains(&describe(&rule)), "{field}");

        // The same rule on a form without that field is said above the form.
        let problems = Problems::of(rule.into(), &[Field::FirstName]).expect("a rule");
        assert!(problems.summary().into_string().contains("no @"));
    }

    #[test]
    fn values_are_escaped() {
        let field = Input::text("Name", "first_name", "\"><script>x</script>")
            .render(&Problems::default())
            .into_string();
        assert!(!field.contains("<script>"), "{field}");
    }
}
