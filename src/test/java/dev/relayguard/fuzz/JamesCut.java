package dev.relayguard.fuzz;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.StringTokenizer;

import org.apache.james.core.MailAddress;

/**
 * A test-only model of how James 3.8.1 cuts and parses the argument of MAIL and RCPT, written line by line after
 * protocols-smtp {@code MailCmdHandler.doMAILFilter} (with {@code toMaybeSender}, {@code removeBrackets},
 * {@code appendDefaultDomainIfNeeded}) and {@code RcptCmdHandler.doFilterChecks} (tag {@code james-project-3.8.1}),
 * with the parameter hooks of the sample's handler chain ({@code CoreCmdHandlerLoader}): MAIL {@code SIZE}
 * ({@code MailSizeEsmtpExtension}: {@code Integer.parseInt}, no size limit) and {@code AUTH}
 * ({@code AuthCmdHandler}: ignored); no RCPT hook supports any parameter (so any RCPT parameter is {@code 504}).
 * The address itself is parsed by James's own {@link MailAddress}.
 *
 * <p>The handler methods that do this are private in James (only {@code doFilterChecks} is reachable, and it
 * shows the cut only through its effects), so this model spells out the intermediate strings — where the path
 * ends, where the brackets go, whether the default domain was appended — and {@link AddressFuzzTest} checks the
 * model against James's real {@code JamesMailCmdHandler}/{@code JamesRcptCmdHandler} on every generated case.
 * Not modelled: the session checks that come first in James (a sender already given, HELO/EHLO enforcement,
 * MAIL before RCPT); the fuzz tests always send from a fresh transaction after EHLO.
 */
public final class JamesCut {
    /** Where James stops. */
    public enum Stop {
        /**
         * No ':' or a keyword other than FROM/TO: {@code 501 5.5.4 Usage: MAIL FROM:<sender>} /
         * {@code 501 5.5.2 Usage: RCPT TO:<recipient>}.
         */
        USAGE("501"),
        /** MAIL {@code SIZE=} that {@code Integer.parseInt} refuses: {@code 501 5.5.4 Syntactically incorrect value for SIZE parameter}. */
        SIZE("501"),
        /** Brackets enforced and the path is not {@code <...>}: {@code 501 5.1.7} (MAIL) / {@code 501 5.5.2} (RCPT). */
        BRACKETS("501"),
        /** {@code MailAddress} refused the address: {@code 501 5.1.7} (MAIL) / {@code 553 5.1.3} (RCPT). */
        ADDRESS(null),
        /** RCPT with a parameter no hook supports: {@code 504 Unrecognized or unsupported option}. */
        PARAMETER("504"),
        /**
         * RCPT: James recorded the recipient, then fails before the first hook: {@code RcptCmdHandler.callHook}
         * reads the whole argument as parameters into an {@code ImmutableMap}, which throws on a repeated name
         * (two empty words from three spaces, {@code TO:   <a@b>}, or a repeated word in a quoted local part).
         */
        HOOK_CRASH(null),
        /** James recorded the sender (or the null sender) / the recipient and calls the hooks. */
        RECORDED(null);

        private final String replyCode;

        Stop(String replyCode) {
            this.replyCode = replyCode;
        }
    }

    public final boolean mail;
    public final Stop stop;
    /** The text after the first ':' (null when none), as James splits it off. */
    public final String afterColon;
    /** The path as James cut it: trimmed, parameters removed, brackets still there; null when James stopped before. */
    public final String cut;
    /** The parameters James split off ({@code SIZE=10 AUTH=<>}), null when none. */
    public final String options;
    /** The parameter names as James reads them (upper-cased when followed by '='), in order. */
    public final List<String> optionNames;
    /** The value of the last {@code SIZE} James's hook stored, null when none. */
    public final Integer size;
    /** The text James gives to the parser: brackets removed where James removes them, before its default domain. */
    public final String path;
    /** True when the path had no '@' and James appended its default domain. */
    public final boolean defaultDomainAppended;
    /** MAIL: James recorded the null sender ({@code <>} or {@code <@>}). */
    public final boolean nullSender;
    /** The address James recorded (null for the null sender, or when James stopped before). */
    public final MailAddress address;

    private JamesCut(boolean mail, Stop stop, String afterColon, String cut, String options, List<String> optionNames,
                     Integer size, String path, boolean defaultDomainAppended, boolean nullSender, MailAddress address) {
        this.mail = mail;
        this.stop = stop;
        this.afterColon = afterColon;
        this.cut = cut;
        this.options = options;
        this.optionNames = optionNames;
        this.size = size;
        this.path = path;
        this.defaultDomainAppended = defaultDomainAppended;
        this.nullSender = nullSender;
        this.address = address;
    }

