"""Every script in the exported update set passes ESLint with the ServiceNow plugin for its type.

Needs Node and the packages of servicenow-lint/ (``npm ci`` there; .ci/run does it).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.unit.updateset.conftest import LINT_DIR, Item

SNLINT = LINT_DIR / "node_modules" / ".bin" / "snLint"

# Record classes the update set may hold, and their script fields with the plugin's script type
# ("table/alt"). A class missing here fails the test, so a new script field cannot go unlinted.
SCRIPT_FIELDS: dict[str, dict[str, str]] = {
    "sys_db_object": {},
    "sys_dictionary": {},
    "sys_documentation": {},
    "sys_choice_set": {},
    "sys_user_role": {},
    "sys_security_acl": {"script": "sys_security_acl/global"},
    "sys_security_acl_role": {},
    "sys_report": {},
    "sys_properties": {},
    "sys_rest_message": {},
    "sys_rest_message_fn": {},
    "sys_dictionary_override": {},
    "sys_ui_macro": {},
    "sys_script_fix": {"script": "sys_script_fix/global"},
    "sys_script": {"script": "sys_script/global", "condition": "sys_script.condition/global"},
    "sys_script_include": {"script": "sys_script_include/global"},
    "sys_ui_page": {
        "client_script": "sys_ui_page.client_script/all",
        "processing_script": "sys_ui_page.processing_script/global",
    },
    "sys_ui_script": {"script": "sys_ui_script/all"},
    "sys_ui_action": {
        "script": "sys_ui_action.script/{alt}",
        "condition": "sys_ui_action.condition/global",
    },
}


def scripts(items: list[Item]) -> dict[str, dict[str, str]]:
    """Return script type → {file name: code} for every non-empty script field."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for item in items:
        rec = item.record
        assert rec.tag in SCRIPT_FIELDS, f"{rec.tag} has no entry in SCRIPT_FIELDS"
        for fname, kind in SCRIPT_FIELDS[rec.tag].items():
            code = rec.findtext(fname) or ""
            if not code.strip():
                continue
            if "{alt}" in kind:
                client = rec.findtext("client") == "true"
                isolated = rec.findtext("isolate_script") == "true"
                kind = kind.format(alt=("iso" if isolated else "noniso") if client else "global")
            found[kind][f"{item.name}.{fname}.js"] = code
    return found


@pytest.mark.slow
def test_every_script_passes_eslint_for_its_type(items: list[Item], tmp_path: Path) -> None:
    """snLint finds no error and no warning in any script of the update set."""
    if shutil.which("node") is None or not SNLINT.exists():
        pytest.fail(f"run `npm ci` in {LINT_DIR} (needs Node and npm) before the tests")
    groups = scripts(items)
    # Every kind of script the update set ships is linted (a lost field would shrink this).
    assert set(groups) >= {
        "sys_script_include/global",
        "sys_script_fix/global",
        "sys_ui_page.client_script/all",
        "sys_ui_script/all",
        "sys_ui_action.script/iso",
        "sys_ui_action.script/global",
        "sys_ui_action.condition/global",
        "sys_script/global",  # 3PA's business rules
        "sys_script.condition/global",
    }
    reports = []
    for kind, files in sorted(groups.items()):
        table, alt = kind.split("/")
        folder = tmp_path / table / alt
        folder.mkdir(parents=True)
        for name, code in files.items():
            (folder / name).write_text(code, encoding="utf-8")
        # -c -r: the exit status counts errors and warnings alike.
        run = subprocess.run(
            [str(SNLINT), "-c", "-r", "-t", table, "-a", alt, *map(str, sorted(folder.iterdir()))],
            cwd=LINT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0:
            reports.append(f"== {kind}\n{run.stdout}{run.stderr}")
    assert not reports, "\n".join(reports)


@pytest.mark.slow
def test_the_lint_catches_a_broken_script(tmp_path: Path) -> None:
    """The same invocation fails on ES6 in a server script, so a pass above means something."""
    if shutil.which("node") is None or not SNLINT.exists():
        pytest.fail(f"run `npm ci` in {LINT_DIR} (needs Node and npm) before the tests")
    bad = tmp_path / "bad.js"
    bad.write_text("const x = () => gs.getUserID();\nx();\n", encoding="utf-8")
    run = subprocess.run(
        [str(SNLINT), "-c", "-r", "-t", "sys_script_include", "-a", "global", str(bad)],
        cwd=LINT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0, run.stdout
    assert "bad.js" in run.stdout


def test_script_fields_cover_every_record_class(items: list[Item]) -> None:
    """Every record class in the file has a decision about its script fields."""
    classes = {i.record.tag for i in items}
    assert classes <= set(SCRIPT_FIELDS), classes - set(SCRIPT_FIELDS)
    # The Jelly pages keep their logic in the (linted) script include.
    pages = {
        r.findtext("name"): r.findtext("html")
        for r in (i.record for i in items)
        if r.tag == "sys_ui_page"
    }
    assert "supportFrameUrl" in pages["x_bomgar_support"]
