// perforch helpers for generated JMeter plans: JavaScript (ES5) run by Rhino, which JMeter ships
// from 2.13 to 5.x. perforch.bsh loads this file once per thread and calls its functions.
//
// The same file in every plan: it holds nothing from the scenario. Each BeanShell element passes its
// data in its Parameters field: words separated by single spaces, each percent-encoded (UTF-8), so
// that JMeter never evaluates them and a value never becomes code. Words that carry text start
// with a quote (') so that none is empty. Commands end with ";".
//
// setup (the setUp thread group, before the load): ready N ; (threads due at time 0; an engine of a
//   distributed run: its own, property perforch.threads.ready)
// start (top of each iteration): delay MS ; start MS... ; end MS... ; users FIRST N ; [pool KEY N ;] [paced ;] then
//   prepare commands: the thread group's delay; one value per thread (or one for all), in ms since t0: the first
//   iteration starts at START; no iteration starts after END; the group's N threads are the flow's users FIRST,
//   FIRST + 1, ...; a shared-iterations pool of N tickets under KEY.
//   Sets vars perforch.pause (ms to wait), perforch.stop ("true" ends the thread), perforch.run (its opposite). With "paced" the
//   arrival timer decides both, after the thread has loaded everything it runs (k6's VUs are ready too).
// prepare:
//   env NAME ;                      vars["env.NAME"] = the environment variable NAME
//   set VAR PIECE... ;              vars[VAR] = the pieces joined; a piece is 'TEXT (literal),
//                                   rENC:VAR with ENC r (raw), j (inside a JSON string), u (URI
//                                   component), or ? ("?", or "&" when the text so far has a "?")
//   copy FROM TO ;                  vars[TO] = vars[FROM] (a CSV column into its namespaced name)
//   encode VAR j|u|ju ;             vars["perforch.j.VAR"] = VAR inside a JSON string (JSON.stringify),
//                                   vars["perforch.u.VAR"] = encodeURIComponent(VAR) (also in check)
//   row NS FILE COLUMN... ;         vars["NS.COLUMN"] = a random row of FILE (order: random)
// check (an assertion; returns the failure message or null):
//   label 'TEXT ;                   the step label, used in messages (like k6's check names)
//   expect 'PATHTEXT 'WANTJSON KEY... ;   the JSON value at KEY... (.NAME or #INDEX) equals WANTJSON
//   json VAR KEY... ;               extract the JSON value at KEY... as text (non-strings as JSON)
//   regex VAR GROUP 'PATTERN ;      extract GROUP of the first match of PATTERN in the body
//   header VAR 'NAME ;              extract the response header NAME (case-insensitive)
//   A failed extraction fails the step and starts the next iteration of the thread.
// arrival (a timer; returns the delay in ms): arrival KEY START_RATE [DURATION_S RATE]... ;
//   k6's arrival-rate schedule: iteration i starts when the planned count (the integral of the
//   rate) reaches i; iterations no thread was free to start on time are dropped, as k6 drops them.
//
// Distributed runs (--workers N): every jmeter-server engine runs the plan, and JMeter properties
// set on its command line say which part is its own: perforch.worker (its index w, from 0),
// perforch.workers (N), perforch.threads.I (its thread count in thread group I) and
// perforch.threads.ready (its threads due at time 0). As k6 splits a test into N equal execution
// segments, the parts go round robin: a flow's user u runs on engine u mod N; of the flow's
// arrival-rate and shared-iterations tickets, and of its data rows, engine w takes numbers w,
// w + S, w + 2S... (S = N, or the group's thread count when it is smaller: only engines with a
// thread take tickets). The engines start their clocks together (perforch.sync). Without these
// properties: one JMeter runs all of it.

var MISSING = {};
var JMeterContextService = org.apache.jmeter.threads.JMeterContextService;
var JMeterUtils = org.apache.jmeter.util.JMeterUtils;

