"""Build the ServiceNow update set (unload XML) that installs the connector's ServiceNow side.

The file has the shape an instance writes for System Update Sets > Retrieved Update Sets >
Import Update Set from XML::

    <unload unload_date="…">
      <sys_remote_update_set action="INSERT_OR_UPDATE"> … </sys_remote_update_set>
      <sys_update_xml action="INSERT_OR_UPDATE">
        <name>sys_ui_action_<sys_id></name> <type>UI Action</type> …
        <payload>&lt;?xml …?&gt;&lt;record_update table="sys_ui_action"&gt;…</payload>
        <remote_update_set display_value="…">…</remote_update_set>
      </sys_update_xml>
      …
    </unload>

Each payload is the XML of one record (``<record_update table="T"><T action="INSERT_OR_UPDATE">``
with one element per field), escaped as text. Sys_ids are derived from stable names so a
re-export updates the same records on the instance instead of adding copies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

SCOPE_PREFIX = "x_bomgar"
UPDATE_SET_NAME = "Bomgar Remote Support connector"
PROPERTY_URL = f"{SCOPE_PREFIX}.connector_url"
PROPERTY_TOKEN = f"{SCOPE_PREFIX}.connector_token"
PROPERTY_SECRET = f"{SCOPE_PREFIX}.signing_secret"
PROPERTY_LINK_TTL = f"{SCOPE_PREFIX}.link_ttl_seconds"


def stable_id(*parts: str) -> str:
    """Return a 32-hex sys_id derived from names (same input, same id, on every export)."""
    return hashlib.md5("/".join(("bomgar-connector", *parts)).encode()).hexdigest()  # noqa: S324


@dataclass(frozen=True)
class Column:
    """One column of a table the update set creates."""

    name: str
    label: str
    type: str  # ServiceNow internal_type: string, integer, glide_date_time, reference, choice
    max_length: int = 40
    reference: str = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Table:
    """A table the update set creates, with the related list it adds to task forms."""

    name: str
    label: str
    columns: tuple[Column, ...]
    task_field: str = "u_task"
    extra: dict[str, str] = field(default_factory=dict)


TABLES: tuple[Table, ...] = (
    Table(
        "u_bomgar_session",
        "Bomgar Session",
        (
            Column("u_lsid", "LSID", "string", 64),
            Column("u_task", "Task", "reference", 32, "task"),
            Column("u_start_time", "Start time", "glide_date_time"),
            Column("u_end_time", "End time", "glide_date_time"),
            Column("u_duration", "Duration", "integer"),
            Column("u_primary_rep", "Primary rep", "reference", 32, "sys_user"),
            Column("u_rep_name", "Rep name", "string", 100),
            Column("u_customer_name", "Customer name", "string", 100),
            Column("u_customer_hostname", "Customer hostname", "string", 255),
            Column("u_customer_os", "Customer OS", "string", 255),
            Column("u_customer_public_ip", "Customer public IP", "string", 64),
            Column("u_customer_private_ip", "Customer private IP", "string", 64),
            Column("u_public_site", "Public site", "string", 100),
            Column("u_appliance_id", "Appliance ID", "string", 64),
            Column("u_chat_transcript", "Chat transcript", "string", 4000),
            Column("u_system_info", "System info", "string", 4000),
            Column("u_file_transfer_count", "File transfer count", "integer"),
            Column("u_chat_url", "Chat URL", "string", 1024),
            Column("u_recording_url", "Recording URL", "string", 1024),
        ),
    ),
    Table(
        "u_bomgar_survey_response",
        "Bomgar Survey Response",
        (
            Column("u_session", "Session", "reference", 32, "u_bomgar_session"),
            Column("u_task", "Task", "reference", 32, "task"),
            Column("u_lsid", "LSID", "string", 64),
            Column(
                "u_survey_type",
                "Survey type",
                "choice",
                40,
                choices=(("customer", "Customer"), ("representative", "Representative")),
            ),
            Column("u_question", "Question", "string", 255),
            Column("u_question_label", "Question label", "string", 255),
            Column("u_answer", "Answer", "string", 4000),
            Column("u_submitted_by", "Submitted by", "string", 100),
        ),
    ),
)

# -- scripts run on the instance ------------------------------------------------------------

SCRIPT_INCLUDE = f"""var BomgarConnector = Class.create();
BomgarConnector.prototype = {{
    initialize: function() {{
        this.url = gs.getProperty('{PROPERTY_URL}', '').replace(/\\/+$/, '');
        this.token = gs.getProperty('{PROPERTY_TOKEN}', '');
    }},

    // POST a JSON body to the connector through the "Bomgar Connector" REST message.
    call: function(path, body) {{
        var r = new sn_ws.RESTMessageV2('Bomgar Connector', 'post');
        r.setEndpoint(this.url + path);
        r.setRequestHeader('Authorization', 'Bearer ' + this.token);
        r.setRequestHeader('Content-Type', 'application/json');
        r.setRequestHeader('Accept', 'application/json');
        r.setRequestBody(JSON.stringify(body));
        r.setHttpTimeout(30000);
        var response = r.execute();
        var text = response.getBody() || '{{}}';
        var data;
        try {{ data = JSON.parse(text); }} catch (e) {{ data = {{error: {{message: text}}}}; }}
        data.status = response.getStatusCode();
        return data;
    }},

    sessionKey: function(table, sysId, emailCaller) {{
        return this.call('/api/v1/session-keys', {{
            table: table, sys_id: sysId, requested_by: gs.getUserID(),
            email_caller: emailCaller === true
        }});
    }},

    jump: function(body) {{
        return this.call('/api/v1/jump', body);
    }},

    // The signed Get Support Now link: see docs/servicenow-setup.md "Signed links".
    supportLink: function(table, sysId) {{
        var secret = gs.getProperty('{PROPERTY_SECRET}', '');
        var ttl = parseInt(gs.getProperty('{PROPERTY_LINK_TTL}', '600'), 10);
        var user = gs.getUserID();
        var expires = Math.floor(new Date().getTime() / 1000) + ttl;
        var message = table + '\\n' + sysId + '\\n' + user + '\\n' + expires;
        var key = GlideStringUtil.base64Encode(secret);
        var sig = new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', message);
        return this.url + '/support/' + table + '/' + sysId + '?user=' + user +
            '&expires=' + expires + '&sig=' + encodeURIComponent(sig);
    }},

    type: 'BomgarConnector'
}};
"""

AJAX_INCLUDE = """var BomgarConnectorAjax = Class.create();
BomgarConnectorAjax.prototype = Object.extendsObject(AbstractAjaxProcessor, {
    sessionKey: function() {
        var data = new BomgarConnector().sessionKey(this.getParameter('sysparm_table'),
            this.getParameter('sysparm_sys_id'), this.getParameter('sysparm_email') == 'true');
        return JSON.stringify(data);
    },
    jump: function() {
        var body = {};
        if (this.getParameter('sysparm_ci'))
            body.ci_sys_id = this.getParameter('sysparm_ci');
        if (this.getParameter('sysparm_sys_id')) {
            body.table = this.getParameter('sysparm_table');
            body.sys_id = this.getParameter('sysparm_sys_id');
        }
        return JSON.stringify(new BomgarConnector().jump(body));
    },
    type: 'BomgarConnectorAjax'
});
"""

SESSION_KEY_ACTION = """function bomgarSessionKey() {
    var dialog = new GlideModal('x_bomgar_session_key');
    dialog.setTitle('Bomgar Session Key');
    dialog.setPreference('sysparm_table', g_form.getTableName());
    dialog.setPreference('sysparm_sys_id', g_form.getUniqueValue());
    dialog.render();
}
"""

SESSION_KEY_PAGE_HTML = """<?xml version="1.0" encoding="utf-8" ?>
<j:jelly trim="false" xmlns:j="jelly:core" xmlns:g="glide" xmlns:j2="null" xmlns:g2="null">
  <div id="bomgar_key" role="status" aria-live="polite">Requesting a session key…</div>
  <p><label for="bomgar_key_url">Link for the caller</label>
     <input id="bomgar_key_url" class="form-control" readonly="readonly"/></p>
  <button id="bomgar_email" class="btn btn-primary" onclick="bomgarEmail()">
    Click to email link to caller</button>
  <p id="bomgar_email_status" role="status" aria-live="polite"></p>
