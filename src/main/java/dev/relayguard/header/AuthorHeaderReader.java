package dev.relayguard.header;

import java.util.ArrayList;
import java.util.List;

import javax.mail.MessagingException;
import javax.mail.internet.MimeMessage;

import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Group;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.address.DefaultAddressParser;
import org.apache.james.mime4j.field.address.ParseException;
import org.apache.james.mime4j.util.MimeUtil;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;

import dev.relayguard.core.AuthorHeaders;
import dev.relayguard.core.Mailboxes;

/**
 * Reads the {@code From:} and {@code Sender:} headers of a message with Apache mime4j's strict RFC 5322 address
 * parser (the one James itself ships), never with a regex: display names, quoted commas, encoded words,
 * comments, obsolete routes and folded lines are read as RFC 5322 says. Only the headers are read, never the
 * body.
 *
 * <p>Decided here, judged by {@code RelayPolicy.decideAuthorHeaders}:
 * <ul>
 *   <li>a field is unfolded (RFC 5322 §2.2.3) before it is parsed;</li>
 *   <li>a group ({@code undisclosed:;}, {@code team: a@b;}) is unreadable: From: is a mailbox-list
 *       (RFC 5322 §3.6.2);</li>
 *   <li>an encoded word that does not decode only spoils its display name, which is not judged;</li>
 *   <li>NUL bytes, bare 8-bit text outside encoded words (RFC 6532 needs SMTPUTF8, which James 3.8.1 does not
 *       offer) and any other syntax error make the field unreadable, with the parser's message;</li>
 *   <li>a mailbox is given as {@code local@domain}, the local part quoted again when it is not a dot-atom, so
 *       {@code "ceo@bank.example"@evil.example} stays one odd mailbox and never reads as someone's address.</li>
 * </ul>
 * It never throws: a message whose headers cannot be read at all gives a From: field that is unreadable.
 *
 * <p>A field value's reading depends on nothing but the value, and a sender writes the same {@code From:} on
 * message after message: the readings of the last {@value #CACHED_VALUES} distinct values of at most
 * {@value #MAX_CACHED_LENGTH} characters are kept (a Guava cache, least recently used out first; a few MB at most),
 * so mime4j's parser, which allocates ~40 KB of buffers per value, runs once per value rather than once per message.
 */
public final class AuthorHeaderReader {
    private static final int MAX_FIELD_LENGTH = 64 * 1024;
    static final int CACHED_VALUES = 4096;
    static final int MAX_CACHED_LENGTH = 512;
    private static final Cache<String, AuthorHeaders.Field> READINGS = CacheBuilder.newBuilder()
        .maximumSize(CACHED_VALUES)
        .concurrencyLevel(4)
        .build();
    private static final java.util.regex.Pattern JAVA_CLASS_PREFIX =
        java.util.regex.Pattern.compile("^(?:(?:[a-z_$][\\w$]*\\.)+[A-Z][\\w$]*(?:Error|Exception): )+");

    private AuthorHeaderReader() {
    }

    /** The author headers of a mail; a mail whose message cannot be read gives an unreadable From: field. */
    public static AuthorHeaders read(org.apache.mailet.Mail mail) {
        try {
            return read(mail.getMessage());
        } catch (MessagingException | RuntimeException e) {
            return unreadable(e);
        }
    }

    /** The author headers of a message; never throws (a message whose headers cannot be read gives an unreadable From:). */
    public static AuthorHeaders read(MimeMessage message) {
        try {
            return AuthorHeaders.of(fields(message.getHeader("From")), fields(message.getHeader("Sender")));
        } catch (MessagingException | RuntimeException e) {
            return unreadable(e);
        }
    }

    private static AuthorHeaders unreadable(Exception e) {
        return AuthorHeaders.of(List.of(AuthorHeaders.Field.unreadable("headers cannot be read (" + printable(e.getMessage()) + ")")), List.of());
    }

