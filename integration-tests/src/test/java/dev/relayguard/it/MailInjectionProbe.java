package dev.relayguard.it;

import javax.inject.Inject;

import org.apache.james.utils.GuiceProbe;
import org.apache.mailet.Mail;
import org.apache.mailet.MailetContext;

/** Puts a mail into James's pipeline without SMTP, the way JMAP and mailets do (MailetContext.sendMail). */
public class MailInjectionProbe implements GuiceProbe {
    private final MailetContext mailetContext;

    @Inject
    public MailInjectionProbe(MailetContext mailetContext) {
        this.mailetContext = mailetContext;
    }

    public void send(Mail mail) throws Exception {
        mailetContext.sendMail(mail);
    }
}
