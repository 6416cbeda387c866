// JMeter's Aggregate Report for a JTL, computed with JMeter's own classes: the file is read by
// ResultCollector (CSV with or without a header, or XML) and every top-level sample is added to a
// SamplingStatCalculator per label, as the Aggregate Report listener (StatVisualizer) does.
//
// Usage: java -Djmeter.home=HOME -cp <JMeter jars> AggregateReport.java RESULTS.jtl
// Prints a TSV: label, count, errors, mean, min, max, median, p90, p95, p99 (JMeter's rule:
// StatCalculator.getPercentPoint, nearest rank). Tested with JMeter 2.13 (Debian 12).

import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.TreeMap;

import org.apache.jmeter.reporters.ResultCollector;
import org.apache.jmeter.samplers.Clearable;
import org.apache.jmeter.samplers.SampleResult;
import org.apache.jmeter.util.JMeterUtils;
import org.apache.jmeter.visualizers.SamplingStatCalculator;
import org.apache.jmeter.visualizers.Visualizer;

public class AggregateReport {
    public static void main(String[] args) throws Exception {
        String home = System.getProperty("jmeter.home");
        JMeterUtils.setJMeterHome(home);
        JMeterUtils.loadJMeterProperties(home + File.separator + "bin" + File.separator + "jmeter.properties");
        JMeterUtils.initLocale();
        allowAnyType();  // Debian 12's XStream refuses JMeter's types (the same fix as perforch's launcher)
        final Map<String, SamplingStatCalculator> byLabel = new TreeMap<>();
        ResultCollector collector = new ResultCollector();
        collector.setFilename(args[0]);
        collector.setListener(new Listener(byLabel));
        collector.loadExistingFile();
        StringBuilder out = new StringBuilder("label\tcount\terrors\tmean\tmin\tmax\tmedian\tp90\tp95\tp99\n");
        for (Map.Entry<String, SamplingStatCalculator> e : byLabel.entrySet()) {
            SamplingStatCalculator c = e.getValue();
            out.append(e.getKey()).append('\t').append(c.getCount()).append('\t').append(c.getErrorCount())
               .append('\t').append(c.getMean()).append('\t').append(c.getMin()).append('\t').append(c.getMax())
               .append('\t').append(c.getMedian()).append('\t').append(c.getPercentPoint(0.90))
               .append('\t').append(c.getPercentPoint(0.95)).append('\t').append(c.getPercentPoint(0.99)).append('\n');
        }
        System.out.print(out);
    }

    static final class Listener implements Visualizer, Clearable {
        private final Map<String, SamplingStatCalculator> byLabel;

        Listener(Map<String, SamplingStatCalculator> byLabel) {
            this.byLabel = byLabel;
        }

        @Override
        public void add(SampleResult sample) {
            byLabel.computeIfAbsent(sample.getSampleLabel(), SamplingStatCalculator::new).addSample(sample);
        }

        @Override
        public boolean isStats() {
            return false;
        }

        @Override
        public void clearData() {
        }
    }

    static void allowAnyType() {
        try {
            Class<?> permission = Class.forName("com.thoughtworks.xstream.security.TypePermission");
            Object any = Class.forName("com.thoughtworks.xstream.security.AnyTypePermission").getField("ANY").get(null);
            Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService");
            for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
                Field field = saveService.getDeclaredField(name);
                field.setAccessible(true);
                Object xstream = field.get(null);
                Method add = xstream.getClass().getMethod("addPermission", permission);
                add.invoke(xstream, any);
            }
        } catch (ReflectiveOperationException e) {
            // an XStream without the allow-list (JMeter 5.x sets its own permissions)
        }
    }
}
