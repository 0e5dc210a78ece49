package dev.relayguard.core;

/**
 * The rules an operator can switch between {@link Mode}s in {@code relayguard.xml} ({@code <rules>}).
 * {@link #configKey()} is the element name.
 */
public enum Rule {
    RELAY("relay", false),
    SOURCE_ROUTE("sourceRoute", true),
    PERCENT_HACK("percentHack", true),
    BANG_PATH("bangPath", true),
    AT_IN_LOCAL_PART("atInLocalPart", true),
    IP_LITERAL("ipLiteral", true),
    UNQUALIFIED_RECIPIENT("unqualifiedRecipient", true),
    /** MAIL FROM without a domain from a stranger on an MX listener. */
    UNQUALIFIED_SENDER("unqualifiedSender", true),
    SENDER_OWNERSHIP("senderOwnership", true),
    LOCAL_SENDER_SPOOF("localSenderSpoof", true),
    SUBMISSION_AUTH("submissionAuth", true),
    /** From: and Sender: of an authenticated user's message must be addresses it owns. */
    HEADER_FROM("headerFrom", true),
    /** How a suspended account is answered: defer (450 4.7.1, the default) or reject (550 5.7.1). */
    SUSPENDED_SENDER("suspendedSender", false, Mode.DEFER);

    private final String configKey;
    private final boolean mayBeOff;
    private final Mode defaultMode;

    Rule(String configKey, boolean mayBeOff) {
        this(configKey, mayBeOff, Mode.REJECT);
    }

    Rule(String configKey, boolean mayBeOff, Mode defaultMode) {
        this.configKey = configKey;
        this.mayBeOff = mayBeOff;
        this.defaultMode = defaultMode;
    }

    /** The mode when relayguard.xml does not set one. */
    public Mode defaultMode() {
        return defaultMode;
    }

    public String configKey() {
        return configKey;
    }

    /** The relay rule can be deferred or monitored for a roll-out, never switched off. */
    public boolean mayBeOff() {
        return mayBeOff;
    }

    /**
     * {@code mode}, if this rule may have it: the one place a rule's mode is validated.
     *
     * @throws IllegalArgumentException when {@code mode} is off and this rule may never be off
     */
    public Mode checkMode(Mode mode) {
        if (mode == Mode.OFF && !mayBeOff) {
            throw new IllegalArgumentException("the " + configKey + " rule can be reject, defer or monitor, never off");
        }
        return mode;
    }
}
