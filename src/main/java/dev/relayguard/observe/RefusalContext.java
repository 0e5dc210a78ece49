package dev.relayguard.observe;

/**
 * Who and what a refusal was about, as written to the audit log. Plain strings so that the SMTP path and
 * the mail pipeline can both fill it; missing values are null and logged as {@code -}.
 * Never holds credentials.
 */
public final class RefusalContext {
    private final String path;
    private final String sessionId;
    private final String clientIp;
    private final String helo;
    private final String authUser;
    private final String sender;
    private final String recipient;
    private final String login;
    private final String mechanism;

    private RefusalContext(Builder builder) {
        this.path = builder.path;
        this.sessionId = builder.sessionId;
        this.clientIp = builder.clientIp;
        this.helo = builder.helo;
        this.authUser = builder.authUser;
        this.sender = builder.sender;
        this.recipient = builder.recipient;
        this.login = builder.login;
        this.mechanism = builder.mechanism;
    }

    /** The {@link #path()} of a decision taken at SMTP time (the hooks). */
    public static final String SMTP = "smtp";
    /** The {@link #path()} of a decision taken in the mail pipeline (matchers and mailets). */
    public static final String PIPELINE = "pipeline";

    public static Builder smtp() {
        return new Builder(SMTP);
    }

    /** A decision taken in the mail pipeline (matchers and mailets), not at SMTP time. */
    public static Builder pipeline() {
        return new Builder(PIPELINE);
    }

    public String path() {
        return path;
    }

    public String sessionId() {
        return sessionId;
    }

    public String clientIp() {
        return clientIp;
    }

    public String helo() {
        return helo;
    }

    public String authUser() {
        return authUser;
    }

    public String sender() {
        return sender;
    }

    public String recipient() {
        return recipient;
    }

    /** The user name an AUTH tried (not yet authenticated), or null. */
    public String login() {
        return login;
    }

    /** The SASL mechanism of an AUTH ({@code PLAIN}, {@code LOGIN}), or null. */
    public String mechanism() {
        return mechanism;
    }

    public static final class Builder {
        private final String path;
        private String sessionId;
        private String clientIp;
        private String helo;
        private String authUser;
        private String sender;
        private String recipient;
        private String login;
        private String mechanism;

        private Builder(String path) {
            this.path = path;
        }

        public Builder sessionId(String value) {
            this.sessionId = value;
            return this;
        }

        public Builder clientIp(String value) {
            this.clientIp = value;
            return this;
        }

        public Builder helo(String value) {
            this.helo = value;
            return this;
        }

        public Builder authUser(String value) {
            this.authUser = value;
            return this;
        }

        public Builder sender(String value) {
            this.sender = value;
            return this;
        }

        public Builder recipient(String value) {
            this.recipient = value;
            return this;
        }

        public Builder login(String value) {
            this.login = value;
            return this;
        }

        public Builder mechanism(String value) {
            this.mechanism = value;
            return this;
        }

        public RefusalContext build() {
            return new RefusalContext(this);
        }
    }
}
