package dev.relayguard.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * The SMTP load: {@code clients} threads, each with its own connection to the MX listener on 127.0.0.1, sending
 * messages one after the other (no pipelining): MAIL FROM a stranger's address, {@code recipients} RCPT TO distinct
 * local mailboxes picked at random among {@code mailboxes}, DATA with a small body. A connection is closed (QUIT)
 * and reopened every {@code messagesPerConnection} messages (0 = never), so connect and disconnect run too.
 *
 * <p>With {@code submission}, each connection goes to the submission listener instead and, before its messages,
 * runs STARTTLS (RFC 3207; the run's self-signed certificate is trusted, no other), EHLO again, and AUTH PLAIN
 * (RFC 4616) as one of {@code users} users ({@code userK@domain}, created like the mailboxes; the next connection
 * of the same client logs in as another user); every message is then MAIL FROM the user's own address with a
 * {@code From:} header of the same address, so the identity checks pass.
 *
 * <p>Only messages whose end of DATA is answered 250 while the measured phase is on are counted. Client-side
 * round-trip times of MAIL, RCPT and end of DATA are recorded during the measured phase only.
 */
final class SmtpThroughputLoad {
    private static final int WARMUP = 0;
    private static final int MEASURE = 1;
    private static final int STOP = 2;

    private final int port;
    private final int clients;
    private final int recipients;
    private final int mailboxes;
    private final int messagesPerConnection;
    private final int bodyBytes;
    private final boolean distinctSourceIps;
    private final String domain;
    private final boolean submission;
    private final int users;
    private final String password;
    private final SSLSocketFactory tls;
    private volatile int phase = WARMUP;
    private final LongAdder measuredMessages = new LongAdder();
    private final LongAdder measuredRecipients = new LongAdder();
    private final LongAdder allMessages = new LongAdder();
    private final LongAdder failures = new LongAdder();
    private final LongAdder logins = new LongAdder();
    /** Successful logins while the measured phase ran (their AUTH may have started just before it). */
    private final LongAdder measuredLogins = new LongAdder();
    private final AtomicLong bindFallbacks = new AtomicLong();
    private final List<String> errorSamples = Collections.synchronizedList(new ArrayList<>());
    private final List<Worker> workers = new ArrayList<>();

    /** The MX load: strangers, no TLS, no AUTH. */
    SmtpThroughputLoad(int port, int clients, int recipients, int mailboxes, int messagesPerConnection, int bodyBytes,
                       boolean distinctSourceIps, String domain) {
        this(port, clients, recipients, mailboxes, messagesPerConnection, bodyBytes, distinctSourceIps, domain, 0, null, null);
    }

    /**
     * The load; {@code users > 0} makes it the submission load (STARTTLS trusting the certificate in
     * {@code keystore}, AUTH PLAIN as {@code userK@domain} with {@code password}).
     */
    SmtpThroughputLoad(int port, int clients, int recipients, int mailboxes, int messagesPerConnection, int bodyBytes,
                       boolean distinctSourceIps, String domain, int users, String password, Path keystore) {
        this.port = port;
        this.clients = clients;
        this.recipients = recipients;
        this.mailboxes = mailboxes;
        this.messagesPerConnection = messagesPerConnection;
        this.bodyBytes = bodyBytes;
        this.distinctSourceIps = distinctSourceIps;
        this.domain = domain;
        this.submission = users > 0;
        this.users = users;
        this.password = password;
        this.tls = submission ? trusting(keystore) : null;
    }

    static String user(int index, String domain) {
        return "user" + index + "@" + domain;
    }

    /**
     * A TLS client that trusts exactly the certificate of the run's keystore (the one James serves; PKCS12, the
     * sample's password), with no host name check, as an operator's test client pointed at 127.0.0.1 would.
     */
    private static SSLSocketFactory trusting(Path keystore) {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, SmtpThroughputJames.KEYSTORE_PASSWORD.toCharArray());
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), new SecureRandom());
            return context.getSocketFactory();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust " + keystore, e);
        }
    }

    static String mailbox(int index, String domain) {
        return "box" + index + "@" + domain;
    }

    /** The client address of client {@code index}: 127.0.0.(10+index) when distinct, else 127.0.0.1. */
    InetAddress sourceAddress(int index) throws IOException {
        if (!distinctSourceIps) {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        }
        return InetAddress.getByAddress(new byte[] {127, 0, (byte) ((10 + index) / 250), (byte) (10 + (index % 240))});
    }

    void start() {
        for (int i = 0; i < clients; i++) {
            Worker worker = new Worker(i);
            workers.add(worker);
            worker.start();
        }
    }

    void beginMeasure() {
        phase = MEASURE;
    }

    /** Ends the measured phase (nothing counted from now on) and tells the clients to stop. */
    void endMeasure() {
        phase = STOP;
    }

    void awaitStopped() throws InterruptedException {
        for (Worker worker : workers) {
            worker.join(30_000);
            if (worker.isAlive()) {
                worker.closeQuietly();
                worker.join(10_000);
            }
        }
    }

    /** Successful AUTH PLAIN logins that ended in the measured phase. */
    long measuredLogins() {
        return measuredLogins.sum();
    }

    long measuredMessages() {
        return measuredMessages.sum();
    }

    long measuredRecipients() {
        return measuredRecipients.sum();
    }

    long allMessages() {
        return allMessages.sum();
    }

    long failures() {
        return failures.sum();
    }

    /** Successful AUTH PLAIN logins (submission load), warm-up included. */
    long logins() {
        return logins.sum();
    }

    long bindFallbacks() {
        return bindFallbacks.get();
    }

    List<String> errorSamples() {
        synchronized (errorSamples) {
            return new ArrayList<>(errorSamples);
        }
    }

    Latencies mailLatencies() {
        return merge(w -> w.mail);
    }

    Latencies rcptLatencies() {
        return merge(w -> w.rcpt);
    }

    Latencies dataLatencies() {
        return merge(w -> w.data);
    }

    private Latencies merge(java.util.function.Function<Worker, LongList> which) {
        LongList all = new LongList();
        for (Worker worker : workers) {
            all.addAll(which.apply(worker));
        }
        return Latencies.of(all);
    }

    private void fail(String what) {
        failures.increment();
        if (errorSamples.size() < 10) {
            errorSamples.add(what);
        }
    }

    /** Sends one message on a fresh connection and returns the end-of-DATA reply (a sanity check before the load). */
    String sendOne(int index) throws IOException {
        try (Connection connection = new Connection(sourceAddress(index), port)) {
            String sender = submission ? user(0, domain) : "check@sender.example";
            open(connection, "check.sender.example", sender);
            connection.expect(connection.command("MAIL FROM:<" + sender + ">"), 2, "MAIL");
            connection.expect(connection.command("RCPT TO:<" + mailbox(0, domain) + ">"), 2, "RCPT");
            connection.expect(connection.command("DATA"), 3, "DATA");
            String reply = connection.send(message(new StringBuilder(), sender,
                List.of(mailbox(0, domain)), "check-" + System.nanoTime(), 64));
            connection.command("QUIT");
            return reply;
        }
    }

    /** Greeting and EHLO; for the submission load also STARTTLS, EHLO again and AUTH PLAIN as {@code user}. */
    private void open(Connection connection, String helo, String user) throws IOException {
        connection.expect(connection.read(), 2, "greeting");
        connection.expect(connection.command("EHLO " + helo), 2, "EHLO");
        if (!submission) {
            return;
        }
        connection.expect(connection.command("STARTTLS"), 2, "STARTTLS");
        connection.startTls(tls);
        connection.expect(connection.command("EHLO " + helo), 2, "EHLO after STARTTLS");
        String credentials = Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
        connection.expect(connection.command("AUTH PLAIN " + credentials), 2, "AUTH PLAIN as " + user);
        logins.increment();
        if (phase == MEASURE) {
            measuredLogins.increment();
        }
    }

    private static byte[] message(StringBuilder builder, String from, List<String> to, String id, int bodyBytes) {
        builder.setLength(0);
        builder.append("From: <").append(from).append(">\r\n");
        builder.append("To: ");
        for (int i = 0; i < to.size(); i++) {
            builder.append(i == 0 ? "<" : ", <").append(to.get(i)).append('>');
        }
        builder.append("\r\nSubject: throughput ").append(id).append("\r\n");
        builder.append("Message-ID: <").append(id).append("@sender.example>\r\n");
        builder.append("Date: Thu, 1 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
        int written = 0;
        while (written < bodyBytes) {
            int line = Math.min(70, bodyBytes - written);
            for (int i = 0; i < line; i++) {
                builder.append((char) ('a' + (written + i) % 26));
            }
            builder.append("\r\n");
            written += line + 2;
        }
        builder.append(".\r\n");
        return builder.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private final class Worker extends Thread {
        private final int index;
        final LongList mail = new LongList();
        final LongList rcpt = new LongList();
        final LongList data = new LongList();
        private volatile Connection current;

        Worker(int index) {
            super("smtp-load-" + index);
            setDaemon(true);
            this.index = index;
        }

        void closeQuietly() {
            Connection connection = current;
            if (connection != null) {
                connection.close();
            }
        }

        @Override
        public void run() {
            String stranger = "load" + index + "@sender" + index + ".example";
            int connections = 0;
            StringBuilder builder = new StringBuilder(bodyBytes + 512);
            List<String> picked = new ArrayList<>(recipients);
            int[] choice = new int[recipients];
            long sequence = 0;
            while (phase != STOP) {
                // Submission: the next connection of this client logs in as the next of its users.
                String sender = submission ? user((index + clients * connections++) % users, domain) : stranger;
                try (Connection connection = new Connection(address(), port)) {
                    current = connection;
                    open(connection, "client" + index + ".sender.example", sender);
                    for (int sent = 0; phase != STOP && (messagesPerConnection == 0 || sent < messagesPerConnection); sent++) {
                        pick(choice);
                        picked.clear();
                        for (int box : choice) {
                            picked.add(mailbox(box, domain));
                        }
                        long start = System.nanoTime();
                        String reply = connection.command("MAIL FROM:<" + sender + ">");
                        record(mail, start);
                        if (!reply.startsWith("2")) {
                            fail("MAIL: " + reply);
                            connection.command("RSET");
                            continue;
                        }
                        int accepted = 0;
                        for (String to : picked) {
                            start = System.nanoTime();
                            reply = connection.command("RCPT TO:<" + to + ">");
                            record(rcpt, start);
                            if (reply.startsWith("2")) {
                                accepted++;
                            } else {
                                fail("RCPT " + to + ": " + reply);
                            }
                        }
                        if (accepted == 0) {
                            connection.command("RSET");
                            continue;
                        }
                        reply = connection.command("DATA");
                        if (!reply.startsWith("3")) {
                            fail("DATA: " + reply);
                            connection.command("RSET");
                            continue;
                        }
                        byte[] content = message(builder, sender, picked, "m" + index + "-" + (sequence++), bodyBytes);
                        start = System.nanoTime();
                        reply = connection.send(content);
                        boolean measuring = phase == MEASURE;
                        record(data, start);
                        if (reply.startsWith("250")) {
                            allMessages.increment();
                            if (measuring) {
                                measuredMessages.increment();
                                measuredRecipients.add(accepted);
                            }
                        } else {
                            fail("end of DATA: " + reply);
                        }
                    }
                    connection.command("QUIT");
                } catch (IOException | RuntimeException e) {
                    if (phase != STOP) {
                        fail("connection: " + e);
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException interrupted) {
                            return;
                        }
                    }
                } finally {
                    current = null;
                }
            }
        }

        private InetAddress address() throws IOException {
            return sourceAddress(index);
        }

        private void record(LongList list, long start) {
            if (phase == MEASURE) {
                list.add(System.nanoTime() - start);
            }
        }

        private void pick(int[] choice) {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (int i = 0; i < choice.length; i++) {
                int candidate;
                boolean again;
                do {
                    candidate = random.nextInt(mailboxes);
                    again = false;
                    for (int j = 0; j < i; j++) {
                        if (choice[j] == candidate) {
                            again = true;
                            break;
                        }
                    }
                } while (again);
                choice[i] = candidate;
            }
        }
    }

    /** A plain SMTP connection: one command, one (possibly multi-line) reply; the reply's last line is returned. */
    private final class Connection implements AutoCloseable {
        private Socket socket;
        private InputStream in;
        private OutputStream out;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);

        Connection(InetAddress source, int port) throws IOException {
            Socket created = new Socket();
            try {
                created.setTcpNoDelay(true);
                created.setSoTimeout(120_000);
                try {
                    created.bind(new InetSocketAddress(source, 0));
                } catch (IOException bindFailed) {
                    bindFallbacks.incrementAndGet();
                    created.close();
                    created = new Socket();
                    created.setTcpNoDelay(true);
                    created.setSoTimeout(120_000);
                }
                created.connect(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), port), 30_000);
            } catch (IOException e) {
                created.close();
                throw e;
            }
            socket = created;
            in = new BufferedInputStream(socket.getInputStream(), 8192);
            out = new BufferedOutputStream(socket.getOutputStream(), 16384);
        }

        /** Layers TLS over the connection (after a 220 to STARTTLS) and completes the handshake. */
        void startTls(SSLSocketFactory factory) throws IOException {
            SSLSocket secure = (SSLSocket) factory.createSocket(socket, "localhost", socket.getPort(), true);
            secure.setUseClientMode(true);
            secure.startHandshake();
            socket = secure;
            in = new BufferedInputStream(secure.getInputStream(), 8192);
            out = new BufferedOutputStream(secure.getOutputStream(), 16384);
        }

        String command(String text) throws IOException {
            out.write(text.getBytes(StandardCharsets.US_ASCII));
            out.write('\r');
            out.write('\n');
            out.flush();
            return read();
        }

        String send(byte[] content) throws IOException {
            out.write(content);
            out.flush();
            return read();
        }

        String read() throws IOException {
            while (true) {
                String text = readLine();
                if (text.length() < 4 || text.charAt(3) != '-') {
                    return text;
                }
            }
        }

        private String readLine() throws IOException {
            line.reset();
            int b;
            while ((b = in.read()) != -1) {
                if (b == '\n') {
                    break;
                }
                if (b != '\r') {
                    line.write(b);
                }
            }
            if (b == -1 && line.size() == 0) {
                throw new IOException("connection closed by James");
            }
            return line.toString(StandardCharsets.US_ASCII);
        }

        void expect(String reply, int digit, String what) throws IOException {
            if (reply.isEmpty() || reply.charAt(0) != (char) ('0' + digit)) {
                throw new IOException(what + " answered " + reply);
            }
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** A growable array of longs (latency samples in nanoseconds). */
    static final class LongList {
        private long[] values = new long[4096];
        private int size;

        void add(long value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        void addAll(LongList other) {
            for (int i = 0; i < other.size; i++) {
                add(other.values[i]);
            }
        }
    }

    /** Client-side round-trip times, in microseconds. */
    static final class Latencies {
        final long count;
        final double meanMicros;
        final double p50Micros;
        final double p99Micros;

        private Latencies(long count, double meanMicros, double p50Micros, double p99Micros) {
            this.count = count;
            this.meanMicros = meanMicros;
            this.p50Micros = p50Micros;
            this.p99Micros = p99Micros;
        }

        static Latencies of(LongList list) {
            if (list.size == 0) {
                return new Latencies(0, Double.NaN, Double.NaN, Double.NaN);
            }
            long[] sorted = Arrays.copyOf(list.values, list.size);
            Arrays.sort(sorted);
            double sum = 0;
            for (long value : sorted) {
                sum += value;
            }
            return new Latencies(sorted.length, sum / sorted.length / 1000.0,
                sorted[(int) Math.min(sorted.length - 1, Math.ceil(0.50 * sorted.length) - 1)] / 1000.0,
                sorted[(int) Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] / 1000.0);
        }
    }
}
