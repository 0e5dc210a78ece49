package dev.relayguard.it;

import java.io.IOException;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * One SMTP transaction on a fresh connection, run to the step that decides it, Metasploit {@code smtp_relay}
 * style: MAIL, RCPT, and DATA when RCPT was accepted. The result says which step answered and how.
 */
public final class Attempt {
    private final String step;
    private final Reply reply;

    private Attempt(String step, Reply reply) {
        this.step = step;
        this.reply = reply;
    }

    /** {@code mailFromArgument} and {@code rcptToArgument} are written as sent, brackets included. */
    public static Attempt run(int port, boolean startTls, String user, String password,
                              String mailFromArgument, String rcptToArgument) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(port)) {
            if (smtp.greeting().code() != 220) {
                return new Attempt("CONNECT", smtp.greeting());
            }
            smtp.ehlo("battery.example");
            if (startTls) {
                smtp.startTls("battery.example");
            }
            if (user != null) {
                Reply auth = smtp.authPlain(user, password);
                if (auth.code() != 235) {
                    return new Attempt("AUTH", auth);
                }
            }
            Reply mail = smtp.command("MAIL FROM:" + mailFromArgument);
            if (mail.code() != 250) {
                return new Attempt("MAIL", mail);
            }
            Reply rcpt = smtp.command("RCPT TO:" + rcptToArgument);
            if (rcpt.code() != 250) {
                return new Attempt("RCPT", rcpt);
            }
            // An authenticated user's message names it as author, as a mail client does (RelayGuard checks From:).
            String from = user != null ? "From: <" + user + ">\r\n" : "";
            return new Attempt("DATA", smtp.data(from + "Subject: RelayGuard battery\r\n\r\nbattery case"));
        } catch (IOException e) {
            throw new IOException("SMTP attempt MAIL FROM:" + mailFromArgument + " RCPT TO:" + rcptToArgument + " failed", e);
        }
    }

    public String step() {
        return step;
    }

    public Reply reply() {
        return reply;
    }

    /** True when the message was accepted for delivery: the relay went through. */
    public boolean relayed() {
        return step.equals("DATA") && reply.code() == 250;
    }

    /** e.g. {@code RCPT 550 5.7.1}. */
    public String summary() {
        return step + " " + reply.code() + " " + reply.enhancedStatus();
    }

    @Override
    public String toString() {
        return step + " " + reply;
    }
}
