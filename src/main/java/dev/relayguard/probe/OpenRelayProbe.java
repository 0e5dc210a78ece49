package dev.relayguard.probe;

import java.io.IOException;
import java.io.PrintStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The open-relay battery: 24 test envelopes against one SMTP server, one fresh connection per case.
 * Cases 1-16 are the envelopes of nmap's {@code smtp-open-relay} script (in its order); cases 17-24 use a
 * neutral sender so the recipient tricks are reached even when a server refuses IP-literal senders.
 *
 * <pre>
 * java -jar relayguard-&lt;version&gt;.jar probe --host mail.example.org --port 25 --relay-domain remote.example --local-domain example.org
 * [01] PASS  MAIL FROM:&lt;&gt; RCPT TO:&lt;relaytest@remote.example&gt;  -&gt; RCPT 550 5.7.1 Relaying denied
 * ...
 * 24 passed, 0 failed
 * </pre>
 *
 * By default each accepted recipient is followed through DATA (Metasploit {@code smtp_relay} style: a final
 * 250 is a relay); {@code --no-data} stops after RCPT (nmap style: a 250 to RCPT is a relay). The probe
 * connects only to {@code --host}:{@code --port}; it never looks up MX records or connects anywhere else.
 * Exit codes: 0 all refused, 1 a relay was accepted, 2 usage error, 3 errors but no relay accepted, 4 some cases
 * untested (refused at connect: a ban of the probing host?; refused at MAIL even with the neutral sender; the local
 * domain refused; or no {@code --local-domain}) and otherwise all refused.
 *
 * <p>A case is judged on the recipient it tries, never on a refused sender: when the server refuses a case's
 * {@code MAIL FROM} (RelayGuard refuses the IP-literal sender of cases 4-16 at MAIL), the probe sends RSET and the
 * same {@code RCPT TO} after {@code MAIL FROM:<probe@relay-domain>} (or the {@code --auth-user} when it is an
 * address), and the line says so; if that MAIL is refused too, the case is {@code UNTESTED (refused at MAIL)}.
 *
 * <p>Before the cases, one connection checks that the server serves {@code --local-domain}: {@code RCPT
 * TO:<postmaster@DOMAIN>} must get a 2xx (RFC 5321 section 4.5.1: every served domain accepts postmaster). If it is
 * refused, the cases that need the local domain are not sent and are {@code UNTESTED (local domain refused)}. That
 * check is one RCPT: at most one relay refusal on the server's side, never DATA.
 *
 * <p>The local domain is never guessed: 10 cases need a domain the server hosts ({@code --local-domain}); without
 * it they are reported {@code UNTESTED (needs --local-domain)}, counted in the summary, with exit code 4, and the
 * host name the server announces is printed as a hint, never used. (A greeting's first word is the server's
 * host name, often no mail domain at all, or a product name such as {@code RelayGuard}: testing it would say
 * "passed" of tricks never tried against a hosted domain.)
 */
public final class OpenRelayProbe {
    public static final int EXIT_OK = 0;
    public static final int EXIT_RELAY_ACCEPTED = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_ERRORS = 3;
    /**
     * No relay accepted and no error, but some cases were never tried (refused at connect or at MAIL, no or no served
     * local domain) or refused only for now (4xx).
     */
    public static final int EXIT_UNTESTED = 4;

    /** Local part of every test recipient. */
    static final String TEST_USER = "relaytest";

    private static final String DEFAULT_HELO = "relayguard-probe.invalid";

    /** What the report shows where a case would put the local domain, when none was given. */
    static final String NO_LOCAL_DOMAIN = "LOCAL-DOMAIN";

