package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DomainNameTest {

    @Test
    void unicodeNameBecomesALabel() {
        assertThat(DomainName.canonical("Bücher.Example.")).isEqualTo("xn--bcher-kva.example");
        assertThat(DomainName.canonical("bücher.example")).isEqualTo("xn--bcher-kva.example");
    }

    @Test
    void upperCaseALabelIsLowerCased() {
        assertThat(DomainName.canonical("XN--BCHER-KVA.example")).isEqualTo("xn--bcher-kva.example");
    }

    @Test
    void unicodeOfALabel() {
        assertThat(DomainName.unicode("xn--bcher-kva.example")).isEqualTo("bücher.example");
        assertThat(DomainName.unicode("example.com")).isEqualTo("example.com");
    }

    @Test
    void canonicalAndUnicodeRoundTrip() {
        assertThat(DomainName.unicode(DomainName.canonical("Bücher.Example"))).isEqualTo("bücher.example");
    }

    @Test
    void plainNameIsLowerCasedAndTrimmed() {
        assertThat(DomainName.canonical(" Example.COM ")).isEqualTo("example.com");
    }

    @Test
    void ipLiteralIsKept() {
        assertThat(DomainName.canonical("[192.0.2.1]")).isEqualTo("[192.0.2.1]");
        assertThat(DomainName.canonical("[IPv6:2001:DB8::1]")).isEqualTo("[ipv6:2001:db8::1]");
    }

    @Test
    void trailingDotIsStrippedOnce() {
        assertThat(DomainName.canonical("example.com.")).isEqualTo("example.com");
        assertThat(DomainName.canonical("example.com..")).isEqualTo("example.com.");
        assertThat(DomainName.canonical("example.com")).isEqualTo("example.com");
    }

    @ParameterizedTest
    @ValueSource(strings = {"example.com", "a.b.c.example", "xn--bcher-kva.example", "localhost", "a-b.example",
        "123.example", "a"})
    void validHostNames(String name) {
        assertThat(DomainName.isValidHostName(name)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-a.example", "a-.example", "a_b.example", "bad_domain!", "a..b", ".example",
        "example.", "[192.0.2.1]", "bücher.example", "Example.com", "a b.example"})
    void invalidHostNames(String name) {
        assertThat(DomainName.isValidHostName(name)).isFalse();
    }

    @Test
    void labelLengthLimit() {
        String label63 = "a".repeat(63);
        assertThat(DomainName.isValidHostName(label63 + ".example")).isTrue();
        assertThat(DomainName.isValidHostName(label63 + "a.example")).isFalse();
    }

    @Test
    void totalLengthLimit() {
        String label = "a".repeat(63);
        String name253 = label + "." + label + "." + label + "." + "a".repeat(61); // 63*3 + 3 + 61 = 253
        assertThat(name253).hasSize(253);
        assertThat(DomainName.isValidHostName(name253)).isTrue();
        assertThat(DomainName.isValidHostName(name253 + "a")).isFalse();
    }
}
