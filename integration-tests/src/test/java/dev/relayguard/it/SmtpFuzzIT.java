package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.core.MailAddress;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.core.Client;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.TrustedNetworks;
import dev.relayguard.core.Verdict;
import dev.relayguard.fuzz.Envelopes;
import dev.relayguard.fuzz.JamesCut;
import dev.relayguard.it.SmtpClient.Reply;

/**
 * MAIL and RCPT fuzzing against a real James 3.8.1 from the single-node sample, with the arguments
 * {@code AddressFuzzTest} uses ({@link Envelopes}):
 * <ul>
 *   <li>RCPT from a stranger (loopback) on the MX listener, sent as UTF-8, many per connection;</li>
 *   <li>MAIL FROM from a stranger on the MX listener (RSET after each accepted one);</li>
 *   <li>MAIL FROM from the demo user, authenticated after STARTTLS on the submission listener, through
 *       {@link SmtpClient} (which sends US-ASCII: other characters go out as '?').</li>
 * </ul>
 * Every reply code is predicted before it is read, by RelayGuard's own flow on the command as James decodes it:
 * {@link SmtpArgument} and {@code RelayPolicy.checkArgument} before James parses (and {@code SmtpPath.parse} with
 * {@code checkPath} on a path James's parser refuses); James's cut and parse
 * ({@link JamesCut}, a model of James's handlers checked against the real ones by {@code AddressFuzzTest}); then
 * on the address James recorded {@code SmtpPath.ofAddress} and {@code RelayPolicy.checkPath}, and
 * {@code decideSender} / {@code decide}. Besides the prediction, each reply is judged on its own: well-formed,
 * never 451 or an "unexpected error" (except where James 3.8.1 itself fails, see {@link JamesCut.Stop#HOOK_CRASH}),
 * a 250 RCPT only for a recipient James parsed into relayguard.test without routing syntax, a 250 MAIL from a
 * stranger never for an unqualified or local sender, a 250 MAIL from demo only for a spelling of its own address
 * or alias. RelayGuard's handler logs no ERROR. Probe bans and the per-connection refusal limit are off.
 *
 * <p>Deterministic: the seed ({@code -Drelayguard.fuzz.seed}) and case number of a failure replay it; the number of
 * commands: {@code -Drelayguard.fuzz.smtpCases} (RCPT; MAIL gets half as many per listener).
 */
class SmtpFuzzIT {
    private static final String LOCAL_DOMAIN = RelayGuardServers.DOMAIN;
    private static final int DEFAULT_CASES = 4_000;
    private static final int RCPTS_PER_TRANSACTION = 50;
    private static final int COMMANDS_PER_CONNECTION = 750;
    private static final String MAIL_FROM = "MAIL FROM:<fuzz@sender.example>";
    private static final Pattern REPLY_LINE = Pattern.compile("([2-5][0-9][0-9])([ -](.*))?");
    private static final Pattern RCPT_ACCEPTED = Pattern.compile("2\\.1\\.5 Recipient <(.*)> OK");
    private static final Pattern MAIL_ACCEPTED = Pattern.compile("2\\.1\\.0 Sender <(.*)> OK");
    /** RelayGuard as the sample is configured here: nobody trusted, no relay domains, every rule rejecting, strict. */
    private static final RelayPolicy POLICY = RelayPolicy.of(TrustedNetworks.none(), Set.of());
    private static final LocalDomains LOCAL_DOMAINS = LOCAL_DOMAIN::equals;
    /** The users and aliases of {@link #users}: the recipients of the local domain James's ValidRcptHandler knows. */
    private static final Set<String> KNOWN_LOCAL_PARTS = Set.of("demo", "other", "ceo", "sales");
    private static final Client STRANGER = Client.of(InetAddress.getLoopbackAddress(), null);
    private static final Client DEMO = Client.of(InetAddress.getLoopbackAddress(), Envelopes.USER, false, ListenerRole.SUBMISSION);

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<sessionLimits><maxRefusedRecipients>0</maxRefusedRecipients></sessionLimits>"));

    private static final String SIZE_LOGGER = "org.apache.james.protocols.smtp.core.esmtp.MailSizeEsmtpExtension";
    private static ch.qos.logback.classic.Level sizeLoggerLevel;

