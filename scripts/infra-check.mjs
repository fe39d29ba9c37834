#!/usr/bin/env node
// Offline checks of the Bicep templates (make infra-check):
//
//   node scripts/infra-check.mjs [dir]        dir defaults to infra/
//
// There is no Bicep compiler on our machines (it is a download), so this
// checks what can be checked without one:
//   1. syntax: every .bicep file parses with tree-sitter-bicep (web-tree-sitter
//      and the grammar's wasm from tools/node_modules); ERROR and MISSING nodes
//      are reported as file:line:col;
//   2. rules over the parse tree, for the promises the deployment makes
//      (DESIGN §8, P12, CONF-1..3, REL-6): EU-only locations, keyless
//      storage and Service Bus, RBAC Key Vault with purge protection, no
//      secret in a template, role assignments that are idempotent and
//      name their principal type, an HTTPS-only custom-handler Function App
//      whose app settings cover every setting the handler reads in Azure and
//      keep out of the names the Functions platform owns, browser origins
//      only in siteConfig.cors and only from a parameter, log alert rules
//      that skip query validation.
// .bicepparam files are checked as text (the grammar does not parse them):
// parameter names exist in the template they use, region literals are EU.
// What it cannot check: resource types, API versions and property names
// (that needs the Bicep compiler or `az deployment group validate`).
//
// Exit status: 0 clean, 1 problems found (one line each), 2 cannot run.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.resolve(process.argv[2] ?? path.join(root, 'infra'));

// ------------------------------------------------------------------ facts

// Azure regions in EU member states (P12). UK, Switzerland and Norway are
// Europe but not the EU; Norway is EEA, and we keep strictly to the EU.
const EU_REGIONS = new Set([
  'northeurope', 'westeurope', 'francecentral', 'francesouth', 'germanywestcentral', 'germanynorth',
  'swedencentral', 'swedensouth', 'italynorth', 'polandcentral', 'spaincentral', 'austriaeast',
  'belgiumcentral', 'denmarkeast',
]);

// Every other public Azure region name: a string literal equal to one of
// these anywhere in a template or parameter file is a finding.
const NON_EU_REGIONS = new Set([
  'eastus', 'eastus2', 'westus', 'westus2', 'westus3', 'centralus', 'northcentralus', 'southcentralus',
  'westcentralus', 'canadacentral', 'canadaeast', 'brazilsouth', 'brazilsoutheast', 'mexicocentral',
  'chilecentral', 'uksouth', 'ukwest', 'switzerlandnorth', 'switzerlandwest', 'norwayeast', 'norwaywest',
  'eastasia', 'southeastasia', 'japaneast', 'japanwest', 'koreacentral', 'koreasouth', 'australiaeast',
  'australiasoutheast', 'australiacentral', 'australiacentral2', 'centralindia', 'southindia', 'westindia',
  'jioindiawest', 'jioindiacentral', 'uaenorth', 'uaecentral', 'southafricanorth', 'southafricawest',
  'qatarcentral', 'israelcentral', 'newzealandnorth', 'indonesiacentral', 'malaysiawest', 'taiwannorth',
  'taiwannorthwest', 'saudiarabiacentral', 'centraluseuap', 'eastus2euap',
]);

// Azure Monitor keeps these in 'global'; they are rule definitions and a
// mailbox, not data of the app's users.
const GLOBAL_TYPES = new Set(['microsoft.insights/metricalerts', 'microsoft.insights/actiongroups']);