    /** A host name: LDH labels separated by dots, no leading or trailing dot. */
    private static final Pattern HOST_NAME = Pattern.compile(
            "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");
    private static final Pattern IPV4 = Pattern.compile(
            "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

    private OpenRelayProbe() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * The test envelopes, in order: the 16 nmap {@code smtp-open-relay} envelopes, then 8 with the neutral
     * sender {@code probe@relayDomain}.
     *
     * @param relayDomain a domain the server must not relay to, e.g. {@code remote.example}
     * @param localDomain a domain the server hosts
     * @param serverIp the server's IP address, used in address literals ({@code [192.0.2.1]} or
     *     {@code [IPv6:2001:db8::1]})
     */
    public static List<ProbeCase> cases(String relayDomain, String localDomain, String serverIp) {
        String r = relayDomain;
        String l = localDomain;
        String ip = addressLiteral(serverIp);
        String u = TEST_USER;
        String ipSender = "antispam@" + ip;
        String neutral = "probe@" + r;
        List<ProbeCase> cases = new ArrayList<>();
        // nmap smtp-open-relay, same order
        add(cases, "", u + "@" + r, "null sender, remote recipient");
        add(cases, "antispam@" + r, u + "@" + r, "remote sender, remote recipient");
        add(cases, "antispam@" + l, u + "@" + r, "local sender, remote recipient");
        add(cases, ipSender, u + "@" + r, "IP-literal sender, remote recipient");
        add(cases, ipSender, u + "%" + r + "@" + ip, "percent hack via IP literal");
        add(cases, ipSender, u + "%" + r + "@" + l, "percent hack via local domain");
        add(cases, ipSender, "\"" + u + "@" + r + "\"", "quoted remote address, no domain");
        add(cases, ipSender, "\"" + u + "%" + r + "\"", "quoted percent hack, no domain");
        add(cases, ipSender, u + "@" + r + "@" + ip, "double @ via IP literal");
        add(cases, ipSender, "\"" + u + "@" + r + "\"@" + ip, "quoted remote address at IP literal");
        add(cases, ipSender, u + "@" + r + "@" + l, "double @ via local domain");
        add(cases, ipSender, "@" + ip + ":" + u + "@" + r, "source route via IP literal");
        add(cases, ipSender, "@" + l + ":" + u + "@" + r, "source route via local domain");
        add(cases, ipSender, r + "!" + u, "bang path");
        add(cases, ipSender, r + "!" + u + "@" + ip, "bang path via IP literal");
        add(cases, ipSender, r + "!" + u + "@" + l, "bang path via local domain");
        // neutral sender: reaches RCPT even where IP-literal senders are refused at MAIL
        add(cases, neutral, u + "%" + r + "@" + l, "percent hack via local domain, neutral sender");
        add(cases, neutral, "\"" + u + "@" + r + "\"@" + l, "quoted remote address at local domain");
        add(cases, neutral, r + "!" + u + "@" + l, "bang path via local domain, neutral sender");
        add(cases, neutral, "@" + l + ":" + u + "@" + r, "source route via local domain, neutral sender");
        add(cases, neutral, u + "@" + ip, "recipient at the server's IP literal");
        add(cases, neutral, "\"" + u + "%" + r + "\"@" + l, "quoted percent hack at local domain");
        add(cases, neutral, u + "@" + r + ".", "remote domain with trailing dot");
        add(cases, neutral, u + "@" + r.toUpperCase(Locale.ROOT), "remote domain in upper case");
        return Collections.unmodifiableList(cases);
    }

    /**
     * The numbers of the cases whose envelope uses the local domain (those {@code --local-domain} decides): the
     * cases that change when the local domain does.
     */
    static Set<Integer> casesNeedingLocalDomain() {
        List<ProbeCase> one = cases("relay.invalid", "one.invalid", "192.0.2.1");
        List<ProbeCase> other = cases("relay.invalid", "other.invalid", "192.0.2.1");
        Set<Integer> numbers = new TreeSet<>();
        for (int i = 0; i < one.size(); i++) {
            if (!one.get(i).equals(other.get(i))) {
                numbers.add(one.get(i).number());
            }
        }
        return Collections.unmodifiableSet(numbers);
    }

    private static void add(List<ProbeCase> cases, String mailFrom, String rcptTo, String description) {
        cases.add(new ProbeCase(cases.size() + 1, mailFrom, rcptTo, description));
    }

    /** {@code [192.0.2.1]} for IPv4, {@code [IPv6:2001:db8::1]} for IPv6 (RFC 5321 section 4.1.3). */
    static String addressLiteral(String ip) {
        return ip.indexOf(':') >= 0 ? "[IPv6:" + ip + "]" : "[" + ip + "]";
    }

