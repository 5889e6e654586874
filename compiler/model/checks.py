"""Checks of single values that specs hold: e-mail addresses, image references, cron
schedules, time zones, host patterns. Each raises ValueError with what is wrong and what to
write instead (pydantic reports it with the file and field path)."""
from __future__ import annotations

import calendar
import re
import zoneinfo
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

# local@domain with a dotted domain; no spaces, quotes or consecutive dots.
EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")

# An image reference as the container runtimes parse it (grammar of
# github.com/distribution/reference, reference.go / regexp.go): optional registry host[:port],
# lower-case path components joined by '.', '_', '__' or dashes, optional :tag, optional @digest.
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
IMAGE_RE = re.compile(rf"^{_HOST}{_PATH}(?::[\w][\w.-]{{0,127}})?"
                      r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
MAX_IMAGE = 255  # what the runtimes accept for a whole reference


def check_email(value: str) -> str:
    if not EMAIL_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not an e-mail address (write e.g. mei@example.com)")
    return value


def check_image(value: str) -> str:
    if len(value) > MAX_IMAGE or not IMAGE_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not an image reference (write registry/path/name:tag, e.g. "
                         "registry.example.com/ml/train:1.4; no '..', spaces or upper-case path)")
    return value


Email = Annotated[str, AfterValidator(check_email), WithJsonSchema({"type": "string", "format": "email"})]
ImageRef = Annotated[str, AfterValidator(check_image),
                     WithJsonSchema({"type": "string", "pattern": IMAGE_RE.pattern, "maxLength": MAX_IMAGE})]


# -- cron: the five fields Kubernetes CronJobs take (robfig/cron's standard parser, which
# kube-controller-manager uses: k8s.io/kubernetes pkg/controller/cronjob/utils.go) --------------
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {3: [m.lower() for m in calendar.month_abbr[1:]], 4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _cron_number(text: str, index: int) -> int:
    names = _NAMES.get(index, [])
    if text.lower() in names:
        return names.index(text.lower()) + (1 if index == 3 else 0)
    if not text.isdigit() or len(text) > 2:
        raise ValueError(f"'{text}' is not a number")
    return int(text)


def _cron_values(field: str, index: int) -> set[int]:
    """The values one cron field allows (raises ValueError for a malformed or out-of-range field)."""
    name, low, high = _CRON_FIELDS[index]
    out: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = _cron_number(step_text, -1) if step_text else 1
        if step < 1:
            raise ValueError(f"step {step} in the {name} field")
        if span in ("*", "?"):
            first, last = low, high
        else:
            first_text, dash, last_text = span.partition("-")
            first = _cron_number(first_text, index)
            last = _cron_number(last_text, index) if dash else (high if step_text else first)
        if not low <= first <= last <= high:
            raise ValueError(f"'{item}' is outside the {name} range {low}-{high}")
        out.update(range(first, last + 1, step))
    return out


def check_cron(value: str) -> str:
    """A schedule that parses and that fires at least once (a day of month that never comes, such
    as 30 February, is refused)."""
    if value in _MACROS:
        return value
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"'{value}' is not a cron schedule (five fields, e.g. '0 6 * * 1-5')")
    try:
        days, months = _cron_values(fields[2], 2), _cron_values(fields[3], 3)
        for index in (0, 1, 4):
            _cron_values(fields[index], index)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a cron schedule: {exc}") from None
    if fields[4] in ("*", "?") and not any(day <= _MAX_DAYS[month - 1] for day in days for month in months):
        raise ValueError(f"'{value}' never fires: no month in it has those days")
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(value: str) -> str:
    """An IANA time zone name (looked up in the list, never opened as a path)."""
    if value not in _zones():
        raise ValueError(f"unknown time zone '{value}' (write an IANA name such as Europe/Berlin or UTC)")
    return value


TimeZone = Annotated[str, AfterValidator(check_time_zone)]


# -- host patterns: {user} and {tenant}, substituted as text, never str.format -------------
HOST_PLACEHOLDERS = ("{user}", "{tenant}")
_HOST_TEXT = re.compile(r"^[a-z0-9.*-]*$")


def check_host_pattern(value: str) -> str:
    rest = value
    for placeholder in HOST_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    if "{" in rest or "}" in rest:
        raise ValueError(f"'{value}' has a placeholder other than {{user}} and {{tenant}} (the only two there are)")
    if not _HOST_TEXT.fullmatch(rest):
        raise ValueError(f"'{value}' is not a host name pattern (lower-case letters, digits, '-', '.')")
    return value


def expand_host(pattern: str, user: str, tenant: str) -> str:
    """The host of one user's notebook: the placeholders replaced as plain text."""
    return pattern.replace("{user}", user).replace("{tenant}", tenant)


HostPattern = Annotated[str, AfterValidator(check_host_pattern)]