// Settings in local.settings.example.json that must NOT be app settings in
// Azure: the local stand-ins for what Azure does keylessly or otherwise,
// with what takes their place there.
const LOCAL_ONLY = new Map([
  ['FUNCTIONS_WORKER_RUNTIME', 'functionAppConfig.runtime (Flex)'],
  ['AzureWebJobsStorage', 'AzureWebJobsStorage__accountName (identity)'],
  ['TABLES_CONNECTION_STRING', 'TABLES_ENDPOINT (identity)'],
  ['PASSWORD_PEPPERS', 'KEY_VAULT_URL'],
  ['PASSWORD_PEPPER_CURRENT', 'the newest enabled Key Vault version'],
  ['AUDIT_KEYS', 'KEY_VAULT_URL'],
  ['MFA_KEYS', 'KEY_VAULT_URL'],
  ['AUDIT_KEY_CURRENT', 'the newest enabled Key Vault version'],
  ['MFA_KEY_CURRENT', 'the newest enabled Key Vault version'],
  ['SERVICEBUS_CONNECTION_STRING', 'ServiceBusConnection__fullyQualifiedNamespace (identity)'],
  ['LISTEN_ADDR', 'FUNCTIONS_CUSTOMHANDLER_PORT, set by the host'],
  ['ALLOWED_ORIGINS', 'siteConfig.cors: the platform answers CORS'],
]);
// Provider-specific: present only when EMAIL_PROVIDER=smtp (and SMTP_PASSWORD
// only with SMTP authentication), so not required.
const OPTIONAL = new Set(['SMTP_HOST', 'SMTP_PORT', 'SMTP_USERNAME', 'SMTP_PASSWORD', 'SMTP_SECURITY']);
// Needed in Azure though there is no local value for them.
const AZURE_ONLY = ['AzureWebJobsStorage__accountName', 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
// Flex Consumption refuses or ignores these (functions-app-settings.md,
// "Flex Consumption plan deprecations"); plus every local-only setting.
const FORBIDDEN = new Set([...LOCAL_ONLY.keys(), 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', 'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD', 'WEBSITE_TIME_ZONE', 'TZ', 'WEBSITE_NODE_DEFAULT_VERSION']);
// Name prefixes the Functions platform owns (azure-functions-host
// EnvironmentSettingNames): it sets or overwrites these itself, e.g.
// CORS_ALLOWED_ORIGINS from siteConfig.cors as a JSON array. Compared
// without case. The app's own settings are named outside them, except the
// names the platform defines for the app to set.
const PLATFORM_PREFIXES = ['FUNCTIONS_', 'WEBSITE_', 'AzureWebJobs', 'CORS_', 'SCM_', 'APPSETTING_'];
const PLATFORM_DEFINED_PREFIXES = ['AzureWebJobsStorage__']; // identity-based host storage
function platformPrefix(name) {
  const upper = name.toUpperCase();
  if (PLATFORM_DEFINED_PREFIXES.some((p) => upper.startsWith(p.toUpperCase()))) return null;
  return PLATFORM_PREFIXES.find((p) => upper.startsWith(p.toUpperCase())) ?? null;
}
// Values that must come from Key Vault when they are set at all.
const SECRET_SETTINGS = new Set(['SMTP_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID']);
// Text that means a key or a connection string is in a template.
const SECRET_TEXT = [
  [/AccountKey=/i, "an 'AccountKey=' connection string"],
  [/SharedAccessKey=/i, "a 'SharedAccessKey=' connection string"],
  [/SharedAccessSignature=/i, 'a shared access signature'],
  [/\blistKeys\s*\(/, 'listKeys(): reads account keys into the deployment'],
  [/\blistConnectionStrings\s*\(/, 'listConnectionStrings(): reads keys into the deployment'],
];

// ------------------------------------------------------------------ output

const problems = [];
function report(file, node, message) {
  const pos = node?.startPosition ?? { row: 0, column: 0 };
  problems.push(`${path.relative(process.cwd(), file) || file}:${pos.row + 1}:${pos.column + 1}: ${message}`);
}
function reportAt(file, row, column, message) {
  problems.push(`${path.relative(process.cwd(), file) || file}:${row + 1}:${column + 1}: ${message}`);
}

// ------------------------------------------------------------------ parser

async function loadParser() {
  const runtime = path.join(root, 'tools/node_modules/web-tree-sitter/tree-sitter.js');
  const grammar = path.join(root, 'tools/node_modules/tree-sitter-bicep/tree-sitter-bicep.wasm');
  for (const f of [runtime, grammar]) {
    if (!fs.existsSync(f)) {
      console.error(`infra-check: ${path.relative(root, f)} is missing; run "make tools" (npm ci in tools/)`);
      process.exit(2);
    }
  }
  const Parser = (await import(pathToFileURL(runtime).href)).default;
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(await Parser.Language.load(grammar));
  return parser;
}

function walkFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walkFiles(p));
    else if (e.name.endsWith('.bicep') || e.name.endsWith('.bicepparam')) out.push(p);
  }
  return out.sort();
}

// ------------------------------------------------------------------ tree helpers

const isComment = (n) => n.type === 'comment' || n.type === 'diagnostic_comment';
const named = (n) => n.namedChildren.filter((c) => !isComment(c));

function* descendants(node) {
  const stack = [node];
  while (stack.length) {
    const n = stack.pop();
    yield n;
    for (let i = n.childCount - 1; i >= 0; i--) stack.push(n.child(i));
  }
}

const ESCAPES = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

// The value of a string literal, or null when it is interpolated.
function literal(node) {
  if (!node || node.type !== 'string') return null;
  let out = '';
  for (const c of named(node)) {
    if (c.type === 'string_content') out += c.text;
    else if (c.type === 'escape_sequence') out += ESCAPES[c.text.slice(1)] ?? c.text;
    else return null; // interpolation
  }
  return out;
}

function bool(node) {
  return node && node.type === 'boolean' ? node.text === 'true' : null;
}

function propertyKey(prop) {
  const k = named(prop)[0];
  if (!k) return null;
  if (k.type === 'identifier') return k.text;
  return literal(k);
}

function propertyValue(prop) {
  const kids = named(prop);
  return kids.length >= 2 ? kids[kids.length - 1] : null;
}

function getProp(obj, key) {
  if (!obj || obj.type !== 'object') return null;
  for (const p of named(obj)) {
    if (p.type === 'object_property' && propertyKey(p) === key) return { prop: p, value: propertyValue(p) };
  }
  return null;
}

function getPath(obj, dotted) {
  let cur = obj;
  let found = null;
  for (const key of dotted.split('.')) {
    found = getProp(cur, key);
    if (!found) return null;
    cur = found.value;
  }
  return found;
}

// The object literal a resource or module declaration assigns, through
// `if (...)` and `[for ...: ...]`.
function body(node) {
  for (const c of named(node)) {
    if (c.type === 'object') return c;
    if (c.type === 'if_statement') return body(c);
    if (c.type === 'for_statement') {
      const b = c.childForFieldName('body');
      if (b?.type === 'object') return b;
      if (b) return body(b);
    }
  }
  return null;
}

function isExisting(decl) {
  for (let i = 0; i < decl.childCount; i++) if (decl.child(i).type === 'existing') return true;
  return false;
}

// Resource declarations with their full type (nested resources get the
// parent's type prefixed), lower-cased without the API version.
function resources(tree) {
  const out = [];
  for (const n of descendants(tree.rootNode)) {
    if (n.type !== 'resource_declaration') continue;
    const kids = named(n);
    const symbol = kids.find((c) => c.type === 'identifier')?.text ?? '?';
    const typeText = literal(kids.find((c) => c.type === 'string')) ?? '';
    let type = typeText.split('@')[0];
    // A nested resource's type is relative to its parent's.
    let p = n.parent;
    while (p && p.type !== 'resource_declaration') p = p.parent;
    if (p && !/^[A-Za-z]+\.[A-Za-z]+\//.test(type)) {
      const parentType = literal(named(p).find((c) => c.type === 'string')) ?? '';
      type = `${parentType.split('@')[0]}/${type}`;
    }
    out.push({ node: n, symbol, type: type.toLowerCase(), body: body(n), existing: isExisting(n) });
  }
  return out;
}

// The decorators written before a declaration, by name.
function decorators(decl) {
  const out = {};
  const prev = decl.previousNamedSibling;
  if (!prev || prev.type !== 'decorators') return out;
  for (const d of named(prev)) {
    const call = named(d)[0];
    if (!call || call.type !== 'call_expression') continue;
    const fn = call.childForFieldName('function');
    const name = fn?.type === 'member_expression' ? fn.childForFieldName('property')?.text : fn?.text;
    out[name] = call.childForFieldName('arguments');
  }
  return out;
}

function params(tree) {
  const out = new Map();
  for (const n of named(tree.rootNode)) {
    if (n.type !== 'parameter_declaration') continue;
    const kids = named(n);
    const name = kids[0]?.text;
    const defaultValue = kids.length >= 3 ? kids[kids.length - 1] : null;
    out.set(name, { node: n, defaultValue, decorators: decorators(n) });
  }
  return out;
}

// ------------------------------------------------------------------ rules

function checkSyntax(file, tree) {
  if (!tree.rootNode.hasError) return;
  for (const n of descendants(tree.rootNode)) {
    if (n.type === 'ERROR') report(file, n, `syntax error near ${JSON.stringify(n.text.slice(0, 40))}`);
    else if (n.isMissing) report(file, n, `syntax error: missing ${n.type}`);
  }
}

function checkSecretText(file, text) {
  const lines = text.split('\n');
  lines.forEach((line, row) => {
    for (const [re, what] of SECRET_TEXT) {
      const m = re.exec(line);
      if (m) reportAt(file, row, m.index, `secret material in a template: ${what} (CONF-2, CONF-3: keyless, secrets only in Key Vault)`);
    }
  });
}

function checkRegionLiterals(file, tree) {
  for (const n of descendants(tree.rootNode)) {
    if (n.type !== 'string') continue;
    const v = literal(n);
    if (v !== null && NON_EU_REGIONS.has(v.toLowerCase())) {
      report(file, n, `non-EU region '${v}' (P12: EU regions only)`);
    }
  }
}

function checkLocations(file, tree, isModule, ps, res) {
  const typeOf = (node) => {
    for (let p = node.parent; p; p = p.parent) {
      if (p.type === 'resource_declaration') return res.find((r) => r.node.id === p.id)?.type ?? '';
      if (p.type === 'module_declaration') return 'module';
    }
    return '';
  };
  let usesLocation = false;
  for (const n of descendants(tree.rootNode)) {
    if (n.type !== 'object_property' || propertyKey(n) !== 'location') continue;
    const v = propertyValue(n);
    if (!v) continue;
    usesLocation = true;
    const type = typeOf(n);
    if (v.type === 'identifier' && v.text === 'location') continue;
    if (GLOBAL_TYPES.has(type) && (literal(v) ?? '').toLowerCase() === 'global') continue;
    report(file, v, `location must use the location param, not ${JSON.stringify(v.text.slice(0, 40))} (P12)`);
  }
  const loc = ps.get('location');
  if (!loc) {
    if (usesLocation) report(file, tree.rootNode, 'location properties but no "param location"');
    return;
  }
  const allowed = loc.decorators.allowed;
  if (allowed) {
    const arr = named(allowed).find((c) => c.type === 'array');
    const values = arr ? named(arr).map((e) => ({ node: e, value: literal(e) })) : [];
    if (values.length === 0) report(file, allowed, '@allowed on param location must list EU regions');
    for (const { node, value } of values) {
      if (value === null || !EU_REGIONS.has(value)) {
        report(file, node, `non-EU region ${JSON.stringify(value ?? node.text)} in @allowed of param location (P12: EU regions only)`);
      }
    }
  } else if (!isModule) {
    report(file, loc.node, 'param location needs @allowed with EU regions only (P12)');
  } else if (loc.defaultValue) {
    report(file, loc.defaultValue, 'module param location must have no default: the parent passes its own (P12)');
  }
  const def = literal(loc.defaultValue);
  if (def !== null && !EU_REGIONS.has(def)) report(file, loc.defaultValue, `non-EU default location '${def}' (P12)`);
}

function need(file, r, value, ok, message) {
  if (!value) report(file, r.node, `${message} (not set)`);
  else if (!ok(value.value)) report(file, value.value, message);
}
const isFalse = (v) => bool(v) === false;
const isTrue = (v) => bool(v) === true;
const isText = (...want) => (v) => want.includes(literal(v));

function isoDurationSeconds(s) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s ?? '');
  if (!m) return null;
  return (+(m[1] ?? 0)) * 86400 + (+(m[2] ?? 0)) * 3600 + (+(m[3] ?? 0)) * 60 + (+(m[4] ?? 0));
}

