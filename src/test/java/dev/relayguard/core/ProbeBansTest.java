package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ProbeBansTest {
    private static final Duration WINDOW = Duration.ofMinutes(10);
    private static final Duration BAN_FOR = Duration.ofHours(1);

    private AtomicLong clock;
    private ProbeBans bans;

    @BeforeEach
    void setUp() {
        clock = new AtomicLong(1_700_000_000_000L);
        bans = new ProbeBans(new ProbeBans.Settings(3, WINDOW, BAN_FOR, 100_000), clock::get);
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void advance(Duration duration) {
        clock.addAndGet(duration.toMillis());
    }

    private void ban(InetAddress client) {
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.recordRefusal(client)).isNotNull();
        assertThat(bans.isBanned(client)).isTrue();
    }

    @Test
    void thirdRefusalWithinWindowBans() {
        InetAddress client = ip("198.51.100.7");
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.isBanned(client)).isFalse();
        advance(Duration.ofMinutes(4));
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.isBanned(client)).isFalse();
        advance(Duration.ofMinutes(5));
        assertThat(bans.recordRefusal(client)).isNotNull();
        assertThat(bans.isBanned(client)).isTrue();
        assertThat(bans.isBanned(ip("198.51.100.8"))).isFalse();
        assertThat(bans.bannedCount()).isEqualTo(1);
    }

    @Test
    void refusalsSpreadWiderThanWindowNeverBan() {
        InetAddress client = ip("198.51.100.7");
        for (int i = 0; i < 50; i++) {
            assertThat(bans.recordRefusal(client)).as("refusal %d", i).isNull();
            assertThat(bans.isBanned(client)).isFalse();
            advance(Duration.ofMinutes(5).plusMillis(1)); // three refusals always span more than 10 minutes
        }
        assertThat(bans.bans()).isEmpty();
    }

    @Test
    void exactlyWindowApartDoesNotBan() {
        InetAddress client = ip("198.51.100.7");
        bans.recordRefusal(client);
        advance(Duration.ofMinutes(5));
        bans.recordRefusal(client);
        advance(Duration.ofMinutes(5));
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.isBanned(client)).isFalse();
    }

    @Test
    void slidingWindowBansOnceRecentRefusalsAreDense() {
        InetAddress client = ip("198.51.100.7");
        bans.recordRefusal(client);
        advance(Duration.ofMinutes(30));
        assertThat(bans.recordRefusal(client)).isNull();
        advance(Duration.ofMinutes(1));
        assertThat(bans.recordRefusal(client)).isNull(); // oldest of the three is 31 minutes old
        advance(Duration.ofMinutes(1));
        assertThat(bans.recordRefusal(client)).isNotNull();  // the last three are within 2 minutes
    }

    @Test
    void banExpiresAfterBanFor() {
        InetAddress client = ip("198.51.100.7");
        ban(client);
        advance(BAN_FOR.minusMillis(1));
        assertThat(bans.isBanned(client)).isTrue();
        advance(Duration.ofMillis(1));
        assertThat(bans.isBanned(client)).isFalse();
        assertThat(bans.bans()).isEmpty();
    }

    @Test
    void afterExpiryAFullSetOfRefusalsIsNeededAgain() {
        InetAddress client = ip("198.51.100.7");
        ban(client);
        advance(BAN_FOR);
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.isBanned(client)).isFalse();
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.recordRefusal(client)).isNotNull();
    }

    @Test
    void whileBannedRecordRefusalReturnsFalse() {
        InetAddress client = ip("198.51.100.7");
        ban(client);
        long until = bans.bans().get(0).untilMillis();
        for (int i = 0; i < 10; i++) {
            assertThat(bans.recordRefusal(client)).isNull();
        }
        assertThat(bans.isBanned(client)).isTrue();
        assertThat(bans.bans().get(0).untilMillis()).isEqualTo(until); // not extended
    }

    @Test
    void ipv6SameSlash64SharesOneKey() {
        assertThat(ProbeBans.keyOf(ip("2001:db8:1:2::5"))).isEqualTo("2001:db8:1:2::/64");
        assertThat(ProbeBans.keyOf(ip("2001:db8:1:2:ffff::1"))).isEqualTo("2001:db8:1:2::/64");
        assertThat(ProbeBans.keyOf(ip("2001:db8:1:3::5"))).isEqualTo("2001:db8:1:3::/64");
        assertThat(ProbeBans.keyOf(ip("2001:db8:1:2::5"))).isNotEqualTo(ProbeBans.keyOf(ip("2001:db8:1:3::5")));
    }

    @Test
    void ipv6RefusalsAcrossOneSlash64Accumulate() {
        assertThat(bans.recordRefusal(ip("2001:db8:1:2::5"))).isNull();
        assertThat(bans.recordRefusal(ip("2001:db8:1:2::6"))).isNull();
        assertThat(bans.recordRefusal(ip("2001:db8:1:2:ffff::1"))).isNotNull();
        assertThat(bans.isBanned(ip("2001:db8:1:2:abcd::99"))).isTrue();
        assertThat(bans.isBanned(ip("2001:db8:1:3::5"))).isFalse();
        assertThat(bans.bans()).extracting(Holds.Hold::key).containsExactly("2001:db8:1:2::/64");
    }

    @Test
    void ipv6DifferentSlash64sDoNotAccumulate() {
        assertThat(bans.recordRefusal(ip("2001:db8:1:2::5"))).isNull();
        assertThat(bans.recordRefusal(ip("2001:db8:1:3::5"))).isNull();
        assertThat(bans.recordRefusal(ip("2001:db8:1:4::5"))).isNull();
        assertThat(bans.bans()).isEmpty();
        assertThat(bans.trackedCount()).isEqualTo(3);
    }

    @Test
    void ipv4MappedIpv6KeysAsIpv4() throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) 198;
        bytes[13] = 51;
        bytes[14] = 100;
        bytes[15] = 7;
        InetAddress mapped = Inet6Address.getByAddress(null, bytes, -1);
        assertThat(mapped).isInstanceOf(Inet6Address.class);
        assertThat(ProbeBans.keyOf(mapped)).isEqualTo("198.51.100.7");

        bans.recordRefusal(mapped);
        bans.recordRefusal(ip("198.51.100.7"));
        assertThat(bans.recordRefusal(mapped)).isNotNull();
        assertThat(bans.isBanned(ip("198.51.100.7"))).isTrue();
        assertThat(bans.trackedCount()).isEqualTo(1);
    }

    @Test
    void bansListsBannedClientsOnly() {
        ban(ip("198.51.100.7"));
        ban(ip("2001:db8:1:2::5"));
        bans.recordRefusal(ip("203.0.113.1"));
        assertThat(bans.bans()).extracting(Holds.Hold::key)
            .containsExactlyInAnyOrder("198.51.100.7", "2001:db8:1:2::/64");
        assertThat(bans.bans()).allSatisfy(b -> assertThat(b.untilMillis()).isEqualTo(clock.get() + BAN_FOR.toMillis()));
        assertThat(bans.bannedCount()).isEqualTo(2);
        assertThat(bans.trackedCount()).isEqualTo(3);
    }

    @Test
    void liftUnbans() {
        InetAddress client = ip("127.0.0.1");
        ban(client);
        assertThat(bans.lift("127.0.0.1")).isTrue();
        assertThat(bans.isBanned(client)).isFalse();
        assertThat(bans.bans()).isEmpty();
        assertThat(bans.lift("127.0.0.1")).isFalse(); // already lifted
    }

    @Test
    void liftForgetsRefusals() {
        InetAddress client = ip("127.0.0.1");
        ban(client);
        bans.lift("127.0.0.1");
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.recordRefusal(client)).isNull();
        assertThat(bans.isBanned(client)).isFalse();
    }

    @Test
    void liftOfUnknownOrUnbannedReturnsFalse() {
        assertThat(bans.lift("192.0.2.1")).isFalse();
        bans.recordRefusal(ip("192.0.2.2"));
        assertThat(bans.lift("192.0.2.2")).isFalse();
    }

    @Test
    void liftOfNonIpThrows() {
        assertThatThrownBy(() -> bans.lift("not-an-ip"))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("not-an-ip");
        assertThatThrownBy(() -> bans.lift("example.com")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bans.lift(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void liftOfIpv6AddressLiftsItsSlash64() {
        ban(ip("2001:db8:1:2::5"));
        assertThat(bans.lift("2001:db8:1:2::abcd")).isTrue();
        assertThat(bans.isBanned(ip("2001:db8:1:2::5"))).isFalse();
    }

    @Test
    void liftAcceptsTheListedKey() {
        ban(ip("2001:db8:1:2::5"));
        String key = bans.bans().get(0).key();
        assertThat(bans.lift(key)).isTrue();
        assertThat(bans.bans()).isEmpty();
    }

    @Test
    void liftOfOtherSlash64DoesNothing() {
        ban(ip("2001:db8:1:2::5"));
        assertThat(bans.lift("2001:db8:1:3::5")).isFalse();
        assertThat(bans.isBanned(ip("2001:db8:1:2::5"))).isTrue();
    }

    @Test
    void memoryIsBounded() {
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(3, WINDOW, BAN_FOR, 100), clock::get);
        for (int i = 0; i < 10_000; i++) {
            InetAddress client = ip("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
            bounded.recordRefusal(client);
            assertThat(bounded.trackedCount()).as("after %d", i).isLessThanOrEqualTo(100);
        }
        assertThat(bounded.trackedCount()).isEqualTo(100);
    }

    @Test
    void leastRecentlyActiveIsForgottenFirst() {
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(3, WINDOW, BAN_FOR, 2), clock::get);
        InetAddress a = ip("192.0.2.1");
        InetAddress b = ip("192.0.2.2");
        InetAddress c = ip("192.0.2.3");
        InetAddress d = ip("192.0.2.4");
        bounded.recordRefusal(a);
        bounded.recordRefusal(a);
        bounded.recordRefusal(b);
        bounded.recordRefusal(a);        // a banned: it leaves the tracking, b is tracked
        assertThat(bounded.isBanned(a)).isTrue();
        bounded.recordRefusal(c);
        bounded.recordRefusal(c);        // c most recent, b eldest
        bounded.recordRefusal(d);        // evicts b, not the ban of a
        assertThat(bounded.trackedCount()).isEqualTo(3); // c, d tracked; a banned
        assertThat(bounded.isBanned(a)).isTrue();
        // c kept its two refusals; b was forgotten: it needs three fresh ones
        assertThat(bounded.recordRefusal(c)).isNotNull();
        assertThat(bounded.recordRefusal(b)).isNull();
        assertThat(bounded.recordRefusal(b)).isNull();
    }

    private static InetAddress churnIp(int i) {
        return ip("10." + (i >> 16 & 0xff) + "." + (i >> 8 & 0xff) + "." + (i & 0xff));
    }

    @Test
    void activeBanOutlivesChurnOfOtherClients() {
        // The reported attack: maxTrackedIps 1000, then one refusal from each of 1,000 (here 50,000) other addresses.
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(3, WINDOW, BAN_FOR, 1000), clock::get);
        InetAddress prober = ip("198.51.100.7");
        bounded.recordRefusal(prober);
        bounded.recordRefusal(prober);
        assertThat(bounded.recordRefusal(prober)).isNotNull();
        for (int i = 0; i < 50_000; i++) {
            bounded.recordRefusal(churnIp(i));
            assertThat(bounded.trackedCount()).as("after %d", i).isLessThanOrEqualTo(1001);
        }
        assertThat(bounded.isBanned(prober)).isTrue();
        assertThat(bounded.bans()).extracting(Holds.Hold::key).containsExactly("198.51.100.7");
        assertThat(bounded.droppedBans()).isZero();
        advance(BAN_FOR);
        assertThat(bounded.isBanned(prober)).isFalse(); // it still ends on time
    }

    @Test
    void bansSurviveChurnThatAlsoBans() {
        // Churn of clients that get banned themselves, within the ban bound: no earlier ban is lost.
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(2, WINDOW, BAN_FOR, 10, 500), clock::get);
        for (int i = 0; i < 500; i++) {
            bounded.recordRefusal(churnIp(i));
            assertThat(bounded.recordRefusal(churnIp(i))).isNotNull();
            for (int j = 0; j < 20; j++) {
                bounded.recordRefusal(churnIp(100_000 + i * 20 + j)); // one-off refusals flush the tracking
            }
        }
        assertThat(bounded.bannedCount()).isEqualTo(500);
        for (int i = 0; i < 500; i++) {
            assertThat(bounded.isBanned(churnIp(i))).as("ban %d", i).isTrue();
        }
        assertThat(bounded.droppedBans()).isZero();
        assertThat(bounded.trackedCount()).isEqualTo(510);
    }

    @Test
    void bansAreBoundedSeparatelyAndDropsAreCounted() {
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(1, WINDOW, BAN_FOR, 1000, 3), clock::get);
        assertThat(bounded.settings().maxBans()).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            assertThat(bounded.recordRefusal(churnIp(i))).isNotNull();
            advance(Duration.ofSeconds(1));
        }
        assertThat(bounded.recordRefusal(churnIp(3))).isNotNull(); // a fourth: the ban ending soonest (0) goes
        assertThat(bounded.bannedCount()).isEqualTo(3);
        assertThat(bounded.droppedBans()).isEqualTo(1);
        assertThat(bounded.isBanned(churnIp(0))).isFalse();
        assertThat(bounded.isBanned(churnIp(1))).isTrue();
        assertThat(bounded.isBanned(churnIp(3))).isTrue();
        for (int i = 4; i < 1000; i++) {
            bounded.recordRefusal(churnIp(i));
            assertThat(bounded.bannedCount()).isLessThanOrEqualTo(3);
        }
        assertThat(bounded.droppedBans()).isEqualTo(997);
    }

    @Test
    void expiredBansAreNotCountedAsDropped() {
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(1, WINDOW, BAN_FOR, 1000, 2), clock::get);
        bounded.recordRefusal(churnIp(0));
        bounded.recordRefusal(churnIp(1));
        advance(BAN_FOR);
        bounded.recordRefusal(churnIp(2));
        bounded.recordRefusal(churnIp(3));
        assertThat(bounded.droppedBans()).isZero();
        assertThat(bounded.bans()).extracting(Holds.Hold::key).containsExactlyInAnyOrder("10.0.0.2", "10.0.0.3");
    }

    @Test
    void reconfigureToFewerBansDropsTheSoonestEnding() {
        ProbeBans bounded = new ProbeBans(new ProbeBans.Settings(1, WINDOW, BAN_FOR, 1000, 10), clock::get);
        for (int i = 0; i < 5; i++) {
            bounded.recordRefusal(churnIp(i));
            advance(Duration.ofSeconds(1));
        }
        bounded.reconfigure(new ProbeBans.Settings(1, WINDOW, BAN_FOR, 1000, 2));
        assertThat(bounded.droppedBans()).isEqualTo(3);
        assertThat(bounded.bans()).extracting(Holds.Hold::key).containsExactlyInAnyOrder("10.0.0.3", "10.0.0.4");
    }

    @Test
    void zeroRefusalsNeverBansAndTracksNothing() {
        ProbeBans off = new ProbeBans(new ProbeBans.Settings(0, WINDOW, BAN_FOR, 100), clock::get);
        InetAddress client = ip("198.51.100.7");
        for (int i = 0; i < 100; i++) {
            assertThat(off.recordRefusal(client)).isNull();
        }
        assertThat(off.isBanned(client)).isFalse();
        assertThat(off.trackedCount()).isZero();
        assertThat(off.bans()).isEmpty();
        assertThat(off.settings().enabled()).isFalse();
    }

    @Test
    void nullClientIsIgnored() {
        assertThat(bans.recordRefusal(null)).isNull();
        assertThat(bans.isBanned(null)).isFalse();
        assertThat(bans.trackedCount()).isZero();
    }

    @Test
    void reconfigureKeepsExistingBans() {
        InetAddress client = ip("198.51.100.7");
        ban(client);
        ProbeBans.Settings newSettings = new ProbeBans.Settings(5, Duration.ofMinutes(1), Duration.ofMinutes(5), 1000);
        bans.reconfigure(newSettings);
        assertThat(bans.settings()).isSameAs(newSettings);
        assertThat(bans.isBanned(client)).isTrue();
        advance(Duration.ofMinutes(30)); // original ban (1 h) still applies, not the new 5 min
        assertThat(bans.isBanned(client)).isTrue();
        advance(Duration.ofMinutes(30));
        assertThat(bans.isBanned(client)).isFalse();
    }

    @Test
    void reconfigureAppliesNewThreshold() {
        InetAddress client = ip("198.51.100.7");
        bans.reconfigure(new ProbeBans.Settings(5, WINDOW, BAN_FOR, 1000));
        for (int i = 0; i < 4; i++) {
            assertThat(bans.recordRefusal(client)).isNull();
        }
        assertThat(bans.recordRefusal(client)).isNotNull();
    }

    @Test
    void reconfigureToOffKeepsBansButStopsCounting() {
        InetAddress client = ip("198.51.100.7");
        ban(client);
        bans.reconfigure(new ProbeBans.Settings(0, WINDOW, BAN_FOR, 1000));
        assertThat(bans.isBanned(client)).isTrue();
        InetAddress other = ip("198.51.100.8");
        for (int i = 0; i < 10; i++) {
            assertThat(bans.recordRefusal(other)).isNull();
        }
        assertThat(bans.isBanned(other)).isFalse();
    }

    @Test
    void settingsAreValidated() {
        assertThatThrownBy(() -> new ProbeBans.Settings(-1, WINDOW, BAN_FOR, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProbeBans.Settings(3, Duration.ZERO, BAN_FOR, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProbeBans.Settings(3, WINDOW, Duration.ofSeconds(-1), 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProbeBans.Settings(3, WINDOW, BAN_FOR, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ProbeBans.Settings(3, WINDOW, BAN_FOR, 1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(new ProbeBans.Settings(3, WINDOW, BAN_FOR, 7).maxBans()).isEqualTo(7);
        assertThat(new ProbeBans.Settings(0, WINDOW, Duration.ZERO, 1).enabled()).isFalse();
    }
}
