package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The sender-identity rules of {@link RelayPolicy}: {@link RelayPolicy#checkArgument} (what James's own parsing of
 * MAIL/RCPT hides) and {@link RelayPolicy#decideAuthorHeaders} (From:/Sender: of an authenticated user's message),
 * plus the canonical owner comparison both share with {@link RelayPolicy#decideSender}.
 *
 * <p>Ownership is a hand-written table (user → aliases it owns, exact strings, as a RecipientRewriteTable would
 * hold them) that records every question it is asked, so a test fails when the policy asks the wrong thing or
 * lets an address through without asking.
 */
class RelayPolicyIdentityTest {
    private static final String ALICE = "alice@relayguard.test";
    private static final String BOB = "bob@relayguard.test";
    private static final String CEO_IDN = "ceo@xn--bcher-kva.example";
    private static final Set<String> LOCAL = Set.of("relayguard.test", "xn--bcher-kva.example");
    private static final LocalDomains LOCAL_DOMAINS = LOCAL::contains;
    private static final LocalDomains FAILING_DOMAINS = domain -> {
        throw new LocalDomains.LookupFailedException("DomainList down", null);
    };
    /** What each user owns besides its own address (aliases in the RRT). */
    private static final Map<String, Set<String>> ALIASES = Map.of(
        ALICE, Set.of("sales@relayguard.test", "alice@partner.example"),
        BOB, Set.of(),
        CEO_IDN, Set.of());

    /** Every (user, address) the policy asked the ownership table. */
    private final List<String> lookups = new ArrayList<>();

    private final SenderOwnership ownership = (user, address) -> {
        lookups.add(user + " -> " + address);
        return ALIASES.getOrDefault(user, Set.of()).contains(address);
    };

    private final SenderOwnership failingOwnership = (user, address) -> {
        lookups.add(user + " -> " + address);
        throw new LocalDomains.LookupFailedException("RRT down", null);
    };

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static RelayPolicy policy(SenderOwnershipMode ownershipMode, Object... ruleModePairs) {
        Map<Rule, Mode> map = new EnumMap<>(Rule.class);
        for (int i = 0; i < ruleModePairs.length; i += 2) {
            map.put((Rule) ruleModePairs[i], (Mode) ruleModePairs[i + 1]);
        }
        return RelayPolicy.of(TrustedNetworks.of(List.of(IpNetwork.parse("192.0.2.0/24"))), Set.of("backup.example"),
            List.of(), RuleModes.of(map), ownershipMode);
    }

    private static RelayPolicy strict(Object... ruleModePairs) {
        return policy(SenderOwnershipMode.STRICT, ruleModePairs);
    }

    private static Client mxStranger() {
        return Client.of(ip("203.0.113.9"), null, false, ListenerRole.MX);
    }

    private static Client submissionStranger() {
        return Client.of(ip("203.0.113.9"), null, false, ListenerRole.SUBMISSION);
    }

    private static Client mxTrusted() {
        return Client.of(ip("192.0.2.10"), null, false, ListenerRole.MX);
    }

    private static Client submission(String user) {
        return Client.of(ip("203.0.113.9"), user, false, ListenerRole.SUBMISSION);
    }

    private static Client mxAuthenticated(String user) {
        return Client.of(ip("203.0.113.9"), user, false, ListenerRole.MX);
    }

    private static AuthorHeaders.Field mailboxes(String... addresses) {
        return AuthorHeaders.Field.mailboxes(List.of(addresses));
    }

    private static AuthorHeaders from(AuthorHeaders.Field... fields) {
        return AuthorHeaders.of(List.of(fields), List.of());
    }

    private static AuthorHeaders fromAndSender(AuthorHeaders.Field from, AuthorHeaders.Field... senders) {
        return AuthorHeaders.of(List.of(from), List.of(senders));
    }

    private static void assertRefused(Verdict verdict, Reason reason, String replyLine) {
        assertThat(verdict.outcome()).as(verdict.toString()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(reason);
        assertThat(verdict.passes()).isFalse();
        assertThat(verdict.replyLine()).isEqualTo(replyLine);
    }

    private static void assertAllowed(Verdict verdict) {
        assertThat(verdict.isAllowed()).as(verdict.toString()).isTrue();
    }

    // ------------------------------------------------------------------------------------------- checkArgument

    @Nested
    class CheckArgument {

        @ParameterizedTest
        @ValueSource(strings = {"TO:<@relay.example:victim@target.example>", "TO:<@a,@b:user@relayguard.test>",
            "TO:<@a:user@relayguard.test> NOTIFY=NEVER", "TO:<@>"})
        void sourceRouteInRcptIsRefused550(String argument) {
            Verdict verdict = strict().checkArgument(SmtpArgument.ofRcpt(argument), true, mxStranger());
            assertRefused(verdict, Reason.ROUTING_SOURCE_ROUTE, "550 5.7.1 Routing syntax not accepted: source route");
            assertThat(verdict.reason().code()).isEqualTo("routing.source-route");
        }

        @Test
        void sourceRouteIsRefusedWhoeverAsks() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<@relay.example:victim@relayguard.test>");
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<@relay.example:alice@relayguard.test>");
            for (Client client : List.of(mxStranger(), mxTrusted(), submission(ALICE), mxAuthenticated(ALICE), submissionStranger())) {
                assertThat(strict().checkArgument(rcpt, true, client).reason()).isEqualTo(Reason.ROUTING_SOURCE_ROUTE);
                assertThat(strict().checkArgument(mail, false, client).reason()).isEqualTo(Reason.ROUTING_SOURCE_ROUTE);
                assertThat(strict().checkArgument(mail, false, client).outcome()).isEqualTo(Outcome.REFUSED);
            }
        }

        @Test
        void sourceRouteFollowsItsRuleMode() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<@a:user@relayguard.test>");
            Verdict deferred = strict(Rule.SOURCE_ROUTE, Mode.DEFER).checkArgument(rcpt, true, mxStranger());
            assertThat(deferred.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(deferred.replyLine()).isEqualTo("450 4.7.1 Routing syntax not accepted: source route");
            Verdict monitored = strict(Rule.SOURCE_ROUTE, Mode.MONITOR).checkArgument(rcpt, true, mxStranger());
            assertThat(monitored.outcome()).isEqualTo(Outcome.MONITORED);
            assertThat(monitored.passes()).isTrue();
            assertThat(monitored.replyLine()).startsWith("550 5.7.1 ");
            assertAllowed(strict(Rule.SOURCE_ROUTE, Mode.OFF).checkArgument(rcpt, true, mxStranger()));
        }

        @ParameterizedTest
        @ValueSource(strings = {"TO:<user>", "TO:<User>", "TO:<abuse> NOTIFY=NEVER", "TO:<\"john doe\">",
            "TO:<postmaster.evil>"})
        void unqualifiedRcptFromStrangerIsRefused550(String argument) {
            Verdict verdict = strict().checkArgument(SmtpArgument.ofRcpt(argument), true, mxStranger());
            assertRefused(verdict, Reason.ROUTING_UNQUALIFIED, "550 5.7.1 Unqualified address not accepted: write user@domain");
            assertThat(verdict.reason().rule()).isEqualTo(Rule.UNQUALIFIED_RECIPIENT);
        }

        @Test
        void anUnparseablePathIsReadForTricksUnlessJamesLeftParametersInIt() {
            assertThat(strict().checkUnparseablePath(SmtpArgument.ofRcpt("TO:<relaytest@remote.example@relayguard.test>"), true, mxStranger()).reason())
                .isEqualTo(Reason.ROUTING_AT_IN_LOCAL_PART);
            // James cuts RCPT at the last '>': the ORCPT value stays in the path. James answers 553 itself; no routing count.
            assertAllowed(strict().checkUnparseablePath(
                SmtpArgument.ofRcpt("TO:<demo@relayguard.test> NOTIFY=NEVER ORCPT=rfc822;<x@remote.example>"), true, mxStranger()));
        }

        @Test
        void aRoutingTrickInAnUnqualifiedRcptIsNamedFirst() {
            assertThat(strict().checkArgument(SmtpArgument.ofRcpt("TO:<remote.example!user>"), true, mxStranger()).reason())
                .isEqualTo(Reason.ROUTING_BANG_PATH);
            assertThat(strict().checkArgument(SmtpArgument.ofRcpt("TO:<postmaster%remote.example>"), true, mxStranger()).reason())
                .isEqualTo(Reason.ROUTING_PERCENT_HACK);
            // A trick in monitor mode does not let the unqualified address through.
            Verdict monitoredTrick = strict(Rule.BANG_PATH, Mode.MONITOR).checkArgument(SmtpArgument.ofRcpt("TO:<remote.example!user>"), true, mxStranger());
            assertThat(monitoredTrick.reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
            assertThat(monitoredTrick.outcome()).isEqualTo(Outcome.REFUSED);
        }

        @Test
        void unqualifiedRcptIsRefusedFromStrangersWhateverTheListener() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<user>");
            assertThat(strict().checkArgument(rcpt, true, submissionStranger()).reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
            assertThat(strict().checkArgument(rcpt, true, Client.of(null, null)).reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
            // AUTH over plaintext that the listener ignores: still a stranger
            Client plaintext = Client.of(ip("203.0.113.9"), null, true, ListenerRole.MX);
            assertThat(strict().checkArgument(rcpt, true, plaintext).reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
        }

        @ParameterizedTest
        @ValueSource(strings = {"TO:<Postmaster>", "TO:<postmaster>", "TO:<POSTMASTER> NOTIFY=NEVER", "TO:Postmaster"})
        void postmasterWithoutDomainIsAcceptedFromStrangers(String argument) {
            Verdict verdict = strict().checkArgument(SmtpArgument.ofRcpt(argument), true, mxStranger());
            assertAllowed(verdict);
            assertThat(verdict.reason()).isEqualTo(Reason.ADDRESS_OK);
        }

        @Test
        void unqualifiedRcptFromClientsThatMayRelayIsLeftToJames() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<user>");
            assertAllowed(strict().checkArgument(rcpt, true, mxTrusted()));
            assertAllowed(strict().checkArgument(rcpt, true, submission(ALICE)));
            assertAllowed(strict().checkArgument(rcpt, true, mxAuthenticated(ALICE)));
        }

        @Test
        void unqualifiedRcptFollowsItsRuleMode() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<user>");
            Verdict deferred = strict(Rule.UNQUALIFIED_RECIPIENT, Mode.DEFER).checkArgument(rcpt, true, mxStranger());
            assertThat(deferred.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(deferred.replyLine()).isEqualTo("450 4.7.1 Unqualified address not accepted: write user@domain");
            assertThat(strict(Rule.UNQUALIFIED_RECIPIENT, Mode.MONITOR).checkArgument(rcpt, true, mxStranger()).outcome())
                .isEqualTo(Outcome.MONITORED);
            assertAllowed(strict(Rule.UNQUALIFIED_RECIPIENT, Mode.OFF).checkArgument(rcpt, true, mxStranger()));
        }

        @ParameterizedTest
        @ValueSource(strings = {"FROM:<bob>", "FROM:<Bob> SIZE=100", "FROM:<postmaster>", "FROM:<\"john doe\">"})
        void unqualifiedMailFromStrangerOnMxIsRefused553(String argument) {
            Verdict verdict = strict().checkArgument(SmtpArgument.ofMail(argument), false, mxStranger());
            assertRefused(verdict, Reason.SENDER_UNQUALIFIED,
                "553 5.1.7 Sender address must be fully qualified (RFC 5321 section 2.3.5): write user@domain");
            assertThat(verdict.reason().code()).isEqualTo("sender.unqualified");
            assertThat(verdict.reason().rule()).isEqualTo(Rule.UNQUALIFIED_SENDER);
            assertThat(Rule.UNQUALIFIED_SENDER.configKey()).isEqualTo("unqualifiedSender");
        }

        @Test
        void unqualifiedMailIsCompletedBySubmissionAndForClientsThatMayRelay() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<bob>");
            assertAllowed(strict().checkArgument(mail, false, submissionStranger())); // decideSender asks for AUTH
            assertAllowed(strict().checkArgument(mail, false, submission(ALICE)));
            assertAllowed(strict().checkArgument(mail, false, mxAuthenticated(ALICE)));
            assertAllowed(strict().checkArgument(mail, false, mxTrusted()));
        }

        @Test
        void unqualifiedMailFollowsItsRuleMode() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<bob>");
            Verdict deferred = strict(Rule.UNQUALIFIED_SENDER, Mode.DEFER).checkArgument(mail, false, mxStranger());
            assertThat(deferred.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(deferred.replyCode()).isEqualTo("450");
            assertThat(deferred.enhancedStatus()).isEqualTo("4.1.7");
            Verdict monitored = strict(Rule.UNQUALIFIED_SENDER, Mode.MONITOR).checkArgument(mail, false, mxStranger());
            assertThat(monitored.outcome()).isEqualTo(Outcome.MONITORED);
            assertThat(monitored.replyLine()).startsWith("553 5.1.7 ");
            assertAllowed(strict(Rule.UNQUALIFIED_SENDER, Mode.OFF).checkArgument(mail, false, mxStranger()));
            // the recipient rule does not govern MAIL
            assertThat(strict(Rule.UNQUALIFIED_RECIPIENT, Mode.OFF).checkArgument(mail, false, mxStranger()).outcome())
                .isEqualTo(Outcome.REFUSED);
        }

        @ParameterizedTest
        @ValueSource(strings = {"FROM:<>", "FROM:<@>", "FROM:<> SIZE=10", "FROM:<a@remote.example>",
            "FROM:<probe@example.org> AUTH=<demo@relayguard.test>", "FROM:<postmaster@relayguard.test> A=> B",
            "FROM:<a%b@relayguard.test>"})
        void qualifiedOrNullMailIsLeftToTheOtherRules(String argument) {
            Verdict verdict = strict().checkArgument(SmtpArgument.ofMail(argument), false, mxStranger());
            assertAllowed(verdict);
            assertThat(verdict.reason()).isEqualTo(Reason.ADDRESS_OK);
        }

        @ParameterizedTest
        @ValueSource(strings = {"TO:<a@remote.example>", "TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;x@y", "TO:<\"a@b\"@c.example>"})
        void qualifiedRcptIsLeftToTheOtherRules(String argument) {
            assertAllowed(strict().checkArgument(SmtpArgument.ofRcpt(argument), true, mxStranger()));
        }
    }

    // -------------------------------------------------------------------- decideSender: canonical owner comparison

    @Nested
    class DecideSenderCanonical {

        @Test
        void aLocalIpLiteralSenderIsALocalSenderToo() {
            RelayPolicy withLiteral = RelayPolicy.of(TrustedNetworks.none(), Set.of(), List.of("198.51.100.25"),
                RuleModes.defaults(), SenderOwnershipMode.KNOWN_ONLY);
            // James records demo@[198.51.100.25] with the brackets dropped.
            Verdict spoof = withLiteral.decideSender(mxStranger(), "demo@198.51.100.25", LOCAL_DOMAINS, ownership);
            assertThat(spoof.reason()).isEqualTo(Reason.SENDER_LOCAL_SPOOF);
            Verdict notOwned = withLiteral.decideSender(submission(ALICE), "bob@198.51.100.25", LOCAL_DOMAINS, ownership);
            assertThat(notOwned.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        }

        @ParameterizedTest
        @ValueSource(strings = {"alice@relayguard.test", "Alice@RelayGuard.TEST", "alice@relayguard.test.",
            "\"alice\"@relayguard.test", "\"ALICE\"@RelayGuard.test."})
        void ownAddressInAnySpellingIsAllowedWithoutALookup(String sender) {
            assertAllowed(strict().decideSender(submission(ALICE), sender, LOCAL_DOMAINS, ownership));
            assertThat(lookups).isEmpty();
        }

        @Test
        void ownIdnAddressInULabelOrALabel() {
            assertAllowed(strict().decideSender(submission(CEO_IDN), "ceo@bücher.example", LOCAL_DOMAINS, ownership));
            assertAllowed(strict().decideSender(submission("ceo@bücher.example"), CEO_IDN, LOCAL_DOMAINS, ownership));
            assertThat(lookups).isEmpty();
        }

        @ParameterizedTest
        @ValueSource(strings = {"bob@relayguard.test", "Bob@RelayGuard.TEST", "\"bob\"@relayguard.test", "bob@relayguard.test.",
            "\"alice@relayguard.test\"@relayguard.test", "\"alice \"@relayguard.test", "alice@relayguard.test.example"})
        void anotherMailboxInAnySpellingIsRefused553(String sender) {
            Verdict verdict = strict().decideSender(submission(ALICE), sender, LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_NOT_OWNED, "553 5.7.1 Sender address not owned by authenticated user");
        }

        @Test
        void aliasIsAskedAsWrittenThenCanonical() {
            assertAllowed(strict().decideSender(submission(ALICE), "Sales@RelayGuard.TEST.", LOCAL_DOMAINS, ownership));
            assertThat(lookups).containsExactly(ALICE + " -> Sales@RelayGuard.TEST.", ALICE + " -> sales@relayguard.test");
        }

        @Test
        void canonicalAliasIsAskedOnce() {
            assertAllowed(strict().decideSender(submission(ALICE), "sales@relayguard.test", LOCAL_DOMAINS, ownership));
            assertThat(lookups).containsExactly(ALICE + " -> sales@relayguard.test");
        }
    }

    // ------------------------------------------------------------------------------------- decideAuthorHeaders

    @Nested
    class DecideAuthorHeaders {

        @Test
        void ownFromIsAllowed() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes(ALICE)), LOCAL_DOMAINS, ownership);
            assertAllowed(verdict);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
            assertThat(lookups).isEmpty();
        }

        @Test
        void ownFromInOtherSpellingsIsAllowed() {
            for (String spelling : List.of("Alice@RelayGuard.Test", "\"alice\"@relayguard.test", "alice@relayguard.test.")) {
                assertAllowed(strict().decideAuthorHeaders(submission(ALICE), from(mailboxes(spelling)), LOCAL_DOMAINS, ownership));
            }
            assertAllowed(strict().decideAuthorHeaders(submission(CEO_IDN), from(mailboxes("CEO@Bücher.example")), LOCAL_DOMAINS, ownership));
        }

        @Test
        void unauthenticatedMailIsNotJudged() {
            for (Client client : List.of(mxStranger(), mxTrusted(), submissionStranger(),
                    Client.of(ip("203.0.113.9"), null, true, ListenerRole.SUBMISSION))) {
                Verdict missing = strict().decideAuthorHeaders(client, AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership);
                assertAllowed(missing);
                assertThat(missing.reason()).isEqualTo(Reason.SENDER_OK);
                assertAllowed(strict().decideAuthorHeaders(client, from(mailboxes(BOB)), FAILING_DOMAINS, failingOwnership));
            }
            assertThat(lookups).isEmpty();
        }

        @Test
        void missingFromIsInvalid550() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID,
                "550 5.7.1 Message has no From: header (RFC 5322 section 3.6 requires one)");
            assertThat(verdict.reason().code()).isEqualTo("sender.header-invalid");
            assertThat(verdict.reason().rule()).isEqualTo(Rule.HEADER_FROM);
        }

        @Test
        void missingFromWithOnlySenderIsInvalid() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                AuthorHeaders.of(List.of(), List.of(mailboxes(ALICE))), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_INVALID);
        }

        @Test
        void twoFromHeadersAreInvalidEvenWhenBothAreOwned() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes(ALICE), mailboxes(ALICE)), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID,
                "550 5.7.1 Message has 2 From: headers (RFC 5322 section 3.6 allows one)");
        }

        @Test
        void twoSenderHeadersAreInvalid() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE), mailboxes(ALICE), mailboxes(ALICE)), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID,
                "550 5.7.1 Message has 2 Sender: headers (RFC 5322 section 3.6 allows one)");
        }

        @Test
        void groupFromIsInvalid() {
            AuthorHeaders.Field group = AuthorHeaders.Field.unreadable("a group ('team:'), not a mailbox");
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(group), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID,
                "550 5.7.1 From: header is not a list of mailboxes: a group ('team:'), not a mailbox");
        }

        @Test
        void unreadableFromIsInvalidAndNothingIsLookedUp() {
            AuthorHeaders.Field broken = AuthorHeaders.Field.unreadable("Encountered \"<EOF>\" at line 1, column 22.");
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(broken), FAILING_DOMAINS, failingOwnership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_INVALID);
            assertThat(verdict.replyLine()).startsWith("550 5.7.1 From: header is not a list of mailboxes: Encountered");
            assertThat(lookups).isEmpty();
        }

        @Test
        void emptyFromIsInvalid() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes()), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID, "550 5.7.1 From: header has no address");
        }

        @Test
        void severalFromMailboxesAllOwnedAreAllowed() {
            assertAllowed(strict().decideAuthorHeaders(submission(ALICE),
                from(mailboxes(ALICE, "sales@relayguard.test", "alice@partner.example")), LOCAL_DOMAINS, ownership));
        }

        @Test
        void severalFromMailboxesOneNotOwnedIsRefused() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                from(mailboxes(ALICE, "sales@relayguard.test", BOB)), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_NOT_OWNED, "550 5.7.1 From: header address not owned by authenticated user");
            assertThat(verdict.reason().code()).isEqualTo("sender.header-not-owned");
            assertThat(verdict.reason().rule()).isEqualTo(Rule.HEADER_FROM);
            assertThat(lookups).contains(ALICE + " -> " + BOB);
        }

        @Test
        void notOwnedMailboxFirstIsRefusedToo() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB, ALICE)), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void senderNotOwnedIsRefused() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE), mailboxes(BOB)), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_NOT_OWNED,
                "550 5.7.1 Sender: header address not owned by authenticated user");
        }

        @Test
        void fromNotOwnedIsRefusedEvenWithAnOwnedSender() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(BOB), mailboxes(ALICE)), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_NOT_OWNED, "550 5.7.1 From: header address not owned by authenticated user");
        }

        @Test
        void ownedFromAndOwnedSenderAreAllowed() {
            assertAllowed(strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE, "sales@relayguard.test"), mailboxes("Sales@RelayGuard.test")), LOCAL_DOMAINS, ownership));
        }

        @Test
        void unreadableSenderIsInvalid() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE), AuthorHeaders.Field.unreadable("a group ('x:'), not a mailbox")), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_INVALID,
                "550 5.7.1 Sender: header is not a mailbox: a group ('x:'), not a mailbox");
        }

        @Test
        void senderWithTwoMailboxesOrNoneIsInvalid() {
            Verdict two = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE), mailboxes(ALICE, "sales@relayguard.test")), LOCAL_DOMAINS, ownership);
            assertRefused(two, Reason.SENDER_HEADER_INVALID, "550 5.7.1 Sender: header must be exactly one mailbox");
            Verdict none = strict().decideAuthorHeaders(submission(ALICE),
                fromAndSender(mailboxes(ALICE), mailboxes()), LOCAL_DOMAINS, ownership);
            assertRefused(none, Reason.SENDER_HEADER_INVALID, "550 5.7.1 Sender: header must be exactly one mailbox");
        }

        @Test
        void aliasOwnedThroughSenderOwnershipIsAllowed() {
            assertAllowed(strict().decideAuthorHeaders(submission(ALICE), from(mailboxes("sales@relayguard.test")), LOCAL_DOMAINS, ownership));
            assertThat(lookups).containsExactly(ALICE + " -> sales@relayguard.test");
        }

        @Test
        void aliasInAnotherSpellingIsAskedCanonicalToo() {
            assertAllowed(strict().decideAuthorHeaders(submission(ALICE), from(mailboxes("SALES@RelayGuard.test.")), LOCAL_DOMAINS, ownership));
            assertThat(lookups).containsExactly(ALICE + " -> SALES@RelayGuard.test.", ALICE + " -> sales@relayguard.test");
        }

        @Test
        void anotherUsersAliasIsRefused() {
            Verdict verdict = strict().decideAuthorHeaders(submission(BOB), from(mailboxes("sales@relayguard.test")), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void foreignAddressIsRefusedUnderStrict() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes("ceo@bank.example")), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void quotedLocalPartHidingTheUsersAddressIsNotTheUsersAddress() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE),
                from(mailboxes("\"alice@relayguard.test\"@evil.example")), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void knownOnlyForeignDomainPassesWithoutALookup() {
            Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
                .decideAuthorHeaders(submission(ALICE), from(mailboxes("ceo@bank.example")), LOCAL_DOMAINS, ownership);
            assertAllowed(verdict);
            assertThat(lookups).isEmpty();
        }

        @Test
        void knownOnlyLocalAddressNotOwnedIsRefused() {
            Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
                .decideAuthorHeaders(submission(ALICE), from(mailboxes("ceo@bank.example", "Bob@RelayGuard.test")), LOCAL_DOMAINS, ownership);
            assertRefused(verdict, Reason.SENDER_HEADER_NOT_OWNED, "550 5.7.1 From: header address not owned by authenticated user");
        }

        @Test
        void knownOnlyLocalIdnDomainInULabelIsLocal() {
            Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
                .decideAuthorHeaders(submission(ALICE), from(mailboxes("ceo@BÜCHER.example.")), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void knownOnlyStructuralChecksStillApply() {
            Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
                .decideAuthorHeaders(submission(ALICE), AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_INVALID);
        }

        @Test
        void senderOwnershipOffAllowsEverything() {
            RelayPolicy off = policy(SenderOwnershipMode.OFF);
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership));
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership));
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), from(AuthorHeaders.Field.unreadable("x")), FAILING_DOMAINS, failingOwnership));
            RelayPolicy ruleOff = strict(Rule.SENDER_OWNERSHIP, Mode.OFF);
            assertAllowed(ruleOff.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership));
            assertAllowed(ruleOff.decideAuthorHeaders(submission(ALICE), from(mailboxes(ALICE), mailboxes(BOB)), LOCAL_DOMAINS, ownership));
            assertThat(lookups).isEmpty();
        }

        @Test
        void headerFromOffAllowsEverything() {
            RelayPolicy off = strict(Rule.HEADER_FROM, Mode.OFF);
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership));
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership));
            assertAllowed(off.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), FAILING_DOMAINS, failingOwnership));
            assertThat(lookups).isEmpty();
            // and MAIL FROM ownership is still judged
            assertThat(off.decideSender(submission(ALICE), BOB, LOCAL_DOMAINS, ownership).reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        }

        @Test
        void headerFromMonitorPassesAndKeepsThe550() {
            RelayPolicy monitor = strict(Rule.HEADER_FROM, Mode.MONITOR);
            Verdict notOwned = monitor.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership);
            assertThat(notOwned.outcome()).isEqualTo(Outcome.MONITORED);
            assertThat(notOwned.passes()).isTrue();
            assertThat(notOwned.isRecorded()).isTrue();
            assertThat(notOwned.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
            assertThat(notOwned.replyLine()).isEqualTo("550 5.7.1 From: header address not owned by authenticated user");
            Verdict invalid = monitor.decideAuthorHeaders(submission(ALICE), AuthorHeaders.of(List.of(), List.of()), LOCAL_DOMAINS, ownership);
            assertThat(invalid.outcome()).isEqualTo(Outcome.MONITORED);
            assertThat(invalid.reason()).isEqualTo(Reason.SENDER_HEADER_INVALID);
        }

        @Test
        void headerFromDeferGives450() {
            RelayPolicy defer = strict(Rule.HEADER_FROM, Mode.DEFER);
            Verdict notOwned = defer.decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership);
            assertThat(notOwned.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(notOwned.replyLine()).isEqualTo("450 4.7.1 From: header address not owned by authenticated user");
            Verdict invalid = defer.decideAuthorHeaders(submission(ALICE), from(mailboxes(ALICE), mailboxes(ALICE)), LOCAL_DOMAINS, ownership);
            assertThat(invalid.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(invalid.replyLine()).isEqualTo("450 4.7.1 Message has 2 From: headers (RFC 5322 section 3.6 allows one)");
        }

        @Test
        void headerFromModeGovernsHeadersNotTheSenderOwnershipMode() {
            // senderOwnership=monitor is not "off": the headers are judged, under headerFrom's mode (reject).
            Verdict verdict = strict(Rule.SENDER_OWNERSHIP, Mode.MONITOR)
                .decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership);
            assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }

        @Test
        void ownershipLookupFailureIs451() {
            Verdict verdict = strict().decideAuthorHeaders(submission(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, failingOwnership);
            assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
            assertThat(verdict.replyLine()).isEqualTo("451 4.3.0 Temporary failure checking the From: header, try again later");
            assertThat(verdict.passes()).isFalse();
        }

        @Test
        void ownershipLookupFailureIs451WhateverTheHeaderFromMode() {
            for (Mode mode : new Mode[] {Mode.REJECT, Mode.DEFER, Mode.MONITOR}) {
                Verdict verdict = strict(Rule.HEADER_FROM, mode)
                    .decideAuthorHeaders(submission(ALICE), fromAndSender(mailboxes(ALICE), mailboxes(BOB)), LOCAL_DOMAINS, failingOwnership);
                assertThat(verdict.reason()).as(mode.name()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
                assertThat(verdict.replyLine()).as(mode.name()).startsWith("451 4.3.0 ");
            }
        }

        @Test
        void domainLookupFailureUnderKnownOnlyIs451() {
            Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
                .decideAuthorHeaders(submission(ALICE), from(mailboxes(ALICE)), FAILING_DOMAINS, ownership);
            assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
            assertThat(verdict.replyLine()).startsWith("451 4.3.0 ");
        }

        @Test
        void ownAddressNeedsNoLookupSoAFailingLookupDoesNotMatter() {
            assertAllowed(strict().decideAuthorHeaders(submission(ALICE), from(mailboxes("Alice@relayguard.test")), LOCAL_DOMAINS, failingOwnership));
            assertThat(lookups).isEmpty();
        }

        @Test
        void authenticatedOnMxListenerIsJudgedToo() {
            assertThat(strict().decideAuthorHeaders(mxAuthenticated(ALICE), from(mailboxes(BOB)), LOCAL_DOMAINS, ownership).reason())
                .isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        }
    }
}
