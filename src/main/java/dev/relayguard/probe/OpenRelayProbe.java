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
import java.util.List;
import java.util.Locale;
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
 * untested (refused at connect: a ban of the probing host?; or no {@code --local-domain}) and otherwise all refused.
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
    /** No relay accepted and no error, but some cases were refused at connect and so never tried. */
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
                "SMTP server, one connection per case, and prints one line per case: PASS (relay refused),",
                "FAIL (relay accepted), ERROR or UNTESTED. Connects only to --host:--port; never looks up MX records.",
                "",
                "Options:",
                "  --host HOST            server to test (default 127.0.0.1)",
                "  --port PORT            SMTP port (default 25)",
                "  --relay-domain DOMAIN  required: a domain the server must NOT relay to, e.g. remote.example",
                "                         (use a reserved domain: in DATA mode an open relay really sends the",
                "                         short test message to relaytest@DOMAIN)",
                "  --local-domain DOMAIN  a mail domain the server hosts, e.g. example.org: 10 cases hide a",
                "                         relay behind it; without it they are UNTESTED (exit code 4). Never",
                "                         guessed: the name the server announces is only printed as a hint",
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
                "            4 cases UNTESTED (refused at connect: this host banned?; or no --local-domain),",
                "              the others refused.",
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
        /** Refused at connect (a ban of this host, a full server): the envelope was never tried. */
        UNTESTED("UNTESTED"),
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

    private static final class Runner {
        private final Options options;
        private final PrintStream out;
        private final PrintStream err;
        private final int timeoutMillis;
        private InetAddress address;

        Runner(Options options, PrintStream out, PrintStream err) {
            this.options = options;
            this.out = out;
            this.err = err;
            this.timeoutMillis = options.timeoutSeconds * 1000;
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

            int passed = 0;
            int failed = 0;
            int errors = 0;
            int accepted = 0;
            int untested = 0;
            List<ProbeCase> cases = cases(options.relayDomain, localDomain != null ? localDomain : NO_LOCAL_DOMAIN, serverIp);
            for (ProbeCase probeCase : cases) {
                Outcome outcome = needLocalDomain.contains(probeCase.number())
                        ? new Outcome(Status.UNTESTED_NO_LOCAL_DOMAIN, "-", "not sent: no --local-domain")
                        : runCase(probeCase);
                switch (outcome.status) {
                    case PASS:
                        passed++;
                        break;
                    case FAIL:
                        failed++;
                        break;
                    case ACCEPTED_AUTHENTICATED:
                        accepted++;
                        break;
                    case UNTESTED:
                        untested++;
                        break;
                    case UNTESTED_NO_LOCAL_DOMAIN:
                        break;
                    default:
                        errors++;
                        break;
                }
                out.println(String.format("[%02d] %s  %s %s  -> %s %s", probeCase.number(), outcome.status.label,
                        probeCase.mailFromCommand(), probeCase.rcptToCommand(), outcome.step, outcome.detail));
                out.flush();
            }
            StringBuilder summary = new StringBuilder().append(passed).append(" passed, ").append(failed)
                    .append(" failed");
            if (accepted > 0) {
                summary.append(", ").append(accepted).append(" accepted (authenticated)");
            }
            if (errors > 0) {
                summary.append(", ").append(errors).append(" errors");
            }
            if (untested > 0) {
                summary.append(", ").append(untested).append(" untested (refused at connect)");
            }
            if (!needLocalDomain.isEmpty()) {
                summary.append(", ").append(needLocalDomain.size()).append(" untested (needs --local-domain)");
            }
            out.println(summary);
            out.flush();
            if (!needLocalDomain.isEmpty()) {
                err.println("relayguard probe: " + needLocalDomain.size() + " case(s) hide a relay behind a domain the server"
                        + " hosts and were not tried: pass --local-domain DOMAIN (a mail domain of this server, e.g. the"
                        + " domain of its users' addresses)" + announcedHint() + ".");
            }
            if (untested > 0) {
                err.println("relayguard probe: " + untested + " case(s) were refused at connect and never tried: this host is"
                        + " probably banned for relay probing (it just made relay attempts). Lift the ban over JMX (lift <ip>)"
                        + " or add this host to <probeBans><exempt> in relayguard.xml, then run the probe again.");
            }
            if (failed > 0) {
                return EXIT_RELAY_ACCEPTED;
            }
            if (errors > 0) {
                return EXIT_ERRORS;
            }
            return untested > 0 || !needLocalDomain.isEmpty() ? EXIT_UNTESTED : EXIT_OK;
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

        /** One case on a fresh connection. Never throws; always QUITs when the connection allows. */
        Outcome runCase(ProbeCase probeCase) {
            String step = "CONNECT";
            ProbeSmtpClient client = null;
            try {
                client = connect();
                step = "EHLO";
                hello(client);
                if (options.startTls) {
                    step = "STARTTLS";
                    ProbeSmtpClient.Reply tls = client.startTls();
                    if (tls.code() != 220) {
                        return setupError(client, step, tls);
                    }
                    step = "EHLO";
                    hello(client);
                }
                if (options.authenticated()) {
                    step = "AUTH";
                    ProbeSmtpClient.Reply auth = client.authPlain(options.authUser, options.authPassword);
                    if (auth.code() != 235) {
                        return setupError(client, step, auth);
                    }
                }

                step = "MAIL";
                ProbeSmtpClient.Reply mail = client.command(probeCase.mailFromCommand());
                if (!mail.isPositive()) {
                    return refusedOrError(client, step, mail);
                }

                step = "RCPT";
                ProbeSmtpClient.Reply rcpt = client.command(probeCase.rcptToCommand());
                if (!rcpt.isPositive()) {
                    return refusedOrError(client, step, rcpt);
                }
                if (!options.data) {
                    client.resetAndQuit();
                    return accepted(step, rcpt);
                }

                step = "DATA";
                ProbeSmtpClient.Reply data = client.command("DATA");
                if (data.code() != 354) {
                    return refusedOrError(client, step, data);
                }
                ProbeSmtpClient.Reply end = client.sendMessage(testMessage(probeCase));
                client.quit();
                if (end.isPositive()) {
                    return accepted(step, end);
                }
                return end.isNegative() ? new Outcome(Status.PASS, step, end.printableLastLine())
                        : new Outcome(Status.ERROR, step, "unexpected reply " + end.printableLastLine());
            } catch (SetupFailure e) {
                if (client != null) {
                    client.quit();
                }
                if ("CONNECT".equals(e.step) && e.getMessage().matches("^[45]\\d\\d.*")) {
                    // Refused at connect (e.g. 421 4.7.0 after too many relay attempts): nothing was tried, so
                    // nothing passed (a tool never reports "passed" for what it did not test).
                    return new Outcome(Status.UNTESTED, e.step, e.getMessage());
                }
                return new Outcome(Status.ERROR, e.step, e.getMessage());
            } catch (IOException | RuntimeException e) {
                // The connection state is unknown after an I/O error or timeout: just close.
                return new Outcome(Status.ERROR, step, describe(e));
            } finally {
                if (client != null) {
                    client.close();
                }
            }
        }

        private Outcome accepted(String step, ProbeSmtpClient.Reply reply) {
            return new Outcome(options.authenticated() ? Status.ACCEPTED_AUTHENTICATED : Status.FAIL, step,
                    reply.printableLastLine());
        }

        /** A 4xx/5xx refuses the relay (RSET, QUIT, never DATA); anything else non-2xx is a protocol error. */
        private static Outcome refusedOrError(ProbeSmtpClient client, String step, ProbeSmtpClient.Reply reply) {
            client.resetAndQuit();
            if (reply.isNegative()) {
                return new Outcome(Status.PASS, step, reply.printableLastLine());
            }
            return new Outcome(Status.ERROR, step, "unexpected reply " + reply.printableLastLine());
        }

        private static Outcome setupError(ProbeSmtpClient client, String step, ProbeSmtpClient.Reply reply) {
            client.quit();
            return new Outcome(Status.ERROR, step, reply.printableLastLine());
        }

        private String describe(Exception e) {
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