function commands(params) {
    var out = [], current = [];
    var words = String(params).replace(/^\s+|\s+$/g, "").split(" ");
    for (var i = 0; i < words.length; i++) {
        if (words[i] === "") continue;
        if (words[i] === ";") {
            if (current.length) out.push(current);
            current = [];
        } else {
            current.push(decodeURIComponent(words[i]));
        }
    }
    if (current.length) out.push(current);
    return out;
}

function text(word) {
    return word.charAt(0) === "'" ? word.substring(1) : word;
}

function get(vars, name) {
    var value = vars.get(name);
    return value === null ? null : String(value);
}

// An object shared by every thread of the test, kept in JMeter's properties (a Hashtable).
function shared(key, make) {
    var props = JMeterUtils.getJMeterProperties();
    var value = props.get(key);
    if (value === null) {
        props.putIfAbsent(key, make());
        value = props.get(key);
    }
    return value;
}

// --- timing ------------------------------------------------------------------------------------

// k6 initialises its users before its clock starts. Here the clock (t0) starts when every thread
// due at time 0 has been created by JMeter and has loaded this file: they wait for each other (the
// setUp thread group says how many there are, before any of them starts). With no such thread, the
// clock starts when JMeter started the thread groups (a thread's scheduled start minus its group's
// delay).
function setup(vars, params) {
    var ready = 0, list = commands(params);
    for (var c = 0; c < list.length; c++) if (list[c][0] === "ready") ready = Number(list[c][1]);
    var props = JMeterUtils.getJMeterProperties();
    var own = props.getProperty("perforch.threads.ready");  // an engine of a distributed run: its own
    if (own !== null) ready = Number(own);
    props.put("perforch.ready", new java.util.concurrent.CountDownLatch(ready));
    props.put("perforch.ready.total", new java.lang.Long(ready));
    warmHttpClient();
    if (ready === 0) announce(java.lang.System.currentTimeMillis());  // no thread of its own to wait for
}

// JMeter's first HTTP request loads and sets up its HTTP client (about a second on a busy machine),
// and every thread waits for that: a request to a closed port (nothing is sent anywhere) does it
// before the clock starts, as k6 is ready before its clock starts.
function warmHttpClient() {
    try {
        var sampler = new org.apache.jmeter.protocol.http.sampler.HTTPSamplerProxy("HttpClient4");
        sampler.setProtocol("http");
        sampler.setDomain("127.0.0.1");
        sampler.setPort(1);
        sampler.setPath("/");
        sampler.setMethod("GET");
        sampler.sample();
    } catch (e) {
        // a JMeter without this constructor: the first requests are a little late, nothing more
    }
}

function t0(delayMs) {
    var props = JMeterUtils.getJMeterProperties();
    var at = props.get("perforch.t0");
    if (at !== null) return Number(at);
    var ready = props.get("perforch.ready");
    if (ready === null) return JMeterContextService.getTestStartTime();  // a plan without the setUp group
    var mine;
    if (Number(props.get("perforch.ready.total")) > 0) {
        ready.await(120, java.util.concurrent.TimeUnit.SECONDS);
        mine = java.lang.System.currentTimeMillis();
    } else {
        var scheduled = JMeterContextService.getContext().getThread().getStartTime();
        mine = scheduled > 0 ? scheduled - delayMs : java.lang.System.currentTimeMillis();
    }
    var lock = shared("perforch.t0.lock", function () { return new java.util.concurrent.locks.ReentrantLock(); });
    lock.lock();
    try {  // the first thread here sets the clock
        if (props.get("perforch.t0") === null) props.put("perforch.t0", new java.lang.Long(together(mine)));
    } finally {
        lock.unlock();
    }
    return Number(props.get("perforch.t0"));
}

