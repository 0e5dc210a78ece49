package dev.relayguard.store;

import dev.relayguard.limit.SlidingWindow;

/**
 * {@code counters.lua}'s layout and rule in Java, for the precomputed write of {@link KnownCounters}: one counter's
 * packed value, {@value #LENGTH} bytes, {@code struct '<dI4I4I4I4I4I4I4I4I4I4I4I4'} (little-endian): the newest
 * sub-bucket index written (an IEEE double, as Lua numbers are), the total of the {@value SlidingWindow#SLOTS}
 * amounts, then the amounts counted in that sub-bucket and the ten before it (unsigned 32-bit). {@link #counted} and
 * {@link #charged} give exactly what the functions of the same names in {@code counters.lua} give: Redis applies a
 * precomputed value only where the script would have written the same one ({@code unchanged.lua}).
 */
final class PackedCounter {
    static final int LENGTH = 8 + 4 + 4 * SlidingWindow.SLOTS;
    private static final int TOTAL = 8;
    private static final int AMOUNTS = 12;

    private PackedCounter() {
    }

    /** False for anything not of the layout (a value of another layout is never assumed). */
    static boolean isPacked(byte[] value) {
        return value != null && value.length == LENGTH;
    }

    /** The newest sub-bucket index written. */
    static long newest(byte[] value) {
        return (long) Double.longBitsToDouble(readLong(value, 0));
    }

    static long total(byte[] value) {
        return readUnsigned(value, TOTAL);
    }

    /** The amount counted {@code age} sub-buckets before the newest (0: in it). */
    static long amount(byte[] value, int age) {
        return readUnsigned(value, AMOUNTS + 4 * age);
    }

    /**
     * What the counter counts at {@code bucket}: its total when {@code bucket} is at most the newest written (a
     * clock that steps back counts there), else the amounts still inside the window.
     */
    static long counted(byte[] value, long bucket) {
        long newest = newest(value);
        if (bucket <= newest) {
            return total(value);
        }
        long gone = bucket - newest;
        long sum = 0;
        for (int age = 0; age < SlidingWindow.SLOTS - gone; age++) {
            sum += amount(value, age);
        }
        return sum;
    }

    /** The sub-bucket a charge at {@code bucket} counts in: never before the newest written. */
    static long countedIn(byte[] value, long bucket) {
        return Math.max(bucket, newest(value));
    }

    /** The packed value once {@code amount} is counted at {@code bucket}: a new array, {@code value} unchanged. */
    static byte[] charged(byte[] value, long bucket, long amount) {
        byte[] result = new byte[LENGTH];
        long newest = newest(value);
        if (bucket <= newest) {
            System.arraycopy(value, 0, result, 0, LENGTH);
            writeUnsigned(result, TOTAL, total(value) + amount);
            writeUnsigned(result, AMOUNTS, amount(value, 0) + amount);
            return result;
        }
        long shift = bucket - newest;
        long sum = amount;
        for (int age = 0; age < SlidingWindow.SLOTS; age++) {
            long n = age - shift >= 0 ? amount(value, (int) (age - shift)) : 0;
            writeUnsigned(result, AMOUNTS + 4 * age, n);
            sum += n;
        }
        writeLong(result, 0, Double.doubleToRawLongBits(bucket));
        writeUnsigned(result, TOTAL, sum);
        writeUnsigned(result, AMOUNTS, amount(result, 0) + amount);
        return result;
    }

    private static long readLong(byte[] value, int at) {
        long bits = 0;
        for (int i = 7; i >= 0; i--) {
            bits = (bits << 8) | (value[at + i] & 0xFF);
        }
        return bits;
    }

    private static void writeLong(byte[] value, int at, long bits) {
        for (int i = 0; i < 8; i++) {
            value[at + i] = (byte) (bits >>> (8 * i));
        }
    }

    private static long readUnsigned(byte[] value, int at) {
        return (value[at] & 0xFFL) | (value[at + 1] & 0xFFL) << 8 | (value[at + 2] & 0xFFL) << 16 | (value[at + 3] & 0xFFL) << 24;
    }

    private static void writeUnsigned(byte[] value, int at, long n) {
        value[at] = (byte) n;
        value[at + 1] = (byte) (n >>> 8);
        value[at + 2] = (byte) (n >>> 16);
        value[at + 3] = (byte) (n >>> 24);
    }
}