function checkResource(file, r, ctx) {
  const b = r.body;
  const props = (p) => getPath(b, p);
  const label = `'${r.symbol}'`;
  switch (r.type) {
    case 'microsoft.authorization/roleassignments': {
      ctx.seen.add(r.type);
      if (!props('properties.principalType')) {
        report(file, r.node, `role assignment ${label} without principalType (set it: ARM then skips the Entra ID lookup that fails for new identities)`);
      }
      const n = props('name');
      const fn = n?.value?.type === 'call_expression' ? n.value.childForFieldName('function')?.text : null;
      if (fn !== 'guid') report(file, n?.value ?? r.node, `role assignment ${label} name must be guid(scope, principal, role) so redeploying is idempotent`);
      if (!props('properties.roleDefinitionId')) report(file, r.node, `role assignment ${label} without roleDefinitionId`);
      break;
    }
    case 'microsoft.storage/storageaccounts':
      ctx.seen.add(r.type);
      need(file, r, props('properties.allowSharedKeyAccess'), isFalse, `storage account ${label}: allowSharedKeyAccess must be false (shared keys off, CONF-2)`);
      need(file, r, props('properties.allowBlobPublicAccess'), isFalse, `storage account ${label}: allowBlobPublicAccess must be false`);
      need(file, r, props('properties.minimumTlsVersion'), isText('TLS1_2', 'TLS1_3'), `storage account ${label}: minimumTlsVersion must be 'TLS1_2' (CONF-1)`);
      need(file, r, props('properties.supportsHttpsTrafficOnly'), isTrue, `storage account ${label}: supportsHttpsTrafficOnly must be true (CONF-1)`);
      break;
    case 'microsoft.servicebus/namespaces':
      ctx.seen.add(r.type);
      need(file, r, props('properties.disableLocalAuth'), isTrue, `Service Bus namespace ${label}: disableLocalAuth must be true (no SAS keys, CONF-2)`);
      need(file, r, props('sku.name'), isText('Standard', 'Premium'), `Service Bus namespace ${label}: sku must be Standard or Premium (Basic has no duplicate detection, REL-6)`);
      need(file, r, props('properties.minimumTlsVersion'), isText('1.2', '1.3'), `Service Bus namespace ${label}: minimumTlsVersion must be '1.2' (CONF-1)`);
      break;
    case 'microsoft.servicebus/namespaces/queues': {
      ctx.seen.add(r.type);
      need(file, r, props('properties.requiresDuplicateDetection'), isTrue, `queue ${label}: requiresDuplicateDetection must be true (REL-6)`);
      need(file, r, props('properties.deadLetteringOnMessageExpiration'), isTrue, `queue ${label}: deadLetteringOnMessageExpiration must be true (REL-6)`);
      need(file, r, props('properties.maxDeliveryCount'), () => true, `queue ${label}: maxDeliveryCount must be set explicitly (REL-6)`);
      const w = props('properties.duplicateDetectionHistoryTimeWindow');
      const secs = isoDurationSeconds(literal(w?.value));
      if (!w) report(file, r.node, `queue ${label}: duplicateDetectionHistoryTimeWindow must be set (at least PT1H, REL-6)`);
      else if (secs !== null && secs < 3600) report(file, w.value, `queue ${label}: duplicateDetectionHistoryTimeWindow must be at least PT1H (REL-6)`);
      break;
    }
    case 'microsoft.keyvault/vaults': {
      ctx.seen.add(r.type);
      need(file, r, props('properties.enableRbacAuthorization'), isTrue, `Key Vault ${label}: enableRbacAuthorization must be true`);
      need(file, r, props('properties.enablePurgeProtection'), isTrue, `Key Vault ${label}: enablePurgeProtection must be true`);
      const sd = props('properties.enableSoftDelete');
      if (sd && bool(sd.value) === false) report(file, sd.value, `Key Vault ${label}: enableSoftDelete must not be false`);
      break;
    }
    case 'microsoft.insights/scheduledqueryrules':
      need(file, r, props('properties.skipQueryValidation'), isTrue, `log alert rule ${label}: properties.skipQueryValidation must be true (the App Insights tables its query names exist only once the app has logged, so validation fails a first deployment)`);
      break;
    case 'microsoft.keyvault/vaults/secrets':
      if (props('properties.value')) {
        report(file, props('properties.value').prop, `Key Vault secret ${label} sets a value in the template (secrets never go through a template, CONF-3)`);
      }
      break;
    case 'microsoft.web/sites': {
      const kind = literal(props('kind')?.value) ?? '';
      if (!kind.includes('functionapp')) break;
      ctx.seen.add(r.type);
      ctx.siteFiles.add(file);
      ctx.sites.push({ file, r });
      need(file, r, props('properties.httpsOnly'), isTrue, `Function App ${label}: httpsOnly must be true (CONF-1)`);
      need(file, r, props('properties.siteConfig.minTlsVersion'), isText('1.2', '1.3'), `Function App ${label}: siteConfig.minTlsVersion must be '1.2' (CONF-1)`);
      need(file, r, props('properties.siteConfig.ftpsState'), isText('Disabled'), `Function App ${label}: siteConfig.ftpsState must be 'Disabled'`);
      need(file, r, props('properties.functionAppConfig.runtime.name'), isText('custom'), `Function App ${label}: functionAppConfig.runtime.name must be 'custom' (Go custom handler on Flex Consumption)`);
      need(file, r, props('identity.type'), (v) => (literal(v) ?? '').includes('SystemAssigned'), `Function App ${label}: identity.type must include SystemAssigned (keyless connections)`);
      if (!kind.includes('linux')) report(file, props('kind').value, `Function App ${label}: kind must be 'functionapp,linux'`);
      break;
    }
    default:
  }
}