    private static List<AuthorHeaders.Field> fields(String[] values) {
        if (values == null) {
            return List.of();
        }
        List<AuthorHeaders.Field> fields = new ArrayList<>(values.length);
        for (String value : values) {
            fields.add(field(value));
        }
        return fields;
    }

    /** One field value (what follows {@code From:}), as mailboxes or the reason it is not a mailbox list. */
    public static AuthorHeaders.Field field(String value) {
        if (value == null) {
            return AuthorHeaders.Field.mailboxes(List.of());
        }
        if (value.length() > MAX_CACHED_LENGTH) {
            return parse(value);
        }
        AuthorHeaders.Field known = READINGS.getIfPresent(value);
        if (known == null) {
            known = parse(value);
            READINGS.put(value, known);
        }
        return known;
    }

    /** How many field values have their reading kept now (tests). */
    static long cachedReadings() {
        return READINGS.size();
    }

    private static AuthorHeaders.Field parse(String value) {
        if (value.length() > MAX_FIELD_LENGTH) {
            return AuthorHeaders.Field.unreadable("longer than " + MAX_FIELD_LENGTH + " characters");
        }
        if (value.indexOf('\0') >= 0) {
            return AuthorHeaders.Field.unreadable("NUL byte");
        }
        AddressList addresses;
        try {
            // SILENT: an encoded word that does not decode (unpadded base64, an unknown charset) only affects a
            // display name, which is not judged; it must not make the field unreadable (RFC 2047 section 6.2).
            addresses = DefaultAddressParser.DEFAULT.parseAddressList(MimeUtil.unfold(value), DecodeMonitor.SILENT);
        } catch (ParseException | RuntimeException | StackOverflowError e) {
            return AuthorHeaders.Field.unreadable(printable(e.getMessage()));
        } catch (Error e) {
            // mime4j reports lexical and decoding errors as Errors (TokenMgrError, "Unexpected end of BASE64
            // stream"); only the JVM's own failures go on up.
            if (e instanceof VirtualMachineError) {
                throw e;
            }
            return AuthorHeaders.Field.unreadable(printable(e.getMessage()));
        }
        List<String> mailboxes = new ArrayList<>();
        for (Address address : addresses) {
            if (address instanceof Group) {
                return AuthorHeaders.Field.unreadable("a group ('" + printable(((Group) address).getName()) + ":'), not a mailbox");
            }
            Mailbox mailbox = (Mailbox) address;
            if (mailbox.getDomain() == null || mailbox.getDomain().isEmpty()) {
                return AuthorHeaders.Field.unreadable("an address without a domain");
            }
            mailboxes.add(quotedIfNeeded(mailbox.getLocalPart()) + "@" + mailbox.getDomain());
        }
        return AuthorHeaders.Field.mailboxes(mailboxes);
    }

    /** The first line of a text, printable ASCII only ({@code ?} for the rest), at most 120 characters: fit for an SMTP reply. */
    private static String printable(String message) {
        if (message == null) {
            return "syntax error";
        }
        int newline = message.indexOf('\n');
        String line = (newline < 0 ? message : message.substring(0, newline)).trim();
        // mime4j wraps its errors: "org.apache...TokenMgrError: Lexical error ...". The class names help nobody.
        line = JAVA_CLASS_PREFIX.matcher(line).replaceFirst("");
        // The parser quotes what it met: keep the text printable and short for an SMTP reply.
        StringBuilder printable = new StringBuilder();
        for (int i = 0; i < line.length() && printable.length() < 120; i++) {
            char c = line.charAt(i);
            printable.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return printable.toString();
    }

    private static String quotedIfNeeded(String localPart) {
        if (Mailboxes.isDotAtom(localPart)) {
            return localPart;
        }
        StringBuilder quoted = new StringBuilder("\"");
        for (int i = 0; i < localPart.length(); i++) {
            char c = localPart.charAt(i);
            if (c == '"' || c == '\\') {
                quoted.append('\\');
            }
            quoted.append(c);
        }
        return quoted.append('"').toString();
    }
}
