package dev.relayguard.core;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The author fields of a message (RFC 5322 §3.6.2): every {@code From:} and every {@code Sender:} header, each
 * read as a list of mailboxes, or the reason it could not be read. Built by a real RFC 5322 parser
 * ({@code dev.relayguard.smtp.AuthorHeaderReader}, Apache mime4j); judged by
 * {@link RelayPolicy#decideAuthorHeaders}. Immutable.
 */
public final class AuthorHeaders {
    private final List<Field> from;
    private final List<Field> sender;

    private AuthorHeaders(List<Field> from, List<Field> sender) {
        this.from = List.copyOf(from);
        this.sender = List.copyOf(sender);
    }

    public static AuthorHeaders of(List<Field> from, List<Field> sender) {
        return new AuthorHeaders(from, sender);
    }

    /** Every From: header, in message order. */
    public List<Field> from() {
        return from;
    }

    /** Every Sender: header, in message order. */
    public List<Field> sender() {
        return sender;
    }

    /** One header field: its mailboxes as {@code local@domain}, or why it is not a mailbox list. */
    public static final class Field {
        private final List<String> mailboxes;
        private final String problem;

        private Field(List<String> mailboxes, String problem) {
            this.mailboxes = mailboxes;
            this.problem = problem;
        }

        /** A field read as these mailboxes ({@code local@domain}, local part as written, quotes kept). */
        public static Field mailboxes(List<String> mailboxes) {
            return new Field(List.copyOf(mailboxes), null);
        }

        /** A field that is not a list of mailboxes: a syntax error, a group, NUL bytes... */
        public static Field unreadable(String problem) {
            return new Field(List.of(), Objects.requireNonNull(problem));
        }

        public List<String> mailboxes() {
            return mailboxes;
        }

        /** Why the field could not be read; empty when it was. */
        public Optional<String> problem() {
            return Optional.ofNullable(problem);
        }

        @Override
        public String toString() {
            return problem == null ? mailboxes.toString() : "unreadable: " + problem;
        }
    }

    @Override
    public String toString() {
        return "From: " + from + " Sender: " + sender;
    }
}
