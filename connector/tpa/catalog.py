"""Keep one catalog item per application, with the application's questions as its variables.

Through the Table API only (sc_cat_item, item_option_new, question_choice), so application
owners edit the application record and never the catalog or a workflow. Each item carries
``meta = 3pa:<application sys_id>`` (found again by it after a lost answer) and the instance's
business rule on requested items turns a submission into a u_3pa_access_request. Questions that
disappear are made inactive, not deleted, so past requests keep their answers' labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.errors import DataError, RemoteError
from connector.servicenow import query as q
from connector.tpa import policy
from connector.tpa.models import Application

log = logging.getLogger(__name__)

ITEMS = "sc_cat_item"
VARIABLES = "item_option_new"
CHOICES = "question_choice"


@dataclass
class SyncResult:
    """What one sync changed."""

    items_created: int = 0
    items_updated: int = 0
    variables_written: int = 0
    variables_retired: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Count every write."""
        return (
            self.items_created
            + self.items_updated
            + self.variables_written
            + self.variables_retired
        )


def _ref(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value or "")


def _differs(record: dict[str, Any], wanted: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in wanted.items() if str(_ref(record.get(k))) != v}


def item_fields(app: Application, category: str = "") -> dict[str, str]:
    """Return the catalog item an application should have."""
    fields = {
        "name": app.display_name[:100],
        "short_description": f"Request access to {app.display_name}"[:1000],
        "description": app.description,
        "active": "true" if app.active else "false",
        "picture": app.image,
        "meta": f"3pa:{app.sys_id}",
        "no_quantity": "true",
    }
    if category:
        fields["category"] = q.sys_id(category)
    return fields


def sync_catalog(records: Any, *, category: str = "") -> SyncResult:
    """Bring every application's catalog item and variables in line; errors go on the app."""
    result = SyncResult()
    for app in records.applications():
        try:
            questions = policy.parse_questions(app.questions)
        except DataError as exc:
            result.errors.append(f"{app.name}: {exc}")
            records.update_application(app.sys_id, {"u_sync_error": str(exc)[:1000]})
            continue
        item_id = _sync_item(records, app, category, result)
        _sync_variables(records, item_id, questions, result)
        if app.catalog_item != item_id:
            records.update_application(app.sys_id, {"u_catalog_item": item_id, "u_sync_error": ""})
    return result


def _sync_item(records: Any, app: Application, category: str, result: SyncResult) -> str:
    wanted = item_fields(app, category)
    item = records.get(ITEMS, app.catalog_item) if app.catalog_item else None
    if item is None:
        found = records.find(ITEMS, q.equals("meta", wanted["meta"]), limit=2)
        item = found[0] if found else None
    if item is None:
        created = records.create(ITEMS, wanted)
        result.items_created += 1
        return _ref(created.get("sys_id"))
    changed = _differs(item, wanted)
    if changed:
        records.update(ITEMS, _ref(item.get("sys_id")), changed)
        result.items_updated += 1
    return _ref(item.get("sys_id"))


def _sync_variables(
    records: Any, item_id: str, questions: list[policy.Question], result: SyncResult
) -> None:
    existing = {
        str(v.get("name")): v
        for v in records.find(VARIABLES, q.equals("cat_item", item_id, q.sys_id))
    }
    for n, question in enumerate(questions, 1):
        wanted = {
            "name": question.name,
            "question_text": question.label,
            "type": policy.QUESTION_TYPES[question.type],
            "mandatory": "true" if question.mandatory else "false",
            "active": "true",
            "order": str(n * 100),
            "cat_item": item_id,
        }
        current = existing.get(question.name)
        if current is None:
            current = records.create(VARIABLES, wanted)
            result.variables_written += 1
        else:
            changed = _differs(current, wanted)
            if changed:
                records.update(VARIABLES, _ref(current.get("sys_id")), changed)
                result.variables_written += 1
        if question.choices:
            _sync_choices(records, _ref(current.get("sys_id")), question.choices, result)
    for name, variable in existing.items():
        if name not in {qn.name for qn in questions} and str(variable.get("active")) == "true":
            records.update(VARIABLES, _ref(variable.get("sys_id")), {"active": "false"})
            result.variables_retired += 1


def _sync_choices(
    records: Any, variable_id: str, choices: tuple[str, ...], result: SyncResult
) -> None:
    existing = {
        str(c.get("value")): c
        for c in records.find(CHOICES, q.equals("question", variable_id, q.sys_id))
    }
    for n, text in enumerate(choices, 1):
        wanted = {
            "question": variable_id,
            "text": text,
            "value": text,
            "order": str(n * 100),
            "inactive": "false",
        }
        current = existing.get(text)
        if current is None:
            records.create(CHOICES, wanted)
            result.variables_written += 1
        elif _differs(current, wanted):
            records.update(CHOICES, _ref(current.get("sys_id")), _differs(current, wanted))
            result.variables_written += 1
    for value, choice in existing.items():
        if value not in choices and str(choice.get("inactive")) != "true":
            records.update(CHOICES, _ref(choice.get("sys_id")), {"inactive": "true"})
            result.variables_retired += 1


def sync_catalog_job(tpa: Any) -> None:
    """Run the sync from the scheduler; a failure is logged and the next run tries again."""
    try:
        result = sync_catalog(tpa.records, category=tpa.config.tpa.catalog.category)
    except (RemoteError, DataError) as exc:
        log.error("3PA catalog sync failed: %s", exc)
        return
    tpa.metrics.inc("connector_3pa_catalog_changes_total", result.changes)
    for error in result.errors:
        log.warning("3PA catalog sync: %s", error)