// App settings: every {name: '<literal>', value: ...} object in the file
// that declares the Function App.
function checkAppSettings(file, tree, required) {
  const found = new Map();
  for (const n of descendants(tree.rootNode)) {
    if (n.type !== 'object') continue;
    const name = getProp(n, 'name');
    const value = getProp(n, 'value');
    const key = literal(name?.value);
    if (key === null || !value || named(n).filter((p) => p.type === 'object_property').length !== 2) continue;
    found.set(key, { node: n, value: value.value });
  }
  for (const name of required) {
    if (!found.has(name)) report(file, tree.rootNode, `app setting ${name} missing: the handler reads it in Azure (local.settings.example.json)`);
  }
  for (const [name, { node, value }] of found) {
    const prefix = platformPrefix(name);
    if (FORBIDDEN.has(name)) {
      const why = LOCAL_ONLY.has(name) ? `local only; in Azure: ${LOCAL_ONLY.get(name)}` : 'not allowed on Flex Consumption';
      report(file, node, `app setting ${name} must not be set in Azure (${why})`);
    } else if (prefix) {
      report(file, node, `app setting ${name}: names starting with ${prefix} belong to the Functions platform, which sets or overwrites them (it writes CORS_ALLOWED_ORIGINS from siteConfig.cors); name the app's own settings outside ${PLATFORM_PREFIXES.join(', ')}`);
    }
    if (SECRET_SETTINGS.has(name) && !value.text.includes('@Microsoft.KeyVault(')) {
      report(file, node, `app setting ${name} must be a Key Vault reference @Microsoft.KeyVault(SecretUri=...) (CONF-3)`);
    }
  }
}