// Distributed: the engines start their clocks together. Each one says when it is ready in the
// directory named by the property perforch.sync (the run's raw directory, which they all see):
// when its threads due at time 0 are, or at the end of its setUp group when it has none. Then it
// waits for the others (30 s at most) and takes the latest of those times plus a moment: every
// engine gets the same t0.
function together(mine) {
    var me = engine(), dir = JMeterUtils.getJMeterProperties().getProperty("perforch.sync");
    if (me.count < 2 || dir === null) return mine;
    announce(mine);
    var deadline = java.lang.System.currentTimeMillis() + 30000, latest, seen;
    do {
        latest = 0;
        seen = 0;
        for (var i = 0; i < me.count; i++) {
            var at = readyAt(dir, i);
            if (at !== null) {
                latest = Math.max(latest, at);
                seen++;
            }
        }
        if (seen < me.count) java.lang.Thread.sleep(5);
    } while (seen < me.count && java.lang.System.currentTimeMillis() < deadline);
    return (latest || mine) + 100;
}

function announce(mine) {  // once per engine: later calls keep the first time
    var me = engine(), dir = JMeterUtils.getJMeterProperties().getProperty("perforch.sync");
    if (me.count < 2 || dir === null || readyAt(dir, me.index) !== null) return;
    var draft = new java.io.File(dir, "jmeter-server-" + me.index + ".ready.part");
    try {
        java.nio.file.Files.write(draft.toPath(), new java.lang.String(String(mine)).getBytes("UTF-8"));
        draft.renameTo(new java.io.File(dir, "jmeter-server-" + me.index + ".ready"));  // whole or absent
    } catch (e) {
        // a directory it cannot write: the others wait their 30 s, then start without this engine's time
    }
}

function readyAt(dir, index) {
    var file = new java.io.File(dir, "jmeter-server-" + index + ".ready");
    try {
        if (!file.isFile()) return null;
        return Number(String(new java.lang.String(java.nio.file.Files.readAllBytes(file.toPath()), "UTF-8"))) || null;
    } catch (e) {
        return null;
    }
}

// --- the top of an iteration ------------------------------------------------------------------

function start(vars, params) {
    var me = engine(), thread = JMeterContextService.getContext().getThreadNum();
    var first = get(vars, "perforch.started") === null;
    var rest = [], starts = null, ends = null, pool = null, delay = 0, paced = false, users = [0, 1];
    var list = commands(params);
    for (var c = 0; c < list.length; c++) {
        var cmd = list[c];
        if (cmd[0] === "start") starts = cmd;
        else if (cmd[0] === "end") ends = cmd;
        else if (cmd[0] === "users") users = [Number(cmd[1]), Number(cmd[2])];
        else if (cmd[0] === "pool") pool = cmd;
        else if (cmd[0] === "delay") delay = Number(cmd[1]);
        else if (cmd[0] === "paced") paced = true;
        else rest.push(cmd);
    }
    var k = place(thread, users, me), every = sharing(users, me);
    if (me.count > 1) {
        vars.put("perforch.worker", String(me.index));  // a sample variable: the JTL's worker column
        vars.put("perforch.every", String(every));
    }
    var begin = starts === null ? 0 : Number(starts[1 + Math.min(k, starts.length - 2)]);
    var end = ends === null ? null : Number(ends[1 + Math.min(k, ends.length - 2)]);
    if (first && begin === 0) {
        var ready = JMeterUtils.getJMeterProperties().get("perforch.ready");
        if (ready !== null) ready.countDown();
    }
    if (paced) {  // the arrival timer waits for the clock, then says when (and whether) to start
        vars.put("perforch.started", "true");
        vars.put("perforch.pause", "0");
        vars.put("perforch.stop", "false");
        vars.put("perforch.run", "true");
        run(vars, rest);
        return;
    }
    var zero = t0(delay);
    var now = java.lang.System.currentTimeMillis();
    var pause = first ? Math.max(0, zero + begin - now) : 0;
    var stop = end !== null && now + pause >= zero + end;
    if (!stop && pool !== null) {
        var tickets = shared("perforch.pool." + pool[1], function () { return new java.util.concurrent.atomic.AtomicLong(0); });
        stop = ours(tickets.getAndIncrement(), me, every) >= Number(pool[2]);
    }
    vars.put("perforch.started", "true");
    vars.put("perforch.pause", String(pause));
    vars.put("perforch.stop", stop ? "true" : "false");
    vars.put("perforch.run", stop ? "false" : "true");
    run(vars, rest);
}

