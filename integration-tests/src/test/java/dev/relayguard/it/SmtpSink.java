package dev.relayguard.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback SMTP server that accepts everything and remembers it: where James's RemoteDelivery is pointed
 * (gateway) so that tests see exactly what James relayed, without any real network.
 */
public final class SmtpSink implements AutoCloseable {
    /** One relayed message: its envelope recipients and its data. */
    public static final class Delivery {
        public final String sender;
        public final List<String> recipients;
        public final String data;

        Delivery(String sender, List<String> recipients, String data) {
            this.sender = sender;
            this.recipients = List.copyOf(recipients);
            this.data = data;
        }
    }

    private final ServerSocket server;
    private final List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private SmtpSink() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "smtp-sink");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public static SmtpSink started() {
        try {
            return new SmtpSink();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public int port() {
        return server.getLocalPort();
    }

    public List<Delivery> deliveries() {
        return List.copyOf(deliveries);
    }

    /** Every envelope recipient the sink received so far. */
    public List<String> recipients() {
        List<String> all = new ArrayList<>();
        deliveries.forEach(delivery -> all.addAll(delivery.recipients));
        return all;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                Thread session = new Thread(() -> serve(socket), "smtp-sink-session");
                session.setDaemon(true);
                session.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = socket.getOutputStream();
            write(out, "220 sink.test ESMTP");
            String sender = null;
            List<String> recipients = new ArrayList<>();
            String line;
            while ((line = in.readLine()) != null) {
                String upper = line.toUpperCase(java.util.Locale.ROOT);
                if (upper.startsWith("EHLO") || upper.startsWith("HELO")) {
                    write(out, "250 sink.test");
                } else if (upper.startsWith("MAIL FROM:")) {
                    sender = between(line);
                    recipients.clear();
                    write(out, "250 2.1.0 OK");
                } else if (upper.startsWith("RCPT TO:")) {
                    recipients.add(between(line));
                    write(out, "250 2.1.5 OK");
                } else if (upper.equals("DATA")) {
                    write(out, "354 go on");
                    StringBuilder data = new StringBuilder();
                    String dataLine;
                    while ((dataLine = in.readLine()) != null && !dataLine.equals(".")) {
                        data.append(dataLine.startsWith("..") ? dataLine.substring(1) : dataLine).append("\r\n");
                    }
                    deliveries.add(new Delivery(sender, recipients, data.toString()));
                    write(out, "250 2.0.0 queued");
                } else if (upper.equals("QUIT")) {
                    write(out, "221 bye");
                    return;
                } else {
                    write(out, "250 OK");
                }
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    private static String between(String line) {
        int open = line.indexOf('<');
        int close = line.lastIndexOf('>');
        return open >= 0 && close > open ? line.substring(open + 1, close) : line.substring(line.indexOf(':') + 1).trim();
    }

    private static void write(OutputStream out, String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
