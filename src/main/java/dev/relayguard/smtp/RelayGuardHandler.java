package dev.relayguard.smtp;

import java.net.InetAddress;
import java.net.InetSocketAddress;

import javax.inject.Inject;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.apache.james.protocols.smtp.hook.MailHook;
import org.apache.james.protocols.smtp.hook.RcptHook;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;

/**
 * RelayGuard's SMTP handler: decides at RCPT time whether each recipient may be relayed, with RelayGuard's
 * own policy ({@code conf/relayguard.xml}), and makes that policy the authority for James too.
 *
 * <p>Enable it with one line first in each listener's handler chain in {@code conf/smtpserver.xml} (and the
 * module in {@code conf/extensions.properties}, see {@code RelayGuardModule}):
 *
 * <pre>{@code
 * <handlerchain>
 *   <handler class="dev.relayguard.smtp.RelayGuardHandler"/>
 *   <handler class="org.apache.james.smtpserver.CoreCmdHandlerLoader"/>
 * </handlerchain>
 * }</pre>
 *
 * <p>It takes no parameters yet. What it does:
 * <ul>
 *   <li>At MAIL (and again at each RCPT) it sets the session's relaying flag from RelayGuard's policy
 *       (authenticated, or in RelayGuard's trusted networks), not from James's {@code <authorizedAddresses>};
 *       so a too-wide {@code authorizedAddresses} (0.0.0.0/0 behind Docker NAT) trusts nobody, and James's
 *       own checks and the {@code SMTPIsAuthNetwork} mail attribute agree with RelayGuard. (Not at connect:
 *       James 3.8.1's JMX connect statistics fail on a connect handler that stays silent.)</li>
 *   <li>At each RCPT it asks the core: refused recipients get {@code 550 5.7.1 Relaying denied: ...}
 *       (counted in {@code relayguard.refused.relay.unauthenticated} and logged on {@code relayguard.audit});
 *       a DomainList failure gets {@code 451 4.3.0}. Allowed recipients get {@code DECLINED}, never
 *       {@code OK}: James's own checks still run after ours.</li>
 * </ul>
 * One instance serves every connection of a listener: the class keeps no per-session state in fields.
 */
public class RelayGuardHandler implements MailHook, RcptHook {
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardHandler.class);
    /** Set in the transaction when a recipient was accepted only because its domain is a relay domain. */
    private static final ProtocolSession.AttachmentKey<Boolean> RELAY_DOMAIN_RECIPIENT =
        ProtocolSession.AttachmentKey.of("relayguard.relayDomainRecipient", Boolean.class);

    private final RelayGuard guard;

    @Inject
    public RelayGuardHandler(RelayGuard guard) {
        this.guard = guard;
    }

    @Override
    public HookResult doMail(SMTPSession session, MaybeSender sender) {
        InetAddress client = clientAddress(session);
        String user = session.getUsername() == null ? null : session.getUsername().asString();
        session.setRelayingAllowed(guard.clientMayRelay(client, user));
        return HookResult.DECLINED;
    }

    @Override
    public HookResult doRcpt(SMTPSession session, MaybeSender sender, MailAddress rcpt) {
        InetAddress client = clientAddress(session);
        String user = session.getUsername() == null ? null : session.getUsername().asString();
        Verdict verdict;
        try {
            verdict = guard.decideRelay(RelayRequest.of(client, user, rcpt.getDomain().asString()));
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not decide on RCPT {} in session {}; deferring", rcpt.asString(), session.getSessionID(), e);
            return HookResult.builder()
                .hookReturnCode(HookReturnCode.denySoft())
                .smtpReturnCode("451")
                .smtpDescription("4.3.0 Temporary local problem, try again later")
                .build();
        }
        if (verdict.isAllowed()) {
            alignJamesRelayFlag(session, client, user, verdict);
            return HookResult.DECLINED;
        }
        guard.record(verdict, context(session, sender, rcpt, user, client));
        return HookResult.builder()
            .hookReturnCode(verdict.outcome() == Outcome.REFUSED ? HookReturnCode.deny() : HookReturnCode.denySoft())
            .smtpReturnCode(verdict.replyCode())
            .smtpDescription(verdict.enhancedStatus() + " " + verdict.text())
            .build();
    }

    /**
     * James's relay hook runs after ours and refuses whenever the session's relaying flag is false. Set that
     * flag to RelayGuard's answer: true for authenticated or trusted clients, and for a transaction that
     * carries a relay-domain (backup MX) recipient, which must also be relayed onward by the pipeline.
     * This also corrects James's recomputation from authorizedAddresses after a PROXY header.
     */
    private void alignJamesRelayFlag(SMTPSession session, InetAddress client, String user, Verdict verdict) {
        if (verdict.reason() == Reason.RELAY_DOMAIN) {
            session.setAttachment(RELAY_DOMAIN_RECIPIENT, Boolean.TRUE, ProtocolSession.State.Transaction);
        }
        boolean relayDomainInTransaction = session.getAttachment(RELAY_DOMAIN_RECIPIENT, ProtocolSession.State.Transaction).orElse(false);
        session.setRelayingAllowed(guard.clientMayRelay(client, user) || relayDomainInTransaction);
    }

    static InetAddress clientAddress(SMTPSession session) {
        InetSocketAddress remote = session.getRemoteAddress();
        return remote == null ? null : remote.getAddress();
    }

    private static RefusalContext context(SMTPSession session, MaybeSender sender, MailAddress rcpt, String user, InetAddress client) {
        return RefusalContext.smtp()
            .sessionId(session.getSessionID())
            .clientIp(client == null ? null : client.getHostAddress())
            .helo(session.getAttachment(SMTPSession.CURRENT_HELO_NAME, ProtocolSession.State.Connection).orElse(null))
            .authUser(user)
            .sender(sender == null ? null : sender.asString())
            .recipient(rcpt.asString())
            .build();
    }
}
