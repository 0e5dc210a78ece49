package dev.relayguard.bench;

import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import dev.relayguard.core.Client;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.TrustedNetworks;
import dev.relayguard.core.Verdict;

/**
 * Time per recipient of the relay decision, what the RCPT hook adds to every {@code RCPT TO}:
 *
 * <ul>
 *   <li>{@link #strangerToLocalDomain}: an unauthenticated client outside the trusted networks, to a local
 *       domain: accepted (the common case on an MX);</li>
 *   <li>{@link #strangerToRemoteDomain}: the same client to a remote domain: refused {@code 550 5.7.1} (builds
 *       the refusal text);</li>
 *   <li>{@link #authenticatedToRemoteDomain}: an authenticated user to a remote domain: accepted at the first
 *       test;</li>
 *   <li>{@link #rcptPathCheck}: the routing-syntax check the handler runs before, on the raw argument:
 *       {@code SmtpPath.fromArgument("TO:<user@example.com> NOTIFY=NEVER")} then
 *       {@code checkPath(path, true, stranger)} (clean address: allowed).</li>
 * </ul>
 *
 * <p>The decision methods include {@code RelayRequest.of(client, domain)}, as the hook builds one per recipient
 * (it canonicalises the domain); the {@link Client} is built once per session, so in setup here. The policy has
 * three trusted networks and one relay domain; {@link LocalDomains} is a lambda over an immutable set of 20
 * domains, standing for James's DomainList (a cached lookup). Inputs are fields of the state, so nothing is
 * constant-folded.
 *
 * <pre>
 * benchmarks/run-jmh.sh RelayDecision
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RelayDecisionBenchmark {
    private RelayPolicy policy;
    private LocalDomains localDomains;
    private Client stranger;
    private Client authenticated;
    private String localDomain;
    private String remoteDomain;
    private String rcptArgument;

    @Setup
    public void setUp() throws Exception {
        policy = RelayPolicy.of(
            TrustedNetworks.of(List.of(IpNetwork.parse("127.0.0.0/8"), IpNetwork.parse("10.0.0.0/8"), IpNetwork.parse("::1/128"))),
            Set.of("backup.example"));
        Set<String> local = new java.util.HashSet<>();
        local.add("example.com");
        for (int i = 1; i < 20; i++) {
            local.add("domain" + i + ".example");
        }
        Set<String> domains = Set.copyOf(local);
        localDomains = domains::contains;
        stranger = Client.of(InetAddress.getByName("203.0.113.9"), null);
        authenticated = Client.of(InetAddress.getByName("198.51.100.7"), "alice@example.com");
        localDomain = "example.com";
        remoteDomain = "remote.example.net";
        rcptArgument = "TO:<user@example.com> NOTIFY=NEVER";

        expect(strangerToLocalDomain(), Outcome.ALLOWED);
        expect(strangerToRemoteDomain(), Outcome.REFUSED);
        expect(authenticatedToRemoteDomain(), Outcome.ALLOWED);
        expect(rcptPathCheck(), Outcome.ALLOWED);
    }

    private static void expect(Verdict verdict, Outcome outcome) {
        if (verdict.outcome() != outcome) {
            throw new IllegalStateException("expected " + outcome + ", got " + verdict.outcome() + ": " + verdict.text());
        }
    }

    @Benchmark
    public Verdict strangerToLocalDomain() {
        return policy.decide(RelayRequest.of(stranger, localDomain), localDomains);
    }

    @Benchmark
    public Verdict strangerToRemoteDomain() {
        return policy.decide(RelayRequest.of(stranger, remoteDomain), localDomains);
    }

    @Benchmark
    public Verdict authenticatedToRemoteDomain() {
        return policy.decide(RelayRequest.of(authenticated, remoteDomain), localDomains);
    }

    @Benchmark
    public Verdict rcptPathCheck() {
        SmtpArgument argument = SmtpArgument.ofRcpt(rcptArgument);
        Verdict raw = policy.checkArgument(argument, true, stranger);
        return raw.isAllowed() ? policy.checkPath(SmtpPath.parse(argument.path()), true, stranger) : raw;
    }
}
