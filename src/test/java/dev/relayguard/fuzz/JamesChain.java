package dev.relayguard.fuzz;

import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.apache.commons.configuration2.BaseHierarchicalConfiguration;
import org.apache.james.core.Domain;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.core.Username;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.apache.james.protocols.api.BaseRequest;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.ProtocolTransport;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPConfigurationImpl;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.SMTPSessionImpl;
import org.apache.james.protocols.smtp.core.esmtp.MailSizeEsmtpExtension;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.MailHook;
import org.apache.james.protocols.smtp.hook.MailParametersHook;
import org.apache.james.protocols.smtp.hook.RcptHook;
import org.apache.james.smtpserver.JamesMailCmdHandler;
import org.apache.james.smtpserver.JamesRcptCmdHandler;
import org.reactivestreams.Publisher;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.smtp.RelayGuardHandler;

/**
 * James 3.8.1's real MAIL and RCPT command handlers ({@code JamesMailCmdHandler}, {@code JamesRcptCmdHandler}) on
 * a real {@code SMTPSessionImpl}, with RelayGuard in front as the sample's handler chain has it: RelayGuard's
 * command handler answers first ({@code onCommand}), then James cuts and parses the argument, runs its
 * parameter hooks (the sample's: {@code MailSizeEsmtpExtension} for SIZE, AUTH ignored as
 * {@code AuthCmdHandler} ignores it) and calls the hooks, RelayGuard's {@code doMail}/{@code doRcpt} among them.
 * A capturing hook before RelayGuard's records what James hands the hooks. With {@code relayGuard} null it is
 * James alone, with only the capturing hook.
 *
 * <p>RelayGuard's decisions are read from its counters ({@code relayguard.<outcome>.<reason>}), in the order they
 * were counted. Not thread-safe: one instance per test thread.
 */
final class JamesChain {
    static final String DEFAULT_DOMAIN = Envelopes.LOCAL_DOMAIN;
    private static final Domain DEFAULT = Domain.of(DEFAULT_DOMAIN);

    /** One command through the chain. */
    static final class Run {
        /** The reply, or null when the chain threw. */
        final Response response;
        final RuntimeException thrown;
        /** True when James called the hooks; then {@link #sender} / {@link #recipient} is what it handed them. */
        final boolean hooksCalled;
        final MaybeSender sender;
        final MailAddress recipient;
        /** RelayGuard's verdicts, as counted: outcome and reason, in order. */
        final List<Decision> decisions;
        /** The SIZE James's MailSizeEsmtpExtension stored (MAIL), null when none. */
        final Integer jamesSize;

        Run(Response response, RuntimeException thrown, boolean hooksCalled, MaybeSender sender, MailAddress recipient,
            List<Decision> decisions, Integer jamesSize) {
            this.response = response;
            this.thrown = thrown;
            this.hooksCalled = hooksCalled;
            this.sender = sender;
            this.recipient = recipient;
            this.decisions = decisions;
            this.jamesSize = jamesSize;
        }

        String code() {
            return response == null ? "exception" : response.getRetCode();
        }

        String reply() {
            if (response == null) {
                return "exception " + thrown;
            }
            return String.join(" / ", response.getLines()); // each line starts with the code
        }

        /** The deciding verdict: the first that did not simply allow, else the last allowing one; null when none. */
        Decision decisive() {
            for (Decision decision : decisions) {
                if (decision.outcome != Outcome.ALLOWED) {
                    return decision;
                }
            }
            return decisions.isEmpty() ? null : decisions.get(decisions.size() - 1);
        }
    }

    /** One counted verdict. */
    static final class Decision {
        final Outcome outcome;
        final Reason reason;

        Decision(Outcome outcome, Reason reason) {
            this.outcome = outcome;
            this.reason = reason;
        }

        @Override
        public String toString() {
            return outcome.metricWord() + " " + reason.code();
        }
    }

    private static final ProtocolSession.AttachmentKey<Integer> MESG_SIZE = ProtocolSession.AttachmentKey.of("MESG_SIZE", Integer.class);
    private static final MaybeSender TRANSACTION_SENDER = MaybeSender.getMailSender("fuzz@sender.example");

