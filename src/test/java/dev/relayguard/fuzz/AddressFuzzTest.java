package dev.relayguard.fuzz;

import static dev.relayguard.fuzz.Envelopes.LOCAL_DOMAIN;
import static dev.relayguard.fuzz.Envelopes.LOCAL_IP_LITERAL;
import static dev.relayguard.fuzz.Envelopes.RELAY_DOMAIN;
import static dev.relayguard.fuzz.Envelopes.USER;
import static dev.relayguard.fuzz.Envelopes.USER_ALIAS;
import static dev.relayguard.fuzz.Envelopes.quote;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.apache.james.core.MailAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import com.google.common.net.InetAddresses;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.RateLimitSettings;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RuleModes;
import dev.relayguard.core.SenderOwnership;
import dev.relayguard.core.SenderOwnershipMode;
import dev.relayguard.core.SessionLimits;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.TrustedNetworks;
import dev.relayguard.fuzz.JamesChain.Decision;
import dev.relayguard.fuzz.JamesChain.Run;
import dev.relayguard.fuzz.JamesChain.Who;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Differential fuzzing of how RelayGuard reads MAIL and RCPT against how James 3.8.1 reads them, on generated
 * arguments ({@link Envelopes}): 110,000 MAIL and 110,000 RCPT arguments by default (about 15-20 s of CPU in all).
 *
 * <p>Two properties, each checked on every argument:
 * <ol>
 *   <li><b>Same cut.</b> {@link SmtpArgument#ofMail}/{@link SmtpArgument#ofRcpt} give exactly the path James parses:
 *       the text of {@link JamesCut} (a line-by-line model of {@code MailCmdHandler.doMAILFilter} and
 *       {@code RcptCmdHandler.doFilterChecks}, because James keeps those steps private), and the model itself is
 *       checked against James's real {@code JamesMailCmdHandler}/{@code JamesRcptCmdHandler} on every case (what they
 *       record, or the reply they refuse with). The same for what James does with the path: null sender,
 *       default domain appended, source route (which James fails to parse), parameter names.</li>
 *   <li><b>Same verdict.</b> The command goes through RelayGuard's handler in front of James's real handlers
 *       ({@link JamesChain}: {@code onCommand} before James parses, {@code doMail}/{@code doRcpt} on what James
 *       recorded), for a stranger on an MX listener and the demo user on submission on every case, and for a
 *       trusted client on MX and an unauthenticated client on submission on every fourth. RelayGuard's verdict
 *       (read from its counters) and the reply must be what the rules give the address James records ({@link Spec},
 *       written here from the rules, not from RelayGuard's code). And two safety properties, stated on their own:
 *       no spelling of another user's address passes sender ownership for the authenticated user, and no
 *       unqualified sender passes for a stranger on MX.</li>
 * </ol>
 *
 * <p>Every mismatch fails the test. (A mismatch in RelayGuard's main code that cannot be fixed at once may be
 * recorded with {@code Fuzz.known}: counted and printed with examples, not failed, and given a disabled test of its
 * own; there is none now.) The regression tests below the fuzz loops are inputs earlier code got wrong.
 *
 * <p>Deterministic: every case has its own random source from the run seed and the case number
 * ({@link Envelopes#caseRandom}), so a failure names {@code seed} and {@code case} and replays alone. Override with
 * {@code -Drelayguard.fuzz.seed=<long>} and {@code -Drelayguard.fuzz.cases=<int>}.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
public class AddressFuzzTest {
    private static final int DEFAULT_CASES = 110_000;
    private static final int MIN_CASES_PER_PROPERTY = 100_000;

    static final LocalDomains LOCAL_DOMAINS = LOCAL_DOMAIN::equals;
    static final SenderOwnership OWNERSHIP = Envelopes.OWNERSHIP;
    static final RelayPolicy POLICY = RelayPolicy.of(TrustedNetworks.of(List.of(IpNetwork.parse("192.0.2.0/24"))),
        Set.of(RELAY_DOMAIN), List.of(LOCAL_IP_LITERAL), RuleModes.defaults(), SenderOwnershipMode.STRICT);

    static final Who STRANGER = new Who("stranger on MX", ip("203.0.113.7"), null, false);
    static final Who TRUSTED = new Who("trusted client on MX", ip("192.0.2.10"), null, false);
    static final Who DEMO = new Who("demo (AUTH, TLS) on submission", ip("203.0.113.8"), USER, true);
    static final Who ANONYMOUS = new Who("no AUTH on submission", ip("203.0.113.9"), null, true);

    /** For the regression tests; each fuzz thread builds its own. */
    private static Chains chains;
    private static Map<String, ch.qos.logback.classic.Level> savedLevels;

    /**
     * James alone, and RelayGuard (one RelayGuard object, as the Guice singleton) in front of James on an MX and a
     * submission listener. Probe bans, the refused-recipient limit and rate limits are off: every case stands alone.
     */
    static final class Chains {
        final JamesChain jamesAlone;
        final JamesChain mx;
        final JamesChain submission;

        Chains() throws Exception {
            JamesChain.CountingMetrics metrics = new JamesChain.CountingMetrics();
            RelayGuardSettings settings = new RelayGuardSettings(POLICY, new SessionLimits(0),
                new ProbeBans.Settings(0, Duration.ofMinutes(10), Duration.ofHours(1), 1000), RateLimitSettings.NONE);
            RelayGuard guard = new RelayGuard(settings, LOCAL_DOMAINS, OWNERSHIP, new RefusalRecorder(metrics),
                System::currentTimeMillis, new MemoryLimiterStore(1000, System::currentTimeMillis));
            jamesAlone = new JamesChain(null, metrics, ListenerRole.MX);
            mx = new JamesChain(guard, metrics, ListenerRole.MX);
            submission = new JamesChain(guard, metrics, ListenerRole.SUBMISSION);
        }

        JamesChain of(Who who) {
            return who == DEMO || who == ANONYMOUS ? submission : mx;
        }
    }

    @BeforeAll
    static void chains() throws Exception {
        savedLevels = quietLogs();
        chains = new Chains();
    }

    @AfterAll
    static void restoreLogs() {
        if (savedLevels != null && LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ch.qos.logback.classic.LoggerContext context = (ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory();
            savedLevels.forEach((name, level) -> context.getLogger(name).setLevel(level));
        }
    }

    /** No logback-test.xml here: keep James's per-command INFO/ERROR lines and RelayGuard's audit lines out of the run. */
    private static Map<String, ch.qos.logback.classic.Level> quietLogs() {
        Map<String, ch.qos.logback.classic.Level> saved = new TreeMap<>();
        if (!(LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext)) {
            return saved;
        }
        ch.qos.logback.classic.LoggerContext context = (ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory();
        for (String name : List.of("org.apache.james", RefusalRecorder.AUDIT_LOGGER, "dev.relayguard.smtp.RelayGuardHandler")) {
            saved.put(name, context.getLogger(name).getLevel());
            context.getLogger(name).setLevel(name.startsWith("dev.") ? ch.qos.logback.classic.Level.ERROR : ch.qos.logback.classic.Level.OFF);
        }
        return saved;
    }

    // ------------------------------------------------------------------------------------------------ MAIL

    @Test
    void mailIsCutAsJamesCutsItAndJudgedAsTheSenderJamesRecords() throws Exception {
        Fuzz fuzz = new Fuzz("MAIL");
        fuzz.run(AddressFuzzTest::fuzzMail);
        fuzz.report(List.of("cut: path", "verdict: " + STRANGER, "verdict: " + DEMO,
            "safety: sender ownership (" + DEMO + ")", "safety: unqualified sender (" + STRANGER + ")"));
        fuzz.assertCovers(
            "james: RECORDED", "james: RECORDED null sender", "james: RECORDED default domain appended", "james: USAGE",
            "james: SIZE", "james: BRACKETS", "james: ADDRESS", "smtpArgument: source route",
            STRANGER + ": refused sender.unqualified", STRANGER + ": refused sender.local-spoof", STRANGER + ": accepted sender.ok",
            STRANGER + ": refused routing.source-route", STRANGER + ": refused routing.percent-hack",
            STRANGER + ": refused routing.bang-path", STRANGER + ": refused routing.at-in-local-part",
            STRANGER + ": refused routing.ip-literal", DEMO + ": refused sender.not-owned", DEMO + ": accepted sender.ok",
            DEMO + ": accepted sender.ok (alias)", DEMO + ": accepted sender.ok (default domain appended)",
            DEMO + ": accepted sender.ok (quoted)", TRUSTED + ": accepted sender.ok (default domain appended)",
            ANONYMOUS + ": refused submission.auth-required", "james: RECORDED parameters (AUTH=<...>)", "james: RECORDED SIZE");
    }

    private static void fuzzMail(Fuzz fuzz, Chains chains, int first, int step) {
        for (int caseNumber = first; caseNumber < fuzz.cases && fuzz.failures.size() < 25; caseNumber += step) {
            SplittableRandom random = Envelopes.caseRandom(fuzz.seed, caseNumber);
            String generated = Envelopes.mailArgument(random, false);
            String argument = JamesCut.argumentOf("MAIL " + generated); // what James's command dispatcher hands over
            boolean enforcement = random.nextInt(10) != 0; // the sample enforces brackets
            Where where = new Where(fuzz.seed, caseNumber, "MAIL", generated, enforcement, null);
            try {
                JamesCut model = JamesCut.mail(argument, enforcement, JamesChain.DEFAULT_DOMAIN);
                Run james = chains.jamesAlone.mail(argument, DEMO, enforcement);
                checkModel(where, model, james, fuzz);
                checkMailCut(where, argument, model, james, fuzz);
                for (Who who : caseNumber % 4 == 0 ? List.of(STRANGER, DEMO, TRUSTED, ANONYMOUS) : List.of(STRANGER, DEMO)) {
                    Run run = chains.of(who).mail(argument, who, enforcement);
                    checkVerdict(where.from(who), Spec.mail(argument, model, who), run, fuzz);
                    checkMailSafety(where.from(who), model, who, run, fuzz);
                }
            } catch (Throwable e) {
                fuzz.fail(where + " threw " + e);
            }
        }
    }

    private static void checkMailCut(Where where, String argument, JamesCut model, Run james, Fuzz fuzz) {
        SmtpArgument ours = SmtpArgument.ofMail(argument);
        if ((ours == null) != (model.afterColon == null)) {
            fuzz.fail(where + ": SmtpArgument " + ours + ", James finds " + (model.afterColon == null ? "no" : "a") + " ':'");
            return;
        }
        if (ours == null) {
            return;
        }
        // James cuts only after the FROM keyword; the cut itself does not depend on the keyword.
        JamesCut cut = model.stop == JamesCut.Stop.USAGE ? JamesCut.mail("FROM:" + model.afterColon, false, JamesChain.DEFAULT_DOMAIN) : model;
        fuzz.checked("cut: path");
        checkPathAndParameters(where, ours, cut, fuzz);
        boolean nullSender = cut.path.isEmpty() || cut.path.equals("@");
        if (ours.isNullSender() != nullSender) {
            fuzz.fail(where + ": SmtpArgument.isNullSender " + ours.isNullSender() + ", James " + nullSender);
        }
        if (model.stop == JamesCut.Stop.RECORDED || model.stop == JamesCut.Stop.ADDRESS) {
            if (ours.completedByServer() != model.defaultDomainAppended) {
                fuzz.fail(where + ": SmtpArgument.completedByServer " + ours.completedByServer() + ", James appended its domain: "
                    + model.defaultDomainAppended);
            }
        }
        if (ours.hasSourceRoute()) {
            fuzz.count("smtpArgument: source route");
            if (james.hooksCalled) {
                fuzz.fail(where + ": SmtpArgument sees a source route, James recorded " + james.sender);
            }
        }
        if (model.recorded() && model.options != null) {
            boolean authWithBrackets = model.options.toUpperCase(Locale.ROOT).contains("AUTH=<");
            fuzz.count("james: RECORDED parameters" + (authWithBrackets ? " (AUTH=<...>)" : ""));
            long ourSize = ours.declaredSize();
            long jamesSize = james.jamesSize == null ? -1 : james.jamesSize;
            if (james.jamesSize != null) {
                fuzz.count("james: RECORDED SIZE");
            }
            if (ourSize != jamesSize && !(jamesSize < 0 && ourSize < 0)) { // a negative SIZE James keeps is no size
                fuzz.fail(where + ": SmtpArgument.declaredSize " + ourSize + ", James's MailSizeEsmtpExtension stored " + jamesSize);
            }
        }
    }

    private static void checkMailSafety(Where where, JamesCut model, Who who, Run run, Fuzz fuzz) {
        boolean accepted = "250".equals(run.code());
        if (who == DEMO) {
            fuzz.checked("safety: sender ownership (" + DEMO + ")");
            if (accepted && run.sender != null && !run.sender.isNullSender()
                    && !Spec.ownedBySpelling(run.sender.get())) {
                fuzz.fail(where + ": " + run.reply() + ": sender " + quote(run.sender.get().asString())
                    + " passed ownership, but no spelling of " + USER + " or " + USER_ALIAS + " reads as it");
            }
        }
        if (who == STRANGER) {
            fuzz.checked("safety: unqualified sender (" + STRANGER + ")");
            if (accepted && model.defaultDomainAppended) {
                fuzz.fail(where + ": " + run.reply() + ": unqualified sender accepted from a stranger on MX");
            }
            if (accepted && model.address != null && (Spec.isLocal(model.address.getDomain().asString())
                    || Spec.isLocalIpLiteral(model.address.getDomain().asString()))) {
                fuzz.fail(where + ": " + run.reply() + ": local sender accepted from a stranger on MX");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ RCPT

    @Test
    void rcptIsCutAsJamesCutsItAndJudgedAsTheRecipientJamesRecords() throws Exception {
        Fuzz fuzz = new Fuzz("RCPT");
        fuzz.run(AddressFuzzTest::fuzzRcpt);
        fuzz.report(List.of("cut: path", "verdict: " + STRANGER, "verdict: " + DEMO, "safety: no relay (" + STRANGER + ")"));
        fuzz.assertCovers(
            "james: RECORDED", "james: RECORDED default domain appended", "james: USAGE", "james: BRACKETS",
            "james: ADDRESS", "james: PARAMETER", "james: HOOK_CRASH", "smtpArgument: source route",
            STRANGER + ": refused routing.source-route", STRANGER + ": refused routing.percent-hack",
            STRANGER + ": refused routing.bang-path", STRANGER + ": refused routing.at-in-local-part",
            STRANGER + ": refused routing.ip-literal", STRANGER + ": refused routing.unqualified",
            STRANGER + ": refused relay.unauthenticated", STRANGER + ": accepted relay.local-domain",
            STRANGER + ": accepted relay.relay-domain", STRANGER + ": accepted relay.local-domain (default domain appended)",
            STRANGER + ": accepted relay.local-domain (local IP literal)", DEMO + ": accepted relay.authenticated",
            DEMO + ": refused routing.ip-literal", TRUSTED + ": accepted relay.trusted-network (default domain appended)");
    }

    private static void fuzzRcpt(Fuzz fuzz, Chains chains, int first, int step) {
        for (int caseNumber = first; caseNumber < fuzz.cases && fuzz.failures.size() < 25; caseNumber += step) {
            SplittableRandom random = Envelopes.caseRandom(fuzz.seed, caseNumber);
            String generated = Envelopes.rcptArgument(random, false);
            String argument = JamesCut.argumentOf("RCPT " + generated);
            boolean enforcement = random.nextInt(10) != 0;
            Where where = new Where(fuzz.seed, caseNumber, "RCPT", generated, enforcement, null);
            try {
                JamesCut model = JamesCut.rcpt(argument, enforcement, JamesChain.DEFAULT_DOMAIN);
                Run james = chains.jamesAlone.rcpt(argument, STRANGER, enforcement);
                checkModel(where, model, james, fuzz);
                checkRcptCut(where, argument, model, james, fuzz);
                for (Who who : caseNumber % 4 == 0 ? List.of(STRANGER, DEMO, TRUSTED) : List.of(STRANGER, DEMO)) {
                    Run run = chains.of(who).rcpt(argument, who, enforcement);
                    checkVerdict(where.from(who), Spec.rcpt(argument, model, who), run, fuzz);
                    checkRcptSafety(where.from(who), model, who, run, fuzz);
                }
            } catch (Throwable e) {
                fuzz.fail(where + " threw " + e);
            }
        }
    }

    private static void checkRcptCut(Where where, String argument, JamesCut model, Run james, Fuzz fuzz) {
        SmtpArgument ours = SmtpArgument.ofRcpt(argument);
        if ((ours == null) != (model.afterColon == null)) {
            fuzz.fail(where + ": SmtpArgument " + ours + ", James finds " + (model.afterColon == null ? "no" : "a") + " ':'");
            return;
        }
        if (ours == null) {
            return;
        }
        JamesCut cut = model.stop == JamesCut.Stop.USAGE ? JamesCut.rcpt("TO:" + model.afterColon, false, JamesChain.DEFAULT_DOMAIN) : model;
        fuzz.checked("cut: path");
        checkPathAndParameters(where, ours, cut, fuzz);
        if (ours.isNullSender()) {
            fuzz.fail(where + ": a RCPT path read as the null sender");
        }
        if (model.stop == JamesCut.Stop.RECORDED || model.stop == JamesCut.Stop.ADDRESS || model.stop == JamesCut.Stop.PARAMETER) {
            // An empty path: James appends its domain and then fails to parse "@relayguard.test"; RelayGuard leaves it to James.
            if (!ours.path().isEmpty() && ours.completedByServer() != model.defaultDomainAppended) {
                fuzz.fail(where + ": SmtpArgument.completedByServer " + ours.completedByServer() + ", James appended its domain: "
                    + model.defaultDomainAppended);
            }
        }
        if (ours.hasSourceRoute()) {
            fuzz.count("smtpArgument: source route");
            if (james.hooksCalled || model.stop == JamesCut.Stop.PARAMETER) {
                fuzz.fail(where + ": SmtpArgument sees a source route, James parsed " + model.address);
            }
        }
    }

    private static void checkRcptSafety(Where where, JamesCut model, Who who, Run run, Fuzz fuzz) {
        if (who != STRANGER) {
            return;
        }
        fuzz.checked("safety: no relay (" + STRANGER + ")");
        if (!"250".equals(run.code())) {
            return;
        }
        MailAddress rcpt = run.recipient;
        String domain = rcpt.getDomain().asString();
        if (!Spec.isLocal(domain) && !domain.equals(RELAY_DOMAIN) && !domain.equals(LOCAL_IP_LITERAL)) {
            fuzz.fail(where + ": " + run.reply() + ": relayed to " + domain);
        }
        if (!Spec.routing(rcpt).isEmpty()) {
            fuzz.fail(where + ": " + run.reply() + ": routing syntax accepted " + Spec.routing(rcpt));
        }
        if (model.defaultDomainAppended && !Spec.isPostmaster(rcpt.getLocalPart())) {
            fuzz.fail(where + ": " + run.reply() + ": unqualified recipient accepted");
        }
    }

    // ------------------------------------------------------------------------------------------------ shared checks

    /** The model of James's cut against James's real handler: same recorded address, or the same refusal. */
    private static void checkModel(Where where, JamesCut model, Run james, Fuzz fuzz) {
        fuzz.count("james: " + model.stop);
        if (model.recorded() && model.nullSender) {
            fuzz.count("james: RECORDED null sender");
        }
        if (model.recorded() && model.defaultDomainAppended) {
            fuzz.count("james: RECORDED default domain appended");
        }
        if (model.stop == JamesCut.Stop.HOOK_CRASH) {
            if (!(james.thrown instanceof IllegalArgumentException) || james.hooksCalled) {
                fuzz.fail(where + ": model " + model + ", James " + james.reply());
            }
            return;
        }
        if (james.thrown != null) {
            fuzz.fail(where + ": James's handler threw " + james.thrown);
            return;
        }
        if (james.hooksCalled != model.recorded()) {
            fuzz.fail(where + ": model " + model + ", James " + james.reply() + (james.hooksCalled ? " recorded "
                + (model.mail ? james.sender : james.recipient) : ""));
            return;
        }
        if (!model.recorded()) {
            if (!james.code().equals(model.replyCode())) {
                fuzz.fail(where + ": model " + model + " (" + model.replyCode() + "), James " + james.reply());
            }
            return;
        }
        String jamesRecorded = model.mail
            ? (james.sender.isNullSender() ? "<>" : james.sender.get().asString())
            : james.recipient.asString();
        String modelRecorded = model.nullSender ? "<>" : model.address.asString();
        if (!jamesRecorded.equals(modelRecorded)) {
            fuzz.fail(where + ": model records " + quote(modelRecorded) + ", James " + quote(jamesRecorded));
        }
        if (model.mail && !java.util.Objects.equals(model.size, james.jamesSize)) {
            fuzz.fail(where + ": model SIZE " + model.size + ", James " + james.jamesSize);
        }
    }

    private static void checkPathAndParameters(Where where, SmtpArgument ours, JamesCut cut, Fuzz fuzz) {
        if (!ours.path().equals(cut.path)) {
            fuzz.fail(where + ": SmtpArgument path " + quote(ours.path()) + ", James parses " + quote(cut.path));
        }
        Set<String> jamesNames = new LinkedHashSet<>(cut.optionNames);
        if (!ours.parameters().keySet().equals(jamesNames)) {
            fuzz.fail(where + ": SmtpArgument parameters " + ours.parameters().keySet() + ", James " + jamesNames);
        }
    }

    /** RelayGuard's verdict through the chain against the rules' verdict on what James recorded. */
    private static void checkVerdict(Where where, Spec.Expected expected, Run run, Fuzz fuzz) {
        Who who = where.who;
        fuzz.checked("verdict: " + who);
        Decision decisive = run.decisive();
        String got = decisive == null ? "no verdict" : decisive.toString();
        fuzz.count(who + ": " + got + expected.note);
        boolean refused = decisive != null && decisive.outcome != Outcome.ALLOWED;
        boolean ok;
        if (run.thrown != null) {
            ok = !refused && "exception".equals(expected.james); // James's own failure, RelayGuard let it through
        } else if (refused) {
            ok = decisive.outcome == Outcome.REFUSED && expected.refusals.contains(decisive.reason)
                && run.code().equals(decisive.reason.replyCode());
        } else if (run.code().equals("250")) {
            ok = expected.allow != null && decisive != null && decisive.reason == expected.allow;
        } else {
            ok = run.code().equals(expected.james);
        }
        if (!ok) {
            fuzz.fail(where + ": RelayGuard " + got + " -> " + run.reply() + "; expected " + expected
                + (run.hooksCalled ? " [James recorded " + (run.sender != null ? run.sender : run.recipient) + "]" : ""));
        }
    }

    // ------------------------------------------------------------------------------------------------ regressions

    /*
     * Inputs the earlier reader of the raw command (SmtpPath.fromArgument, removed) got wrong, found by this fuzz
     * test: it cut the path at its own idea of the closing '>', so escaped quotes and '>' hid routing syntax that
     * James then parsed. Now the cut is James's and the rules judge the address James recorded.
     */

    @Test
    void escapedOrStrayQuoteDoesNotHideTheAddressFromTheRoutingRules() {
        assertRefused(rcpt(STRANGER, "TO:<user\\\"%remote.example@relayguard.test>"), Reason.ROUTING_PERCENT_HACK);
        assertRefused(rcpt(STRANGER, "TO:<us\\\"er>"), Reason.ROUTING_UNQUALIFIED);
        assertRefused(rcpt(STRANGER, "TO:<user@[192.0.2.1]\">"), Reason.ROUTING_IP_LITERAL);
    }

    @Test
    void escapedClosingBracketDoesNotCutThePathShort() {
        assertRefused(rcpt(STRANGER, "TO:<user\\@relayguard.test\\>%remote.example@relayguard.test>"), Reason.ROUTING_AT_IN_LOCAL_PART);
        assertRefused(rcpt(STRANGER, "TO:<a\\>!b@relayguard.test>"), Reason.ROUTING_BANG_PATH);
        assertRefused(mail(STRANGER, "FROM:<a\\>!b@remote.example>"), Reason.ROUTING_BANG_PATH);
    }

    /** James's Domain drops the brackets of an IP literal; a configured local literal is local either way. */
    @Test
    void aConfiguredLocalIpLiteralIsLocalForTheRelayDecisionToo() {
        assertAccepted(rcpt(STRANGER, "TO:<user@[192.0.2.25]>"), Reason.LOCAL_DOMAIN);
        assertAccepted(rcpt(STRANGER, "TO:<user@192.0.2.25>"), Reason.LOCAL_DOMAIN);
        assertRefused(rcpt(STRANGER, "TO:<user@192.0.2.26>"), Reason.ROUTING_IP_LITERAL);
    }

    /** MAIL ends the path at the first '>' after the first '<': AUTH=<...> stays a parameter. */
    @Test
    void anAuthParameterDoesNotChangeTheSender() {
        assertAccepted(mail(DEMO, "FROM:<demo@relayguard.test> AUTH=<ceo@relayguard.test>"), Reason.SENDER_OK);
        assertRefused(mail(DEMO, "FROM:<ceo@relayguard.test> AUTH=<demo@relayguard.test>"), Reason.SENDER_NOT_OWNED);
        assertRefused(mail(STRANGER, "FROM:<demo@relayguard.test> AUTH=<>"), Reason.SENDER_LOCAL_SPOOF);
        // RCPT ends it at the last '>': here James reads no parameters and fails to parse the rest (553), unless
        // RelayGuard names the routing trick in that text first (550). Never a recipient.
        Run run = rcpt(STRANGER, "TO:<victim@remote.example> ORCPT=rfc822;<demo@relayguard.test>");
        assertThat(run.code()).as(run.reply()).isIn("550", "553");
        assertThat(run.hooksCalled).isFalse();
    }

    /** An unqualified sender is judged as James completes it (RFC 6409 section 8), and refused from a stranger on MX. */
    @Test
    void anUnqualifiedSenderIsJudgedAsJamesCompletesIt() {
        assertRefused(mail(STRANGER, "FROM:<postmaster>"), Reason.SENDER_UNQUALIFIED);
        assertRefused(mail(STRANGER, "FROM:<Demo>"), Reason.SENDER_UNQUALIFIED);
        assertAccepted(mail(DEMO, "FROM:<demo>"), Reason.SENDER_OK);
        assertAccepted(mail(DEMO, "FROM:<SALES>"), Reason.SENDER_OK);
        assertRefused(mail(DEMO, "FROM:<ceo>"), Reason.SENDER_NOT_OWNED);
        assertAccepted(mail(TRUSTED, "FROM:<anyone>"), Reason.SENDER_OK);
        assertAccepted(mail(DEMO, "FROM:<\"demo\"@RelayGuard.Test>"), Reason.SENDER_OK);
        assertRefused(mail(DEMO, "FROM:<\"ceo\"@relayguard.test>"), Reason.SENDER_NOT_OWNED);
        assertRefused(mail(DEMO, "FROM:<de\\mo@relayguard.test>"), Reason.SENDER_NOT_OWNED); // no plain spelling: refused, never guessed
    }

    /**
     * James's MailSizeEsmtpExtension reads every {@code SIZE=} of a MAIL command with {@code Integer.parseInt}
     * (a sign is fine) and keeps the last one; the early byte check at MAIL must see that size. This fuzz test
     * found RelayGuard keeping the first, digits only ({@code SIZE=+104857600} read as none,
     * {@code SIZE=1 SIZE=104857600} as 1); fixed in 5f1fa6e.
     */
    @Test
    void theDeclaredSizeIsTheSizeJamesRecords() {
        for (String argument : List.of("FROM:<demo@relayguard.test> SIZE=+104857600",
                "FROM:<demo@relayguard.test> SIZE=1 SIZE=104857600", "FROM:<demo@relayguard.test> size=104857600")) {
            Run james = chains.jamesAlone.mail(argument, DEMO, true);
            assertThat(james.jamesSize).as(argument).isEqualTo(104_857_600);
            assertThat(SmtpArgument.ofMail(argument).declaredSize()).as(argument).isEqualTo(104_857_600L);
        }
    }

    private static Run mail(Who who, String argument) {
        return chains.of(who).mail(JamesCut.argumentOf("MAIL " + argument), who, true);
    }

    private static Run rcpt(Who who, String argument) {
        return chains.of(who).rcpt(JamesCut.argumentOf("RCPT " + argument), who, true);
    }

    private static void assertRefused(Run run, Reason reason) {
        assertThat(run.decisive()).as(run.reply()).isNotNull();
        assertThat(run.decisive().outcome).as(run.reply()).isEqualTo(Outcome.REFUSED);
        assertThat(run.decisive().reason).as(run.reply()).isEqualTo(reason);
        assertThat(run.code()).isEqualTo(reason.replyCode());
    }

    private static void assertAccepted(Run run, Reason reason) {
        assertThat(run.decisive()).as(run.reply()).isNotNull();
        assertThat(run.decisive().outcome).as(run.reply()).isEqualTo(Outcome.ALLOWED);
        assertThat(run.decisive().reason).as(run.reply()).isEqualTo(reason);
        assertThat(run.code()).as(run.reply()).isEqualTo("250");
    }

    // ------------------------------------------------------------------------------------------------ the rules

    /**
     * The verdict RelayGuard's rules (DESIGN.md, RelayPolicy's Javadoc, relayguard.xml) give the address James
     * records, written from those rules rather than from RelayGuard's code. Before James parses, only what its
     * parsing hides counts: a source route (James fails to parse it) and a path James completes with its default
     * domain (refused from a stranger on MX as a sender, and as a recipient unless it is postmaster).
     */
    static final class Spec {
        private static final String ATEXT = "!#$%&'*+-/=?^_`{|}~";

        /**
         * What may happen: RelayGuard refuses with one of {@link #refusals}; or it allows with {@link #allow} and the
         * reply is 250; or it lets the command through and James answers {@link #james} on its own. Where the rules
         * leave a choice (which of two tricks to name; whether to refuse a command James refuses anyway), several.
         */
        static final class Expected {
            final Set<Reason> refusals;
            final Reason allow;
            final String james;
            final String note;

            Expected(Set<Reason> refusals, Reason allow, String james, String note) {
                this.refusals = refusals;
                this.allow = allow;
                this.james = james;
                this.note = note;
            }

            static Expected allow(Reason reason, String note) {
                return new Expected(EnumSet.noneOf(Reason.class), reason, null, note);
            }

            static Expected refuse(Set<Reason> reasons, String note) {
                return new Expected(EnumSet.copyOf(reasons), null, null, note);
            }

            static Expected james(JamesCut model, String note) {
                return new Expected(EnumSet.noneOf(Reason.class), null,
                    model.stop == JamesCut.Stop.HOOK_CRASH ? "exception" : model.replyCode(), note);
            }

            /** Either this or that. */
            Expected or(Expected that) {
                Set<Reason> both = EnumSet.noneOf(Reason.class);
                both.addAll(refusals);
                both.addAll(that.refusals);
                return new Expected(both, allow != null ? allow : that.allow, james != null ? james : that.james, note);
            }

            @Override
            public String toString() {
                List<String> options = new ArrayList<>();
                if (!refusals.isEmpty()) {
                    options.add("refused " + refusals);
                }
                if (allow != null) {
                    options.add("allowed " + allow + " (250)");
                }
                if (james != null) {
                    options.add("James's own " + james);
                }
                return String.join(" or ", options);
            }
        }

        static Expected mail(String argument, JamesCut model, Who who) {
            if (who == ANONYMOUS) {
                return Expected.refuse(EnumSet.of(Reason.SUBMISSION_AUTH_REQUIRED), "");
            }
            boolean stranger = who == STRANGER;
            String path = JamesCut.pathOf(model.afterColon, true);
            if (path == null) {
                return Expected.james(model, ""); // no ':': nothing to read
            }
            boolean nullSender = path.isEmpty() || path.equals("@");
            boolean completed = !nullSender && !path.contains("@");
            if (!nullSender && path.trim().startsWith("@")) {
                return Expected.refuse(EnumSet.of(Reason.ROUTING_SOURCE_ROUTE), jamesNote(model));
            }
            if (!model.recorded()) {
                Set<Reason> raw = tricksAsWritten(path, false, !stranger);
                if (completed && stranger) {
                    raw.add(Reason.SENDER_UNQUALIFIED);
                    return Expected.refuse(raw, jamesNote(model));
                }
                Expected james = Expected.james(model, jamesNote(model));
                return raw.isEmpty() ? james : james.or(Expected.refuse(raw, ""));
            }
            if (model.nullSender) {
                return Expected.allow(Reason.SENDER_OK, " (null sender)");
            }
            MailAddress sender = model.address;
            String note = model.defaultDomainAppended ? " (default domain appended)" : "";
            Set<Reason> routing = routing(sender);
            if (model.defaultDomainAppended && stranger) { // RFC 5321 section 2.3.5; a trick in it may be named first
                routing.add(Reason.SENDER_UNQUALIFIED);
                return Expected.refuse(routing, "");
            }
            if (sender.asString().length() > RelayPolicy.MAX_ADDRESS_LENGTH) { // RFC 5321 section 4.5.3.1.3
                return Expected.refuse(EnumSet.of(Reason.ADDRESS_TOO_LONG), "");
            }
            if (!routing.isEmpty()) {
                return Expected.refuse(routing, "");
            }
            if (who == DEMO) {
                if (!owned(sender)) {
                    return Expected.refuse(EnumSet.of(Reason.SENDER_NOT_OWNED), "");
                }
                boolean alias = canonical(sender).equals(USER_ALIAS);
                boolean quoted = sender.getLocalPart().startsWith("\"");
                return Expected.allow(Reason.SENDER_OK, alias ? " (alias)" : quoted ? " (quoted)" : note);
            }
            if (stranger && (isLocal(sender.getDomain().asString()) || isLocalIpLiteral(sender.getDomain().asString()))) {
                return Expected.refuse(EnumSet.of(Reason.SENDER_LOCAL_SPOOF), ""); // a local IP literal is this server too
            }
            return Expected.allow(Reason.SENDER_OK, note);
        }

        static Expected rcpt(String argument, JamesCut model, Who who) {
            boolean stranger = who == STRANGER;
            String path = JamesCut.pathOf(model.afterColon, false);
            if (path == null) {
                return Expected.james(model, "");
            }
            boolean completed = !path.isEmpty() && !path.contains("@");
            if (path.trim().startsWith("@")) {
                return Expected.refuse(EnumSet.of(Reason.ROUTING_SOURCE_ROUTE), jamesNote(model));
            }
            if (!model.recorded()) {
                Set<Reason> raw = tricksAsWritten(path, true, !stranger);
                Expected james = Expected.james(model, jamesNote(model));
                if (completed && stranger && !path.trim().equalsIgnoreCase("postmaster")) {
                    raw.add(Reason.ROUTING_UNQUALIFIED);
                    Expected refused = Expected.refuse(raw, jamesNote(model));
                    return isPostmaster(path) ? refused.or(james) : refused;
                }
                return raw.isEmpty() ? james : james.or(Expected.refuse(raw, ""));
            }
            MailAddress rcpt = model.address;
            String note = model.defaultDomainAppended ? " (default domain appended)" : "";
            Set<Reason> routing = routing(rcpt);
            Expected judged = judgeRecipient(rcpt, routing, who, note);
            if (model.defaultDomainAppended && stranger && !rcpt.getLocalPart().equalsIgnoreCase("postmaster")) {
                routing.add(Reason.ROUTING_UNQUALIFIED); // RFC 5321 section 4.5.1: postmaster only
                Expected refused = Expected.refuse(routing, "");
                // "postmaster" or post\master: postmaster to RFC 5321; refusing it is as right as taking it
                return isPostmaster(rcpt.getLocalPart()) ? refused.or(judged) : refused;
            }
            return judged;
        }

        private static Expected judgeRecipient(MailAddress rcpt, Set<Reason> routing, Who who, String note) {
            if (rcpt.asString().length() > RelayPolicy.MAX_ADDRESS_LENGTH) { // RFC 5321 section 4.5.3.1.3
                return Expected.refuse(EnumSet.of(Reason.ADDRESS_TOO_LONG), "");
            }
            if (!routing.isEmpty()) {
                return Expected.refuse(routing, "");
            }
            String domain = rcpt.getDomain().asString();
            if (who == DEMO) {
                return Expected.allow(Reason.AUTHENTICATED, note);
            }
            if (who == TRUSTED) {
                return Expected.allow(Reason.TRUSTED_NETWORK, note);
            }
            if (domain.equals(RELAY_DOMAIN)) {
                return Expected.allow(Reason.RELAY_DOMAIN, note);
            }
            if (isLocal(domain)) {
                return Expected.allow(Reason.LOCAL_DOMAIN, note);
            }
            if (isLocalIpLiteral(domain)) {
                return Expected.allow(Reason.LOCAL_DOMAIN, " (local IP literal)");
            }
            return Expected.refuse(EnumSet.of(Reason.RELAY_UNAUTHENTICATED), "");
        }

        private static String jamesNote(JamesCut model) {
            return model.recorded() ? "" : " (James: " + model.stop + (model.replyCode() == null ? "" : " " + model.replyCode()) + ")";
        }

        /** A local part that reads as postmaster once its quotes and escapes are dropped. */
        static boolean isPostmaster(String localPart) {
            return localPart.trim().replace("\"", "").replace("\\", "").equalsIgnoreCase("postmaster");
        }

        /**
         * In a path James cannot parse (it answers a syntax error of its own), RelayGuard may name a routing trick
         * first, read as written: only one whose sign is in the text (a '%', a '!', an '@' too many, a '[' or
         * dotted digits), and on RCPT from a stranger, a missing domain.
         */
        private static Set<Reason> tricksAsWritten(String path, boolean recipient, boolean mayRelay) {
            Set<Reason> reasons = EnumSet.noneOf(Reason.class);
            if (path.indexOf('%') >= 0) {
                reasons.add(Reason.ROUTING_PERCENT_HACK);
            }
            if (path.indexOf('!') >= 0) {
                reasons.add(Reason.ROUTING_BANG_PATH);
            }
            if (path.indexOf('@') >= 0) {
                reasons.add(Reason.ROUTING_AT_IN_LOCAL_PART);
            }
            if (path.indexOf('[') >= 0 || path.matches("(?s).*@[0-9.\\s]+")) {
                reasons.add(Reason.ROUTING_IP_LITERAL);
            }
            if (recipient && !mayRelay) {
                reasons.add(Reason.ROUTING_UNQUALIFIED);
            }
            return reasons;
        }

        /** Routing syntax in an address James recorded: '@', '%', '!' in the local part; an IP address as domain. */
        static Set<Reason> routing(MailAddress address) {
            Set<Reason> reasons = EnumSet.noneOf(Reason.class);
            String local = address.getLocalPart();
            if (local.indexOf('@') >= 0) {
                reasons.add(Reason.ROUTING_AT_IN_LOCAL_PART);
            }
            if (local.indexOf('%') >= 0) {
                reasons.add(Reason.ROUTING_PERCENT_HACK);
            }
            if (local.indexOf('!') >= 0) {
                reasons.add(Reason.ROUTING_BANG_PATH);
            }
            String domain = address.getDomain().asString();
            if (isIp(domain) && !InetAddresses.forString(domain).equals(InetAddresses.forString(LOCAL_IP_LITERAL))) {
                reasons.add(Reason.ROUTING_IP_LITERAL);
            }
            return reasons;
        }

        static boolean isIp(String domain) {
            return InetAddresses.isInetAddress(domain);
        }

        static boolean isLocalIpLiteral(String domain) {
            return isIp(domain) && InetAddresses.forString(domain).equals(InetAddresses.forString(LOCAL_IP_LITERAL));
        }

        static boolean isLocal(String domain) {
            return domain.equalsIgnoreCase(LOCAL_DOMAIN);
        }

        /**
         * RFC 5321 §2.4 / §4.1.2: one mailbox, whatever the case of its local part (James's usernames ignore
         * it) and whether a plain local part is quoted ({@code "demo"} is {@code demo}).
         */
        static String canonical(MailAddress address) {
            String local = address.getLocalPart();
            if (local.length() >= 2 && local.startsWith("\"") && local.endsWith("\"")) {
                StringBuilder content = new StringBuilder();
                for (int i = 1; i < local.length() - 1; i++) {
                    char c = local.charAt(i);
                    content.append(c == '\\' && i + 1 < local.length() - 1 ? local.charAt(++i) : c);
                }
                if (isDotAtom(content.toString())) {
                    local = content.toString();
                }
            }
            return local.toLowerCase(Locale.ROOT) + "@" + address.getDomain().asString();
        }

        private static boolean isDotAtom(String text) {
            if (text.isEmpty() || text.startsWith(".") || text.endsWith(".") || text.contains("..")) {
                return false;
            }
            for (char c : text.toCharArray()) {
                boolean atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || ATEXT.indexOf(c) >= 0;
                if (!atext && c != '.') {
                    return false;
                }
            }
            return true;
        }

        static boolean owned(MailAddress address) {
            String canonical = canonical(address);
            return canonical.equals(USER) || canonical.equals(USER_ALIAS);
        }

        /** See {@link Envelopes#ownedBySpelling}. */
        static boolean ownedBySpelling(MailAddress address) {
            return Envelopes.ownedBySpelling(address.asString());
        }
    }

    // ------------------------------------------------------------------------------------------------ bookkeeping

    /** Where a case failed, written out only when it did: seed, case number, the command as generated, the client. */
    static final class Where {
        final long seed;
        final int caseNumber;
        final String command;
        final String generated;
        final boolean bracketsEnforcement;
        final Who who;

        Where(long seed, int caseNumber, String command, String generated, boolean bracketsEnforcement, Who who) {
            this.seed = seed;
            this.caseNumber = caseNumber;
            this.command = command;
            this.generated = generated;
            this.bracketsEnforcement = bracketsEnforcement;
            this.who = who;
        }

        Where from(Who client) {
            return new Where(seed, caseNumber, command, generated, bracketsEnforcement, client);
        }

        @Override
        public String toString() {
            return "seed=" + seed + " case=" + caseNumber + " " + command + " " + quote(generated)
                + (bracketsEnforcement ? "" : " (addressBracketsEnforcement false)") + (who == null ? "" : " from " + who);
        }
    }

    /** Counts, failures, known mismatches and timing of one fuzz run. */
    private static final class Fuzz {
        final String name;
        final long seed = Long.getLong("relayguard.fuzz.seed", Envelopes.DEFAULT_SEED);
        final int cases = Integer.getInteger("relayguard.fuzz.cases", DEFAULT_CASES);
        final Map<String, Integer> counts = new TreeMap<>();
        final Map<String, Integer> checkedPerProperty = new TreeMap<>();
        final List<String> failures = new ArrayList<>();
        final Map<String, List<String>> known = new TreeMap<>();
        final long start = System.nanoTime();
        volatile long cpuMillis;
        int threads = 1;

        Fuzz(String name) {
            this.name = name;
        }

        void count(String category) {
            counts.merge(category, 1, Integer::sum);
        }

        void checked(String property) {
            checkedPerProperty.merge(property, 1, Integer::sum);
        }

        void fail(String failure) {
            failures.add(failure);
        }

        void known(Where where, String mismatch) {
            List<String> examples = known.computeIfAbsent(mismatch.substring(0, mismatch.indexOf(':')), k -> new ArrayList<>());
            if (examples.size() < 3) {
                examples.add(where + ": " + mismatch);
            }
            count("known mismatch: " + mismatch.substring(0, mismatch.indexOf(':')));
        }

        /** One fuzz loop over the cases {@code first, first + step, ...}, with its own chains and counts. */
        interface Loop {
            void run(Fuzz part, Chains chains, int first, int step);
        }

        /**
         * Runs the loop on one thread per processor (at most 4), each with its own chains, over every
         * {@code threads}-th case, and adds up what they counted. Threads of their own also keep the stack shallow:
         * James's parser reports every refused address with an exception, and filling in its stack trace under
         * JUnit's deep stack costs more than the rest of a case.
         */
        void run(Loop loop) throws Exception {
            int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
            List<Fuzz> parts = new ArrayList<>();
            List<Thread> running = new ArrayList<>();
            Throwable[] thrown = new Throwable[1];
            for (int i = 0; i < threads; i++) {
                Fuzz part = new Fuzz(name);
                Chains own = new Chains();
                int first = i;
                parts.add(part);
                Thread thread = new Thread(() -> {
                    long cpuStart = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
                    try {
                        loop.run(part, own, first, threads);
                    } catch (Throwable e) {
                        synchronized (thrown) {
                            thrown[0] = e;
                        }
                    }
                    part.cpuMillis = (java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - cpuStart) / 1_000_000;
                }, "fuzz-" + name + "-" + i);
                running.add(thread);
                thread.start();
            }
            for (Thread thread : running) {
                thread.join();
            }
            if (thrown[0] != null) {
                throw new AssertionError("fuzz loop failed", thrown[0]);
            }
            for (Fuzz part : parts) {
                part.counts.forEach((key, count) -> counts.merge(key, count, Integer::sum));
                part.checkedPerProperty.forEach((key, count) -> checkedPerProperty.merge(key, count, Integer::sum));
                failures.addAll(part.failures);
                part.known.forEach((key, examples) -> known.merge(key, examples, (a, b) -> {
                    List<String> all = new ArrayList<>(a);
                    all.addAll(b);
                    return all.subList(0, Math.min(3, all.size()));
                }));
                cpuMillis += part.cpuMillis;
            }
            this.threads = threads;
        }

        /** The generator must reach every region the oracles talk about: a category starting with each of these. */
        void assertCovers(String... categories) {
            for (String category : categories) {
                assertThat(counts.keySet()).as("coverage: " + category).anyMatch(key -> key.startsWith(category));
            }
        }

        void report(List<String> properties) {
            long millis = (System.nanoTime() - start) / 1_000_000;
            System.out.printf("AddressFuzzTest %s: seed=%d, %d arguments in %d ms on %d threads (%d ms CPU)%n", name, seed, cases,
                millis, threads, cpuMillis);
            checkedPerProperty.forEach((property, count) -> System.out.printf("  checked %-60s %8d%n", property, count));
            counts.forEach((category, count) -> System.out.printf("  %-95s %7d%n", category, count));
            known.forEach((mismatch, examples) -> examples.forEach(example -> System.out.println("  known mismatch: " + example)));
            if (!failures.isEmpty()) {
                org.assertj.core.api.Assertions.fail(failures.size() + " failing case(s) (seed " + seed
                    + ", replay with -Drelayguard.fuzz.seed=" + seed
                    + "):\n" + String.join("\n", failures));
            }
            if (cases >= DEFAULT_CASES) {
                for (String property : properties) {
                    assertThat(checkedPerProperty.getOrDefault(property, 0)).as(property).isGreaterThanOrEqualTo(MIN_CASES_PER_PROPERTY);
                }
            }
        }
    }

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
