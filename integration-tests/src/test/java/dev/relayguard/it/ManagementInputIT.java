package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

import javax.management.MBeanException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.RuntimeMBeanException;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Management input cannot be turned against us: on real James, through RelayGuard's MBean, a JMX argument with a
 * line break, CR, NUL or escape character never forges an audit line (one event per line, every field escaped),
 * bad arguments (null, blank, over-long, control characters) are answered with an error that says which argument
 * and why, and user names are trimmed and lower-cased by every operation alike.
 */
class ManagementInputIT {
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static final String USER = RelayGuardServers.DEMO_USER;
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");
    /** One audit event: key=value fields, a value bare (no space, quote, backslash) or quoted with escapes inside. */
    private static final Pattern ONE_EVENT = Pattern.compile(
        "[a-zA-Z]+=(?:\"(?:[^\"\\\\\\x00-\\x1f\\x7f\\x85\\u2028\\u2029]|\\\\.)*\"|[^\\s\"\\\\\\x00-\\x1f\\x7f]+)"
            + "(?: [a-zA-Z]+=(?:\"(?:[^\"\\\\\\x00-\\x1f\\x7f\\x85\\u2028\\u2029]|\\\\.)*\"|[^\\s\"\\\\\\x00-\\x1f\\x7f]+))*");
    private static final List<String> HOSTILE = List.of("\n", "\r", "\r\n", "\u0000", "\u001b[2J", "\u0085", "\u2028");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.replace("relayguard.xml",
        "<refusals>10</refusals>", "<refusals>3</refusals>"));

    private static final MBeanServer JMX = ManagementFactory.getPlatformMBeanServer();

    @BeforeAll
    static void user(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(USER, RelayGuardServers.DEMO_PASSWORD);
    }

    private static Object op(String name, Object... args) throws Exception {
        String[] signature = Arrays.stream(args).map(arg -> arg instanceof Integer ? "int" : String.class.getName()).toArray(String[]::new);
        return JMX.invoke(new ObjectName(BEAN), name, args, signature);
    }

    /** The operation's error as a JMX client gets it: the exception and the IllegalArgumentException inside. */
    private static IllegalArgumentException refusal(String name, Object... args) {
        Throwable thrown = catchThrowable(() -> op(name, args));
        assertThat(thrown).as(name + Arrays.toString(args)).isInstanceOfAny(RuntimeMBeanException.class, MBeanException.class);
        Throwable cause = thrown instanceof RuntimeMBeanException ? ((RuntimeMBeanException) thrown).getTargetException()
            : ((MBeanException) thrown).getTargetException();
        assertThat(cause).isInstanceOf(IllegalArgumentException.class);
        assertThat(thrown.getMessage()).contains(cause.getMessage());
        return (IllegalArgumentException) cause;
    }

    private static List<String> auditSince(int mark) {
        List<String> lines = AUDIT.lines();
        return new ArrayList<>(lines.subList(mark, lines.size()));
    }

    private static void assertOneEventPerLine(List<String> lines) {
        assertThat(lines).allSatisfy(line -> {
            assertThat(line).doesNotContain("\n", "\r", "\u0000", "\u001b", "\u0085", "\u2028");
            assertThat(ONE_EVENT.matcher(line).matches()).as("one key=value event: %s", line).isTrue();
        });
    }

    @Test
    void controlCharactersInJmxArgumentsNeverForgeAnAuditLine() throws Exception {
        int mark = AUDIT.lines().size();
        for (String hostile : HOSTILE) {
            String forged = "leak" + hostile + "outcome=resumed subject=user:" + USER + " wasSuspended=true";
            assertThat(refusal("suspend", USER, forged).getMessage())
                .startsWith("reason must not contain control characters or line breaks (found U+");
            assertThat(refusal("suspend", "demo" + hostile + "x@relayguard.test", "leaked").getMessage())
                .startsWith("user must not contain control characters or line breaks (found U+");
            assertThat(refusal("resume", "demo" + hostile + "x@relayguard.test").getMessage()).startsWith("user must not contain");
            assertThat(refusal("reset", "demo" + hostile + "x@relayguard.test").getMessage()).startsWith("user must not contain");
            assertThat(refusal("usage", "demo" + hostile + "x@relayguard.test").getMessage()).startsWith("user must not contain");
            assertThat(refusal("lift", "127.0.0.1" + hostile + "1").getMessage()).startsWith("ip must not contain");
            assertThat(refusal("liftAuthBan", "127.0.0.1" + hostile + "1").getMessage()).startsWith("ip must not contain");
            assertThat(refusal("liftAuthThrottle", "demo" + hostile + "x@relayguard.test").getMessage()).startsWith("user must not contain");
        }
        assertThat((String[]) op("suspended")).isEmpty();
        assertThat(auditSince(mark)).isEmpty();

        // What may be stored (quotes, backslashes, '=' and spaces) stays inside its one field of one line.
        op("suspend", USER, "leak\" outcome=resumed subject=user:x \\\" wasSuspended=true");
        op("resume", " " + USER.toUpperCase() + " ");
        List<String> lines = auditSince(mark);
        assertThat(lines).containsExactly(
            "outcome=suspended reason=operator subject=user:" + USER
                + " note=\"leak\\\" outcome=resumed subject=user:x \\\\\\\" wasSuspended=true\" door=jmx by=jmx",
            "outcome=resumed subject=user:" + USER + " wasSuspended=true door=jmx by=jmx");
        assertOneEventPerLine(lines);
    }

    @Test
    void badArgumentsAreAnsweredWithAClearError() throws Exception {
        assertThat(refusal("suspend", null, null).getMessage()).isEqualTo("user is required");
        assertThat(refusal("suspend", USER, null).getMessage()).isEqualTo("reason is required");
        assertThat(refusal("suspend", USER, "   ").getMessage()).isEqualTo("reason must not be blank");
        assertThat(refusal("suspend", USER, "x".repeat(100_000)).getMessage())
            .isEqualTo("reason is too long: 100000 characters, at most 500");
        assertThat(refusal("resume", (Object) null).getMessage()).isEqualTo("user is required");
        assertThat(refusal("lift", (Object) null).getMessage()).isEqualTo("ip is required");
        assertThat(refusal("lift", "not-an-ip").getMessage()).isEqualTo("not an IP address: not-an-ip");
        assertThat(refusal("liftAuthBan", "not-an-ip").getMessage()).isEqualTo("not an IP address: not-an-ip");
        assertThat(refusal("liftAuthBan", "   ").getMessage()).isEqualTo("ip must not be blank");
        assertThat(refusal("liftAuthThrottle", (Object) null).getMessage()).isEqualTo("user is required");
        assertThat(refusal("liftAuthThrottle", "a".repeat(300)).getMessage()).isEqualTo("user is too long: 300 characters, at most 255");
        assertThat(refusal("usage", "").getMessage()).isEqualTo("user must not be blank");
        assertThat(refusal("reset", " ").getMessage()).isEqualTo("user must not be blank");
        assertThat(refusal("usage", "a".repeat(300)).getMessage()).isEqualTo("user is too long: 300 characters, at most 255");
        assertThat(refusal("topRefused", 0).getMessage()).isEqualTo("n must be between 1 and 1000, was 0");
        assertThat((String[]) op("suspended")).isEmpty();
    }

    @Test
    void userNamesAreTrimmedAndLowerCasedByEveryOperation(GuiceJamesServer server) throws Exception {
        int submission = RelayGuardServers.submissionPort(server);
        op("reset", USER);
        for (int i = 0; i < 2; i++) {
            Attempt sent = Attempt.run(submission, true, USER, RelayGuardServers.DEMO_PASSWORD, "<" + USER + ">", "<" + USER + ">");
            assertThat(sent.relayed()).as(sent.toString()).isTrue();
        }
        int mark = AUDIT.lines().size();
        // a tab is not trimmed (refused: OperatorInput never strips a control character), spaces are
        assertThat(refusal("usage", USER + "\t").getMessage()).startsWith("user must not contain control characters");
        assertThat((String[]) op("usage", "  " + USER.toUpperCase() + " "))
            .anySatisfy(line -> assertThat(line).startsWith("20 messages per 1m: used 2 / 20"));
        op("reset", " Demo@RelayGuard.test ");
        assertThat((String[]) op("usage", USER)).anySatisfy(line -> assertThat(line).startsWith("20 messages per 1m: used 0 / 20"));
        assertThat(auditSince(mark)).containsExactly("outcome=reset reason=operator subject=user:" + USER + " limited=true door=jmx by=jmx");
    }

    @Test
    void banAndLiftAreAuditedOneEventPerLine(GuiceJamesServer server) throws Exception {
        int mx = RelayGuardServers.mxPort(server);
        int mark = AUDIT.lines().size();
        for (int i = 1; i <= 3; i++) {
            Attempt attempt = Attempt.run(mx, false, null, null, "<p@prober.example>", "<v" + i + "@remote.example>");
            assertThat(attempt.summary()).isEqualTo("RCPT 550 5.7.1");
        }
        assertThat((String[]) op("bans")).singleElement().satisfies(ban -> assertThat(ban).startsWith("127.0.0.1 since "));
        assertThat((Boolean) op("lift", "  127.0.0.1 ")).isTrue();
        assertThat((String[]) op("bans")).isEmpty();
        List<String> lines = auditSince(mark);
        assertThat(lines).contains("outcome=banned reason=probe.banned ip=127.0.0.1 key=127.0.0.1 for=PT1H",
            "outcome=unbanned reason=operator ip=127.0.0.1 wasBanned=true door=jmx by=jmx");
        assertOneEventPerLine(lines);
    }
}
