package dev.relayguard.header;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import javax.mail.MessagingException;

import org.apache.james.server.core.MailImpl;
import org.apache.james.server.core.MimeMessageSource;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.AuthorHeaders;

/**
 * The From:/Sender: check reads the headers of a mail, never its body (issue 17: the check stays off the hot path).
 * The mail is built as James's SMTP server builds it at the end of DATA ({@code MailImpl.setMessageContent} over a
 * {@link MimeMessageSource}, which James wraps in a lazily parsed {@code MimeMessageWrapper}); the source counts the
 * bytes anyone reads from it. Time and allocation of the same check on 1 kB and 10 MB messages:
 * {@code dev.relayguard.bench.AuthorHeaderCheckBenchmark}.
 */
class AuthorHeadersOffTheBodyTest {
    private static final int TEN_MEGABYTES = 10 * 1024 * 1024;

    /** A message source over fixed bytes that counts what is read from it, as James's file-backed source would be read. */
    static final class CountingSource implements MimeMessageSource {
        private final byte[] bytes;
        final AtomicLong bytesRead = new AtomicLong();

        CountingSource(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public String getSourceId() {
            return "counting-source";
        }

        @Override
        public InputStream getInputStream() {
            return new FilterInputStream(new ByteArrayInputStream(bytes)) {
                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        bytesRead.incrementAndGet();
                    }
                    return b;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    int n = super.read(buffer, offset, length);
                    if (n > 0) {
                        bytesRead.addAndGet(n);
                    }
                    return n;
                }

                @Override
                public long skip(long n) throws IOException {
                    long skipped = super.skip(n);
                    bytesRead.addAndGet(skipped);
                    return skipped;
                }
            };
        }

        @Override
        public long getMessageSize() {
            return bytes.length;
        }
    }

    /** A message with a dozen headers (Received lines included) and a body of {@code bodyBytes} bytes of 76-character lines. */
    static byte[] message(int bodyBytes) {
        StringBuilder headers = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            headers.append("Received: from relay").append(i).append(".example.net (relay").append(i)
                .append(".example.net [192.0.2.").append(i + 1).append("])\r\n\tby mx.example.com with ESMTPSA id ")
                .append(1000 + i).append("; Mon, 30 Nov 2026 06:00:0").append(i).append(" +0000\r\n");
        }
        headers.append("From: \"Alice Example\" <alice@example.com>\r\n")
            .append("Sender: alice@example.com\r\n")
            .append("To: bob@example.net\r\n")
            .append("Subject: quarterly figures\r\n")
            .append("Date: Mon, 30 Nov 2026 06:00:00 +0000\r\n")
            .append("Message-ID: <figures-1@example.com>\r\n")
            .append("MIME-Version: 1.0\r\n")
            .append("Content-Type: text/plain; charset=us-ascii\r\n")
            .append("\r\n");
        byte[] head = headers.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + bodyBytes];
        System.arraycopy(head, 0, all, 0, head.length);
        byte[] line = ("From the body: mallory@evil.example " + "x".repeat(38) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        for (int at = head.length; at < all.length; at++) {
            all[at] = line[(at - head.length) % line.length];
        }
        return all;
    }

    static MailImpl mailOf(MimeMessageSource source) throws MessagingException {
        MailImpl mail = MailImpl.builder().name("off-the-body").build();
        mail.setMessageContent(source);
        return mail;
    }

    @Test
    void aTenMegabyteMessageIsCheckedFromItsHeadersAlone() throws MessagingException {
        CountingSource source = new CountingSource(message(TEN_MEGABYTES));
        MailImpl mail = mailOf(source);

        AuthorHeaders headers = AuthorHeaderReader.read(mail);

        assertThat(headers.from()).hasSize(1);
        assertThat(headers.from().get(0).mailboxes()).containsExactly("alice@example.com");
        assertThat(headers.sender().get(0).mailboxes()).containsExactly("alice@example.com");
        // The header block is ~1.6 kB; javax.mail reads through a buffer, so a few kB at most, never the 10 MB body.
        assertThat(source.bytesRead.get()).isLessThan(64 * 1024);
    }

    @Test
    void theBytesReadDoNotGrowWithTheBody() throws MessagingException {
        CountingSource small = new CountingSource(message(1024));
        CountingSource large = new CountingSource(message(TEN_MEGABYTES));

        AuthorHeaderReader.read(mailOf(small));
        AuthorHeaderReader.read(mailOf(large));

        assertThat(large.bytesRead.get()).isEqualTo(small.bytesRead.get());
    }
}
