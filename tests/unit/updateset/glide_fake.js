// A small fake of the Glide APIs our update-set scripts use, to run them in Node.
// Reads one scenario (JSON) on stdin, runs the scripts and the call it names in a fresh VM
// context, and prints {result, rest, redirect, log, records} as JSON. Used by
// test_script_behaviour.py; it models only what those scripts touch.
'use strict';

const vm = require('vm');

function run(scenario) {
    const records = scenario.records || {}; // table -> sys_id -> {field: value, _readable: bool}
    const tables = scenario.tables || {}; // table -> parent table ('' for a root)
    const user = scenario.user || {id: '', roles: []};
    const rest = [];
    const log = [];
    let redirect = null;
    let counter = 0;

    function ancestors(table) {
        const out = [];
        let t = table;
        while (t && Object.prototype.hasOwnProperty.call(tables, t)) {
            out.push(t);
            t = tables[t];
        }
        return out;
    }

    class GlideRecord {
        constructor(table) {
            this.table = table;
            this.conditions = [];
            this.order = null;
            this.limit = 0;
            this.rows = [];
            this.index = -1;
            this.current = null;
        }
        isValid() { return Object.prototype.hasOwnProperty.call(tables, this.table); }
        instanceOf(name) { return ancestors(this.table).includes(name); }
        isValidField(name) { return !!(this.current && name in this.current); }
        get(sysId) {
            const row = (records[this.table] || {})[sysId];
            this.current = row ? Object.assign({sys_id: sysId}, row) : null;
            return !!row;
        }
        canRead() { return !!this.current && this.current._readable !== false; }
        getValue(name) {
            const v = this.current ? this.current[name] : undefined;
            return v === undefined || v === null || v === '' ? null : String(v);
        }
        setValue(name, value) { this.current[name] = value; }
        getTableName() { return this.table; }
        getUniqueValue() { return this.current ? this.current.sys_id : null; }
        addQuery(name, value) { this.conditions.push([name, String(value)]); }
        orderByDesc(name) { this.order = name; }
        setLimit(n) { this.limit = n; }
        query() {
            const rows = Object.entries(records[this.table] || {})
                .map(([id, row]) => Object.assign({sys_id: id}, row))
                .filter((row) => this.conditions.every(([k, v]) => String(row[k]) === v));
            if (this.order) {
                rows.sort((a, b) => Number(b[this.order]) - Number(a[this.order]));
            }
            this.rows = this.limit ? rows.slice(0, this.limit) : rows;
            this.index = -1;
        }
        next() {
            this.index += 1;
            this.current = this.rows[this.index] || null;
            return this.current !== null;
        }
        initialize() { this.current = {}; }
        insert() {
            counter += 1;
            const id = `inserted${String(counter).padStart(24, '0')}`;
            const row = Object.assign({}, this.current);
            delete row.sys_id;
            records[this.table] = records[this.table] || {};
            records[this.table][id] = row;
            this.current.sys_id = id;
            return id;
        }
    }

    const gs = {
        getProperty: (name, fallback) =>
            (name in (scenario.properties || {}) ? scenario.properties[name] : fallback),
        getUserID: () => user.id,
        hasRole: (role) => user.roles.includes(role) || user.roles.includes('admin'),
        log: (msg, source) => log.push(['info', msg, source]),
        logError: (msg, source) => log.push(['error', msg, source]),
    };

    class RESTMessageV2 {
        constructor(name, method) {
            this.call = {message: name, method, headers: {}};
        }
        setEndpoint(url) { this.call.endpoint = url; }
        setRequestHeader(k, v) { this.call.headers[k] = v; }
        setRequestBody(body) { this.call.body = JSON.parse(body); }
        setHttpTimeout(ms) { this.call.timeout = ms; }
        execute() {
            rest.push(this.call);
            const answer = scenario.rest_answer || {ok: true};
            return {getBody: () => JSON.stringify(answer), getStatusCode: () => 200};
        }
    }

    class AbstractAjaxProcessor {
        constructor(params) { this.params = params || {}; }
        getParameter(name) {
            return Object.prototype.hasOwnProperty.call(this.params, name) ? this.params[name] : null;
        }
    }

    const context = vm.createContext({
        gs,
        GlideRecord,
        AbstractAjaxProcessor,
        sn_ws: {RESTMessageV2},
        GlideStringUtil: {base64Encode: (s) => Buffer.from(String(s)).toString('base64')},
        GlideCertificateEncryption: class {
            generateMac(key, alg, message) { return `mac(${alg}):${message.length}+/=`; }
        },
        Class: {
            create: () => function created(...args) {
                if (this.initialize) {
                    this.initialize(...args);
                }
            },
        },
        JSON,
        Math,
        Date,
        String,
        parseInt,
        encodeURIComponent,
    });
    vm.runInContext(
        'Object.extendsObject = function (base, props) {' +
        '  var C = function (params) { base.call(this, params); };' +
        '  C.prototype = Object.assign(Object.create(base.prototype), props);' +
        '  return C.prototype; };',
        context,
    );
    (scenario.scripts || []).forEach((code) => vm.runInContext(code, context));

    const call = scenario.call || {};
    let result = null;
    if (call.ajax) {
        context.__params = call.params || {};
        result = vm.runInContext(
            `(function () { var C = function (p) { this.params = p; };` +
            ` C.prototype = ${call.ajax}.prototype;` +
            ` var o = new C(__params); return o.${call.method}(); })()`,
            context,
        );
    } else if (call.method) {
        context.__args = call.args || [];
        result = vm.runInContext(
            `(function () { var o = new ${call.class}(); return o.${call.method}.apply(o, __args); })()`,
            context,
        );
    } else if (call.action) {
        const current = new GlideRecord(call.action.table);
        current.get(call.action.sys_id);
        context.current = current;
        context.action = {setRedirectURL: (url) => { redirect = url; }};
        vm.runInContext(call.action.script, context);
    } else if (call.condition) {
        const current = new GlideRecord(call.condition.table);
        if (!current.get(call.condition.sys_id)) {
            current.current = {};
        }
        current.isNewRecord = () => !call.condition.sys_id;
        context.current = current;
        result = vm.runInContext(call.condition.script, context);
    }
    return {result, rest, redirect, log, records};
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
    process.stdout.write(JSON.stringify(run(JSON.parse(input))));
});
