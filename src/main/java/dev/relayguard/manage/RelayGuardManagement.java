package dev.relayguard.manage;

import java.lang.management.ManagementFactory;
import java.rmi.server.RemoteServer;
import java.rmi.server.ServerNotActiveException;
import java.security.AccessController;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.remote.JMXPrincipal;
import javax.security.auth.Subject;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyDiff;
import dev.relayguard.observe.AuditLine;

/**
 * The JMX face of the shared {@link RelayGuard}: the operators' {@link Operations} and RelayGuard's figures;
 * registered by the module at James's start in the platform MBean server, replacing one left by an earlier
 * server in the same JVM.
 * Every argument is checked and canonicalised by {@link OperatorInput} (trimmed, user names lower-cased; missing,
 * blank, over-long values or control characters refused with an {@link IllegalArgumentException} whose message
 * says which argument and why, which a JMX client receives as the operation's error).
 * Every change is audited with {@code door=jmx by=<who>}: see {@link #jmxActor()}.
 */
public final class RelayGuardManagement implements RelayGuardManagementMBean {
    public static final String OBJECT_NAME = "org.apache.james:type=extension,name=RelayGuard";
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardManagement.class);

    private final RelayGuard guard;
    private final Operations operations;

    public RelayGuardManagement(RelayGuard guard) {
        this.guard = guard;
        this.operations = new Operations(guard, "jmx", RelayGuardManagement::jmxActor);
    }

    /**
     * Who calls this bean, for the audit's {@code by=}: the name of the JMX principal of the connection when the JMX
     * connector authenticates ({@code jmx.remote.x.password.file}), else the client host of the RMI call, else
     * {@code jmx} (a call from inside the JVM).
     */
    @SuppressWarnings("removal") // Subject.getSubject: the JMX connector's way to hand over the caller up to Java 17
    static String jmxActor() {
        Subject subject = Subject.getSubject(AccessController.getContext());
        if (subject != null) {
            for (JMXPrincipal principal : subject.getPrincipals(JMXPrincipal.class)) {
                return principal.getName();
            }
        }
        try {
            return RemoteServer.getClientHost();
        } catch (ServerNotActiveException e) {
            return "jmx";
        }
    }

    /** Registers the bean, replacing one left by an earlier RelayGuard in the same JVM (tests start several). */
    public static void register(RelayGuard guard) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try {
            unregister(server);
            server.registerMBean(new RelayGuardManagement(guard), new ObjectName(OBJECT_NAME));
        } catch (JMException e) {
            LOGGER.warn("Could not register {}: {}", OBJECT_NAME, e.getMessage());
        }
    }

    private static void unregister(MBeanServer server) throws JMException {
        try {
            server.unregisterMBean(new ObjectName(OBJECT_NAME));
        } catch (InstanceNotFoundException e) {
            // not registered
        }
    }

    @Override
    public String[] policySummary() {
        return PolicyDiff.describe(guard.settings()).entrySet().stream()
            .map(entry -> entry.getKey() + " = " + entry.getValue())
            .toArray(String[]::new);
    }

    @Override
    public String[] usage(String user) {
        return operations.usage(OperatorInput.user(user)).toArray(String[]::new);
    }

    @Override
    public void reset(String user) {
        String canonical = OperatorInput.user(user);
        operations.resetUsage(canonical);
        LOGGER.info("Operator reset the rate-limit counters of {}", AuditLine.quote(canonical));
    }

    @Override
    public void suspend(String user, String reason) {
        String canonical = OperatorInput.user(user);
        String why = OperatorInput.reason(reason);
        fromStore("suspend " + canonical, () -> {
            operations.suspend(canonical, why);
            return null;
        });
        LOGGER.info("Operator suspended {}: {}", AuditLine.quote(canonical), AuditLine.quote(why));
    }

    @Override
    public void suspendFor(String user, String duration, String reason) {
        String canonical = OperatorInput.user(user);
        Duration length = OperatorInput.duration(duration);
        String why = OperatorInput.reason(reason);
        fromStore("suspend " + canonical, () -> {
            operations.suspend(canonical, why, length);
            return null;
        });
        LOGGER.info("Operator suspended {} for {}: {}", AuditLine.quote(canonical), length, AuditLine.quote(why));
    }

    @Override
    public boolean resume(String user) {
        String canonical = OperatorInput.user(user);
        boolean resumed = fromStore("resume " + canonical, () -> operations.resume(canonical));
        LOGGER.info("Operator resumed {}: {}", AuditLine.quote(canonical), resumed ? "was suspended" : "was not suspended");
        return resumed;
    }

    @Override
    public String[] suspended() {
        return fromStore("list the suspensions", operations::suspended).toArray(String[]::new);
    }

    @Override
    public String[] topRefused(int n) {
        return lines(operations.topRefused(n));
    }

    @Override
    public String[] topRefusedSince(int n, String since) {
        return lines(operations.topRefused(n, OperatorInput.since(since)));
    }

    @Override
    public String[] bans() {
        return lines(fromStore("list the probe bans", operations::bans));
    }

    @Override
    public boolean lift(String ip) {
        String address = OperatorInput.address(ip);
        return logLift("probe ban", address, fromStore("lift the probe ban of " + address, () -> operations.liftBan(address)),
            "was not banned");
    }

    @Override
    public String[] authBans() {
        return lines(operations.authBans());
    }

    @Override
    public String[] authThrottles() {
        return lines(operations.authThrottles());
    }

    @Override
    public boolean liftAuthBan(String ip) {
        String address = OperatorInput.address(ip);
        return logLift("AUTH ban", address, operations.liftAuthBan(address), "was not banned");
    }

    @Override
    public boolean liftAuthThrottle(String user) {
        String canonical = OperatorInput.login(user);
        return logLift("AUTH throttle", canonical, operations.liftAuthThrottle(canonical), "was not throttled");
    }

    @Override
    public String[] reload() {
        return operations.reload().toArray(String[]::new);
    }

    @Override
    public String[] getCounts() {
        return operations.counts().entrySet().stream().map(entry -> entry.getKey() + "=" + entry.getValue()).toArray(String[]::new);
    }

    @Override
    public String getStoreKind() {
        return guard.senderLimits().store().kind();
    }

    @Override
    public boolean isStoreHealthy() {
        return guard.senderLimits().storeHealthy() && guard.probeBans().holds().answers();
    }

    @Override
    public String getStoreLastError() {
        return guard.senderLimits().lastStoreError();
    }

    @Override
    public long getDegradedCount() {
        return guard.recorder().degradedCount();
    }

    @Override
    public int getTrackedIps() {
        return guard.probeBans().trackedCount();
    }

    @Override
    public int getActiveBans() {
        return guard.probeBans().bannedCount();
    }

    @Override
    public long getDroppedBans() {
        return guard.probeBans().droppedBans();
    }

    @Override
    public long getTrackedKeys() {
        return guard.senderLimits().store().trackedKeys();
    }

    /**
     * Runs an operation on the store of holds. When the store cannot answer (Redis down), logs it (never as done) and
     * throws an {@link IllegalStateException} saying what could not be done and why, without the cause: a remote JMX
     * client could not load Lettuce's exception classes and would show an unmarshalling error instead of the message.
     */
    private static <T> T fromStore(String what, Supplier<T> operation) {
        try {
            return operation.get();
        } catch (IllegalStateException e) {
            LOGGER.warn("Operator could not {}: {}", what, e.getMessage());
            throw new IllegalStateException("could not " + what + ": " + e.getMessage());
        }
    }

    private static String[] lines(List<?> entries) {
        return entries.stream().map(Object::toString).toArray(String[]::new);
    }

    /** Logs an operator's lift on the class logger (the audit line is {@link Operations}'s); returns {@code lifted}. */
    private static boolean logLift(String what, String subject, boolean lifted, String otherwise) {
        LOGGER.info("Operator lifted {} of {}: {}", what, AuditLine.quote(subject), lifted ? "lifted" : otherwise);
        return lifted;
    }
}