function requiredSettings() {
  const example = path.join(root, 'local.settings.example.json');
  const text = fs.readFileSync(example, 'utf8');
  const values = JSON.parse(text).Values ?? {};
  // A setting the handler reads in Azure cannot have a name the platform
  // owns: the template must not set it, so it is reported here instead.
  const owned = Object.keys(values).filter((k) => !LOCAL_ONLY.has(k) && platformPrefix(k));
  for (const k of owned) {
    const at = text.indexOf(JSON.stringify(k));
    const before = text.slice(0, Math.max(at, 0)).split('\n');
    reportAt(example, before.length - 1, before[before.length - 1].length,
      `${k} is read in Azure but its name starts with ${platformPrefix(k)}, which the Functions platform owns: rename it, or list it in LOCAL_ONLY (scripts/infra-check.mjs) if it is for local runs only`);
  }
  return [...Object.keys(values).filter((k) => !LOCAL_ONLY.has(k) && !OPTIONAL.has(k) && !owned.includes(k)), ...AZURE_ONLY];
}

// ------------------------------------------------------------------ CORS

// On Flex Consumption the host answers CORS, preflights included, from
// siteConfig.cors.allowedOrigins; an empty list refuses every browser. So
// each Function App takes the list from a parameter, passed through every
// module unchanged (no literal, no condition that can empty it), the entry
// template's parameter has @minLength(1), and no origin is '*'.
function checkStarOrigins(file, node, where) {
  for (const n of descendants(node)) {
    if (n.type === 'string' && (literal(n) ?? '').trim() === '*') {
      report(file, n, `'*' as a CORS origin ${where}: any site could call the API from a browser; list the frontend origins (https://host)`);
    }
  }
}