</j:jelly>
"""

SESSION_KEY_PAGE_CLIENT = """function bomgarRequest(email) {
    var gm = GlideModal.get();
    var ga = new GlideAjax('BomgarConnectorAjax');
    ga.addParam('sysparm_name', 'sessionKey');
    ga.addParam('sysparm_table', gm.getPreference('sysparm_table'));
    ga.addParam('sysparm_sys_id', gm.getPreference('sysparm_sys_id'));
    ga.addParam('sysparm_email', email ? 'true' : 'false');
    ga.getXMLAnswer(function(answer) {
        var data = JSON.parse(answer);
        if (data.error) {
            var target = email ? 'bomgar_email_status' : 'bomgar_key';
            gel(target).innerText = data.error.message;
            return;
        }
        gel('bomgar_key').innerText = 'Session key: ' + data.short_key;
        gel('bomgar_key_url').value = data.key_url;
        if (email) gel('bomgar_email_status').innerText = 'Emailed to the caller.';
    });
}
function bomgarEmail() { bomgarRequest(true); }
bomgarRequest(false);
"""

SUPPORT_NOW_ACTION = """var link = new BomgarConnector().supportLink(current.getTableName(),
    current.getUniqueValue());
action.setRedirectURL('x_bomgar_support.do?sysparm_url=' + encodeURIComponent(link));
"""

SUPPORT_FRAME_PAGE_HTML = """<?xml version="1.0" encoding="utf-8" ?>
<j:jelly trim="false" xmlns:j="jelly:core" xmlns:g="glide" xmlns:j2="null" xmlns:g2="null">
  <g:evaluate var="jvar_url" expression="RP.getParameterValue('sysparm_url')"/>
  <iframe title="Get Support Now" src="${jvar_url}"
          style="width:100%;height:640px;border:0"></iframe>
