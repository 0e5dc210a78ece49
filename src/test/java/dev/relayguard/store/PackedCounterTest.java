package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.limit.SlidingWindow;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;

/**
 * {@link PackedCounter} against {@code counters.lua} itself on a real Redis: Redis applies the node's precomputed
 * write without recomputing it ({@code unchanged.lua}), so the Java rule must give byte for byte what the script's
 * {@code charged} gives, and the count its {@code counted} gives, for any counter, sub-bucket and amount.
 */
class PackedCounterTest {
    @RegisterExtension
    static final LocalRedis REDIS = new LocalRedis();

    /** counters.lua's functions on one binary counter (ARGV[1]; "" for none): charged's value and counted's count. */
    private static final String PROBE = RedisScript.resource("counters.lua").source()
        + "\nlocal value = ARGV[1] ~= '' and ARGV[1] or nil"
        + "\nlocal bucket, amount = tonumber(ARGV[2]), tonumber(ARGV[3])"
        + "\nlocal countedIn, count = counted(value, bucket)"
        + "\nreturn {charged(value, countedIn, amount), count, countedIn}";

    @Test
    void chargesAndCountsByteForByteAsCountersLua() {
        RedisClient client = REDIS.closeAfterTest(RedisClient.create(REDIS.url()));
        StatefulRedisConnection<byte[], byte[]> connection = REDIS.closeAfterTest(client.connect(ByteArrayCodec.INSTANCE));
        Random random = new Random(20261130);
        int shifted = 0;
        for (int i = 0; i < 3_000; i++) {
            long newest = 1_000_000 + random.nextInt(1_000);
            long[] amounts = new long[SlidingWindow.SLOTS];
            long total = 0;
            for (int age = 0; age < amounts.length; age++) {
                amounts[age] = random.nextInt(4) == 0 ? 0 : random.nextInt(random.nextBoolean() ? 10 : Integer.MAX_VALUE / 11);
                total += amounts[age];
            }
            byte[] value = packed(newest, total, amounts);
            long bucket = newest - 3 + random.nextInt(18); // before, in and after the newest, and past the window
            long amount = random.nextInt(3) == 0 ? 0 : random.nextInt(1_000);

            List<Object> reply = connection.sync().eval(PROBE.getBytes(StandardCharsets.UTF_8), ScriptOutputType.MULTI,
                new byte[][] {"relayguard:{probe}".getBytes(StandardCharsets.UTF_8)},
                value, Long.toString(bucket).getBytes(StandardCharsets.UTF_8), Long.toString(amount).getBytes(StandardCharsets.UTF_8));

            long countedIn = PackedCounter.countedIn(value, bucket);
            assertThat(countedIn).as("sub-bucket, case %d", i).isEqualTo((Long) reply.get(2));
            assertThat(PackedCounter.counted(value, bucket)).as("count, case %d", i).isEqualTo((Long) reply.get(1));
            assertThat(PackedCounter.charged(value, countedIn, amount)).as("charged value, case %d", i).isEqualTo((byte[]) reply.get(0));
            if (bucket > newest) {
                shifted++;
            }
        }
        assertThat(shifted).as("cases in a later sub-bucket (the amounts shift)").isGreaterThan(1_000);
    }

    @Test
    void readsTheLayout() {
        long[] amounts = new long[SlidingWindow.SLOTS];
        amounts[0] = 7;
        amounts[10] = 4_294_967_295L; // the largest unsigned 32-bit amount
        byte[] value = packed(123_456_789L, 0, amounts);
        assertThat(PackedCounter.isPacked(value)).isTrue();
        assertThat(PackedCounter.isPacked(new byte[63])).isFalse();
        assertThat(PackedCounter.newest(value)).isEqualTo(123_456_789L);
        assertThat(PackedCounter.amount(value, 0)).isEqualTo(7);
        assertThat(PackedCounter.amount(value, 10)).isEqualTo(4_294_967_295L);
        assertThat(PackedCounter.counted(value, 123_456_789L + 10)).isEqualTo(7);
        assertThat(PackedCounter.counted(value, 123_456_789L + 11)).isZero();
    }

    /** struct '<dI4I4...' written by hand: the layout as counters.lua documents it. */
    private static byte[] packed(long newest, long total, long[] amounts) {
        byte[] value = new byte[PackedCounter.LENGTH];
        long bits = Double.doubleToRawLongBits(newest);
        for (int i = 0; i < 8; i++) {
            value[i] = (byte) (bits >>> (8 * i));
        }
        for (int i = 0; i < 4; i++) {
            value[8 + i] = (byte) (total >>> (8 * i));
        }
        for (int age = 0; age < amounts.length; age++) {
            for (int i = 0; i < 4; i++) {
                value[12 + 4 * age + i] = (byte) (amounts[age] >>> (8 * i));
            }
        }
        return value;
    }
}