function checkCors(site, trees, callers, paramFiles) {
  const { file, r } = site;
  const label = `'${r.symbol}'`;
  const cors = getPath(r.body, 'properties.siteConfig.cors');
  const origins = getPath(r.body, 'properties.siteConfig.cors.allowedOrigins');
  if (cors) checkStarOrigins(file, cors.value, `in siteConfig.cors of Function App ${label}`);
  if (!origins) {
    report(file, r.node, `Function App ${label}: siteConfig.cors.allowedOrigins must be set from a parameter (on Flex the platform answers CORS from it; not set, browsers are refused)`);
    return;
  }
  const v = origins.value;
  if (v.type !== 'identifier' || !params(trees.get(file)).has(v.text)) {
    report(file, v, `Function App ${label}: siteConfig.cors.allowedOrigins must be a parameter, used as it is, not ${JSON.stringify(v.text.slice(0, 60))} (a literal or a condition can leave browsers without CORS)`);
    return;
  }
  traceOrigins(file, v.text, trees, callers, paramFiles, new Set());
}

// Follows the parameter that feeds allowedOrigins up through the modules
// to the entry template and the .bicepparam files that use it.
function traceOrigins(file, name, trees, callers, paramFiles, seen) {
  const key = `${file}#${name}`;
  if (seen.has(key)) return;
  seen.add(key);
  const p = params(trees.get(file)).get(name);
  const where = `(param ${name}, which feeds siteConfig.cors.allowedOrigins)`;
  if (p.defaultValue) {
    checkStarOrigins(file, p.defaultValue, `in the default of param ${name}`);
    if (p.defaultValue.type === 'array' && named(p.defaultValue).length === 0) {
      report(file, p.defaultValue, `param ${name} defaults to an empty list ${where}: browsers would be refused`);
    }
  }
  const uses = callers.get(file) ?? [];
  for (const { file: caller, body: b } of uses) {
    const arg = getPath(b, `params.${name}`);
    if (!arg) continue; // the default applies, checked above
    checkStarOrigins(caller, arg.value, `passed as ${name}`);
    if (arg.value.type === 'identifier' && params(trees.get(caller)).has(arg.value.text)) {
      traceOrigins(caller, arg.value.text, trees, callers, paramFiles, seen);
    } else {
      report(caller, arg.value, `module param ${name} ${where} must be passed a parameter, used as it is, not ${JSON.stringify(arg.value.text.slice(0, 60))} (a literal or a condition can leave browsers without CORS)`);
    }
  }
  if (uses.length > 0) return;
  // The entry template: the deployer gives the origins.
  const minLength = p.decorators.minLength ? named(p.decorators.minLength)[0] : null;
  if (!(Number(minLength?.text) >= 1)) report(file, p.node, `param ${name} ${where} needs @minLength(1): an empty list refuses every browser`);
  for (const [pf, { text, template }] of paramFiles) {
    if (template !== file) continue;
    const lines = text.split('\n');
    const start = lines.findIndex((l) => new RegExp(`^\\s*param\\s+${name}\\s*=`).test(l));
    if (start < 0) continue;
    for (let row = start; row < lines.length; row++) {
      if (row > start && /^\s*(param|using|var|type|import)\b/.test(lines[row])) break;
      if (/^\s*\/\//.test(lines[row])) continue;
      const star = /'\s*\*\s*'/.exec(lines[row]);
      if (star) reportAt(pf, row, star.index, `'*' as a CORS origin in param ${name}: any site could call the API from a browser; list the frontend origins (https://host)`);
      const empty = row === start ? /=\s*\[\s*\]/.exec(lines[row]) : null;
      if (empty) reportAt(pf, row, empty.index, `param ${name} is an empty list ${where}: browsers would be refused`);
    }
  }
}

// .bicepparam: the grammar does not parse `param x = value`, so text.
function checkParamFile(file, text, templates) {
  checkSecretText(file, text);
  const lines = text.split('\n');
  const using = /^\s*using\s+'([^']+)'/m.exec(text);
  let declared = null;
  if (!using) reportAt(file, 0, 0, "no using '<template>.bicep' line");
  else {
    const tpl = path.resolve(path.dirname(file), using[1]);
    const t = templates.get(tpl);
    if (!t) reportAt(file, 0, 0, `using '${using[1]}': no such template`);
    else declared = params(t);
  }
  lines.forEach((line, row) => {
    if (/^\s*\/\//.test(line)) return;
    const p = /^\s*param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (p && declared && !declared.has(p[1])) reportAt(file, row, line.indexOf(p[1]), `param ${p[1]} is not a parameter of the template`);
    if (p && p[1] === 'location') {
      const v = /=\s*'([^']*)'/.exec(line)?.[1];
      if (v !== undefined && !EU_REGIONS.has(v)) reportAt(file, row, line.indexOf(v), `non-EU region '${v}' for location (P12)`);
    }
    for (const m of line.matchAll(/'([a-z0-9]+)'/g)) {
      if (NON_EU_REGIONS.has(m[1])) reportAt(file, row, m.index, `non-EU region '${m[1]}' (P12: EU regions only)`);
    }
  });
}