    /**
     * Runs the probe with command-line arguments (without the {@code probe} subcommand name), printing the
     * report to {@code out} and diagnostics and usage to {@code err}. Returns the exit code.
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (UsageException e) {
            err.println("relayguard probe: " + e.getMessage());
            err.println();
            err.print(usage());
            return EXIT_USAGE;
        }
        if (options.help) {
            out.print(usage());
            return EXIT_OK;
        }
        return new Runner(options, out, err).run();
    }

    /** The probe's usage text, ending with a line break. */
    public static String usage() {
        String nl = System.lineSeparator();
        return String.join(nl,
                "Usage: java -jar relayguard-<version>.jar probe --relay-domain DOMAIN [options]",
                "",
                "Tries 24 open-relay envelopes (the 16 of nmap's smtp-open-relay script and 8 more) against one",
                "SMTP server, one connection per case, and prints one line per case: PASS (relay refused, 5xx),",
                "DEFERRED (refused for now, 4xx: not proven closed), FAIL (relay accepted), ERROR or UNTESTED.",
                "Connects only to --host:--port; never looks up MX records.",
                "A case whose sender is refused at MAIL is retried with MAIL FROM:<probe@RELAY-DOMAIN> (or the",
                "--auth-user address) and judged on its RCPT; refused at MAIL again, it is UNTESTED, never PASS.",
                "",
                "Options:",
                "  --host HOST            server to test (default 127.0.0.1)",
                "  --port PORT            SMTP port (default 25)",
                "  --relay-domain DOMAIN  required: a domain the server must NOT relay to, e.g. remote.example",
                "                         (use a reserved domain: in DATA mode an open relay really sends the",
                "                         short test message to relaytest@DOMAIN)",
                "  --local-domain DOMAIN  a mail domain the server hosts, e.g. example.org: 10 cases hide a",
                "                         relay behind it; without it they are UNTESTED (exit code 4). Never",
                "                         guessed: the name the server announces is only printed as a hint.",
                "                         Checked first: RCPT TO:<postmaster@DOMAIN> must be accepted (RFC 5321",
                "                         4.5.1), else those cases are UNTESTED (local domain refused)",
                "  --server-ip IP         IP used in address literals (default: the address --host resolves to)",
                "  --helo NAME            EHLO name (default " + DEFAULT_HELO + ")",
                "  --starttls             issue STARTTLS before testing (any certificate is accepted)",
                "  --auth-user USER       AUTH PLAIN after EHLO/STARTTLS; an accepted relay then prints",
                "  --auth-password PASS   'ACCEPTED (authenticated)' and is not a failure",
                "  --timeout SECONDS      connect and read timeout (default 15)",
                "  --data                 send a short test message; a final 250 after DATA is a relay (default)",
                "  --no-data              stop after RCPT; a 250 to RCPT is a relay",
                "  -h, --help             print this help",
                "",
                "Exit codes: 0 every relay refused, 1 a relay was accepted, 2 usage error,",
                "            3 errors (connection or protocol) but no relay accepted,",
                "            4 cases DEFERRED (4xx) or UNTESTED (refused at connect: this host banned?; refused",
                "              at MAIL; local domain refused; or no --local-domain), the others refused.",
                "",
                "Example: java -jar relayguard-<version>.jar probe --host mail.example.org --relay-domain remote.example \\",
                "             --local-domain example.org",
                "");
    }

    // ---- options ------------------------------------------------------------------------------------

    /** Parsed and validated command-line options. */
    static final class Options {
        String host = "127.0.0.1";
        int port = 25;
        String relayDomain;
        String localDomain;
        String serverIp;
        String helo = DEFAULT_HELO;
        boolean startTls;
        String authUser;
        String authPassword;
        int timeoutSeconds = 15;
        boolean data = true;
        boolean help;

        static Options parse(String[] args) throws UsageException {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                String name = arg;
                String value = null;
                int equals = arg.indexOf('=');
                if (arg.startsWith("--") && equals > 0) {
                    name = arg.substring(0, equals);
                    value = arg.substring(equals + 1);
                }
                switch (name) {
                    case "-h":
                    case "--help":
                        o.help = true;
                        break;
                    case "--starttls":
                        o.startTls = noValue(name, value, true);
                        break;
                    case "--data":
                        o.data = noValue(name, value, true);
                        break;
                    case "--no-data":
                        o.data = noValue(name, value, false);
                        break;
                    case "--host":
                    case "--port":
                    case "--relay-domain":
                    case "--local-domain":
                    case "--server-ip":
                    case "--helo":
                    case "--auth-user":
                    case "--auth-password":
                    case "--timeout":
                        if (value == null) {
                            if (i + 1 >= args.length) {
                                throw new UsageException(name + " needs a value");
                            }
                            value = args[++i];
                        }
                        o.set(name, value);
                        break;
                    default:
                        throw new UsageException(arg.startsWith("-") ? "unknown option " + arg
                                : "unexpected argument " + arg);
                }
            }
            if (!o.help) {
                o.validate();
            }
            return o;
        }

        private static boolean noValue(String name, String value, boolean result) throws UsageException {
            if (value != null) {
                throw new UsageException(name + " takes no value");
            }
            return result;
        }

        private void set(String name, String value) throws UsageException {
            switch (name) {
                case "--host":
                    host = requireHost(name, value);
                    break;
                case "--port":
                    port = requireInt(name, value, 1, 65535);
                    break;
                case "--relay-domain":
                    relayDomain = requireDomain(name, value);
                    break;
                case "--local-domain":
                    localDomain = requireDomain(name, value);
                    break;
                case "--server-ip":
                    serverIp = requireIp(name, value);
                    break;
                case "--helo":
                    helo = requireHost(name, value);
                    break;
                case "--auth-user":
                    authUser = requireCredential(name, value);
                    break;
                case "--auth-password":
                    authPassword = requireCredential(name, value);
                    break;
                case "--timeout":
                    timeoutSeconds = requireInt(name, value, 1, 3600);
                    break;
                default:
                    throw new IllegalStateException(name);
            }
        }