    /**
     * The argument of a command line as James hands it to the command handlers
     * ({@code CommandDispatcher.parseRequest}: the line trimmed, cut at its first space); null when there is none.
     */
    public static String argumentOf(String line) {
        String cmdString = line.trim();
        int spaceIndex = cmdString.indexOf(" ");
        return spaceIndex > 0 ? cmdString.substring(spaceIndex + 1) : null;
    }

    /**
     * Only the cut, whatever the keyword: the path James would parse from the text after the first ':'
     * (trimmed, parameters cut off where the command's handler cuts them, brackets removed where James removes
     * them with brackets not enforced); null when there is no ':'.
     */
    public static String pathOf(String afterColon, boolean mail) {
        if (afterColon == null) {
            return null;
        }
        String text = afterColon.trim();
        int lastChar = mail ? text.indexOf('>', text.indexOf('<')) : text.lastIndexOf('>');
        if (lastChar > 0 && text.length() > lastChar + 2 && text.charAt(lastChar + 1) == ' ') {
            text = text.substring(0, lastChar + 1);
        }
        return removeBrackets(text);
    }

    /** {@code MailCmdHandler.doMAILFilter(session, argument)}, {@code argument} as James has it (after {@code "MAIL "}). */
    public static JamesCut mail(String argument, boolean bracketsEnforcement, String defaultDomain) {
        String sender = null;
        if (argument != null && argument.indexOf(":") > 0) {
            int colonIndex = argument.indexOf(":");
            sender = argument.substring(colonIndex + 1);
            argument = argument.substring(0, colonIndex);
        }
        String afterColon = sender;
        if (argument == null || !argument.toUpperCase(Locale.US).equals("FROM") || sender == null) {
            return stopped(true, Stop.USAGE, afterColon, null, null, List.of(), null);
        }
        sender = sender.trim();
        // the next gt after the first lt ... AUTH may add more <>
        int lastChar = sender.indexOf('>', sender.indexOf('<'));
        String options = null;
        List<String> names = new ArrayList<>();
        Integer size = null;
        if (lastChar > 0 && sender.length() > lastChar + 2 && sender.charAt(lastChar + 1) == ' ') {
            options = sender.substring(lastChar + 2);
            sender = sender.substring(0, lastChar + 1);
            for (StringTokenizer names0 = new StringTokenizer(options, " "); names0.hasMoreElements(); ) {
                String mailOption = names0.nextToken(); // every name, also those after a refused SIZE
                int equalIndex = mailOption.indexOf('=');
                names.add(equalIndex > 0 ? mailOption.substring(0, equalIndex).toUpperCase(Locale.US) : mailOption);
            }
            StringTokenizer optionTokenizer = new StringTokenizer(options, " ");
            while (optionTokenizer.hasMoreElements()) {
                String mailOption = optionTokenizer.nextToken();
                int equalIndex = mailOption.indexOf('=');
                String mailOptionName = mailOption;
                String mailOptionValue = "";
                if (equalIndex > 0) {
                    mailOptionName = mailOption.substring(0, equalIndex).toUpperCase(Locale.US);
                    mailOptionValue = mailOption.substring(equalIndex + 1);
                }
                if (mailOptionName.equals("SIZE")) { // paramHooks: MailSizeEsmtpExtension (AUTH: AuthCmdHandler declines)
                    try {
                        size = Integer.parseInt(mailOptionValue); // MailSizeEsmtpExtension.doMailSize
                    } catch (NumberFormatException e) {
                        return stopped(true, Stop.SIZE, afterColon, sender, options, names, size);
                    }
                }
            }
        }
        String path = removeBrackets(sender);
        if (bracketsEnforcement && (!sender.startsWith("<") || !sender.endsWith(">"))) {
            return new JamesCut(true, Stop.BRACKETS, afterColon, sender, options, names, size, path, false, false, null);
        }
        // toMaybeSender(removeBrackets(sender))
        if (path.length() == 0 || path.equals("@")) {
            return new JamesCut(true, Stop.RECORDED, afterColon, sender, options, names, size, path, false, true, null);
        }
        boolean appended = !path.contains("@");
        String completed = appended ? path + "@" + defaultDomain : path;
        MailAddress address = parse(completed);
        return new JamesCut(true, address == null ? Stop.ADDRESS : Stop.RECORDED, afterColon, sender, options, names, size,
            path, appended, false, address);
    }

