package dev.relayguard.probe;

import java.io.PrintStream;
import java.util.Arrays;

/**
 * Command-line entry point of the RelayGuard jar, for operators. Subcommands: {@code probe} (see
 * {@link OpenRelayProbe}).
 *
 * <pre>
 * java -jar relayguard-&lt;version&gt;.jar probe --host 127.0.0.1 --port 25 --relay-domain remote.example --local-domain example.org
 * java -jar relayguard-&lt;version&gt;.jar probe --help
 * </pre>
 *
 * Usage errors print the usage to standard error and exit with 2.
 */
public final class RelayGuardCli {
    private RelayGuardCli() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Dispatches to a subcommand and returns the process exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(usage());
            return OpenRelayProbe.EXIT_USAGE;
        }
        String command = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (command) {
            case "probe":
                return OpenRelayProbe.run(rest, out, err);
            case "-h":
            case "--help":
            case "help":
                out.print(usage());
                return OpenRelayProbe.EXIT_OK;
            default:
                err.println("relayguard: unknown command '" + command + "'");
                err.println();
                err.print(usage());
                return OpenRelayProbe.EXIT_USAGE;
        }
    }

    static String usage() {
        String nl = System.lineSeparator();
        return String.join(nl,
                "Usage: java -jar relayguard-<version>.jar COMMAND [options]",
                "",
                "Commands:",
                "  probe   test an SMTP server for open relaying (probe --help for its options)",
                "");
    }
}