</j:jelly>
"""

JUMP_CLIENT_SCRIPT = """function bomgarJump(body) {
    var ga = new GlideAjax('BomgarConnectorAjax');
    ga.addParam('sysparm_name', 'jump');
    for (var k in body) ga.addParam(k, body[k]);
    ga.getXMLAnswer(function(answer) {
        var data = JSON.parse(answer);
        if (data.error) { g_form.addErrorMessage(data.error.message); return; }
        if (data.warning) g_form.addInfoMessage(data.warning);
        window.location.href = data.url;
    });
}
"""

JUMP_MACRO = """<?xml version="1.0" encoding="utf-8" ?>
<j:jelly trim="false" xmlns:j="jelly:core" xmlns:g="glide" xmlns:j2="null" xmlns:g2="null">
  <a id="bomgar_jump_${ref}" class="btn btn-default icon-connect" tabindex="0"
     title="Jump to this configuration item with Bomgar" aria-label="Jump to configuration item"
     onclick="bomgarJump({sysparm_table: g_form.getTableName(),
                          sysparm_sys_id: g_form.getUniqueValue()})">
    <span class="sr-only">Jump</span>
  </a>
</j:jelly>
"""

JUMP_CI_ACTION = """function bomgarJumpCi() {
    bomgarJump({sysparm_ci: g_form.getUniqueValue()});
}
"""


def _records() -> list[tuple[str, str, dict[str, str], str]]:
    """Return (table, sys_id, fields, display name) for every record of the update set."""
    out: list[tuple[str, str, dict[str, str], str]] = []

    def add(table: str, key: str, fields: dict[str, str], name: str) -> None:
        out.append((table, stable_id(table, key), fields, name))

    for t in TABLES:
        add(
            "sys_db_object",
            t.name,
            {
                "name": t.name,
                "label": t.label,
                "super_class": "",
                "is_extendable": "false",
                "create_access_controls": "true",
                "sys_class_name": "sys_db_object",
            },
            t.label,
        )
        add(
            "sys_dictionary",
            t.name,
            {
                "name": t.name,
                "element": "",
                "internal_type": "collection",
                "column_label": t.label,
                "active": "true",
            },
            f"{t.name} collection",
        )
        for c in t.columns:
            add(
                "sys_dictionary",
                f"{t.name}.{c.name}",
                {
                    "name": t.name,
                    "element": c.name,
                    "column_label": c.label,
                    "internal_type": c.type,
                    "max_length": str(c.max_length),
                    "reference": c.reference,
                    "choice": "1" if c.choices else "0",
                    "active": "true",
                },
                f"{t.name}.{c.name}",
            )
            for order, (value, label) in enumerate(c.choices):
                add(
                    "sys_choice",
                    f"{t.name}.{c.name}.{value}",
                    {
                        "name": t.name,
                        "element": c.name,
                        "value": value,
                        "label": label,
                        "language": "en",
                        "sequence": str(order * 100),
                    },
                    f"{t.name}.{c.name}={value}",
                )
        # Related list on every task form: "<table>.<reference field>".
        related = f"{t.name}.{t.task_field}"
        add(
            "sys_ui_related_list",
            f"incident.{related}",
            {"name": "incident", "view": "Default view", "list_id": related},
            f"{related} on incident",
        )
        add(
            "sys_ui_related_list_entry",
            f"incident.{related}.entry",
            {
                "list_id": stable_id("sys_ui_related_list", f"incident.{related}"),
                "related_list": related,
                "position": "90" if t.name == "u_bomgar_session" else "91",
            },
            f"{related} entry",
        )

    props = (
        (
            PROPERTY_URL,
            "string",
            "",
            "Base URL of the Bomgar connector, e.g. https://connector.example.com",
        ),
        (PROPERTY_TOKEN, "password2", "", "Bearer token the connector accepts (one of api.tokens)"),
        (
            PROPERTY_SECRET,
            "password2",
            "",
            "Shared secret for Get Support Now links (support.signing_secret)",
        ),
        (PROPERTY_LINK_TTL, "integer", "600", "Seconds a Get Support Now link stays valid"),
    )
    for name, kind, value, description in props:
        add(
            "sys_properties",
            name,
            {"name": name, "type": kind, "value": value, "description": description},
            name,
        )
    add(
        "sys_rest_message",
        "Bomgar Connector",
        {
            "name": "Bomgar Connector",
            "rest_endpoint": "${" + PROPERTY_URL + "}",
            "description": "Calls the Bomgar connector; the endpoint comes from " + PROPERTY_URL,
            "authentication_type": "no_authentication",
        },
        "Bomgar Connector",
    )
    add(
        "sys_rest_message_fn",
        "Bomgar Connector.post",
        {
            "rest_message": stable_id("sys_rest_message", "Bomgar Connector"),
            "function_name": "post",
            "http_method": "post",
            "rest_endpoint": "${" + PROPERTY_URL + "}",
        },
        "Bomgar Connector post",
    )
    add(
        "sys_script_include",
        "BomgarConnector",
        {
            "name": "BomgarConnector",
            "api_name": "global.BomgarConnector",
            "client_callable": "false",
            "active": "true",
            "script": SCRIPT_INCLUDE,
        },
        "BomgarConnector",
    )
    add(
        "sys_script_include",
        "BomgarConnectorAjax",
        {
            "name": "BomgarConnectorAjax",
            "api_name": "global.BomgarConnectorAjax",
            "client_callable": "true",
            "active": "true",
            "script": AJAX_INCLUDE,
        },
        "BomgarConnectorAjax",
    )
    add(
        "sys_ui_action",
        "incident.Bomgar Session Key",
        {
            "name": "Bomgar Session Key",
            "table": "incident",
            "action_name": "bomgar_session_key",
            "client": "true",
            "onclick": "bomgarSessionKey()",
            "form_button": "true",
            "active": "true",
            "condition": "!current.isNewRecord() && gs.hasRole('itil')",
            "script": SESSION_KEY_ACTION,
        },
        "Bomgar Session Key",
    )
    add(
        "sys_ui_page",
        "x_bomgar_session_key",
        {
            "name": "x_bomgar_session_key",
            "description": "Popup of the Bomgar Session Key button",
            "html": SESSION_KEY_PAGE_HTML,
            "client_script": SESSION_KEY_PAGE_CLIENT,
        },
        "x_bomgar_session_key",
    )
    add(
        "sys_ui_action",
        "incident.Get Support Now",
        {
            "name": "Get Support Now",
            "table": "incident",
            "action_name": "bomgar_get_support_now",
            "client": "false",
            "form_button": "true",
            "active": "true",
            "condition": "!current.isNewRecord() && current.caller_id == gs.getUserID()",
            "script": SUPPORT_NOW_ACTION,
        },
        "Get Support Now",
    )
    add(
        "sys_ui_page",
        "x_bomgar_support",
        {
            "name": "x_bomgar_support",
            "description": "Frames the connector's Get Support Now page",
            "html": SUPPORT_FRAME_PAGE_HTML,
            "client_script": "",
        },
        "x_bomgar_support",
    )
    add(
        "sys_ui_script",
        "bomgar_jump",
        {"name": "bomgar_jump", "global": "true", "active": "true", "script": JUMP_CLIENT_SCRIPT},
        "bomgar_jump",
    )
    add(
        "sys_ui_macro",
        "bomgar_jump",
        {
            "name": "bomgar_jump",
            "description": "Jump button beside a configuration item reference field",
            "active": "true",
            "xml": JUMP_MACRO,
        },
        "bomgar_jump",
    )
    add(
        "sys_dictionary_override",
        "incident.cmdb_ci.ref_contributions",
        {
            "name": "incident",
            "element": "cmdb_ci",
            "base_table": "task",
            "attributes_override": "true",
            "attributes": "ref_contributions=bomgar_jump",
        },
        "incident.cmdb_ci attributes",
    )
    add(
        "sys_ui_action",
        "cmdb_ci.Bomgar Jump",
        {
            "name": "Bomgar Jump",
            "table": "cmdb_ci",
            "action_name": "bomgar_jump_ci",
            "client": "true",
            "onclick": "bomgarJumpCi()",
            "form_button": "true",
            "active": "true",
            "script": JUMP_CI_ACTION,
        },
        "Bomgar Jump",
    )
    return out


_TYPE_LABELS = {
    "sys_db_object": "Table",
    "sys_dictionary": "Dictionary",
    "sys_choice": "Choice",
    "sys_ui_related_list": "Related List",
    "sys_ui_related_list_entry": "Related List Entry",
    "sys_properties": "System Property",
    "sys_rest_message": "REST Message",
    "sys_rest_message_fn": "HTTP Method",
    "sys_script_include": "Script Include",
    "sys_ui_action": "UI Action",
    "sys_ui_page": "UI Page",
    "sys_ui_script": "UI Script",
    "sys_ui_macro": "UI Macro",
    "sys_dictionary_override": "Dictionary Override",
}


def record_xml(table: str, sys_id: str, fields: dict[str, str]) -> str:
    """Return one record as the ``record_update`` XML a sys_update_xml payload holds."""
    root = ET.Element("record_update", {"table": table})
    rec = ET.SubElement(root, table, {"action": "INSERT_OR_UPDATE"})
    for name, value in {**fields, "sys_id": sys_id}.items():
        ET.SubElement(rec, name).text = value
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def build_update_set(now: datetime | None = None) -> bytes:
    """Return the complete update set as unload XML bytes (UTF-8)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    set_id = stable_id("sys_remote_update_set", UPDATE_SET_NAME)
    root = ET.Element("unload", {"unload_date": stamp})
    remote = ET.SubElement(root, "sys_remote_update_set", {"action": "INSERT_OR_UPDATE"})
    for name, value in {
        "name": UPDATE_SET_NAME,
        "description": "Tables, buttons, properties and REST message of the Bomgar connector.",
        "application": "global",
        "application_name": "Global",
        "application_scope": "global",
        "state": "loaded",
        "release_date": "",
        "sys_id": set_id,
    }.items():
        ET.SubElement(remote, name).text = value
    for table, sys_id, fields, display in _records():
        item = ET.SubElement(root, "sys_update_xml", {"action": "INSERT_OR_UPDATE"})
        for name, value in {
            "action": "INSERT_OR_UPDATE",
            "application": "global",
            "category": "customer",
            "name": f"{table}_{sys_id}",
            "payload": record_xml(table, sys_id, fields),
            "remote_update_set": set_id,
            "replace_on_upgrade": "false",
            "sys_id": stable_id("sys_update_xml", table, sys_id),
            "table": fields.get("name", "") if table == "sys_dictionary" else "",
            "target_name": display,
            "type": _TYPE_LABELS[table],
            "update_domain": "global",
            "update_set": "",
        }.items():
            el = ET.SubElement(item, name)
            el.text = value
            if name == "remote_update_set":
                el.set("display_value", UPDATE_SET_NAME)
    ET.indent(root)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(root, encoding="utf-8").split(b"?>", 1)[-1].lstrip()
        + b"\n"
    )
