//! The home page: the account's users with their devices and presence, searched and paged,
//! with a summary and a chart of the last hours; kept live by the page's script.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::SignedDuration;
use maud::{html, Markup};
use roster_domain::{Device, Presence, User};
use roster_service::{ServiceError, UserFilter};
use serde::Deserialize;

use crate::error::PageError;
use crate::form::WebQuery;
use crate::page::{self, Problems, Section, EN_DASH};
use crate::session::Signed;
use crate::users::{full_name, presence_badge, verified_badge, WITH_DEVICES};
use crate::{chart, devices, WebState};

/// Users a page of the list shows.
const PAGE_SIZE: u32 = 20;
/// The highest page number the list takes: far beyond any account's users, and small
/// enough that its offset and its neighbours' numbers fit in 64 bits.
const LAST_PAGE: u64 = u32::MAX as u64;
/// How far back the presence chart looks.
pub(crate) const CHART_HOURS: i64 = 6;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

/// The home page: who is there, on which devices, and how the account's agents have been
/// doing; kept live by the page's script.
pub(crate) async fn list(
    State(state): State<WebState>,
    signed: Signed,
    WebQuery(query): WebQuery<ListQuery>,
) -> Result<Response, PageError> {
    let directory = &state.app.directory;
    // Read before the page's data: the stream starts after this event, so a change made
    // while the page is on its way is sent (at worst twice), never lost.
    let live_from = directory.event_bounds(&signed.account).await?.newest;
    // Any page number that is not a positive whole number is the first page; one past
    // LAST_PAGE is LAST_PAGE, so the pager's arithmetic cannot overflow.
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .map_or(1, |p| p.min(LAST_PAGE));
    let search = query.q.trim();
    let filter = UserFilter {
        search: (!search.is_empty()).then(|| search.to_owned()),
        ..UserFilter::default()
    };
    let offset = (page - 1).saturating_mul(u64::from(PAGE_SIZE));
    let (listed, problems) = match directory
        .list_users(&signed.account, filter, WITH_DEVICES, offset, PAGE_SIZE)
        .await
    {
        Ok(listed) => (Some(listed), Problems::default()),
        Err(ServiceError::Rule(rule)) => (None, Problems::general(page::describe(&rule))),
        Err(other) => return Err(other.into()),
    };
    let now = directory.clock().now();
    let presence = directory.presence(&signed.account).await?;
    let since = now - SignedDuration::from_hours(CHART_HOURS);
    let history = directory.presence_history(&signed.account, since).await?;

    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = html! {
        div class="heading-row" {
            h1 { "Users" }
            a href="/users/new" class="button primary" { "New user" }
        }
        p id="live-status" class="live" aria-live="polite" { "Not live: reload to see changes" }
        (summary(presence))
        form role="search" method="get" action="/" class="search" {
            div class={ "field" @if !problems.is_empty() { " invalid" } } {
                label for="q" { "Search" }
                p id="q-hint" class="hint" { "Part of a name, an email address or a number" }
                input id="q" name="q" type="search" value=(search) maxlength="100"
                    aria-describedby={ "q-hint" @if !problems.is_empty() { " q-error" } }
                    aria-invalid=[(!problems.is_empty()).then_some("true")];
                @if !problems.is_empty() {
                    div id="q-error" class="field-error" { (problems.summary()) }
                }
            }
            button type="submit" { "Search" }
            @if !search.is_empty() { a href="/" class="clear" { "Clear search" } }
        }
        div id="users-region" data-live-region data-live-from=(live_from) {
            @if let Some(listed) = &listed {
                (users_table(&listed.users, search, listed.total))
                (pager(search, page, listed.users.len(), listed.total))
            }
        }
        (chart::figure(&history, presence, now, signed.account.timezone.as_str()))
    };
    Ok(page::page_with_status(
        &signed,
        Section::Users,
        "Users",
        status,
        body,
    ))
}

/// The account's agents right now, in words.
fn summary(presence: Presence) -> Markup {
    html! {
        p id="presence-summary" class="summary" data-live-region {
            span class="presence available" { (presence.available) " available" }
            span class="presence busy" { (presence.busy) " busy" }
            span class="presence off" { (presence.off) " off" }
        }
    }
}

fn users_table(users: &[User], search: &str, total: u64) -> Markup {
    html! {
        @if users.is_empty() {
            p class="empty" {
                @if total > 0 { "This page is past the last one." }
                @else if search.is_empty() { "No users yet. " a href="/users/new" { "Create the first one" } " or " a href="/import" { "import a CSV file" } "." }
                @else { "No user matches \u{201c}" (search) "\u{201d}." }
            }
        } @else {
            table id="users" class="cards" {
                caption class="visually-hidden" { "Users, their devices and whether they can take calls" }
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Email" }
                        th scope="col" { "Devices" }
                        th scope="col" { "Now" }
                    }
                }
                tbody {
                    @for user in users {
                        tr data-user-id=(user.id.to_hex().as_str()) {
                            th scope="row" data-label="Name" {
                                a id={ "user-" (user.id.to_hex().as_str()) }
                                    href={ "/users/" (user.id.to_hex().as_str()) } { (full_name(user)) }
                                span class="role" { (user.role.as_str()) }
                            }
                            td data-label="Email" { (email_cell(user)) }
                            td data-label="Devices" { (device_list(user.devices.as_deref().unwrap_or_default())) }
                            td data-label="Now" { (presence_badge(user)) }
                        }
                    }
                }
            }
        }
    }
}

fn email_cell(user: &User) -> Markup {
    html! {
        @match &user.email {
            Some(email) => {
                span class="email" { (email.as_str()) }
                " "
                (verified_badge(user.email_verified))
            }
            None => span class="muted" { "no email" },
        }
    }
}

fn device_list(devices: &[Device]) -> Markup {
    html! {
        @if devices.is_empty() {
            span class="muted" { "no devices" }
        } @else {
            ul class="devices" {
                @for device in devices {
                    li data-device-id=(device.id.get()) {
                        span class="number" { (device.contact_uri.as_str()) }
                        " " (devices::on_off_badge(device))
                        " " (devices::busy_badge(device))
                        " " (verified_badge(device.verified))
                    }
                }
            }
        }
    }
}

fn pager(search: &str, page: u64, shown: usize, total: u64) -> Markup {
    let first = (page - 1) * u64::from(PAGE_SIZE) + 1;
    let last = first + shown as u64 - 1;
    let last_page = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let link = |to: u64| {
        let mut href = format!("/?page={to}");
        if !search.is_empty() {
            href.push_str("&q=");
            href.extend(percent_encoding::utf8_percent_encode(
                search,
                percent_encoding::NON_ALPHANUMERIC,
            ));
        }
        href
    };
    // The links have ids so that the page's script keeps focus on them across refreshes.
    html! {
        nav aria-label="Pages" class="pager" {
            @if shown > 0 {
                p { "Showing " (first) (EN_DASH) (last) " of " (total) }
            } @else if total > 0 {
                p { (page::count(total, "user", "users")) " in all." }
            }
            ul {
                @if shown == 0 && total > 0 {
                    li { a id="page-last" href=(link(last_page)) { "Last page" } }
                } @else if page > 1 {
                    li { a id="page-prev" href=(link(page - 1)) rel="prev" { "Previous page" } }
                }
                @if last < total {
                    li { a id="page-next" href=(link(page + 1)) rel="next" { "Next page" } }
                }
            }
        }
    }
}