        private void validate() throws UsageException {
            if (relayDomain == null) {
                throw new UsageException("--relay-domain is required (a domain the server must not relay to)");
            }
            if ((authUser == null) != (authPassword == null)) {
                throw new UsageException("--auth-user and --auth-password go together");
            }
            if (localDomain != null && localDomain.equalsIgnoreCase(relayDomain)) {
                throw new UsageException("--relay-domain must differ from the local domain " + localDomain);
            }
        }

        boolean authenticated() {
            return authUser != null;
        }

        private static String requireDomain(String name, String value) throws UsageException {
            if (!HOST_NAME.matcher(value).matches() || value.length() > 253) {
                throw new UsageException(name + " must be a domain name like remote.example, not '" + value + "'");
            }
            return value;
        }

        private static String requireHost(String name, String value) throws UsageException {
            if (HOST_NAME.matcher(value).matches() || IPV4.matcher(value).matches() || isIpv6(value)) {
                return value;
            }
            throw new UsageException(name + " must be a host name or IP address, not '" + value + "'");
        }

        private static String requireIp(String name, String value) throws UsageException {
            if (IPV4.matcher(value).matches() || isIpv6(value)) {
                return value;
            }
            throw new UsageException(name + " must be an IPv4 or IPv6 address, not '" + value + "'");
        }

        /** Only characters of an IPv6 literal, so InetAddress parses it without any name lookup. */
        private static boolean isIpv6(String value) {
            if (!IPV6_CHARS.matcher(value).matches()) {
                return false;
            }
            try {
                return InetAddress.getByName(value) instanceof Inet6Address;
            } catch (UnknownHostException e) {
                return false;
            }
        }

        private static String requireCredential(String name, String value) throws UsageException {
            if (value.isEmpty() || value.indexOf('\0') >= 0) {
                throw new UsageException(name + " must be non-empty and contain no NUL character");
            }
            return value;
        }

        private static int requireInt(String name, String value, int min, int max) throws UsageException {
            try {
                int result = Integer.parseInt(value);
                if (result >= min && result <= max) {
                    return result;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new UsageException(name + " must be a number from " + min + " to " + max + ", not '" + value + "'");
        }
    }

    /** A command-line mistake: reported with the usage text and exit code 2. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    // ---- running ------------------------------------------------------------------------------------

    /** How one case ended. */
    enum Status {
        PASS("PASS"), FAIL("FAIL"), ERROR("ERROR"), ACCEPTED_AUTHENTICATED("ACCEPTED (authenticated)"),
        /**
         * Refused for now only (a 4xx at RCPT, at the DATA command or at the end of DATA): a greylisting or
         * temporarily failing server may accept the same relay when the client retries, so nothing is proven closed.
         */
        DEFERRED("DEFERRED (4xx)"),
        /** Refused at connect (a ban of this host, a full server): the envelope was never tried. */
        UNTESTED("UNTESTED"),
        /**
         * The case's sender and then the neutral sender were refused at MAIL: the recipient trick was never sent, so
         * nothing passed.
         */
        UNTESTED_REFUSED_AT_MAIL("UNTESTED (refused at MAIL)"),
        /**
         * A case that needs the local domain, where the server refused {@code postmaster@} that domain (RFC 5321
         * section 4.5.1: every served domain accepts it): never sent.
         */
        UNTESTED_LOCAL_DOMAIN_REFUSED("UNTESTED (local domain refused)"),
        /** A case that needs the local domain, with no {@code --local-domain}: never sent. */
        UNTESTED_NO_LOCAL_DOMAIN("UNTESTED (needs --local-domain)");

        final String label;

        Status(String label) {
            this.label = label;
        }
    }

    /** The status, the SMTP step that decided it and the server's reply line (or the error) at that step. */
    static final class Outcome {
        final Status status;
        final String step;
        final String detail;

        Outcome(Status status, String step, String detail) {
            this.status = status;
            this.step = step;
            this.detail = detail;
        }

        /** This outcome with {@code note} appended to its detail. */
        Outcome noted(String note) {
            return note.isEmpty() ? this : new Outcome(status, step, detail + note);
        }
    }

    /** A step that ended the case before MAIL (connect, EHLO, STARTTLS, AUTH failed). */
    private static final class SetupFailure extends Exception {
        private static final long serialVersionUID = 1L;
        final String step;

        SetupFailure(String step, String detail) {
            super(detail);
            this.step = step;
        }
    }

    /** An I/O error or timeout at a setup step (EHLO, STARTTLS, AUTH), after the connection was closed. */
    private static final class StepFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String step;

        StepFailure(String step, Exception cause) {
            super(cause);
            this.step = step;
        }

        Exception cause() {
            return (Exception) getCause();
        }
    }

