"""The scripts the update set installs on the instance, as text.

Server scripts (script includes, server UI actions, conditions, the fix script) run in the
instance's Rhino engine in the global scope, so they are ES5. Client scripts (client UI actions,
the UI page's client script, the UI script) run in the browser and may use ES2018. Every script
here passes ESLint with ``@admc.com/eslint-plugin-sn`` for its script type (tests/unit/servicenow/
test_script_lint.py), and the security checks are exercised by tests/unit/servicenow/
test_script_behaviour.py on a small fake of the Glide APIs.
"""

from __future__ import annotations

import json

PROPERTY_PREFIX = "x_bomgar"
PROPERTY_URL = f"{PROPERTY_PREFIX}.connector_url"
PROPERTY_TOKEN = f"{PROPERTY_PREFIX}.connector_token"
PROPERTY_SECRET = f"{PROPERTY_PREFIX}.signing_secret"
PROPERTY_LINK_TTL = f"{PROPERTY_PREFIX}.link_ttl_seconds"
# The role every Bomgar button requires (the UI actions' conditions and the Ajax checks).
AGENT_ROLE = "itil"

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
        try {{
            data = JSON.parse(text);
        }} catch (_dummy) {{
            data = {{error: {{message: text}}}};
        }}
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

    // True for a 32-hex sys_id (anything else never reaches a query).
    isSysId: function(value) {{
        return this.sysIdPattern.test(String(value || ''));
    }},

    sysIdPattern: /^[0-9a-f]{{32}}$/,

    // The record when the current user may read it, else null.
    readableRecord: function(table, sysId) {{
        if (!this.isSysId(sysId)) {{
            return null;
        }}
        var gr = new GlideRecord(table);
        if (!gr.isValid() || !gr.get(sysId) || !gr.canRead()) {{
            return null;
        }}
        return gr;
    }},

    // The ticket when it is a task record the current user may read, else null.
    readableTask: function(table, sysId) {{
        var gr = this.readableRecord(String(table || ''), sysId);
        if (!gr || !gr.instanceOf('task')) {{
            return null;
        }}
        return gr;
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

    // True when a link points under the configured https connector URL (never javascript:).
    isConnectorLink: function(link) {{
        return this.connectorUrlPattern.test(this.url) &&
            String(link).indexOf(this.url + '/') === 0;
    }},

    connectorUrlPattern: /^https:\\/\\/[^\\s"'<>\\\\]+$/,

    // The URL the x_bomgar_support page frames, built here from the ticket, or '' when the
    // current user is not the ticket's caller or may not read it.
    supportFrameUrl: function(table, sysId) {{
        var gr = this.readableTask(table, sysId);
        if (!gr || !gr.isValidField('caller_id') || gr.getValue('caller_id') !== gs.getUserID()) {{
            return '';
        }}
        var link = this.supportLink(gr.getTableName(), gr.getUniqueValue());
        return this.isConnectorLink(link) ? link : '';
    }},

    type: 'BomgarConnector'
}};
"""

AJAX_INCLUDE = f"""/* global BomgarConnector */
var BomgarConnectorAjax = Class.create();
BomgarConnectorAjax.prototype = Object.extendsObject(AbstractAjaxProcessor, {{
    // The role the Bomgar buttons require: checked here too, because any logged-in user can
    // call a client-callable script include directly.
    role: '{AGENT_ROLE}',

    sessionKey: function() {{
        var connector = new BomgarConnector();
        if (!gs.hasRole(this.role)) {{
            return this.refusal();
        }}
        var task = connector.readableTask(this.getParameter('sysparm_table'),
            this.getParameter('sysparm_sys_id'));
        if (!task) {{
            return this.refusal();
        }}
        var data = connector.sessionKey(task.getTableName(), task.getUniqueValue(),
            this.getParameter('sysparm_email') === 'true');
        return JSON.stringify(data);
    }},

    jump: function() {{
        var connector = new BomgarConnector();
        var body = {{}};
        if (!gs.hasRole(this.role)) {{
            return this.refusal();
        }}
        var ciId = this.getParameter('sysparm_ci');
        if (ciId) {{
            if (!connector.readableRecord('cmdb_ci', ciId)) {{
                return this.refusal();
            }}
            body.ci_sys_id = ciId;
        }}
        var sysId = this.getParameter('sysparm_sys_id');
        if (sysId) {{
            var task = connector.readableTask(this.getParameter('sysparm_table'), sysId);
            // The connector answers with the ticket's CI addresses: that CI must be readable too.
            if (!task || (task.getValue('cmdb_ci') &&
                    !connector.readableRecord('cmdb_ci', task.getValue('cmdb_ci')))) {{
                return this.refusal();
            }}
            body.table = task.getTableName();
            body.sys_id = task.getUniqueValue();
        }}
        if (!body.ci_sys_id && !body.sys_id) {{
            return this.refusal();
        }}
        return JSON.stringify(connector.jump(body));
    }},

    refusal: function() {{
        return JSON.stringify({{status: 403, error: {{
            message: 'You are not allowed to use Bomgar on this record (' + this.role +
                ' role and read access needed).'
        }}}});
    }},

    type: 'BomgarConnectorAjax'
}});
"""

SESSION_KEY_ACTION = """function bomgarSessionKey() {
    'use strict';
    const dialog = new GlideModal('x_bomgar_session_key');
    dialog.setTitle('Bomgar Session Key');
    dialog.setPreference('sysparm_table', g_form.getTableName());
    dialog.setPreference('sysparm_sys_id', g_form.getUniqueValue());
    dialog.render();
}
"""

SESSION_KEY_CONDITION = f"!current.isNewRecord() && gs.hasRole('{AGENT_ROLE}')"

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
    'use strict';
    const gm = GlideModal.get();
    const ga = new GlideAjax('BomgarConnectorAjax');
    ga.addParam('sysparm_name', 'sessionKey');
    ga.addParam('sysparm_table', gm.getPreference('sysparm_table'));
    ga.addParam('sysparm_sys_id', gm.getPreference('sysparm_sys_id'));
    ga.addParam('sysparm_email', email ? 'true' : 'false');
    ga.getXMLAnswer((answer) => {
        const data = JSON.parse(answer);
        if (data.error) {
            const target = email ? 'bomgar_email_status' : 'bomgar_key';
            gel(target).innerText = data.error.message;
            return;
        }
        gel('bomgar_key').innerText = `Session key: ${data.short_key}`;
        gel('bomgar_key_url').value = data.key_url;
        if (email) {
            gel('bomgar_email_status').innerText = 'Emailed to the caller.';
        }
    });
}
function bomgarEmail() {
    'use strict';
    bomgarRequest(true);
}
bomgarRequest(false);
"""

# The page frames only what BomgarConnector.supportFrameUrl builds on the server from the ticket;
# nothing from the request reaches the iframe but a table name and a sys_id it checks.
SUPPORT_NOW_ACTION = """action.setRedirectURL('x_bomgar_support.do?sysparm_table=' +
    encodeURIComponent(current.getTableName()) + '&sysparm_sys_id=' +
    encodeURIComponent(current.getUniqueValue()));
"""

SUPPORT_NOW_CONDITION = "!current.isNewRecord() && current.getValue('caller_id') === gs.getUserID()"

SUPPORT_FRAME_PAGE_HTML = """<?xml version="1.0" encoding="utf-8" ?>
<j:jelly trim="false" xmlns:j="jelly:core" xmlns:g="glide" xmlns:j2="null" xmlns:g2="null">
  <g:evaluate var="jvar_url" expression="new BomgarConnector().supportFrameUrl(
      RP.getParameterValue('sysparm_table'), RP.getParameterValue('sysparm_sys_id'))"/>
  <j:choose>
    <j:when test="${jvar_url != ''}">
      <iframe title="Get Support Now" src="${HTML:jvar_url}"
              style="width:100%;height:640px;border:0"></iframe>
    </j:when>
    <j:otherwise>
      <p role="alert">Get Support Now is only available to the ticket's caller.</p>
    </j:otherwise>
  </j:choose>
</j:jelly>
"""

JUMP_CLIENT_SCRIPT = """/* exported bomgarJump */
function bomgarJump(body) {
    'use strict';
    const ga = new GlideAjax('BomgarConnectorAjax');
    ga.addParam('sysparm_name', 'jump');
    Object.keys(body).forEach((k) => {
        ga.addParam(k, body[k]);
    });
    ga.getXMLAnswer((answer) => {
        const data = JSON.parse(answer);
        if (data.error) {
            g_form.addErrorMessage(data.error.message);
            return;
        }
        if (data.warning) {
            g_form.addInfoMessage(data.warning);
        }
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

JUMP_CI_ACTION = """/* global bomgarJump */
function bomgarJumpCi() {
    'use strict';
    bomgarJump({sysparm_ci: g_form.getUniqueValue()});
}
"""

JUMP_CI_CONDITION = f"gs.hasRole('{AGENT_ROLE}')"


def related_lists_fix_script(parents: tuple[str, ...], related: tuple[str, ...]) -> str:
    """Return the fix script that adds our related lists to each parent form, keeping theirs."""
    return f"""(function addBomgarRelatedLists() {{
    var parents = {json.dumps(list(parents))};
    var related = {json.dumps(list(related))};
    var source = 'Bomgar connector';

    // The form's related-list record for the default view, created only when none exists
    // (a form with no record shows no related lists at all, so nothing of theirs is lost).
    function listFor(table) {{
        var list = new GlideRecord('sys_ui_related_list');
        list.addQuery('name', table);
        list.addQuery('view', 'Default view');
        list.addQuery('sys_domain', 'global');
        list.query();
        if (list.next()) {{
            return list.getUniqueValue();
        }}
        list.initialize();
        list.setValue('name', table);
        list.setValue('view', 'Default view');
        list.setValue('sys_domain', 'global');
        return list.insert();
    }}

    function nextPosition(listId) {{
        var entry = new GlideRecord('sys_ui_related_list_entry');
        entry.addQuery('list_id', listId);
        entry.orderByDesc('position');
        entry.setLimit(1);
        entry.query();
        return entry.next() ? parseInt(entry.getValue('position'), 10) + 1 : 0;
    }}

    parents.forEach(function(table) {{
        var listId = listFor(table);
        if (!listId) {{
            gs.logError('Could not create the related-list record of ' + table, source);
            return;
        }}
        related.forEach(function(name) {{
            var entry = new GlideRecord('sys_ui_related_list_entry');
            entry.addQuery('list_id', listId);
            entry.addQuery('related_list', name);
            entry.query();
            if (entry.next()) {{
                gs.log(name + ' is already on the ' + table + ' form', source);
                return;
            }}
            entry.initialize();
            entry.setValue('list_id', listId);
            entry.setValue('related_list', name);
            entry.setValue('position', nextPosition(listId));
            if (entry.insert()) {{
                gs.log('Added ' + name + ' to the ' + table + ' form', source);
            }} else {{
                gs.logError('Could not add ' + name + ' to the ' + table + ' form', source);
            }}
        }});
    }});
}})();
"""
