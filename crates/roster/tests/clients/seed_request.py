#!/usr/bin/env python3
"""Fetches one user the way the seed page's Python example does, and checks the answer.

Usage: seed_request.py BASE_URL SID API_KEY API_TOKEN USER_ID

The credentials go into the URL (http://KEY:TOKEN@host:port/...), as Exotel's example
writes them, and the request is made with `requests.request` and an empty payload. On
success the response body is printed unchanged on stdout and the exit status is 0; any
mismatch is described on stderr and the exit status is 1 (2 for bad usage).
"""

import json
import re
import sys
from urllib.parse import urlsplit

import requests

ENVELOPE_KEYS = ["request_id", "method", "http_code", "response"]
RESPONSE_KEYS = ["code", "error_data", "status", "data"]
USER_KEYS = [
    "date_created",
    "date_updated",
    "email",
    "email_verified",
    "first_name",
    "id",
    "last_name",
    "role",
]
HEX32 = re.compile(r"[0-9a-f]{32}")
KOLKATA_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30")


def fail(message):
    print(f"seed_request.py: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    # Not `assert`: `python3 -O` would silently drop those checks.
    if not condition:
        fail(message)


def refuse_duplicate_keys(pairs):
    # A plain dict would keep only the last of two equal keys and hide the mistake;
    # dicts keep insertion order, so the key order survives for the checks below.
    keys = [key for key, _ in pairs]
    check(len(keys) == len(set(keys)), f"duplicate keys in an object: {keys}")
    return dict(pairs)


def main(argv):
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, sid, api_key, api_token, user_id = argv[1:]
    base = urlsplit(base_url)

    url = f"{base.scheme}://{api_key}:{api_token}@{base.netloc}/v2/accounts/{sid}/users/{user_id}"
    payload = {}
    headers = {}

    response = requests.request("GET", url, headers=headers, data=payload)

    check(response.status_code == 200, f"HTTP {response.status_code}: {response.text}")
    try:
        body = json.loads(response.text, object_pairs_hook=refuse_duplicate_keys)
    except ValueError as error:
        fail(f"the body is not JSON ({error}): {response.text!r}")

    check(list(body) == ENVELOPE_KEYS, f"envelope keys {list(body)}")
    check(HEX32.fullmatch(body["request_id"]) is not None, f"request_id {body['request_id']!r}")
    check(
        response.headers.get("X-Request-Id") == body["request_id"],
        "the X-Request-Id header differs from request_id",
    )
    check(body["method"] == "GET", f"method {body['method']!r}")
    check(body["http_code"] == 200, f"http_code {body['http_code']!r}")

    answer = body["response"]
    check(list(answer) == RESPONSE_KEYS, f"response keys {list(answer)}")
    check(answer["code"] == 200, f"response.code {answer['code']!r}")
    check(answer["error_data"] is None, f"error_data {answer['error_data']!r}")
    check(answer["status"] == "success", f"status {answer['status']!r}")

    user = answer["data"]
    check(list(user) == USER_KEYS, f"data keys {list(user)}")
    check(user["id"] == user_id, f"data.id {user['id']!r}")
    for stamp in ("date_created", "date_updated"):
        check(KOLKATA_TIME.fullmatch(user[stamp]) is not None, f"{stamp} {user[stamp]!r}")
    check(user["email_verified"] is False, f"email_verified {user['email_verified']!r}")
    check(user["role"] == "user", f"role {user['role']!r}")

    print(response.text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
