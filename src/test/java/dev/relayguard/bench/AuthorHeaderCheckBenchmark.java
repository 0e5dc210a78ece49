package dev.relayguard.bench;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import javax.mail.MessagingException;

import org.apache.james.server.core.MailImpl;
import org.apache.james.server.core.MimeMessageSource;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import dev.relayguard.core.AuthorHeaders;
import dev.relayguard.header.AuthorHeaderReader;

/**
 * Time and allocation of the From:/Sender: check at the end of DATA against the size of the message (issue 17: the
 * check parses headers only, never the body). Each call builds the mail as James's SMTP server does at the end of
 * DATA ({@code MailImpl.setMessageContent} over a message source; James wraps it in a lazily parsed
 * {@code MimeMessageWrapper}) and reads its author headers with {@link AuthorHeaderReader}, the code the end-of-DATA
 * hook and the {@code IsSenderNotOwned} matcher run. The source serves the message from memory (James's serves it
 * from a file), so the figure is the check's own cost. Same headers in both sizes; the body is 1 kB or 10 MB.
 *
 * <pre>
 * benchmarks/run-jmh.sh AuthorHeaderCheck -- -f 3 -wi 3 -w 2s -i 5 -r 2s -prof gc
 * </pre>
 * Read {@code gc.alloc.rate.norm} (bytes per check) beside the time: both must not grow with {@code bodyBytes}.
 * {@link #jamesLoadsTheHeaders} is James's own part of it (building the mail, loading its headers).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class AuthorHeaderCheckBenchmark {
    @Param({"1024", "10485760"})
    public int bodyBytes;

    private byte[] message;
    private MimeMessageSource source;

    @Setup
    public void setUp() {
        message = message(bodyBytes);
        source = new MimeMessageSource() {
            @Override
            public String getSourceId() {
                return "benchmark";
            }

            @Override
            public InputStream getInputStream() {
                return new ByteArrayInputStream(message);
            }

            @Override
            public long getMessageSize() {
                return message.length;
            }
        };
    }

    @Benchmark
    public AuthorHeaders authorHeaderCheck() throws MessagingException {
        MailImpl mail = MailImpl.builder().name("benchmark").build();
        mail.setMessageContent(source);
        return AuthorHeaderReader.read(mail);
    }

    /**
     * The baseline: what James itself pays for the same mail when anything reads one header (its mailets do): the
     * mail built and its headers loaded, no RelayGuard. The check's own cost is the difference.
     */
    @Benchmark
    public String[] jamesLoadsTheHeaders() throws MessagingException {
        MailImpl mail = MailImpl.builder().name("benchmark").build();
        mail.setMessageContent(source);
        return mail.getMessage().getHeader("Message-ID");
    }

    /** A dozen headers (eight Received lines), then {@code bodyBytes} of 78-byte text lines. */
    static byte[] message(int bodyBytes) {
        StringBuilder headers = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            headers.append("Received: from relay").append(i).append(".example.net ([192.0.2.").append(i + 1)
                .append("])\r\n\tby mx.example.com with ESMTPSA id ").append(1000 + i)
                .append("; Mon, 30 Nov 2026 06:00:0").append(i).append(" +0000\r\n");
        }
        headers.append("From: \"Alice Example\" <alice@example.com>\r\nSender: alice@example.com\r\n")
            .append("To: bob@example.net\r\nSubject: quarterly figures\r\nDate: Mon, 30 Nov 2026 06:00:00 +0000\r\n")
            .append("Message-ID: <figures-1@example.com>\r\nMIME-Version: 1.0\r\n")
            .append("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        byte[] head = headers.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] line = ("body text " + "x".repeat(66) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + bodyBytes];
        System.arraycopy(head, 0, all, 0, head.length);
        for (int at = head.length; at < all.length; at++) {
            all[at] = line[(at - head.length) % line.length];
        }
        return all;
    }
}