    private final RelayGuardHandler relayGuard;
    private final JamesMailCmdHandler mailHandler;
    private final JamesRcptCmdHandler rcptHandler;
    private final CountingMetrics metrics;
    private final SMTPConfigurationImpl enforcing = new SMTPConfigurationImpl();
    private final SMTPConfigurationImpl lenient = new SMTPConfigurationImpl();

    private boolean hooksCalled;
    private MaybeSender capturedSender;
    private MailAddress capturedRecipient;

    /**
     * @param guard   the RelayGuard singleton (built on {@code metrics}), or null for James alone
     * @param role    the listener role of RelayGuard's handler
     */
    JamesChain(RelayGuard guard, CountingMetrics metrics, ListenerRole role) throws Exception {
        this.metrics = metrics;
        this.enforcing.setUseAddressBracketsEnforcement(true);
        this.lenient.setUseAddressBracketsEnforcement(false);
        if (guard != null) {
            relayGuard = new RelayGuardHandler(guard);
            BaseHierarchicalConfiguration config = new BaseHierarchicalConfiguration();
            config.addProperty("role", role.name().toLowerCase(java.util.Locale.ROOT));
            relayGuard.init(config);
        } else {
            relayGuard = null;
        }
        DomainList domainList = (DomainList) Proxy.newProxyInstance(DomainList.class.getClassLoader(),
            new Class<?>[] {DomainList.class}, (proxy, method, args) -> {
                if (method.getName().equals("getDefaultDomain")) {
                    return DEFAULT;
                }
                throw new UnsupportedOperationException(method.getName());
            });
        MailHook captureSender = new MailHook() {
            @Override
            public HookResult doMail(SMTPSession session, MaybeSender sender) {
                hooksCalled = true;
                capturedSender = sender;
                return HookResult.DECLINED;
            }
        };
        RcptHook captureRecipient = new RcptHook() {
            @Override
            public HookResult doRcpt(SMTPSession session, MaybeSender sender, MailAddress rcpt) {
                hooksCalled = true;
                capturedRecipient = rcpt;
                return HookResult.DECLINED;
            }
        };
        MailParametersHook authParameter = new MailParametersHook() { // AuthCmdHandler.doMailParameter: ignores AUTH=
            @Override
            public HookResult doMailParameter(SMTPSession session, String paramName, String paramValue) {
                return HookResult.DECLINED;
            }

            @Override
            public String[] getMailParamNames() {
                return new String[] {"AUTH"};
            }
        };
        mailHandler = new JamesMailCmdHandler(metrics, domainList);
        mailHandler.wireExtensions(MailParametersHook.class, List.of(new MailSizeEsmtpExtension(), authParameter));
        mailHandler.wireExtensions(MailHook.class, relayGuard == null ? List.of(captureSender) : List.of(captureSender, relayGuard));
        rcptHandler = new JamesRcptCmdHandler(metrics, domainList);
        rcptHandler.wireExtensions(RcptHook.class, relayGuard == null ? List.of(captureRecipient) : List.of(captureRecipient, relayGuard));
    }

    /** {@code MAIL <argument>} as the first command of a transaction, after EHLO. */
    Run mail(String argument, Who who, boolean bracketsEnforcement) {
        SMTPSessionImpl session = session(who, bracketsEnforcement);
        return run(session, "MAIL", argument);
    }

    /** {@code RCPT <argument>} after {@code MAIL FROM:<fuzz@sender.example>} was accepted. */
    Run rcpt(String argument, Who who, boolean bracketsEnforcement) {
        SMTPSessionImpl session = session(who, bracketsEnforcement);
        session.setAttachment(SMTPSession.SENDER, TRANSACTION_SENDER, ProtocolSession.State.Transaction);
        return run(session, "RCPT", argument);
    }