// --- pre-processors ---------------------------------------------------------------------------

function prepare(vars, params) {
    run(vars, commands(params));
}

function run(vars, list) {
    var rows = {};  // distributed: this iteration's row of each data source
    for (var c = 0; c < list.length; c++) {
        var cmd = list[c];
        if (cmd[0] === "env") {
            var value = java.lang.System.getenv(cmd[1]);
            vars.put("env." + cmd[1], value === null ? "undefined" : String(value));
        } else if (cmd[0] === "set") {
            var out = "";
            for (var i = 2; i < cmd.length; i++) {
                var piece = cmd[i];
                if (piece.charAt(0) === "'") {
                    out += piece.substring(1);
                } else if (piece === "?") {
                    out += out.indexOf("?") >= 0 ? "&" : "?";
                } else {
                    var got = get(vars, piece.substring(3));
                    if (got === null) got = "undefined";
                    var enc = piece.charAt(1);
                    out += enc === "j" ? JSON.stringify(got).slice(1, -1) : enc === "u" ? encodeURIComponent(got) : got;
                }
            }
            vars.put(cmd[1], out);
        } else if (cmd[0] === "encode") {
            encode(vars, cmd);
        } else if (cmd[0] === "copy") {
            var copied = engine().count > 1 ? ownRow(rows, cmd) : get(vars, cmd[1]);
            if (copied === null) copied = get(vars, "\ufeff" + cmd[1]);  // a byte-order mark before the header
            if (copied !== null) vars.put(cmd[2], copied);
        } else if (cmd[0] === "row") {
            var rows = csvRows(cmd[2]);
            var header = java.util.Arrays.asList(rows[0]);
            var row = rows.length > 1 ? rows[1 + Math.floor(Math.random() * (rows.length - 1))] : [];
            for (var k = 3; k < cmd.length; k++) {
                var at = header.indexOf(cmd[k]);
                vars.put(cmd[1] + "." + cmd[k], at >= 0 && at < row.length ? String(row[at]) : "");
            }
        }
    }
}

// Distributed: COLUMN of this engine's row for this iteration of the flow (copy COLUMN NS.COLUMN ;
// the plan reads data source NS from data/NS.csv). The flow's iteration i on engine w of N takes
// row (i·N + w) mod n, so the engines never read the same row where one generator would not.
function ownRow(rows, cmd) {
    var ns = cmd[2].substring(0, cmd[2].indexOf("."));
    if (rows[ns] === undefined) {
        var me = engine(), data = csvRows("data/" + ns + ".csv");
        var flow = JMeterContextService.getContext().getThreadGroup().getName();
        var counter = shared("perforch.rowcount." + ns + " " + flow,
                             function () { return new java.util.concurrent.atomic.AtomicLong(0); });
        var n = data.length - 1, i = ours(counter.getAndIncrement(), me, me.count);
        rows[ns] = {header: java.util.Arrays.asList(data[0]), row: n > 0 ? data[1 + i % n] : []};
    }
    var at = rows[ns].header.indexOf(cmd[1]);
    return at >= 0 && at < rows[ns].row.length ? String(rows[ns].row[at]) : "";
}

// vars["perforch.j.VAR"]: the value inside a JSON string; vars["perforch.u.VAR"]: encodeURIComponent.
function encode(vars, cmd) {
    var value = get(vars, cmd[1]);
    if (value === null) value = "undefined";
    if (cmd[2].indexOf("j") >= 0) vars.put("perforch.j." + cmd[1], JSON.stringify(value).slice(1, -1));
    if (cmd[2].indexOf("u") >= 0) vars.put("perforch.u." + cmd[1], encodeURIComponent(value));
}