    private static final class Runner {
        private final Options options;
        private final PrintStream out;
        private final PrintStream err;
        private final int timeoutMillis;
        /** The sender a case falls back to when its own is refused at MAIL, and of the local-domain check. */
        private final String neutralSender;
        private InetAddress address;

        Runner(Options options, PrintStream out, PrintStream err) {
            this.options = options;
            this.out = out;
            this.err = err;
            this.timeoutMillis = options.timeoutSeconds * 1000;
            this.neutralSender = neutralSender(options);
        }

        int run() {
            try {
                // The only name lookup: the address of --host itself (A/AAAA), never MX.
                address = InetAddress.getByName(options.host);
            } catch (UnknownHostException e) {
                err.println("relayguard probe: cannot resolve --host " + options.host);
                return EXIT_ERRORS;
            }
            String serverIp = options.serverIp != null ? options.serverIp : address.getHostAddress();
            int scope = serverIp.indexOf('%');
            if (scope >= 0) {
                serverIp = serverIp.substring(0, scope); // no IPv6 zone id inside an address literal
            }
            String localDomain = options.localDomain;
            Set<Integer> needLocalDomain = localDomain == null ? casesNeedingLocalDomain() : Set.of();
            String localText = localDomain != null ? localDomain + " (--local-domain)"
                    : "NONE: " + needLocalDomain.size() + " cases UNTESTED, pass --local-domain DOMAIN";
            if (options.authenticated() && !options.startTls) {
                err.println("relayguard probe: warning: AUTH PLAIN without --starttls sends the password in clear");
            }
            out.println("RelayGuard open-relay probe of " + target() + ": relay domain " + options.relayDomain
                    + ", local domain " + localText + ", server IP " + serverIp + ", "
                    + (options.data ? "DATA" : "RCPT-only") + " mode"
                    + (options.startTls ? ", STARTTLS" : "")
                    + (options.authenticated() ? ", AUTH PLAIN as " + options.authUser : ""));
            out.flush();

            String localRefusal = localDomain == null ? null : checkLocalDomain(localDomain);
            Set<Integer> localRefused = localRefusal == null ? Set.of() : casesNeedingLocalDomain();

            Map<Status, Integer> counts = new EnumMap<>(Status.class);
            for (Status status : Status.values()) {
                counts.put(status, 0);
            }
            List<ProbeCase> cases = cases(options.relayDomain, localDomain != null ? localDomain : NO_LOCAL_DOMAIN, serverIp);
            for (ProbeCase probeCase : cases) {
                Outcome outcome;
                if (needLocalDomain.contains(probeCase.number())) {
                    outcome = new Outcome(Status.UNTESTED_NO_LOCAL_DOMAIN, "-", "not sent: no --local-domain");
                } else if (localRefused.contains(probeCase.number())) {
                    outcome = new Outcome(Status.UNTESTED_LOCAL_DOMAIN_REFUSED, "-",
                            "not sent: postmaster@" + localDomain + " refused: " + localRefusal);
                } else {
                    outcome = runCase(probeCase);
                }
                counts.merge(outcome.status, 1, Integer::sum);
                out.println(String.format("[%02d] %s  %s %s  -> %s %s", probeCase.number(), outcome.status.label,
                        probeCase.mailFromCommand(), probeCase.rcptToCommand(), outcome.step, outcome.detail));
                out.flush();
            }
            int failed = counts.get(Status.FAIL);
            int errors = counts.get(Status.ERROR);
            int refusedAtConnect = counts.get(Status.UNTESTED);
            int refusedAtMail = counts.get(Status.UNTESTED_REFUSED_AT_MAIL);
            int deferred = counts.get(Status.DEFERRED);
            StringBuilder summary = new StringBuilder().append(counts.get(Status.PASS)).append(" passed, ")
                    .append(failed).append(" failed");
            appendCount(summary, counts.get(Status.ACCEPTED_AUTHENTICATED), "accepted (authenticated)");
            appendCount(summary, errors, "errors");
            appendCount(summary, deferred, "deferred (4xx: refused for now, not proven closed)");
            appendCount(summary, refusedAtConnect, "untested (refused at connect)");
            appendCount(summary, refusedAtMail, "untested (refused at MAIL)");
            appendCount(summary, localRefused.size(), "untested (local domain refused)");
            appendCount(summary, needLocalDomain.size(), "untested (needs --local-domain)");
            out.println(summary);
            out.flush();
            if (!needLocalDomain.isEmpty()) {
                err.println("relayguard probe: " + needLocalDomain.size() + " case(s) hide a relay behind a domain the server"
                        + " hosts and were not tried: pass --local-domain DOMAIN (a mail domain of this server, e.g. the"
                        + " domain of its users' addresses)" + announcedHint() + ".");
            }
            if (!localRefused.isEmpty()) {
                err.println("relayguard probe: " + localRefused.size() + " case(s) hide a relay behind --local-domain "
                        + localDomain + " and were not tried: the server refused RCPT TO:<postmaster@" + localDomain
                        + "> (" + localRefusal + ")." + (localRefusal.startsWith("4")
                        ? " That refusal is only for now (4xx): run the probe again later. Otherwise either " : " Either ") + localDomain + " is not a domain this server serves (check"
                        + " --local-domain), or it is served but postmaster@" + localDomain + " is not deliverable (RFC"
                        + " 5321 section 4.5.1 requires it: add the user or an alias). Then run the probe again.");
            }
            if (refusedAtConnect > 0) {
                err.println("relayguard probe: " + refusedAtConnect + " case(s) were refused at connect and never tried: this host is"
                        + " probably banned for relay probing (it just made relay attempts). Lift the ban over JMX (lift <ip>)"
                        + " or add this host to <probeBans><exempt> in relayguard.xml, then run the probe again.");
            }
            if (refusedAtMail > 0) {
                err.println("relayguard probe: " + refusedAtMail + " case(s) were refused at MAIL, also with the sender <"
                        + neutralSender + ">, so their recipient was never tried. " + (options.authenticated()
                        ? "The server refused MAIL from the authenticated user too: is it suspended or over a rate"
                        + " limit (see the MAIL reply on each line)? Run the probe again once it may send."
                        : "A submission listener refuses MAIL before AUTH: probe it with --auth-user and --auth-password"
                        + " (and --starttls), and probe the MX listener (port 25) for the unauthenticated cases."));
            }
            if (deferred > 0) {
                err.println("relayguard probe: " + deferred + " case(s) were refused only for now (4xx): a client that"
                        + " retries might still relay (greylisting, a temporary failure, a rule in defer mode). Make the"
                        + " refusal permanent (5xx), or run the probe again once the server answers for good.");
            }
            if (failed > 0) {
                return EXIT_RELAY_ACCEPTED;
            }
            if (errors > 0) {
                return EXIT_ERRORS;
            }
            boolean untested = deferred > 0 || refusedAtConnect > 0 || refusedAtMail > 0 || !localRefused.isEmpty()
                    || !needLocalDomain.isEmpty();
            return untested ? EXIT_UNTESTED : EXIT_OK;
        }