// ------------------------------------------------------------------ main

async function main() {
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) {
    console.error(`infra-check: ${target} is not a directory`);
    process.exit(2);
  }
  const parser = await loadParser();
  const files = walkFiles(target);
  const bicep = files.filter((f) => f.endsWith('.bicep'));
  if (bicep.length === 0) {
    console.error(`infra-check: no .bicep files under ${target}`);
    process.exit(1);
  }

  const trees = new Map();
  for (const f of bicep) trees.set(f, parser.parse(fs.readFileSync(f, 'utf8')));

  // Files some other template uses as a module; the rest are entry points.
  // callers: module file -> the declarations that use it, with their bodies.
  const modules = new Set();
  const callers = new Map();
  for (const [f, tree] of trees) {
    for (const n of descendants(tree.rootNode)) {
      if (n.type !== 'module_declaration') continue;
      const p = literal(named(n).find((c) => c.type === 'string'));
      if (!p || p.includes(':')) continue;
      const m = path.resolve(path.dirname(f), p);
      modules.add(m);
      if (!callers.has(m)) callers.set(m, []);
      callers.get(m).push({ file: f, body: body(n) });
    }
  }

  const ctx = { seen: new Set(), siteFiles: new Set(), sites: [] };
  let resourceCount = 0;
  for (const [f, tree] of trees) {
    const text = fs.readFileSync(f, 'utf8');
    checkSyntax(f, tree);
    checkSecretText(f, text);
    checkRegionLiterals(f, tree);
    const res = resources(tree);
    checkLocations(f, tree, modules.has(f), params(tree), res);
    for (const r of res) {
      if (r.existing) continue;
      resourceCount++;
      checkResource(f, r, ctx);
    }
  }
  const paramFiles = new Map();
  for (const f of files.filter((x) => x.endsWith('.bicepparam'))) {
    const text = fs.readFileSync(f, 'utf8');
    checkParamFile(f, text, trees);
    const using = /^\s*using\s+'([^']+)'/m.exec(text);
    paramFiles.set(f, { text, template: using ? path.resolve(path.dirname(f), using[1]) : null });
  }

  const required = requiredSettings();
  for (const f of ctx.siteFiles) checkAppSettings(f, trees.get(f), required);
  for (const site of ctx.sites) checkCors(site, trees, callers, paramFiles);

  const expected = {
    'microsoft.web/sites': 'a Function App (Microsoft.Web/sites, kind functionapp)',
    'microsoft.storage/storageaccounts': 'a storage account',
    'microsoft.servicebus/namespaces': 'a Service Bus namespace',
    'microsoft.servicebus/namespaces/queues': 'a Service Bus queue',
    'microsoft.keyvault/vaults': 'a Key Vault',
    'microsoft.authorization/roleassignments': 'role assignments',
  };
  for (const [type, what] of Object.entries(expected)) {
    if (!ctx.seen.has(type)) problems.push(`${path.relative(process.cwd(), target) || '.'}: no ${what} found`);
  }

  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    console.error(`infra-check: ${problems.length} problem(s) in ${path.relative(process.cwd(), target) || '.'}`);
    process.exit(1);
  }
  console.log(`infra-check: ${files.length} files, ${resourceCount} resources, ${required.length} app settings checked: OK`);
}

await main();
