package dev.relayguard.mailet;

import static org.mockito.AdditionalAnswers.delegatesTo;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.doCallRealMethod;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import javax.mail.MessagingException;

import org.apache.james.core.Domain;
import org.apache.james.core.Username;
import org.apache.james.core.builder.MimeMessageBuilder;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.james.mailrepository.memory.MemoryMailRepository;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.user.api.UsersRepository;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;
import org.apache.mailet.base.GenericMatcher;
import org.apache.mailet.base.test.FakeMail;
import org.apache.mailet.base.test.FakeMailContext;
import org.apache.mailet.base.test.FakeMailetConfig;
import org.apache.mailet.base.test.FakeMatcherConfig;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;

/**
 * A real RelayGuard core for the mailet and matcher tests: settings read by {@link PolicyFile} from a policy
 * snippet, {@code example.com} the only local domain, real counters ({@link RecordingMetricFactory}), a fake
 * clock, an in-memory limiter store (failing on demand, {@link #storeDown}) and in-memory mail repositories.
 * Users own their own address and {@code alias@example.com} belongs to {@code alice@example.com}. James's users
 * repository (virtual hosting) knows {@code alice@example.com} and {@code bob@example.com}; James's DomainList
 * knows {@code example.com}.
 */
final class Pipeline {
    static final String STRANGER_IP = "198.51.100.7";
    static final String ALICE = "alice@example.com";

    final RecordingMetricFactory metrics = new RecordingMetricFactory();
    final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    final Map<MailRepositoryUrl, MemoryMailRepository> repositories = new HashMap<>();
    final MailRepositoryStore repositoryStore = mock(MailRepositoryStore.class);
    final FakeMailContext mailetContext = FakeMailContext.defaultContext();
    final UsersRepository users = mock(UsersRepository.class);
    final DomainList domains = mock(DomainList.class);
    /** While true, every rate decision fails as an unreachable Redis does. */
    final AtomicBoolean storeDown = new AtomicBoolean();
    final RelayGuard guard;

    private Pipeline(String policyInner, LocalDomains localDomains) throws Exception {
        RelayGuardSettings settings = PolicyFile.parse(PolicyFile.parseXml(
            ("<relayguard>" + policyInner + "</relayguard>").getBytes(StandardCharsets.UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        guard = new RelayGuard(settings, localDomains,
            (user, sender) -> sender.equalsIgnoreCase(user) || (user.equalsIgnoreCase(ALICE) && sender.equalsIgnoreCase("alias@example.com")),
            new RefusalRecorder(metrics), clock::get, failingOnDemand(new MemoryLimiterStore(1000, clock::get), storeDown));
        when(repositoryStore.select(any())).thenAnswer(invocation ->
            repositories.computeIfAbsent(invocation.getArgument(0), url -> new MemoryMailRepository()));
        when(users.supportVirtualHosting()).thenReturn(true);
        when(users.getUsername(any())).thenCallRealMethod();
        Set<Username> known = Set.of(Username.of(ALICE), Username.of("bob@example.com"));
        when(users.contains(any())).thenAnswer(invocation -> known.contains(invocation.<Username>getArgument(0)));
        when(domains.containsDomain(any())).thenAnswer(invocation -> invocation.<Domain>getArgument(0).equals(Domain.of("example.com")));
    }

    /** {@code store}, answering {@link LimitDecision#storeFailed} to every decision while {@code down} is true. */
    private static LimiterStore failingOnDemand(LimiterStore store, AtomicBoolean down) {
        LimiterStore failing = mock(LimiterStore.class, delegatesTo(store));
        doAnswer(invocation -> down.get() ? LimitDecision.storeFailed("Redis is down")
            : store.acquire(invocation.getArgument(0), invocation.getArgument(1))).when(failing).acquire(any(), any());
        doAnswer(invocation -> down.get() ? LimitDecision.storeFailed("Redis is down")
            : store.estimate(invocation.getArgument(0), invocation.getArgument(1))).when(failing).estimate(any(), any());
        // the interface's own two calls (suspension, then acquire above), as a store without a one-call path makes them
        doCallRealMethod().when(failing).acquireUnlessHeld(any(), any(), any(), any());
        return failing;
    }

    RefuseRelay refuseRelay(String... parameters) throws MessagingException {
        return init(new RefuseRelay(guard, repositoryStore, users, domains), parameters);
    }

    ChargeSenderLimits chargeSenderLimits(String... parameters) throws MessagingException {
        return init(new ChargeSenderLimits(guard, repositoryStore, users, domains), parameters);
    }

    static Pipeline withPolicy(String policyInner) throws Exception {
        return new Pipeline(policyInner, domain -> domain.equals("example.com"));
    }

    static Pipeline withLocalDomains(LocalDomains localDomains) throws Exception {
        return new Pipeline("", localDomains);
    }

    /** A mail named {@code mail-1} from a stranger's address (no authenticated user), to {@code recipients}. */
    static FakeMail.Builder mailFromStranger(String sender, String... recipients) throws Exception {
        return namedMail("mail-1", null, sender, recipients);
    }

    /** A mail named {@code mail-1} submitted by {@code user} (SMTP AUTH recorded by James). */
    static FakeMail.Builder mailFromUser(String user, String sender, String... recipients) throws Exception {
        return namedMail("mail-1", user, sender, recipients);
    }

    /** A mail in the transport processor from {@link #STRANGER_IP}, submitted by {@code user} when not null. */
    static FakeMail.Builder namedMail(String name, String user, String sender, String... recipients) throws Exception {
        FakeMail.Builder mail = FakeMail.builder().name(name).sender(sender).recipients(recipients).remoteAddr(STRANGER_IP).size(1000)
            .state(Mail.TRANSPORT);
        return user == null ? mail : mail.attribute(new Attribute(Mail.SMTP_AUTH_USER, AttributeValue.of(user)));
    }

    /** {@code mailet} initialised in this pipeline's context with {@code parameters} (name, value, name, value...). */
    <M extends GenericMailet> M init(M mailet, String... parameters) throws MessagingException {
        FakeMailetConfig.Builder config = FakeMailetConfig.builder().mailetName(mailet.getClass().getSimpleName())
            .mailetContext(mailetContext);
        for (int i = 0; i < parameters.length; i += 2) {
            config.setProperty(parameters[i], parameters[i + 1]);
        }
        mailet.init(config.build());
        return mailet;
    }

    /** {@code matcher} initialised in this pipeline's context without a condition. */
    <M extends GenericMatcher> M init(M matcher) throws MessagingException {
        matcher.init(FakeMatcherConfig.builder().matcherName(matcher.getClass().getSimpleName()).mailetContext(mailetContext).build());
        return matcher;
    }

    /** A message whose From: is {@code from}. */
    static MimeMessageBuilder message(String from) throws Exception {
        return MimeMessageBuilder.mimeMessageBuilder().addFrom(from).setSubject("test").setText("body");
    }

    /** The count of a RelayGuard counter, e.g. {@code relayguard.pipeline.refused.relay.unauthenticated}. */
    int count(String metric) {
        return metrics.countFor(metric);
    }

    /** Every RelayGuard counter that is not zero. */
    Map<String, Integer> counters() {
        Map<String, Integer> counters = new TreeMap<>();
        metrics.countForPrefixName("relayguard.").forEach((name, count) -> {
            if (count != 0) {
                counters.put(name, count);
            }
        });
        return counters;
    }

    MemoryMailRepository repository(String url) {
        return repositories.computeIfAbsent(MailRepositoryUrl.from(url), u -> new MemoryMailRepository());
    }
}