        private static void appendCount(StringBuilder summary, int count, String what) {
            if (count > 0) {
                summary.append(", ").append(count).append(' ').append(what);
            }
        }

        /**
         * The sender of the local-domain check, and the one a case falls back to when its own sender is refused at
         * MAIL: {@code probe@<relay domain>}, or the {@code --auth-user} when it is an address (a server may let an
         * authenticated user send only as themself).
         */
        private static String neutralSender(Options options) {
            return options.authenticated() && options.authUser.indexOf('@') > 0 ? options.authUser
                    : "probe@" + options.relayDomain;
        }

        /**
         * Checks, on one connection and with one RCPT, that the server serves {@code localDomain}: RFC 5321 section
         * 4.5.1 has every served domain accept {@code postmaster}. Prints the result. Returns the refusing reply
         * (4xx/5xx to the RCPT), or null when the domain is served or the check could not be made (the cases then
         * run, and report their own refusal or error). Never sends DATA.
         */
        private String checkLocalDomain(String localDomain) {
            String mailFrom = "MAIL FROM:<" + neutralSender + ">";
            String rcptTo = "RCPT TO:<postmaster@" + localDomain + ">";
            String prefix = "Local domain check: " + mailFrom + " " + rcptTo + "  -> ";
            String step = "CONNECT";
            ProbeSmtpClient client = null;
            try {
                client = open();
                step = "MAIL";
                ProbeSmtpClient.Reply mail = client.command(mailFrom);
                if (!mail.isPositive()) {
                    client.resetAndQuit();
                    out.println(prefix + "MAIL " + mail.printableLastLine() + " (not checked)");
                    return null;
                }
                step = "RCPT";
                ProbeSmtpClient.Reply rcpt = client.command(rcptTo);
                client.resetAndQuit();
                boolean refused = rcpt.isNegative();
                out.println(prefix + "RCPT " + rcpt.printableLastLine()
                        + (rcpt.isPositive() ? " (served)" : !refused ? " (not checked)"
                        : rcpt.code() / 100 == 4 ? " (REFUSED for now)" : " (REFUSED)"));
                return refused ? rcpt.printableLastLine() : null;
            } catch (SetupFailure e) {
                out.println(prefix + e.step + " " + e.getMessage() + " (not checked)");
                return null;
            } catch (IOException | RuntimeException e) {
                out.println(prefix + step + " " + describe(e) + " (not checked)");
                return null;
            } finally {
                if (client != null) {
                    client.close();
                }
                out.flush();
            }
        }

        private String target() {
            return options.host.indexOf(':') >= 0 ? "[" + options.host + "]:" + options.port
                    : options.host + ":" + options.port;
        }

