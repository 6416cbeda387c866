"""The BeanShell side of generated plans: perforch.bsh and the two lines each BeanShell element runs.

Every BeanShell element of a plan runs one of the fixed scripts below (no "${" in them, nothing from
the scenario): it sources perforch.bsh once per thread (shared through vars) and calls one function
of perforch.js with the element's Parameters (data words).
"""

from __future__ import annotations

GLUE = "perforch.bsh"

# Every BeanShell element runs this: it loads perforch.bsh once per thread (shared through vars)
# and calls one function of perforch.js. It contains no "${".
LOAD_HELPERS = ('perforch = vars.getObject("perforch.bsh");\n'
                 'if (perforch == null) { source(org.apache.jmeter.services.FileServer.getFileServer().getBaseDir()'
                 f' + java.io.File.separator + "{GLUE}"); perforch = this; vars.putObject("perforch.bsh", perforch); }}\n')
START = LOAD_HELPERS + 'perforch.perforchCall("start", new Object[] {vars, Parameters});\n'
PREPARE = LOAD_HELPERS + 'perforch.perforchCall("prepare", new Object[] {vars, Parameters});\n'
CHECK = (LOAD_HELPERS + 'Object perforchFailure = perforch.perforchCall("check", new Object[] {SampleResult, vars, Parameters});\n'
          "if (perforchFailure != null) { Failure = true; FailureMessage = perforchFailure.toString(); }\n")
SETUP = LOAD_HELPERS + 'perforch.perforchCall("setup", new Object[] {vars, Parameters});\n'
ARRIVAL = LOAD_HELPERS + 'perforch.perforchCall("arrival", new Object[] {vars, Parameters});\n'

# perforch.bsh, written beside the plan (kept here rather than as a package file: an installed
# wheel carries *.js but not *.bsh).
GLUE_TEXT = """// perforch glue for generated JMeter plans (BeanShell, JMeter 2.13 .. 5.x): every BeanShell element
// of the plan sources this file once per thread and calls perforchCall, which runs a function of
// perforch.js in Rhino (JMeter ships Rhino from 2.13 to 5.x). The logic lives in perforch.js:
// interpreted BeanShell is far too slow for JSON. perforch.js is compiled once per test into a
// sealed scope that every thread shares (its functions keep no state of their own); the plan's
// setUp thread group does that before the load starts.

Object perforchCall(String name, Object[] args) {
    // (BeanShell 2.0b4 loses a value returned inside try/finally: keep the result, return after.)
    Object result = null;
    java.util.Properties shared = org.apache.jmeter.util.JMeterUtils.getJMeterProperties();
    org.mozilla.javascript.Context cx = org.mozilla.javascript.ContextFactory.getGlobal().enterContext();
    try {
        cx.setLanguageVersion(org.mozilla.javascript.Context.VERSION_1_8);
        cx.setOptimizationLevel(-1);  // interpreted: quick to load, and these functions are small
        org.mozilla.javascript.ScriptableObject scope = shared.get("perforch.js");
        if (scope == null) {
            scope = cx.initStandardObjects(null, true);
            String path = org.apache.jmeter.services.FileServer.getFileServer().getBaseDir()
                + java.io.File.separator + "perforch.js";
            java.io.Reader in = new java.io.InputStreamReader(new java.io.FileInputStream(path), "UTF-8");
            try {
                cx.evaluateReader(scope, in, "perforch.js", 1, null);
            } finally {
                in.close();
            }
            scope.sealObject();
            shared.putIfAbsent("perforch.js", scope);
            scope = shared.get("perforch.js");
        }
        Object out = org.mozilla.javascript.ScriptableObject.callMethod(cx, scope, name, args);
        if (out != null && !(out instanceof org.mozilla.javascript.Undefined)) {
            result = org.mozilla.javascript.Context.toString(out);
        }
    } finally {
        org.mozilla.javascript.Context.exit();
    }
    return result;
}
"""
