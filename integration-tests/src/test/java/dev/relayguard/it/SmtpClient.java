package dev.relayguard.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A small, strict SMTP client for tests: every command returns the server's full reply so tests can assert
 * exact codes and enhanced status codes. Supports STARTTLS (trusting the test's self-signed certificate),
 * AUTH PLAIN, and raw SASL exchanges (AUTH LOGIN, continuation lines). Loopback only.
 */
public final class SmtpClient implements AutoCloseable {
    private Socket socket;
    private BufferedReader in;
    private OutputStream out;
    private final Reply greeting;

    private SmtpClient(Socket socket) throws IOException {
        attach(socket);
        this.greeting = readReply();
    }

    public static SmtpClient connect(int port) throws IOException {
        return connectFrom(null, port);
    }

    /** Connects from a chosen local address (any 127.x.y.z works on Linux): many distinct client IPs on loopback. */
    public static SmtpClient connectFrom(String localAddress, int port) throws IOException {
        Socket socket = new Socket();
        if (localAddress != null) {
            socket.bind(new InetSocketAddress(localAddress, 0));
        }
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setSoTimeout(30_000);
        return new SmtpClient(socket);
    }

    /** Connects to {@code host} (an address such as {@code ::1}) instead of 127.0.0.1. */
    public static SmtpClient connectTo(String host, int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 10_000);
        socket.setSoTimeout(30_000);
        return new SmtpClient(socket);
    }

    /** Connects with TLS from the first byte (SMTPS, RFC 8314), trusting the test's self-signed certificate. */
    public static SmtpClient connectImplicitTls(int port) throws Exception {
        SSLSocket tls = (SSLSocket) trustingEverything().getSocketFactory().createSocket();
        tls.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        tls.setSoTimeout(30_000);
        tls.startHandshake();
        return new SmtpClient(tls);
    }

    private static SSLContext trustingEverything() throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new TrustEverything()}, new SecureRandom());
        return context;
    }

    private void attach(Socket newSocket) throws IOException {
        this.socket = newSocket;
        this.in = new BufferedReader(new InputStreamReader(newSocket.getInputStream(), StandardCharsets.US_ASCII));
        this.out = newSocket.getOutputStream();
    }

    public Reply greeting() {
        return greeting;
    }

    public Reply command(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return readReply();
    }

    /** Writes these bytes as they are and reads nothing (a PROXY protocol header, say). */
    public void send(byte[] raw) throws IOException {
        out.write(raw);
        out.flush();
    }

    public Reply ehlo(String name) throws IOException {
        return command("EHLO " + name);
    }

    public Reply mailFrom(String address) throws IOException {
        return command("MAIL FROM:<" + address + ">");
    }

    public Reply rcptTo(String address) throws IOException {
        return command("RCPT TO:<" + address + ">");
    }

    /** Sends DATA, then the message (dot-stuffed), then the terminating dot; returns the final reply. */
    public Reply data(String message) throws IOException {
        Reply start = command("DATA");
        if (start.code() != 354) {
            return start;
        }
        StringBuilder body = new StringBuilder();
        for (String line : message.split("\r?\n", -1)) {
            body.append(line.startsWith(".") ? "." + line : line).append("\r\n");
        }
        body.append(".\r\n");
        out.write(body.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        return readReply();
    }

    /** STARTTLS, then a fresh EHLO as RFC 3207 requires; returns the EHLO reply after TLS. */
    public Reply startTls(String ehloName) throws Exception {
        Reply reply = command("STARTTLS");
        if (reply.code() != 220) {
            throw new IOException("STARTTLS refused: " + reply);
        }
        SSLSocket tls = (SSLSocket) trustingEverything().getSocketFactory().createSocket(socket, "127.0.0.1", socket.getPort(), true);
        tls.setUseClientMode(true);
        tls.startHandshake();
        attach(tls);
        return ehlo(ehloName);
    }

    public Reply authPlain(String user, String password) throws IOException {
        return command("AUTH PLAIN " + plainToken(user, password));
    }

    /**
     * A raw SASL exchange (RFC 4954): sends {@code authCommand}, then each of {@code responses} while the server
     * answers {@code 334}; returns every reply, the {@code 334} prompts included. It stops at the first reply that is
     * not {@code 334} (a refusal of the AUTH command itself ends it early).
     */
    public List<Reply> authExchange(String authCommand, String... responses) throws IOException {
        List<Reply> replies = new ArrayList<>();
        replies.add(command(authCommand));
        for (String response : responses) {
            if (replies.get(replies.size() - 1).code() != 334) {
                break;
            }
            replies.add(command(response));
        }
        return replies;
    }

    /** The AUTH PLAIN response of RFC 4616: base64 of an empty authorization identity, the user and the password. */
    public static String plainToken(String user, String password) {
        return base64("\0" + user + "\0" + password);
    }

    public static String base64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    /** True when the server has closed the connection: the next read finds its end (nothing is sent). */
    public boolean closedByServer() throws IOException {
        return in.readLine() == null;
    }

    private Reply readReply() throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = in.readLine();
            if (line == null) {
                if (lines.isEmpty()) {
                    throw new IOException("connection closed by server");
                }
                break;
            }
            lines.add(line);
            if (line.length() < 4 || line.charAt(3) != '-') {
                break;
            }
        }
        return new Reply(lines);
    }

    @Override
    public void close() {
        try {
            if (!socket.isClosed()) {
                out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException ignored) {
            // the server may already have closed the connection
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** One SMTP reply, possibly multi-line. */
    public static final class Reply {
        private final List<String> lines;

        Reply(List<String> lines) {
            this.lines = List.copyOf(lines);
        }

        public int code() {
            return Integer.parseInt(lines.get(lines.size() - 1).substring(0, 3));
        }

        /** The last line without the code, e.g. {@code 5.7.1 Relaying denied: ...}. */
        public String text() {
            String last = lines.get(lines.size() - 1);
            return last.length() > 4 ? last.substring(4) : "";
        }

        /** The enhanced status code at the start of the text, or "" when absent. */
        public String enhancedStatus() {
            String text = text();
            return text.matches("^[245]\\.\\d{1,3}\\.\\d{1,3}( .*)?$") ? text.split(" ", 2)[0] : "";
        }

        public List<String> lines() {
            return lines;
        }

        @Override
        public String toString() {
            return String.join(" / ", lines);
        }
    }

    private static final class TrustEverything implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            // The test server uses a freshly generated self-signed certificate.
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