        /**
         * A hint for {@code --local-domain}: the host name the server announces (first word of its 220 greeting, else
         * of its EHLO reply), only a dotted name, never used as the local domain; empty when there is none.
         */
        private String announcedHint() {
            try (ProbeSmtpClient client = connect()) {
                String name = firstWord(client.greeting().firstLine());
                if (name == null) {
                    name = firstWord(hello(client).firstLine());
                }
                client.quit();
                return name == null || name.indexOf('.') < 0 ? ""
                        : "; the server announces " + name + ": pass --local-domain " + name + " only if it hosts mail"
                            + " for that domain";
            } catch (IOException | SetupFailure e) {
                return "";
            }
        }

        /** The host name after the reply code, or null when the first word is not a host name. */
        private static String firstWord(String line) {
            String text = line.length() > 4 ? line.substring(4).trim() : "";
            String word = text.isEmpty() ? "" : text.split("\\s+", 2)[0];
            boolean banner = word.equalsIgnoreCase("ESMTP") || word.equalsIgnoreCase("SMTP");
            return !banner && HOST_NAME.matcher(word).matches() && word.length() <= 253 ? word : null;
        }

        private ProbeSmtpClient connect() throws IOException, SetupFailure {
            ProbeSmtpClient client = ProbeSmtpClient.connect(address, options.port, options.host, timeoutMillis);
            if (client.greeting().code() != 220) {
                String greeting = client.greeting().printableLastLine();
                client.quit();
                client.close();
                throw new SetupFailure("CONNECT", greeting);
            }
            return client;
        }

        /** EHLO; falls back to HELO on a 5xx when neither STARTTLS nor AUTH needs ESMTP. */
        private ProbeSmtpClient.Reply hello(ProbeSmtpClient client) throws IOException, SetupFailure {
            ProbeSmtpClient.Reply ehlo = client.command("EHLO " + options.helo);
            if (ehlo.code() / 100 == 5 && !options.startTls && !options.authenticated()) {
                ehlo = client.command("HELO " + options.helo);
            }
            if (!ehlo.isPositive()) {
                throw new SetupFailure("EHLO", ehlo.printableLastLine());
            }
            return ehlo;
        }

        /**
         * A connection ready for MAIL: greeting, EHLO, and STARTTLS and AUTH as the options ask. Throws (after
         * QUIT and close) when a step fails.
         */
        private ProbeSmtpClient open() throws IOException, SetupFailure {
            ProbeSmtpClient client = connect();
            String step = "EHLO";
            try {
                hello(client);
                if (options.startTls) {
                    step = "STARTTLS";
                    ProbeSmtpClient.Reply tls = client.startTls();
                    if (tls.code() != 220) {
                        throw new SetupFailure(step, tls.printableLastLine());
                    }
                    step = "EHLO";
                    hello(client);
                }
                if (options.authenticated()) {
                    step = "AUTH";
                    ProbeSmtpClient.Reply auth = client.authPlain(options.authUser, options.authPassword);
                    if (auth.code() != 235) {
                        throw new SetupFailure(step, auth.printableLastLine());
                    }
                }
                return client;
            } catch (SetupFailure e) {
                client.quit();
                client.close();
                throw e;
            } catch (IOException | RuntimeException e) {
                client.close();
                throw new StepFailure(step, e);
            }
        }

