package dev.relayguard.probe;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The probe's minimal SMTP client: one command at a time, multi-line replies ({@code 250-...} then
 * {@code 250 ...}), STARTTLS with a trust-all trust manager (a probe must work against self-signed
 * certificates), AUTH PLAIN, and connect/read timeouts. It connects only to the address it is given.
 */
final class ProbeSmtpClient implements AutoCloseable {
    /** Bounds against a misbehaving server: longest reply line and most lines in one reply. */
    private static final int MAX_LINE_BYTES = 8192;
    private static final int MAX_REPLY_LINES = 200;

    private final String tlsHostName;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final Reply greeting;

    private ProbeSmtpClient(Socket socket, String tlsHostName) throws IOException {
        this.tlsHostName = tlsHostName;
        attach(socket);
        this.greeting = readReply();
    }

    /**
     * Connects and reads the greeting.
     *
     * @param tlsHostName the name given for SNI on STARTTLS (the operator's {@code --host}); not verified
     */
    static ProbeSmtpClient connect(InetAddress address, int port, String tlsHostName, int timeoutMillis)
            throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(address, port), timeoutMillis);
            socket.setSoTimeout(timeoutMillis);
            return new ProbeSmtpClient(socket, tlsHostName);
        } catch (IOException | RuntimeException e) {
            closeQuietly(socket);
            throw e;
        }
    }

    private void attach(Socket newSocket) throws IOException {
        this.socket = newSocket;
        // A fresh buffer: anything the server sent before the TLS handshake is dropped, never read as TLS data.
        this.in = new BufferedInputStream(newSocket.getInputStream());
        this.out = newSocket.getOutputStream();
    }

    Reply greeting() {
        return greeting;
    }

    /** Sends one command line (CRLF added) and returns the complete reply. */
    Reply command(String line) throws IOException {
        if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("command contains a line break");
        }
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return readReply();
    }

    /**
     * Sends STARTTLS and, on 220, upgrades the connection trusting any certificate. Returns the STARTTLS
     * reply; the caller must issue EHLO again (RFC 3207). On any other reply the connection stays plain.
     */
    Reply startTls() throws IOException {
        Reply reply = command("STARTTLS");
        if (reply.code() != 220) {
            return reply;
        }
        SSLSocket tls;
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new TrustAnyCertificate()}, new SecureRandom());
            tls = (SSLSocket) context.getSocketFactory()
                    .createSocket(socket, tlsHostName, socket.getPort(), true);
        } catch (GeneralSecurityException e) {
            throw new IOException("TLS is not available: " + e.getMessage(), e);
        }
        tls.setUseClientMode(true);
        tls.startHandshake();
        attach(tls);
        return reply;
    }

    /** AUTH PLAIN with the initial response base64("\0user\0password"). */
    Reply authPlain(String user, String password) throws IOException {
        String token = Base64.getEncoder()
                .encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
        return command("AUTH PLAIN " + token);
    }

    /**
     * After a 354 to DATA: sends the message (CRLF line ends, dot-stuffed) and the terminating dot, and
     * returns the final reply.
     */
    Reply sendMessage(String message) throws IOException {
        StringBuilder body = new StringBuilder();
        for (String line : message.split("\r?\n", -1)) {
            body.append(line.startsWith(".") ? "." + line : line).append("\r\n");
        }
        body.append(".\r\n");
        out.write(body.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        return readReply();
    }

    /** Best effort RSET then QUIT, ignoring any failure; the caller still closes. */
    void resetAndQuit() {
        try {
            command("RSET");
        } catch (IOException | RuntimeException ignored) {
            // the server may have closed the connection after refusing
        }
        quit();
    }

    /** Best effort QUIT, ignoring any failure; the caller still closes. */
    void quit() {
        try {
            if (!socket.isClosed()) {
                command("QUIT");
            }
        } catch (IOException | RuntimeException ignored) {
            // the server may have closed the connection already
        }
    }

    @Override
    public void close() {
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    private Reply readReply() throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = readLine();
            if (line == null) {
                if (lines.isEmpty()) {
                    throw new SocketException("connection closed by server");
                }
                throw new SocketException("connection closed in the middle of a reply");
            }
            if (line.length() < 3 || !isDigits(line.substring(0, 3))
                    || (line.length() > 3 && line.charAt(3) != ' ' && line.charAt(3) != '-')) {
                throw new IOException("malformed reply line: " + Reply.printable(line));
            }
            lines.add(line);
            if (line.length() == 3 || line.charAt(3) == ' ') {
                return new Reply(lines);
            }
            if (lines.size() >= MAX_REPLY_LINES) {
                throw new IOException("reply longer than " + MAX_REPLY_LINES + " lines");
            }
        }
    }

    /** One line without its CR LF (a bare LF is accepted), or null at end of stream before any byte. */
    private String readLine() throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                return buffer.size() == 0 ? null : buffer.toString(StandardCharsets.ISO_8859_1);
            }
            if (b == '\n') {
                byte[] bytes = buffer.toByteArray();
                int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
            }
            if (buffer.size() >= MAX_LINE_BYTES) {
                throw new IOException("reply line longer than " + MAX_LINE_BYTES + " bytes");
            }
            buffer.write(b);
        }
    }

    private static boolean isDigits(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /** One SMTP reply, possibly multi-line; all lines start with a three-digit code. */
    static final class Reply {
        private final List<String> lines;

        Reply(List<String> lines) {
            this.lines = List.copyOf(lines);
        }

        int code() {
            return Integer.parseInt(lastLine().substring(0, 3));
        }

        boolean isPositive() {
            return code() / 100 == 2;
        }

        /** 4xx (transient) or 5xx (permanent): the server refused. */
        boolean isNegative() {
            int kind = code() / 100;
            return kind == 4 || kind == 5;
        }

        List<String> lines() {
            return lines;
        }

        String firstLine() {
            return lines.get(0);
        }

        String lastLine() {
            return lines.get(lines.size() - 1);
        }

        /** The last line with control characters replaced, safe to print on one report line. */
        String printableLastLine() {
            return printable(lastLine());
        }

        static String printable(String text) {
            StringBuilder result = new StringBuilder(text.length());
            for (int i = 0; i < text.length() && result.length() < 300; i++) {
                char c = text.charAt(i);
                result.append(c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ? '?' : c);
            }
            return result.toString();
        }

        @Override
        public String toString() {
            return String.join(" / ", lines);
        }
    }

    /** Accepts every certificate and performs no host name check: this client only probes relay policy. */
    private static final class TrustAnyCertificate extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
