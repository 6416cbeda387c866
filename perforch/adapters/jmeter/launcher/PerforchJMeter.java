// Starts JMeter 2.13 as packaged by Debian 12, whose XStream 1.4.20 refuses to load any test plan
// ("ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper"): newer XStream versions only
// deserialize allow-listed types, and JMeter 2.13 predates that allow-list.
//
// Before handing over to JMeter's normal entry point (org.apache.jmeter.NewDriver), this loads
// JMeter's properties the way JMeter will (jmeter.properties, then -q files, then -Jname=value),
// and adds XStream's "any type" permission to the two XStream instances JMeter uses (plans and XML
// results). That is what XStream did by default before 1.4.18. Only use it with plans you trust,
// as with any JMeter plan. Needs jmeter.home (-Djmeter.home=...) and JMeter's jars on the classpath.
//
// Usage: java -Djmeter.home=/usr/share/jmeter -cp <JMeter jars> PerforchJMeter.java <jmeter args>

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Properties;

public class PerforchJMeter {
    public static void main(String[] args) throws Exception {
        String home = System.getProperty("jmeter.home");
        if (home == null) {
            System.err.println("PerforchJMeter: -Djmeter.home=<JMeter directory> is required");
            System.exit(2);
        }
        Class<?> utils = Class.forName("org.apache.jmeter.util.JMeterUtils");
        utils.getMethod("setJMeterHome", String.class).invoke(null, home);
        utils.getMethod("loadJMeterProperties", String.class)
                .invoke(null, home + File.separator + "bin" + File.separator + "jmeter.properties");
        Properties props = (Properties) utils.getMethod("getJMeterProperties").invoke(null);
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-q") && i + 1 < args.length) {
                try (InputStream in = new FileInputStream(args[++i])) {
                    props.load(in);
                }
            } else if (arg.startsWith("-J") && arg.length() > 2) {
                String pair = arg.substring(2);
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    props.setProperty(pair.substring(0, eq), pair.substring(eq + 1));
                }
            }
        }
        Class<?> permissionType = Class.forName("com.thoughtworks.xstream.security.TypePermission");
        Object any = Class.forName("com.thoughtworks.xstream.security.AnyTypePermission").getField("ANY").get(null);
        Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService");
        for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
            Field field = saveService.getDeclaredField(name);
            field.setAccessible(true);
            Object xstream = field.get(null);
            Method add = xstream.getClass().getMethod("addPermission", permissionType);
            add.invoke(xstream, any);
        }
        System.out.println("PerforchJMeter: XStream permission added for JMeter " + home);
        Class.forName("org.apache.jmeter.NewDriver").getMethod("main", String[].class).invoke(null, (Object) args);
    }
}