        /**
         * One case on a fresh connection. Never throws; always QUITs when the connection allows. When the case's
         * sender is refused at MAIL, the same recipient is tried after RSET with the neutral sender, and the case is
         * judged on that RCPT; refused again at MAIL, it is {@link Status#UNTESTED_REFUSED_AT_MAIL}, never a pass.
         */
        Outcome runCase(ProbeCase probeCase) {
            String step = "CONNECT";
            ProbeSmtpClient client = null;
            try {
                client = open();

                step = "MAIL";
                ProbeSmtpClient.Reply mail = client.command(probeCase.mailFromCommand());
                String note = "";
                if (!mail.isPositive()) {
                    if (!mail.isNegative()) {
                        return refusedOrError(client, step, mail);
                    }
                    String refusal = mail.printableLastLine();
                    // 421: the server closes the connection; no second MAIL in this session.
                    if (probeCase.mailFrom().equals(neutralSender) || mail.code() == 421) {
                        client.resetAndQuit();
                        return new Outcome(Status.UNTESTED_REFUSED_AT_MAIL, step, refusal);
                    }
                    step = "RSET";
                    ProbeSmtpClient.Reply rset = client.command("RSET");
                    if (!rset.isPositive()) {
                        client.quit();
                        return new Outcome(Status.ERROR, step, "unexpected reply " + rset.printableLastLine());
                    }
                    step = "MAIL";
                    String neutralMail = "MAIL FROM:<" + neutralSender + ">";
                    ProbeSmtpClient.Reply neutral = client.command(neutralMail);
                    if (!neutral.isPositive()) {
                        client.resetAndQuit();
                        return neutral.isNegative()
                                ? new Outcome(Status.UNTESTED_REFUSED_AT_MAIL, step, refusal + " [then " + neutralMail
                                        + " refused too: " + neutral.printableLastLine() + "]")
                                : new Outcome(Status.ERROR, step, "unexpected reply " + neutral.printableLastLine());
                    }
                    note = " [sender refused at MAIL: " + refusal + "; RCPT sent after " + neutralMail + "]";
                }

                step = "RCPT";
                ProbeSmtpClient.Reply rcpt = client.command(probeCase.rcptToCommand());
                if (!rcpt.isPositive()) {
                    return refusedOrError(client, step, rcpt).noted(note);
                }
                if (!options.data) {
                    client.resetAndQuit();
                    return accepted(step, rcpt).noted(note);
                }

                step = "DATA";
                ProbeSmtpClient.Reply data = client.command("DATA");
                if (data.code() != 354) {
                    return refusedOrError(client, step, data).noted(note);
                }
                ProbeSmtpClient.Reply end = client.sendMessage(testMessage(probeCase));
                client.quit();
                if (end.isPositive()) {
                    return accepted(step, end).noted(note);
                }
                return (end.isNegative() ? new Outcome(refusal(end), step, end.printableLastLine())
                        : new Outcome(Status.ERROR, step, "unexpected reply " + end.printableLastLine())).noted(note);
            } catch (SetupFailure e) {
                if ("CONNECT".equals(e.step) && e.getMessage().matches("^[45]\\d\\d.*")) {
                    // Refused at connect (e.g. 421 4.7.0 after too many relay attempts): nothing was tried, so
                    // nothing passed (a tool never reports "passed" for what it did not test).
                    return new Outcome(Status.UNTESTED, e.step, e.getMessage());
                }
                return new Outcome(Status.ERROR, e.step, e.getMessage());
            } catch (StepFailure e) {
                return new Outcome(Status.ERROR, e.step, describe(e.cause()));
            } catch (IOException | RuntimeException e) {
                // The connection state is unknown after an I/O error or timeout: just close.
                return new Outcome(Status.ERROR, step, describe(e));
            } finally {
                if (client != null) {
                    client.close();
                }
            }
        }

        /** PASS for a permanent refusal (5xx); DEFERRED for a temporary one (4xx), which a retry may turn into a relay. */
        private static Status refusal(ProbeSmtpClient.Reply reply) {
            return reply.code() / 100 == 5 ? Status.PASS : Status.DEFERRED;
        }

        private Outcome accepted(String step, ProbeSmtpClient.Reply reply) {
            return new Outcome(options.authenticated() ? Status.ACCEPTED_AUTHENTICATED : Status.FAIL, step,
                    reply.printableLastLine());
        }

        /**
         * A 5xx refuses the relay, a 4xx only for now (RSET, QUIT, never DATA); anything else non-2xx is a protocol
         * error.
         */
        private static Outcome refusedOrError(ProbeSmtpClient client, String step, ProbeSmtpClient.Reply reply) {
            client.resetAndQuit();
            if (reply.isNegative()) {
                return new Outcome(refusal(reply), step, reply.printableLastLine());
            }
            return new Outcome(Status.ERROR, step, "unexpected reply " + reply.printableLastLine());
        }

        private String describe(Exception e) {
            if (e instanceof StepFailure) {
                return describe(((StepFailure) e).cause());
            }
            if (e instanceof SocketTimeoutException) {
                return "no reply within " + options.timeoutSeconds + " s";
            }
            String message = e.getMessage();
            return ProbeSmtpClient.Reply.printable(message == null || message.isEmpty()
                    ? e.getClass().getSimpleName() : message);
        }

        /** The short test message sent after a 354; nothing else is ever sent as a body. */
        private String testMessage(ProbeCase probeCase) {
            String number = String.format("%02d", probeCase.number());
            return String.join("\r\n",
                    // Authenticated, the message names the user as its author, as a mail client does: a server
                    // that checks From: (RelayGuard's headerFrom) must not refuse the relay for that reason.
                    "From: RelayGuard probe <" + (options.authenticated() ? options.authUser : "probe@" + DEFAULT_HELO) + ">",
                    "To: undisclosed-recipients:;",
                    "Subject: RelayGuard open-relay probe case " + number,
                    "Date: " + DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now()),
                    "Message-ID: <relayguard-probe-" + number + "-" + System.currentTimeMillis() + "@"
                            + DEFAULT_HELO + ">",
                    "",
                    "RelayGuard open-relay probe, case " + number + ": " + probeCase.description() + ".",
                    "If this message was delivered, " + target() + " relayed it for an unauthorised client.");
        }
    }
}
