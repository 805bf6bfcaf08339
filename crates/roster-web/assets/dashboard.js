// Keeps a dashboard page live: listens to the account's event stream and, after a change,
// fetches the same page again and swaps in the parts marked data-live-region. Pages work
// without this script; it only saves the reload.
(function () {
  "use strict";
  // A page that answers a post (a refused form, a new key) names its own address: going
  // back to it means a reload reads the page instead of posting again, and the refresh
  // below fetches the page rather than the form's target.
  // At the same address too (a refused form posts to its own page): replacing the entry
  // is what turns the post into a plain visit, so the address is always put back.
  var canonical = document.querySelector("[data-canonical]");
  if (canonical && window.history && window.history.replaceState) {
    var own = canonical.getAttribute("data-canonical");
    if (own) {
      window.history.replaceState(null, "",
        own === window.location.pathname ? window.location.href : own);
    }
  }
  // Focus goes where the person's attention should: the first field the server refused,
  // else a problem it reported, else the place a form sent them back to (#fragment).
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  var landing = document.querySelector("main [aria-invalid='true']") ||
    document.querySelector("main [role='alert']") ||
    (window.location.hash && document.getElementById(window.location.hash.slice(1)));
  if (landing) {
    if (!landing.matches(FOCUSABLE)) {
      landing.setAttribute("tabindex", "-1");
    }
    landing.focus();
  }
  var status = document.getElementById("live-status");
  var regions = document.querySelectorAll("[data-live-region]");
  if (!window.EventSource || !window.fetch || regions.length === 0) {
    return;
  }
  var pending = null;
  var running = false;
  var again = false;

  function say(text) {
    if (status && status.textContent !== text) {
      status.textContent = text;
    }
  }

  // Puts focus back on the same control after a swap, so keyboard users keep their place:
  // the focused element's id, and the id of the live part it is in.
  function focusKey() {
    var active = document.activeElement;
    if (!active) {
      return null;
    }
    for (var i = 0; i < regions.length; i++) {
      if (regions[i].contains(active)) {
        return { id: active.id || regions[i].id, region: regions[i].id };
      }
    }
    return null;
  }

  function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    // Redirects are not followed: the one that says a session ended carries the sign-in
    // page's message, which a fetch following it would use up before the page is shown.
    fetch(window.location.href, { credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 404) {
          // The session ended (the sign-in page says why), or what this page showed is
          // gone: load this page for real, and the server shows which. Without its
          // #fragment, or the browser would only scroll within this stale page.
          window.location.assign(window.location.href.split("#")[0]);
          return null;
        }
        if (!response.ok) {
          throw new Error("refresh failed");
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var keep = focusKey();
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var replacement = region.id && fresh.getElementById(region.id);
          if (replacement) {
            replacement = document.importNode(replacement, true);
            // A table of figures the person opened stays open.
            region.querySelectorAll("details[id][open]").forEach(function (open) {
              var same = replacement.querySelector("#" + open.id);
              if (same) {
                same.open = true;
              }
            });
            region.replaceWith(replacement);
          }
        });
        regions = document.querySelectorAll("[data-live-region]");
        if (keep) {
          // The same control, else (it is gone: a last page's "Next page", a removed
          // device's button) the part it was in, never the top of the page.
          var target = document.getElementById(keep.id) || document.getElementById(keep.region);
          if (target) {
            if (!target.matches(FOCUSABLE)) {
              target.setAttribute("tabindex", "-1");
            }
            target.focus();
          }
        }
      })
      .catch(function () {
        say("Not live: reload to see changes");
      })
      .then(function () {
        running = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function changed() {
    // A burst of changes (an import, say) becomes one refresh.
    if (pending) {
      clearTimeout(pending);
    }
    pending = setTimeout(function () {
      pending = null;
      refresh();
    }, 150);
  }

  // The stream starts where the page was read, so nothing made in between is missed.
  var from = document.querySelector("[data-live-from]");
  var source = new EventSource("/live" + (from
    ? "?last_event_id=" + encodeURIComponent(from.getAttribute("data-live-from"))
    : ""));
  source.onopen = function () {
    say("Live");
  };
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (the stream answered with a page, not events): most likely
      // the session ended, which a refresh finds out and shows.
      say("Not live: reload to see changes");
      refresh();
      return;
    }
    say("Reconnecting\u2026");
  };
  [
    "user.created", "user.updated", "user.deleted",
    "device.created", "device.updated", "device.deleted", "stream.gap"
  ].forEach(function (type) {
    source.addEventListener(type, changed);
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
