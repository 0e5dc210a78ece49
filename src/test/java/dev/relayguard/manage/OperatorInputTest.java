package dev.relayguard.manage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The rules both doors (JMX, WebAdmin) apply to user names, reasons and durations. */
class OperatorInputTest {

    @ParameterizedTest
    @ValueSource(strings = {"a@b@c", "@", "x@", "@example.com", "alice@exa mple.com", "alice@-example.com", "alice@example..com"})
    void userNamesJamesRefusesAreRefused(String user) {
        assertThatThrownBy(() -> OperatorInput.user(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user ");
    }

    @ParameterizedTest
    @ValueSource(strings = {"..", ".alice", "alice.", "al..ice", "..@example.com", "al(ice@example.com", "al\u00efce@example.com"})
    void localPartsThatAreNoMailAddressAreRefused(String user) {
        assertThatThrownBy(() -> OperatorInput.user(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user is not a user name James accepts");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\u200Balice@example.com", "alice\u202E@example.com", "al\u200Dice", "\uFEFFalice"})
    void formatCharactersAreRefusedWherever(String user) {
        assertThatThrownBy(() -> OperatorInput.user(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user must not contain format characters");
        assertThatThrownBy(() -> OperatorInput.reason("spam " + user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("reason must not contain format characters");
    }

    /** Outside the BMP (U+1D173 musical format mark, U+E0041 tag character) and a lone surrogate, seen by code point. */
    @Test
    void reasonsAreCheckedByCodePoint() {
        assertThatThrownBy(() -> OperatorInput.reason("x\uD834\uDD73y")).hasMessageContaining("format characters")
            .hasMessageContaining("U+1D173");
        assertThatThrownBy(() -> OperatorInput.reason("x\uDB40\uDC41y")).hasMessageContaining("format characters");
        assertThatThrownBy(() -> OperatorInput.reason("x\uD800y")).hasMessageStartingWith("reason must be well-formed Unicode text");
        assertThat(OperatorInput.reason("spam \uD83D\uDCE7 wave")).isEqualTo("spam \uD83D\uDCE7 wave");
    }

    /** A throttle is keyed by the login as typed, which need not be a user name: listed, so it can be lifted. */
    @Test
    void loginsOfThrottlesAreAnyPrintableText() {
        assertThat(OperatorInput.login(" x y@relayguard.test ")).isEqualTo("x y@relayguard.test");
        assertThatThrownBy(() -> OperatorInput.login("x\u200By")).hasMessageContaining("format characters");
        assertThatThrownBy(() -> OperatorInput.login("x".repeat(256))).hasMessageContaining("at most 255");
    }

    /** strip() would have dropped them and keyed the user "x": refused instead, nothing removed silently. */
    @ParameterizedTest
    @ValueSource(strings = {"\u2028x", "\tx", "x\t", "x\u2029", "\u0085x"})
    void leadingOrTrailingControlCharactersAreRefusedNotStripped(String user) {
        assertThatThrownBy(() -> OperatorInput.user(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user must not contain control characters or line breaks");
        assertThatThrownBy(() -> OperatorInput.reason(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("reason must not contain control characters or line breaks");
    }

    @Test
    void validNamesAreKeptLowerCaseAndTrimmedOfSpaces() {
        assertThat(OperatorInput.user(" Alice@Example.COM ")).isEqualTo("alice@example.com");
        assertThat(OperatorInput.user("bob")).as("James without virtual hosting").isEqualTo("bob");
        assertThat(OperatorInput.user("first.last+tag@mail.example.com")).isEqualTo("first.last+tag@mail.example.com");
        assertThat(OperatorInput.reason("  spam wave  ")).isEqualTo("spam wave");
    }

    @Test
    void durationsBelowOneSecondAreRefused() {
        for (String tooShort : new String[] {"1ms", "999ms", "PT0.5S", "0"}) {
            assertThatThrownBy(() -> OperatorInput.duration(tooShort)).as(tooShort).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("duration must be at least 1s and at most 366d (longer: suspend until resumed): " + tooShort);
            assertThatThrownBy(() -> OperatorInput.since(tooShort)).as(tooShort).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("since must be at least 1s: " + tooShort);
        }
        assertThat(OperatorInput.duration("1s")).isEqualTo(Duration.ofSeconds(1));
        assertThat(OperatorInput.duration("1000ms")).isEqualTo(Duration.ofSeconds(1));
        assertThat(OperatorInput.since("PT1S")).isEqualTo(Duration.ofSeconds(1));
    }
}
