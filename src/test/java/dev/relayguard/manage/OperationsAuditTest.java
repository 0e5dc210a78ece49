package dev.relayguard.manage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.PrivilegedAction;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import javax.management.remote.JMXPrincipal;
import javax.security.auth.Subject;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.AuditCapture;
import dev.relayguard.observe.RefusalRecorder;

/** Issue 16 (M2, M3): every audited change names its door and who came through it; policy reloads are audited. */
class OperationsAuditTest {
    private static final String POLICY = "<relayguard><rateLimits><users>"
        + "<limit measure=\"messages\" max=\"2\" per=\"1m\"/></users></rateLimits></relayguard>";

    private final RelayGuard guard = new RelayGuard(settings(POLICY), domain -> false, (user, sender) -> false,
        new RefusalRecorder(new RecordingMetricFactory()), () -> 1_700_000_000_000L, new MemoryLimiterStore(100, () -> 1_700_000_000_000L));
    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    private static RelayGuardSettings settings(String xml) {
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    @Test
    void aChangeNamesTheDoorAndWhoEscapedAsEveryAuditValue() {
        new Operations(guard, "webadmin").by("eve \"admin\"\nforged=1").suspend("alice@example.com", "spam");

        assertThat(audit.lines()).singleElement().asString()
            .startsWith("outcome=suspended reason=operator subject=user:alice@example.com note=spam")
            .endsWith(" door=webadmin by=\"eve \\\"admin\\\"\\x0aforged=1\"");
    }

    @Test
    void theActorIsAskedAtEachChange() {
        AtomicReference<String> who = new AtomicReference<>("127.0.0.1");
        Operations operations = new Operations(guard, "webadmin", who::get);

        operations.resume("alice@example.com");
        who.set("admin@example.com");
        operations.liftBan("192.0.2.7");

        assertThat(audit.lines()).hasSize(2);
        assertThat(audit.lines().get(0)).endsWith(" door=webadmin by=127.0.0.1");
        assertThat(audit.lines().get(1)).endsWith(" door=webadmin by=admin@example.com");
    }

    @Test
    void withoutAnActorTheLineEndsWithTheDoorOnly() {
        new Operations(guard, "jmx").by(null).resume("alice@example.com");
        new Operations(guard, "jmx").by(" ").resume("bob@example.com");

        assertThat(audit.lines()).allSatisfy(line -> assertThat(line).endsWith(" door=jmx").doesNotContain("by="));
    }

    @Test
    void anAcceptedReloadIsAuditedWithItsChanges() {
        guard.reloader().source(() -> settings(POLICY.replace("max=\"2\"", "max=\"5\"")));

        var changes = new Operations(guard, "jmx").by("operator").reload();

        assertThat(changes).hasSize(1);
        assertThat(audit.lines()).singleElement().asString()
            .startsWith("outcome=reloaded reason=operator action=policy-reload changes=1 what=\"rateLimits: ").endsWith(" door=jmx by=operator");
    }

    @Test
    void anUnchangedReloadIsAuditedToo() {
        new Operations(guard, "webadmin").by("10.0.0.1").reload();

        assertThat(audit.lines()).containsExactly(
            "outcome=reloaded reason=operator action=policy-reload changes=0 what=- door=webadmin by=10.0.0.1");
    }

    @Test
    void aRefusedReloadIsAuditedWithTheFileKeyAndValue() {
        guard.reloader().source(() -> settings(POLICY.replace("per=\"1m\"", "per=\"soon\"")));

        assertThatThrownBy(() -> new Operations(guard, "webadmin").by("admin").reload()).isInstanceOf(IllegalArgumentException.class);

        assertThat(audit.lines()).singleElement().asString()
            .startsWith("outcome=refused reason=operator action=policy-reload error=\"reload refused, the current policy stays: relayguard.xml")
            .contains("soon").endsWith(" door=webadmin by=admin");
    }

    @Test
    @SuppressWarnings("removal")
    void theJmxActorIsThePrincipalOfTheConnectionElseJmx() {
        assertThat(RelayGuardManagement.jmxActor()).as("a call from inside the JVM, not over RMI").isEqualTo("jmx");

        Subject subject = new Subject(true, Set.of(new JMXPrincipal("controlRole")), Set.of(), Set.of());
        String actor = Subject.doAs(subject, (PrivilegedAction<String>) RelayGuardManagement::jmxActor);

        assertThat(actor).isEqualTo("controlRole");
    }

    @Test
    void theJmxBeanAuditsItsDoorAndCaller() {
        new RelayGuardManagement(guard).resume("alice@example.com");

        assertThat(audit.lines()).singleElement().asString().endsWith(" door=jmx by=jmx");
    }
}
