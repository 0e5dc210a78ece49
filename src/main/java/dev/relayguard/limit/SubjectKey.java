package dev.relayguard.limit;

import java.net.InetAddress;
import java.util.Locale;

import dev.relayguard.core.ProbeBans;

/**
 * The one spelling of a rate-limit subject's key, as the store, suspensions, the audit log and the operator
 * commands write it: {@code user:alice@example.com} (user names lower-cased) or {@code ip:192.0.2.7} (IPv6: the
 * /64 prefix, as probe bans key it).
 */
public final class SubjectKey {
    private SubjectKey() {
    }

    /** {@code user:} and the user name in lower case. */
    public static String user(String user) {
        return "user:" + user.toLowerCase(Locale.ROOT);
    }

    /** {@code ip:} and the client's address (IPv6: its /64 prefix). */
    public static String ip(InetAddress client) {
        return "ip:" + ProbeBans.keyOf(client);
    }
}
