"""3PA's server scripts on the instance: the business rules that call the connector in real time
and turn a catalog submission into an access request (ES5, linted like the other scripts)."""

from __future__ import annotations

# Calls the connector when a request needs it (new, approved, to remove); async, so the
# requester's transaction never waits for the directory.
REQUEST_RULE = """/* global BomgarConnector */
(function executeRule(current, previous /*null when async*/) {
    var sysId = current.getUniqueValue();
    var result = new BomgarConnector().call('/api/v1/3pa/requests/' + sysId, {});
    if (result.status >= 400) {
        gs.logWarning('the connector answered ' + result.status + ' for request ' + sysId, '3PA');
    }
})(current, previous);
"""
REQUEST_RULE_CONDITION = (
    "['submitted', 'approved', 'removal_requested'].indexOf(String(current.u_state)) >= 0"
)

CHANGE_RULE = """/* global BomgarConnector */
(function executeRule(current, previous /*null when async*/) {
    var sysId = current.getUniqueValue();
    var result = new BomgarConnector().call('/api/v1/3pa/profile-changes/' + sysId, {});
    if (result.status >= 400) {
        gs.logWarning('the connector answered ' + result.status + ' for change ' + sysId, '3PA');
    }
})(current, previous);
"""
CHANGE_RULE_CONDITION = "String(current.u_state) === 'submitted'"

# A requested item of an application's catalog item (meta "3pa:<application sys_id>", kept by
# `connector 3pa sync-catalog`) becomes a u_3pa_access_request holding the variables' answers.
CATALOG_RULE = """(function executeRule(current, previous /*null when async*/) {
    var meta = String(current.cat_item.meta || '');
    var application = meta.indexOf('3pa:') === 0 ? meta.substring(4) : '';
    if (!/^[0-9a-f]{32}$/.test(application)) {
        return;
    }
    var answers = {};
    for (var name in current.variables) {
        if (Object.prototype.hasOwnProperty.call(current.variables, name)) {
            answers[name] = String(current.variables[name]);
        }
    }
    var user = current.requested_for.getRefRecord();
    var request = new GlideRecord('u_3pa_access_request');
    request.initialize();
    request.setValue('u_application', application);
    request.setValue('u_request_item', current.getUniqueValue());
    request.setValue('u_requested_for', current.getValue('requested_for'));
    request.setValue('u_email', user.getValue('email'));
    request.setValue('u_first_name', user.getValue('first_name'));
    request.setValue('u_last_name', user.getValue('last_name'));
    request.setValue('u_phone', user.getValue('phone'));
    request.setValue('u_answers', JSON.stringify(answers));
    request.setValue('u_state', 'submitted');
    request.setValue('u_approval', 'not_requested');
    if (!request.insert()) {
        gs.logError('could not create the access request of ' + current.getUniqueValue(), '3PA');
    }
})(current, previous);
"""
CATALOG_RULE_CONDITION = "String(current.cat_item.meta || '').indexOf('3pa:') === 0"

# (name, table, when, insert, update, condition, script)
BUSINESS_RULES: tuple[tuple[str, str, str, bool, bool, str, str], ...] = (
    (
        "3PA: tell the connector about the request",
        "u_3pa_access_request",
        "async",
        True,
        True,
        REQUEST_RULE_CONDITION,
        REQUEST_RULE,
    ),
    (
        "3PA: tell the connector about the profile change",
        "u_3pa_profile_change",
        "async",
        True,
        False,
        CHANGE_RULE_CONDITION,
        CHANGE_RULE,
    ),
    (
        "3PA: turn a catalog request into an access request",
        "sc_req_item",
        "after",
        True,
        False,
        CATALOG_RULE_CONDITION,
        CATALOG_RULE,
    ),
)
