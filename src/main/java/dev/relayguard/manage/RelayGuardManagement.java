package dev.relayguard.manage;

import java.lang.management.ManagementFactory;

import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;

/** The JMX face of the shared {@link RelayGuard}; registered once, by the module, in the platform MBean server. */
public final class RelayGuardManagement implements RelayGuardManagementMBean {
    public static final String OBJECT_NAME = "org.apache.james:type=extension,name=RelayGuard";
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardManagement.class);

    private final RelayGuard guard;

    public RelayGuardManagement(RelayGuard guard) {
        this.guard = guard;
    }

    /** Registers the bean, replacing one left by an earlier RelayGuard in the same JVM (tests start several). */
    public static void register(RelayGuard guard) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try {
            ObjectName name = new ObjectName(OBJECT_NAME);
            try {
                server.unregisterMBean(name);
            } catch (InstanceNotFoundException e) {
                // first registration
            }
            server.registerMBean(new RelayGuardManagement(guard), name);
        } catch (JMException e) {
            LOGGER.warn("Could not register {}: {}", OBJECT_NAME, e.getMessage());
        }
    }

    @Override
    public String policySummary() {
        return guard.settings().toString();
    }

    @Override
    public String[] bans() {
        return guard.bans().stream().map(Object::toString).toArray(String[]::new);
    }

    @Override
    public boolean lift(String ip) {
        boolean lifted = guard.liftBan(ip);
        LOGGER.info("Operator lifted probe ban of {}: {}", ip, lifted ? "lifted" : "was not banned");
        return lifted;
    }

    @Override
    public int getTrackedIps() {
        return guard.probeBans().trackedCount();
    }
}
