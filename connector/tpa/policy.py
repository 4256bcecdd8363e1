"""Pure 3PA rules: who may request, who is pre-approved, registration questions, profile values.

No I/O: records in, decisions out, so every rule is tested without a server.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from connector.errors import DataError
from connector.tpa.models import AccessRequest, Application, Invitation

# A practical address check (RFC 5322 allows more, directories and SAP accept less).
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}")
_DOMAIN_RULE = re.compile(r"(\*\.)?([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}")
_QUESTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class RequestProblem(DataError):
    """Raise when a request cannot be applied as asked: the text goes onto the request."""


def email_domain(email: str) -> str:
    """Return the lower-case domain of a valid e-mail address, or raise RequestProblem."""
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email):
        raise RequestProblem(f"the e-mail address {email[:80]!r} is not valid")
    return email.rsplit("@", 1)[1].lower()


def domain_matches(domain: str, rules: list[str]) -> str | None:
    """Return the rule a domain matches: ``example.com`` exactly, ``*.example.com`` below it."""
    domain = domain.lower()
    for rule in rules:
        rule = rule.strip().lower()
        if not _DOMAIN_RULE.fullmatch(rule):
            continue  # a malformed rule matches nothing rather than everything
        if rule.startswith("*."):
            if domain.endswith(rule[1:]):
                return rule
        elif domain == rule:
            return rule
    return None


@dataclass(frozen=True)
class Decision:
    """What happens to a new request."""

    action: str  # "reject" | "preapprove" | "await_approval"
    reason: str


def decide(
    request: AccessRequest,
    application: Application,
    invitation: Invitation | None = None,
    *,
    now: datetime | None = None,
) -> Decision:
    """Decide a submitted request: outside the allowed domains, pre-approved, or for a person."""
    domain = email_domain(request.email)
    if not application.active:
        raise RequestProblem(f"the application {application.name!r} is not active")
    if application.allowed_domains and not domain_matches(domain, application.allowed_domains):
        return Decision(
            "reject",
            f"the e-mail domain {domain} is not allowed for {application.display_name}"
            f" (allowed: {', '.join(application.allowed_domains)})",
        )
    if invitation is not None and _invitation_valid(invitation, request, application, now):
        return Decision(
            "preapprove", f"invited: invitation {invitation.sys_id} for {request.email}"
        )
    rule = domain_matches(domain, application.preapproved_domains)
    if rule:
        return Decision("preapprove", f"pre-approved: the e-mail domain {domain} matches {rule}")
    return Decision("await_approval", f"waits for the approvers of {application.display_name}")


def _invitation_valid(
    invitation: Invitation, request: AccessRequest, application: Application, now: datetime | None
) -> bool:
    if invitation.application != application.sys_id or invitation.state != "sent":
        return False
    if invitation.email.lower() != request.email.lower():
        return False
    return not (invitation.expires_at and now and invitation.expires_at < now)


def check_allowed(request: AccessRequest, application: Application) -> None:
    """Raise RequestProblem when an approved request may still not be applied."""
    domain = email_domain(request.email)
    if not application.active:
        raise RequestProblem(f"the application {application.name!r} is not active")
    if application.allowed_domains and not domain_matches(domain, application.allowed_domains):
        raise RequestProblem(
            f"the e-mail domain {domain} is not allowed for {application.display_name}"
        )


# -- registration questions -------------------------------------------------------------------

# Question types → item_option_new.type on the instance.
QUESTION_TYPES = {
    "yes_no": "1",
    "multi_line": "2",
    "select": "5",
    "text": "6",
    "date": "9",
}


@dataclass(frozen=True)
class Question:
    """One registration question, a variable of the application's catalog item."""

    name: str
    label: str
    type: str = "text"
    mandatory: bool = False
    choices: tuple[str, ...] = ()


def parse_questions(text: str) -> list[Question]:
    """Read an application's questions: ``name | label | type | required | choice, choice``.

    One question a line; type (default text) is one of QUESTION_TYPES; ``required`` or
    ``optional``; choices only for ``select``. Lines starting with ``#`` are comments.
    """
    out: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or len(parts) > 5:
            raise DataError(
                f"question line {number}: expected 'name | label | type | required | choices',"
                f" found {line[:80]!r}"
            )
        name, label = parts[0], parts[1]
        kind = parts[2] if len(parts) > 2 and parts[2] else "text"
        need = parts[3].lower() if len(parts) > 3 and parts[3] else "optional"
        choices = (
            tuple(c.strip() for c in parts[4].split(",") if c.strip()) if len(parts) > 4 else ()
        )
        if not _QUESTION_NAME.fullmatch(name):
            raise DataError(
                f"question line {number}: the name must be lower-case letters, digits and _"
                f" (at most 40), found {name[:60]!r}"
            )
        if name in seen:
            raise DataError(f"question line {number}: the name {name!r} is used twice")
        if not label or len(label) > 255:
            raise DataError(f"question line {number}: expected a label of 1 to 255 characters")
        if kind not in QUESTION_TYPES:
            raise DataError(
                f"question line {number}: expected a type of {', '.join(QUESTION_TYPES)},"
                f" found {kind[:40]!r}"
            )
        if need not in ("required", "optional"):
            raise DataError(f"question line {number}: expected required or optional")
        if (kind == "select") != bool(choices):
            raise DataError(f"question line {number}: choices are needed by select, and only by it")
        seen.add(name)
        out.append(Question(name, label, kind, need == "required", choices))
    return out


def check_answers(questions: list[Question], answers: dict[str, str]) -> None:
    """Raise RequestProblem when a required question is unanswered or a choice is unknown."""
    for q in questions:
        value = answers.get(q.name, "").strip()
        if q.mandatory and not value:
            raise RequestProblem(f"the required question {q.label!r} has no answer")
        if value and q.choices and value not in q.choices:
            raise RequestProblem(f"{q.label!r}: {value[:60]!r} is not one of the choices")


# -- profile values and passwords --------------------------------------------------------------


def clean_value(name: str, value: str, max_length: int = 256) -> str:
    """Check one profile value: text without control characters, at most ``max_length``."""
    if not isinstance(value, str):
        raise RequestProblem(f"{name}: expected text")
    value = value.strip()
    if len(value) > max_length:
        raise RequestProblem(f"{name}: at most {max_length} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in value):
        raise RequestProblem(f"{name}: control characters are not allowed")
    return value


def check_profile_changes(changes: dict[str, str], allowed: dict[str, str]) -> dict[str, str]:
    """Map requested field changes to directory attributes; refuse fields users may not change."""
    if not changes:
        raise RequestProblem("the profile change names no field")
    out: dict[str, str] = {}
    for name, value in changes.items():
        attribute = allowed.get(name)
        if attribute is None:
            raise RequestProblem(
                f"the field {name[:40]!r} cannot be changed (allowed: {', '.join(sorted(allowed))})"
            )
        out[attribute] = clean_value(name, value)
    return out


def check_password(password: object, min_length: int) -> str:
    """Refuse a password that is not text, too short or too long; never echo it."""
    if not isinstance(password, str):
        raise RequestProblem("new_password: expected a string")
    if len(password) < min_length:
        raise RequestProblem(f"new_password: at least {min_length} characters")
    if len(password) > 256:
        raise RequestProblem("new_password: at most 256 characters")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise RequestProblem("new_password: control characters are not allowed")
    return password