    /** James logs every malformed SIZE= at ERROR; the MAIL fuzz sends hundreds. */
    @BeforeAll
    static void quietSizeLog() {
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ch.qos.logback.classic.Logger logger = ((ch.qos.logback.classic.LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory())
                .getLogger(SIZE_LOGGER);
            sizeLoggerLevel = logger.getLevel();
            logger.setLevel(ch.qos.logback.classic.Level.OFF);
        }
    }

    @AfterAll
    static void restoreSizeLog() {
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ((ch.qos.logback.classic.LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory()).getLogger(SIZE_LOGGER)
                .setLevel(sizeLoggerLevel);
        }
    }

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent()
            .addUser(RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD)
            .addUser("other@" + LOCAL_DOMAIN, "other-password")
            .addUser("ceo@" + LOCAL_DOMAIN, "ceo-password");
        server.getProbe(DataProbeImpl.class).addUserAliasMapping("sales", LOCAL_DOMAIN, RelayGuardServers.DEMO_USER);
    }

    private static long seed() {
        return Long.getLong("relayguard.fuzz.seed", Envelopes.DEFAULT_SEED);
    }

    private static int cases() {
        return Integer.getInteger("relayguard.fuzz.smtpCases", DEFAULT_CASES);
    }

    // ------------------------------------------------------------------------------------------------ RCPT, MX

    @Test
    void fuzzedRecipientsNeverRelayNorBreakTheSession(GuiceJamesServer server) throws Exception {
        LogCapture handlerLog = LogCapture.of("dev.relayguard.smtp.RelayGuardHandler");
        long seed = seed();
        int cases = cases();
        int port = RelayGuardServers.mxPort(server);
        Tally tally = new Tally("RCPT from a stranger on MX");
        Wire wire = null;
        int inConnection = 0;
        int inTransaction = 0;
        try {
            for (int caseNumber = 0; caseNumber < cases && tally.failures.size() < 25; caseNumber++) {
                if (wire == null || inConnection >= COMMANDS_PER_CONNECTION) {
                    if (wire != null) {
                        wire.close();
                    }
                    wire = Wire.open(port);
                    wire.expect(MAIL_FROM, 250);
                    tally.connections++;
                    inConnection = 0;
                    inTransaction = 0;
                } else if (inTransaction >= RCPTS_PER_TRANSACTION) {
                    wire.expect("RSET", 250);
                    wire.expect(MAIL_FROM, 250);
                    inTransaction = 0;
                }
                String generated = Envelopes.rcptArgument(Envelopes.caseRandom(seed, caseNumber), true);
                String where = "seed=" + seed + " case=" + caseNumber + " RCPT " + Envelopes.quote(generated);
                List<String> reply = wire.send("RCPT " + generated);
                inConnection++;
                inTransaction++;
                if (reply == null) {
                    tally.count("closed", "closed");
                    wire.close();
                    wire = null;
                    continue;
                }
                String argument = JamesCut.argumentOf(asJamesDecodes("RCPT " + generated, StandardCharsets.UTF_8));
                JamesCut model = JamesCut.rcpt(argument, true, LOCAL_DOMAIN);
                String last = reply.get(reply.size() - 1);
                List<String> problems = new ArrayList<>();
                checkReply(reply, model.stop == JamesCut.Stop.HOOK_CRASH, problems);
                if (last.startsWith("250")) {
                    checkRecipientAccepted(last, model, problems);
                }
                tally.judge(where, reply, predictRcpt(argument, model), kind(last, model), problems);
                if (last.startsWith("421") || (last.startsWith("451") && model.stop == JamesCut.Stop.HOOK_CRASH)) {
                    wire.close(); // James closes the connection after an exception in a handler
                    wire = null;
                }
            }
        } finally {
            if (wire != null) {
                wire.close();
            }
        }
        tally.print(seed);
        tally.assertClean(handlerLog, cases);
        // The run must cover acceptance, routing refusals, relay refusals and James's own syntax errors.
        assertThat(tally.replyCodes).containsKeys("250", "550", "553", "501", "504");
    }

    /** A 250 RCPT only for an address James parsed into relayguard.test, free of routing syntax, qualified (or postmaster). */
    private static void checkRecipientAccepted(String last, JamesCut model, List<String> problems) {
        Matcher accepted = RCPT_ACCEPTED.matcher(last.substring(4));
        if (!accepted.matches()) {
            problems.add("250 without 'Recipient <...> OK'");
            return;
        }
        String echoed = accepted.group(1); // James's MailAddress: local part + "@" + lower-case domain
        if (!echoed.endsWith("@" + LOCAL_DOMAIN)) {
            problems.add("250 for a domain other than " + LOCAL_DOMAIN + ": " + echoed);
            return;
        }
        String localPart = echoed.substring(0, echoed.length() - LOCAL_DOMAIN.length() - 1);
        if (localPart.indexOf('%') >= 0 || localPart.indexOf('!') >= 0 || localPart.indexOf('@') >= 0) {
            problems.add("250 for routing syntax ('%', '!' or '@') in the local part");
        }
        if (model.address == null || !asReplyEncodes(model.address.asString()).equals(echoed)) {
            problems.add("James accepted " + echoed + " but the model parses " + model.address);
            return;
        }
        // postmaster, also quoted or escaped ("postmaster", post\master): RFC 5321 section 4.5.1
        String unquoted = model.address.getLocalPart().replace("\"", "").replace("\\", "");
        if (model.defaultDomainAppended && !unquoted.equalsIgnoreCase("postmaster")) {
            problems.add("250 for an unqualified recipient");
        }
    }

    /**
     * The RCPT reply code the handler chain gives, step by step: RelayGuard before James parses (550), James's
     * syntax checks (501 usage or brackets, 553 address, 504 any parameter: no RCPT hook of the sample supports
     * one; 451 where James's own parameter reading throws), RelayGuard on the recipient James recorded (routing
     * 550, relay 550), James's ValidRcptHandler (550 for an unknown local user), else 250.
     */
    private static String predictRcpt(String argument, JamesCut model) {
        SmtpArgument rcpt = SmtpArgument.ofRcpt(argument);
        if (rcpt != null) {
            Verdict raw = beforeJames(rcpt, true, STRANGER);
            if (!raw.passes()) {
                return raw.replyCode();
            }
        }
        if (model.stop == JamesCut.Stop.HOOK_CRASH) {
            return "451";
        }
        if (!model.recorded()) {
            return model.replyCode();
        }
        MailAddress recipient = model.address;
        if (recipient.asString().length() > RelayPolicy.MAX_ADDRESS_LENGTH) {
            return POLICY.checkAddressLength(recipient.asString(), true).replyCode();
        }
        Verdict routing = POLICY.checkPath(SmtpPath.ofAddress(recipient.getLocalPart(), recipient.getDomain().asString()), true, STRANGER);
        if (!routing.passes()) {
            return routing.replyCode();
        }
        Verdict relay = POLICY.decide(RelayRequest.of(STRANGER, recipient.getDomain().asString()), LOCAL_DOMAINS);
        if (!relay.passes()) {
            return relay.replyCode();
        }
        // Then James's ValidRcptHandler (after RelayGuard's handler in the sample): a recipient of the local domain
        // that is neither a user nor an alias gets 550 5.1.1; James lower-cases the local part (Locale.US).
        return KNOWN_LOCAL_PARTS.contains(recipient.getLocalPart().toLowerCase(Locale.US)) ? "250" : "550";
    }

    // ------------------------------------------------------------------------------------------------ MAIL, MX

    @Test
    void fuzzedSendersFromAStrangerOnMx(GuiceJamesServer server) throws Exception {
        LogCapture handlerLog = LogCapture.of("dev.relayguard.smtp.RelayGuardHandler");
        long seed = seed() + 1;
        int cases = cases() / 2;
        int port = RelayGuardServers.mxPort(server);
        Tally tally = new Tally("MAIL from a stranger on MX");
        Wire wire = null;
        int inConnection = 0;
        try {
            for (int caseNumber = 0; caseNumber < cases && tally.failures.size() < 25; caseNumber++) {
                if (wire == null || inConnection >= COMMANDS_PER_CONNECTION) {
                    if (wire != null) {
                        wire.close();
                    }
                    wire = Wire.open(port);
                    tally.connections++;
                    inConnection = 0;
                }
                String generated = Envelopes.mailArgument(Envelopes.caseRandom(seed, caseNumber), true);
                String where = "seed=" + seed + " case=" + caseNumber + " MAIL " + Envelopes.quote(generated);
                List<String> reply = wire.send("MAIL " + generated);
                inConnection++;
                if (reply == null) {
                    tally.count("closed", "closed");
                    wire.close();
                    wire = null;
                    continue;
                }
                String argument = JamesCut.argumentOf(asJamesDecodes("MAIL " + generated, StandardCharsets.UTF_8));
                JamesCut model = JamesCut.mail(argument, true, LOCAL_DOMAIN);
                String last = reply.get(reply.size() - 1);
                List<String> problems = new ArrayList<>();
                checkReply(reply, false, problems);
                if (last.startsWith("250")) {
                    String sender = acceptedSender(last, model, problems);
                    if (model.defaultDomainAppended) {
                        problems.add("250 for an unqualified sender from a stranger on MX");
                    }
                    if (sender != null && sender.toLowerCase(Locale.ROOT).endsWith("@" + LOCAL_DOMAIN)) {
                        problems.add("250 for a local sender from a stranger on MX");
                    }
                    wire.expect("RSET", 250);
                    inConnection++;
                }
                tally.judge(where, reply, predictMail(argument, model, STRANGER), kindOfMail(last), problems);
            }
        } finally {
            if (wire != null) {
                wire.close();
            }
        }
        tally.print(seed);
        tally.assertClean(handlerLog, cases);
        assertThat(tally.replyCodes).containsKeys("250", "501", "550", "553");
        assertThat(tally.kinds.keySet()).anyMatch(kind -> kind.contains("must be fully qualified"))
            .anyMatch(kind -> kind.contains("local domain requires authentication"))
            .anyMatch(kind -> kind.contains("Routing syntax not accepted"));
    }

    // ------------------------------------------------------------------------------------------------ MAIL, submission

    @Test
    void fuzzedSendersFromTheAuthenticatedUserOnSubmission(GuiceJamesServer server) throws Exception {
        LogCapture handlerLog = LogCapture.of("dev.relayguard.smtp.RelayGuardHandler");
        long seed = seed() + 2;
        int cases = cases() / 2;
        int port = RelayGuardServers.submissionPort(server);
        Tally tally = new Tally("MAIL from " + Envelopes.USER + " (AUTH after STARTTLS) on submission");
        SmtpClient smtp = null;
        int inConnection = 0;
        try {
            for (int caseNumber = 0; caseNumber < cases && tally.failures.size() < 25; caseNumber++) {
                if (smtp == null || inConnection >= COMMANDS_PER_CONNECTION) {
                    if (smtp != null) {
                        smtp.close();
                    }
                    smtp = authenticated(port);
                    tally.connections++;
                    inConnection = 0;
                }
                String generated = Envelopes.mailArgument(Envelopes.caseRandom(seed, caseNumber), true);
                String where = "seed=" + seed + " case=" + caseNumber + " MAIL " + Envelopes.quote(generated);
                Reply reply;
                try {
                    reply = smtp.command("MAIL " + generated);
                } catch (IOException e) {
                    tally.count("closed", "closed");
                    smtp.close();
                    smtp = null;
                    continue;
                }
                inConnection++;
                // SmtpClient writes US-ASCII: what it cannot encode goes out as '?'.
                String argument = JamesCut.argumentOf(asJamesDecodes("MAIL " + generated, StandardCharsets.US_ASCII));
                JamesCut model = JamesCut.mail(argument, true, LOCAL_DOMAIN);
                String last = reply.lines().get(reply.lines().size() - 1);
                List<String> problems = new ArrayList<>();
                checkReply(reply.lines(), false, problems);
                if (last.startsWith("250")) {
                    String sender = acceptedSender(last, model, problems);
                    if (sender != null && !sender.isEmpty() && !Envelopes.ownedBySpelling(sender)) {
                        problems.add("250 for a sender no spelling of " + Envelopes.USER + " or " + Envelopes.USER_ALIAS
                            + " reads as: " + sender);
                    }
                    Reply rset = smtp.command("RSET");
                    assertThat(rset.code()).as("RSET").isEqualTo(250);
                    inConnection++;
                }
                tally.judge(where, reply.lines(), predictMail(argument, model, DEMO), kindOfMail(last), problems);
            }
        } finally {
            if (smtp != null) {
                smtp.close();
            }
        }
        tally.print(seed);
        tally.assertClean(handlerLog, cases);
        assertThat(tally.replyCodes).containsKeys("250", "501", "550", "553");
        assertThat(tally.kinds.keySet()).anyMatch(kind -> kind.contains("not owned by authenticated user"))
            .anyMatch(kind -> kind.contains("Routing syntax not accepted"));
    }

    private static SmtpClient authenticated(int port) throws Exception {
        SmtpClient smtp = SmtpClient.connect(port);
        assertThat(smtp.greeting().code()).isEqualTo(220);
        smtp.ehlo("fuzzer.example");
        smtp.startTls("fuzzer.example");
        Reply auth = smtp.authPlain(RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD);
        assertThat(auth.code()).as(auth.toString()).isEqualTo(235);
        return smtp;
    }

    /** The sender James echoes in a 250 ({@code ""} for the null sender); it must be the one the model parsed. */
    private static String acceptedSender(String last, JamesCut model, List<String> problems) {
        Matcher accepted = MAIL_ACCEPTED.matcher(last.substring(4));
        if (!accepted.matches()) {
            problems.add("250 without 'Sender <...> OK'");
            return null;
        }
        String echoed = accepted.group(1);
        String modelled = model.nullSender ? "" : model.address == null ? null : asReplyEncodes(model.address.asString());
        if (!echoed.equals(modelled)) {
            problems.add("James accepted sender " + Envelopes.quote(echoed) + " but the model parses " + model);
        }
        return echoed;
    }

    /**
     * The MAIL reply code the chain gives: RelayGuard before James parses (530 without AUTH on submission, 550
     * source route, 553 unqualified sender from a stranger on MX), James's syntax checks (501: usage, SIZE value,
     * brackets, address), RelayGuard on the sender James recorded (routing 550, ownership 553, local-sender spoof
     * 550), else 250.
     */
    private static String predictMail(String argument, JamesCut model, Client client) {
        SmtpArgument mail = SmtpArgument.ofMail(argument);
        if (client.role() == ListenerRole.SUBMISSION) {
            Verdict auth = POLICY.decideSender(client, null, LOCAL_DOMAINS, Envelopes.OWNERSHIP);
            if (!auth.passes()) {
                return auth.replyCode();
            }
        }
        if (mail != null) {
            Verdict raw = beforeJames(mail, false, client);
            if (!raw.passes()) {
                return raw.replyCode();
            }
        }
        if (!model.recorded()) {
            return model.replyCode();
        }
        String sender = null;
        if (!model.nullSender) {
            MailAddress address = model.address;
            if (address.asString().length() > RelayPolicy.MAX_ADDRESS_LENGTH) {
                return POLICY.checkAddressLength(address.asString(), false).replyCode();
            }
            Verdict routing = POLICY.checkPath(SmtpPath.ofAddress(address.getLocalPart(), address.getDomain().asString()), false, client);
            if (!routing.passes()) {
                return routing.replyCode();
            }
            sender = address.asString();
        }
        Verdict verdict;
        try {
            verdict = POLICY.decideSender(client, sender, LOCAL_DOMAINS, Envelopes.OWNERSHIP);
        } catch (RuntimeException e) {
            return "exception " + e;
        }
        return verdict.passes() ? "250" : verdict.replyCode();
    }

    /**
     * RelayGuard before James parses, as {@code RelayGuardHandler.checkMail}/{@code checkRcpt} do it: what James's
     * parsing hides ({@code checkArgument}); and when James's {@code MailAddress} will not parse the path at all
     * (completed with a domain where James completes it), the routing tricks in it as written
     * ({@code checkUnparseablePath}), so that such a probe is refused and counted as one.
     */
    private static Verdict beforeJames(SmtpArgument argument, boolean recipient, Client client) {
        Verdict raw = POLICY.checkArgument(argument, recipient, client);
        if (raw.isAllowed() && !argument.isNullSender()) {
            try {
                new MailAddress(argument.completedByServer() ? argument.path() + "@localhost" : argument.path());
            } catch (Exception unparseable) {
                raw = POLICY.checkUnparseablePath(argument, recipient, client);
            }
        }
        return raw;
    }

    // ------------------------------------------------------------------------------------------------ regression

    /**
     * Routing syntax that the earlier raw-text reader (SmtpPath.fromArgument) missed because of an escaped quote,
     * a stray quote after an IP literal or an escaped '>': James parses each into a local recipient or the IP
     * literal, and RelayGuard now judges exactly that address.
     */
    @Test
    void routingSyntaxHiddenByQuotesOrEscapesIsRefused(GuiceJamesServer server) throws Exception {
        List<String> wrong = new ArrayList<>();
        try (Wire wire = Wire.open(RelayGuardServers.mxPort(server))) {
            wire.expect(MAIL_FROM, 250);
            for (String argument : List.of(
                    "TO:<user\\\"%remote.example@relayguard.test>",
                    "TO:<us\\\"er>",
                    "TO:<user@[192.0.2.1]\">",
                    "TO:<user\\@relayguard.test\\>%remote.example@relayguard.test>")) {
                List<String> reply = wire.send("RCPT " + argument);
                String last = reply == null ? "(closed)" : reply.get(reply.size() - 1);
                if (!last.startsWith("550 5.7.1 Routing syntax not accepted") && !last.startsWith("550 5.7.1 Unqualified address")) {
                    wrong.add("RCPT " + argument + " -> " + last);
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ shared

    /** Reply codes, reply kinds, predictions and failures of one run. */
    private static final class Tally {
        final String name;
        final Map<String, Integer> replyCodes = new TreeMap<>();
        final Map<String, Integer> kinds = new TreeMap<>();
        final Map<String, Integer> predictions = new TreeMap<>();
        final List<String> failures = new ArrayList<>();
        final List<String> mispredicted = new ArrayList<>();
        final long start = System.nanoTime();
        int connections;
        int sent;

        Tally(String name) {
            this.name = name;
        }

        void count(String code, String kind) {
            replyCodes.merge(code, 1, Integer::sum);
            kinds.merge(kind, 1, Integer::sum);
            sent++;
        }

        void judge(String where, List<String> reply, String predicted, String kind, List<String> problems) {
            String last = reply.get(reply.size() - 1);
            String code = last.length() >= 3 ? last.substring(0, 3) : "???";
            count(code, kind);
            predictions.merge("predicted " + predicted + ", got " + code, 1, Integer::sum);
            if (!predicted.equals(code)) {
                mispredicted.add(where + ": predicted " + predicted + ", James " + String.join(" / ", reply));
            }
            if (!problems.isEmpty()) {
                failures.add(where + " -> " + String.join(" / ", reply) + ": " + String.join("; ", problems));
            }
        }

        void print(long seed) {
            long millis = (System.nanoTime() - start) / 1_000_000;
            System.out.printf("SmtpFuzzIT %s: seed=%d, %d commands over %d connections in %d ms%n", name, seed, sent, connections, millis);
            System.out.println("  reply codes: " + replyCodes);
            kinds.forEach((kind, count) -> System.out.printf("  %-90s %6d%n", kind, count));
            predictions.forEach((prediction, count) -> System.out.printf("  %-90s %6d%n", prediction, count));
            mispredicted.stream().limit(10).forEach(miss -> System.out.println("  mispredicted: " + miss));
        }

        void assertClean(LogCapture handlerLog, int cases) {
            assertThat(failures).as("failing commands").isEmpty();
            assertThat(handlerLog.linesAt("ERROR")).as("RelayGuardHandler ERROR log").isEmpty();
            // The model of RelayGuard + James (AddressFuzzTest's oracles rest on it) must predict every reply code.
            assertThat(mispredicted).as("replies the model of RelayGuard + James did not predict").isEmpty();
            assertThat(sent).isGreaterThanOrEqualTo(cases);
        }
    }

    /** Well formed: {@code NNN text} lines, {@code NNN-} on all but the last, one code throughout; 451 only where James fails. */
    private static void checkReply(List<String> reply, boolean jamesFails, List<String> problems) {
        String code = null;
        for (int i = 0; i < reply.size(); i++) {
            String line = reply.get(i);
            Matcher matcher = REPLY_LINE.matcher(line);
            if (line.endsWith("<bare LF>") || line.endsWith("<EOF>")) {
                problems.add("reply line not ended by CRLF: " + Envelopes.quote(line));
            }
            if (!matcher.matches()) {
                problems.add("malformed reply line " + Envelopes.quote(line));
                continue;
            }
            boolean last = i == reply.size() - 1;
            if (last ? line.length() > 3 && line.charAt(3) != ' ' : line.length() < 4 || line.charAt(3) != '-') {
                problems.add("bad continuation in " + Envelopes.quote(line));
            }
            if (code != null && !code.equals(matcher.group(1))) {
                problems.add("codes differ within one reply");
            }
            code = matcher.group(1);
            if (line.toLowerCase(Locale.ROOT).contains("unexpected error")) {
                problems.add("'unexpected error' in the reply");
            }
        }
        if ("451".equals(code) && !jamesFails) {
            problems.add("451 reply");
        }
    }

    /** A RCPT reply line without its variable parts, for the distribution: {@code 550 5.7.1 Relaying denied}. */
    private static String kind(String line, JamesCut model) {
        if (line.startsWith("250")) {
            return model.defaultDomainAppended ? "250 (unqualified, default domain added)" : "250";
        }
        if (line.startsWith("451") && model.stop == JamesCut.Stop.HOOK_CRASH) {
            return line + " (James 3.8.1: a repeated word in RCPT breaks its parameter map)";
        }
        return withoutVariableParts(line);
    }

    private static String kindOfMail(String line) {
        return line.startsWith("250") ? "250" : withoutVariableParts(line);
    }

    private static String withoutVariableParts(String line) {
        if (line.contains("Routing syntax not accepted")) {
            return line;
        }
        int cut = line.length();
        for (char stop : new char[] {':', '<'}) {
            int at = line.indexOf(stop);
            if (at > 0 && at < cut) {
                cut = at;
            }
        }
        return line.substring(0, cut).trim();
    }

    /** An address as James writes it in a reply: US-ASCII, so the U+FFFD it decoded from other bytes goes out as '?'. */
    private static String asReplyEncodes(String text) {
        return new String(text.getBytes(StandardCharsets.US_ASCII), StandardCharsets.US_ASCII);
    }

    /** The line as James decodes it: sent in {@code sent}, read back as US-ASCII (other bytes become U+FFFD). */
    private static String asJamesDecodes(String line, java.nio.charset.Charset sent) {
        return new String(line.getBytes(sent), StandardCharsets.US_ASCII);
    }

    /** A raw SMTP connection: sends UTF-8 lines, reads replies byte-exact (lines must end with CRLF). */
    private static final class Wire implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        private Wire(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream());
            this.out = socket.getOutputStream();
        }

        /** Connected, greeted and after EHLO. */
        static Wire open(int port) throws IOException {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            socket.setSoTimeout(30_000);
            Wire wire = new Wire(socket);
            List<String> greeting = wire.readReply();
            assertThat(greeting).as("greeting").isNotNull();
            assertThat(greeting.get(greeting.size() - 1)).startsWith("220 ");
            wire.expect("EHLO fuzzer.example", 250);
            return wire;
        }

        void expect(String command, int code) throws IOException {
            List<String> reply = send(command);
            assertThat(reply).as(command).isNotNull();
            assertThat(reply.get(reply.size() - 1)).as(command).startsWith(code + " ");
        }

        /** The reply lines, or null when the server closed the connection. */
        List<String> send(String command) throws IOException {
            try {
                out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                return readReply();
            } catch (java.net.SocketException e) {
                return null;
            }
        }

        private List<String> readReply() throws IOException {
            List<String> lines = new ArrayList<>();
            while (true) {
                String line = readLine();
                if (line == null) {
                    return lines.isEmpty() ? null : lines;
                }
                lines.add(line);
                if (line.length() < 4 || line.charAt(3) != '-') {
                    return lines;
                }
            }
        }

        /** One line without its CRLF; a line ending in a bare LF is returned with a visible marker. */
        private String readLine() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            while (true) {
                int b = in.read();
                if (b < 0) {
                    return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1) + "<EOF>";
                }
                if (b == '\n') {
                    String text = line.toString(StandardCharsets.ISO_8859_1);
                    return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text + "<bare LF>";
                }
                line.write(b);
            }
        }

        @Override
        public void close() {
            try {
                if (!socket.isClosed()) {
                    out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            } catch (IOException ignored) {
                // the server may have closed the connection already
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }
}
