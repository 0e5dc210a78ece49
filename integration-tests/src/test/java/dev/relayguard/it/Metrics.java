package dev.relayguard.it;

import java.lang.management.ManagementFactory;

import javax.management.InstanceNotFoundException;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;

/** Reads James metrics the way an operator does: as MBeans in the {@code metrics} JMX domain. */
public final class Metrics {
    private final MBeanServerConnection connection;

    private Metrics(MBeanServerConnection connection) {
        this.connection = connection;
    }

    /** The in-process platform MBean server (James's in-process test servers report there). */
    public static Metrics inProcess() {
        return new Metrics(ManagementFactory.getPlatformMBeanServer());
    }

    public static Metrics over(MBeanServerConnection connection) {
        return new Metrics(connection);
    }

    /** Every meter whose name starts with {@code prefix}, with its count. */
    public java.util.Map<String, Long> meterCounts(String prefix) throws Exception {
        java.util.Map<String, Long> counts = new java.util.TreeMap<>();
        for (ObjectName name : connection.queryNames(new ObjectName("metrics:type=meters,*"), null)) {
            String metric = name.getKeyProperty("name");
            if (metric != null && metric.startsWith(prefix)) {
                counts.put(metric, ((Number) connection.getAttribute(name, "Count")).longValue());
            }
        }
        return counts;
    }

    /** The count of a James meter ({@code MetricFactory.generate(name)}), 0 when it does not exist yet. */
    public long meterCount(String name) throws Exception {
        try {
            return ((Number) connection.getAttribute(new ObjectName("metrics:name=" + name + ",type=meters"), "Count")).longValue();
        } catch (InstanceNotFoundException e) {
            return 0;
        }
    }
}