// Rows of an RFC 4180 file (first row: the header) as Java String[][], read once per test.
function csvRows(file) {
    return shared("perforch.rows." + file, function () {
        var path = new java.io.File(org.apache.jmeter.services.FileServer.getFileServer().getBaseDir(), file).toPath();
        var data = String(new java.lang.String(java.nio.file.Files.readAllBytes(path), "UTF-8"));
        if (data.charCodeAt(0) === 0xfeff) data = data.substring(1);
        var rows = [], row = [], cell = "", quoted = false;
        for (var i = 0; i < data.length; i++) {
            var ch = data.charAt(i);
            if (quoted) {
                if (ch === '"' && data.charAt(i + 1) === '"') { cell += '"'; i++; }
                else if (ch === '"') quoted = false;
                else cell += ch;
            } else if (ch === '"') quoted = true;
            else if (ch === ",") { row.push(cell); cell = ""; }
            else if (ch === "\n" || ch === "\r") {
                if (ch === "\r" && data.charAt(i + 1) === "\n") i++;
                row.push(cell); cell = "";
                if (row.length > 1 || row[0] !== "") rows.push(row);
                row = [];
            } else cell += ch;
        }
        if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
        var out = java.lang.reflect.Array.newInstance(java.lang.Class.forName("[Ljava.lang.String;"), rows.length);
        for (var r = 0; r < rows.length; r++) {
            var cells = java.lang.reflect.Array.newInstance(java.lang.String, rows[r].length);
            for (var c = 0; c < rows[r].length; c++) cells[c] = rows[r][c];
            out[r] = cells;
        }
        return out;
    });
}

// --- assertions -------------------------------------------------------------------------------

function check(result, vars, params) {
    var list = commands(params);
    var label = "", failure = null, document, body = String(result.getResponseDataAsString());
    for (var c = 0; c < list.length; c++) {
        var cmd = list[c];
        if (cmd[0] === "label") { label = text(cmd[1]); continue; }
        if (cmd[0] === "encode") { encode(vars, cmd); continue; }
        if (cmd[0] === "expect") {
            if (document === undefined) document = parse(body);
            var want = JSON.stringify(JSON.parse(text(cmd[2])));
            var got = walk(document, cmd, 3);
            if ((got === MISSING || JSON.stringify(got) !== want) && failure === null) {
                failure = "check failed: " + label + ": " + text(cmd[1]) + " == " + want;
            }
            continue;
        }
        var value = null;
        if (cmd[0] === "json") {
            if (document === undefined) document = parse(body);
            var found = walk(document, cmd, 2);
            if (found !== MISSING && found !== null) value = typeof found === "string" ? found : JSON.stringify(found);
        } else if (cmd[0] === "regex") {
            var m = java.util.regex.Pattern.compile(text(cmd[3])).matcher(body);
            if (m.find()) {
                var g = m.group(Number(cmd[2]));
                value = g === null ? null : String(g);
            }
        } else if (cmd[0] === "header") {
            value = header(String(result.getResponseHeaders()), text(cmd[2]));
        }
        if (value === null) {
            // A failed extraction fails the step and ends this iteration of the flow.
            result.setStartNextThreadLoop(true);
            return failure !== null ? failure : "check failed: " + label + ": extract " + cmd[1];
        }
        vars.put(cmd[1], value);
    }
    return failure;
}

function parse(body) {
    try { return JSON.parse(body); } catch (e) { return MISSING; }
}

function walk(node, cmd, from) {
    for (var i = from; i < cmd.length; i++) {
        var key = cmd[i];
        if (node === MISSING || node === null || typeof node !== "object") return MISSING;
        if (key.charAt(0) === "#") {
            if (!(node instanceof Array)) return MISSING;
            var index = Number(key.substring(1));
            if (index >= node.length) return MISSING;
            node = node[index];
        } else {
            if (node instanceof Array) return MISSING;
            var name = key.substring(1);
            if (!Object.prototype.hasOwnProperty.call(node, name)) return MISSING;
            node = node[name];
        }
    }
    return node;
}