    /** {@code RcptCmdHandler.doFilterChecks(session, "RCPT", argument)}, {@code argument} as James has it (after {@code "RCPT "}). */
    public static JamesCut rcpt(String argument, boolean bracketsEnforcement, String defaultDomain) {
        String fullArgument = argument;
        String recipient = null;
        if (argument != null && argument.indexOf(":") > 0) {
            int colonIndex = argument.indexOf(":");
            recipient = argument.substring(colonIndex + 1);
            argument = argument.substring(0, colonIndex);
        }
        String afterColon = recipient;
        if (argument == null || !argument.toUpperCase(Locale.US).equals("TO") || recipient == null) {
            return stopped(false, Stop.USAGE, afterColon, null, null, List.of(), null);
        }
        recipient = recipient.trim();
        int lastChar = recipient.lastIndexOf('>');
        String rcptOptionString = null;
        if (lastChar > 0 && recipient.length() > lastChar + 2 && recipient.charAt(lastChar + 1) == ' ') {
            rcptOptionString = recipient.substring(lastChar + 2);
            recipient = recipient.substring(0, lastChar + 1);
        }
        List<String> names = new ArrayList<>();
        if (rcptOptionString != null) {
            StringTokenizer optionTokenizer = new StringTokenizer(rcptOptionString, " ");
            while (optionTokenizer.hasMoreElements()) {
                String rcptOption = optionTokenizer.nextToken();
                int equalIndex = rcptOption.indexOf('=');
                names.add(equalIndex > 0 ? rcptOption.substring(0, equalIndex).toUpperCase(Locale.US) : rcptOption);
            }
        }
        String cut = recipient;
        String path = removeBrackets(recipient);
        if (bracketsEnforcement && (!recipient.startsWith("<") || !recipient.endsWith(">"))) {
            return new JamesCut(false, Stop.BRACKETS, afterColon, cut, rcptOptionString, names, null, path, false, false, null);
        }
        if (bracketsEnforcement || (recipient.startsWith("<") && recipient.endsWith(">"))) {
            recipient = recipient.substring(1, recipient.length() - 1);
        }
        boolean appended = false;
        if (!recipient.contains("@")) {
            recipient = recipient + "@" + defaultDomain;
            appended = true;
        }
        MailAddress address = parse(recipient);
        if (address == null) {
            return new JamesCut(false, Stop.ADDRESS, afterColon, cut, rcptOptionString, names, null, path, appended, false, null);
        }
        if (rcptOptionString != null && !names.isEmpty()) {
            // supportedParameter(name): no RCPT hook of the sample's chain supports any
            return new JamesCut(false, Stop.PARAMETER, afterColon, cut, rcptOptionString, names, null, path, appended, false, address);
        }
        // RcptCmdHandler.callHook: parseParameters(argument) builds an ImmutableMap of every ' '-separated word
        Set<String> keys = new java.util.HashSet<>();
        for (String option : fullArgument.split(" ", -1)) {
            int equalIndex = option.indexOf('=');
            String key = equalIndex > 0 ? option.substring(0, equalIndex).toUpperCase(Locale.US) : option;
            if (!keys.add(key)) {
                return new JamesCut(false, Stop.HOOK_CRASH, afterColon, cut, rcptOptionString, names, null, path, appended, false, address);
            }
        }
        return new JamesCut(false, Stop.RECORDED, afterColon, cut, rcptOptionString, names, null, path, appended, false, address);
    }

    private static JamesCut stopped(boolean mail, Stop stop, String afterColon, String cut, String options,
                                    List<String> names, Integer size) {
        return new JamesCut(mail, stop, afterColon, cut, options, Collections.unmodifiableList(names), size,
            cut == null ? null : removeBrackets(cut), false, false, null);
    }

    private static String removeBrackets(String input) {
        if (input.startsWith("<") && input.endsWith(">")) {
            return input.substring(1, input.length() - 1);
        }
        return input;
    }

    private static MailAddress parse(String text) {
        try {
            return new MailAddress(text);
        } catch (Exception e) {
            return null;
        }
    }

    /** True when James recorded a sender or recipient and calls the MAIL/RCPT hooks with it. */
    public boolean recorded() {
        return stop == Stop.RECORDED;
    }

    /** The reply code James gives when it stops before the hooks; null when it records the address. */
    public String replyCode() {
        if (stop == Stop.ADDRESS) {
            return mail ? "501" : "553";
        }
        return stop.replyCode;
    }

    @Override
    public String toString() {
        return stop + " path=" + Envelopes.quote(path) + (defaultDomainAppended ? " (default domain appended)" : "")
            + (nullSender ? " (null sender)" : "") + (address == null ? "" : " -> " + Envelopes.quote(address.asString()))
            + (options == null ? "" : " options=" + Envelopes.quote(options));
    }
}