    private Run run(SMTPSessionImpl session, String command, String argument) {
        hooksCalled = false;
        capturedSender = null;
        capturedRecipient = null;
        metrics.counted.clear();
        BaseRequest request = new BaseRequest(command, argument); // as JamesCut.argumentOf gives it
        Response response = null;
        RuntimeException thrown = null;
        try {
            if (relayGuard != null) {
                response = relayGuard.onCommand(session, request);
            }
            if (response == null) {
                response = command.equals("MAIL") ? mailHandler.onCommand(session, request) : rcptHandler.onCommand(session, request);
            }
        } catch (RuntimeException e) {
            thrown = e;
        }
        List<Decision> decisions = new ArrayList<>();
        for (String name : metrics.counted) {
            Decision decision = decision(name);
            if (decision != null) {
                decisions.add(decision);
            }
        }
        Integer size = session.getAttachment(MESG_SIZE, ProtocolSession.State.Transaction).orElse(null);
        return new Run(response, thrown, hooksCalled, capturedSender, capturedRecipient, decisions, size);
    }

    /** {@code relayguard.refused.routing.ip-literal} → REFUSED ROUTING_IP_LITERAL; other metric names → null. */
    private static Decision decision(String metricName) {
        if (!metricName.startsWith("relayguard.")) {
            return null;
        }
        String rest = metricName.substring("relayguard.".length());
        for (Outcome outcome : Outcome.values()) {
            if (rest.startsWith(outcome.metricWord() + ".")) {
                String code = rest.substring(outcome.metricWord().length() + 1);
                for (Reason reason : Reason.values()) {
                    if (reason.code().equals(code)) {
                        return new Decision(outcome, reason);
                    }
                }
            }
        }
        return null; // relayguard.smtp.refused..., timers, gauges
    }

    private SMTPSessionImpl session(Who who, boolean bracketsEnforcement) {
        SMTPSessionImpl session = new SMTPSessionImpl(who.transport, bracketsEnforcement ? enforcing : lenient);
        session.setAttachment(SMTPSession.CURRENT_HELO_MODE, "EHLO", ProtocolSession.State.Connection);
        session.setAttachment(SMTPSession.CURRENT_HELO_NAME, "fuzzer.example", ProtocolSession.State.Connection);
        if (who.user != null) {
            session.setUsername(Username.of(who.user));
        }
        return session;
    }

    /** A client: its address, the AUTH identity (null for none) and whether the connection is under TLS. */
    static final class Who {
        final String name;
        final String user;
        final ProtocolTransport transport;

        Who(String name, InetAddress address, String user, boolean tls) {
            this.name = name;
            this.user = user;
            InetSocketAddress remote = new InetSocketAddress(address, 40_000);
            InetSocketAddress local = new InetSocketAddress(InetAddress.getLoopbackAddress(), 25);
            this.transport = (ProtocolTransport) Proxy.newProxyInstance(ProtocolTransport.class.getClassLoader(),
                new Class<?>[] {ProtocolTransport.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getRemoteAddress":
                            return remote;
                        case "getLocalAddress":
                            return local;
                        case "getId":
                            return "fuzz";
                        case "isTLSStarted":
                        case "isStartTLSSupported":
                            return tls;
                        case "getSSLSession":
                            return Optional.empty();
                        case "isProxyRequired":
                        case "isReadable":
                            return false;
                        case "toString":
                            return name;
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** A MetricFactory whose counters note every increment (RelayGuard's verdicts) and whose timers do nothing. */
    static final class CountingMetrics implements MetricFactory {
        final List<String> counted = new ArrayList<>();

        @Override
        public Metric generate(String name) {
            return new Metric() {
                private long count;

                @Override
                public void increment() {
                    count++;
                    counted.add(name);
                }

                @Override
                public void decrement() {
                    count--;
                }

                @Override
                public void add(int value) {
                    count += value;
                }

                @Override
                public void remove(int value) {
                    count -= value;
                }

                @Override
                public long getCount() {
                    return count;
                }
            };
        }

        @Override
        public TimeMetric timer(String name) {
            return new TimeMetric() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public ExecutionResult stopAndPublish() {
                    return new ExecutionResult() {
                        @Override
                        public Duration elasped() {
                            return Duration.ZERO;
                        }

                        @Override
                        public ExecutionResult logWhenExceedP99(Duration thresholdInNanoSeconds) {
                            return this;
                        }
                    };
                }
            };
        }

        @Override
        public <T> Publisher<T> decoratePublisherWithTimerMetric(String name, Publisher<T> publisher) {
            return publisher;
        }

        @Override
        public <T> Publisher<T> decoratePublisherWithTimerMetricLogP99(String name, Publisher<T> publisher) {
            return publisher;
        }
    }
}