function header(headers, name) {
    var found = null, lines = headers.split("\n"), wanted = name.toLowerCase();
    for (var i = 0; i < lines.length; i++) {
        var colon = lines[i].indexOf(":");
        if (colon <= 0) continue;
        if (lines[i].substring(0, colon).replace(/^\s+|\s+$/g, "").toLowerCase() === wanted) {
            var value = lines[i].substring(colon + 1).replace(/^\s+|\s+$/g, "");
            found = found === null ? value : found + ", " + value;
        }
    }
    return found;
}

// --- distributed runs -------------------------------------------------------------------------

// This engine's index and the number of engines (JMeter properties set by perforch on each server).
function engine() {
    var props = JMeterUtils.getJMeterProperties();
    var count = Number(props.getProperty("perforch.workers", "1"));
    return count > 1 ? {index: Number(props.getProperty("perforch.worker", "0")), count: count} : {index: 0, count: 1};
}

// Which thread of the group (users FIRST N) this engine's thread is: on engine w of E, which runs
// the group's users FIRST + r, FIRST + r + E, ... (r = (w - FIRST) mod E), its thread t is the t-th of them.
function place(thread, users, me) {
    return me.count > 1 ? ((me.index - users[0]) % me.count + me.count) % me.count + thread * me.count : thread;
}

// How many engines share the group's tickets: those that have one of its threads.
function sharing(users, me) {
    return me.count > 1 ? Math.max(1, Math.min(me.count, users[1])) : 1;
}

// The flow-wide number of this engine's k-th ticket (from 0), when `every` engines share them; and
// the first of its tickets that is not before the flow-wide number `due`.
function ours(k, me, every) {
    return k * every + me.index;
}

function firstOurs(due, me, every) {
    return Math.max(0, Math.ceil((due - me.index) / every));
}

// --- arrival-rate pacing ----------------------------------------------------------------------

function arrival(vars, params) {
    var cmd = commands(params)[0];
    var stages = [];
    for (var i = 2; i < cmd.length; i++) stages.push(Number(cmd[i]));
    var next = shared("perforch.arrival." + cmd[1], function () { return new java.util.concurrent.atomic.AtomicLong(0); });
    var me = engine(), every = Number(get(vars, "perforch.every") || 1);
    var testStart = t0(0);
    var now = java.lang.System.currentTimeMillis();
    var due = firstOurs(Math.ceil(planned(stages, (now - testStart) / 1000 - 0.002) - 1e-9), me, every);
    var ticket;
    while (true) {  // take the next ticket, skipping the ones nobody started on time
        var current = next.get();
        ticket = Math.max(current, due);
        if (next.compareAndSet(current, ticket + 1)) break;
    }
    var at = timeOf(stages, ours(ticket, me, every));
    if (at === null) {  // after the last stage: this thread is done
        vars.put("perforch.stop", "true");
        vars.put("perforch.run", "false");
        return "0";
    }
    return String(Math.max(0, testStart + Math.round(at * 1000) - now));
}

// Iterations planned in [0, t] seconds: the integral of the piecewise-linear rate.
function planned(stages, t) {
    if (t <= 0) return 0;
    var rate = stages[0], total = 0, at = 0;
    for (var i = 1; i + 1 < stages.length; i += 2) {
        var d = stages[i], target = stages[i + 1];
        if (t <= at + d) {
            var x = t - at;
            return total + rate * x + (d > 0 ? (target - rate) * x * x / (2 * d) : 0);
        }
        total += (rate + target) * d / 2;
        at += d;
        rate = target;
    }
    return total;
}

// When the planned count reaches n (seconds since the start), or null when it never does.
function timeOf(stages, n) {
    var rate = stages[0], total = 0, at = 0;
    for (var i = 1; i + 1 < stages.length; i += 2) {
        var d = stages[i], target = stages[i + 1], count = (rate + target) * d / 2;
        if (d > 0 && n < total + count) {
            var need = n - total, slope = (target - rate) / d;
            if (Math.abs(slope) < 1e-12) return at + need / rate;
            var x = (-rate + Math.sqrt(Math.max(0, rate * rate + 2 * slope * need))) / slope;
            return at + Math.max(0, Math.min(d, x));
        }
        total += count;
        at += d;
        rate = target;
    }
    return null;
}
