// ---- perforch helpers (the same in every generated script) ----------------------------------

// RFC 4180 CSV -> array of objects keyed by the header row (k6 has no CSV parser built in
// without a remote import, and this machine is offline).
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  if (rows.length && rows[0].length && rows[0][0].charCodeAt(0) === 0xfeff) rows[0][0] = rows[0][0].slice(1);
  const header = rows.shift() || [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] === undefined ? "" : r[i]])));
}

// Iteration i of a flow (counted across all its users) takes row i mod n; or a random row.
function pickRow(rows, order) {
  if (order === "random") return rows[Math.floor(Math.random() * rows.length)];
  return rows[exec.scenario.iterationInTest % rows.length];
}

// Extracted values are strings; non-string JSON values keep their JSON text ("7", "true").
function asText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function jsonAt(res, path) {
  let node;
  try { node = JSON.parse(res.body); } catch (e) { return undefined; }
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    if (typeof key === "number" ? !Array.isArray(node) : Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return undefined; // not inherited (__proto__, length)
    node = node[key];
  }
  return node;
}

function headerOf(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === wanted) return res.headers[key];
  }
  return undefined;
}

// encodeURIComponent is what every perforch generator uses for query strings and form bodies.
function encodePairs(pairs) {
  return pairs.map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
}

function withQuery(url, pairs) {
  if (!pairs.length) return url;
  return url + (url.includes("?") ? "&" : "?") + encodePairs(pairs);
}

// One check per expectation, tagged with the step label so ingest can tie a failed check to its
// request. Returns whether every expectation held.
function verify(res, label, expect) {
  const checks = {};
  checks[label + ": status " + expect.statusText] = expect.status.some(([lo, hi]) => res.status >= lo && res.status <= hi);
  if (expect.contains !== undefined) {
    checks[label + ": body contains " + JSON.stringify(expect.containsText)] =
      typeof res.body === "string" && res.body.includes(expect.contains);
  }
  for (const [pathText, path, want] of expect.json) {
    const got = jsonAt(res, path);
    checks[label + ": " + pathText + " == " + JSON.stringify(want)] =
      got !== undefined && JSON.stringify(got) === JSON.stringify(want);
  }
  const names = Object.keys(checks);
  return check(null, Object.fromEntries(names.map((n) => [n, () => checks[n]])), { name: label });
}

// Returns the extracted text, or undefined after recording a failed check for the step.
function extract(res, label, variable, how) {
  let value;
  if (how.json) {
    const got = jsonAt(res, how.json);
    value = got === undefined || got === null ? undefined : asText(got);
  } else if (how.regex) {
    const match = typeof res.body === "string" ? res.body.match(new RegExp(how.regex)) : null;
    value = match && match[how.group] !== undefined ? match[how.group] : undefined;
  } else {
    value = headerOf(res, how.header);
  }
  const checks = {};
  checks[label + ": extract " + variable] = () => value !== undefined;
  check(null, checks, { name: label });
  return value;
}

function think(low, high) {
  sleep(low + Math.random() * (high - low));
}
