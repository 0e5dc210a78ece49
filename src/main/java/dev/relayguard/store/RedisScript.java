package dev.relayguard.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.LongSupplier;

/**
 * A Lua script shipped as a class path resource, with the SHA-1 that Redis caches it under. A script whose first
 * line is {@code -- prelude: <name> [<name>...]} is sent with those resources in front of it, in that order (how
 * {@code acquire.lua} and {@code estimate.lua} share one decision, {@code decide.lua}, and the scripts one clock,
 * {@code clock.lua}).
 */
final class RedisScript {
    private static final String PRELUDE = "-- prelude: ";

    private final String name;
    private final String source;
    private volatile String sha;

    private RedisScript(String name, String source) {
        this.name = name;
        this.source = source;
        this.sha = sha1Hex(source);
    }

    /** Loads {@code dev/relayguard/store/<name>} from the class path. */
    static RedisScript resource(String name) {
        return new RedisScript(name, withPreludes(text(name)));
    }

    /**
     * The text with the preludes its first line names in front, in the order named (a prelude may name its own, and
     * so on).
     */
    private static String withPreludes(String text) {
        if (!text.startsWith(PRELUDE)) {
            return text;
        }
        int end = text.indexOf('\n');
        StringBuilder source = new StringBuilder();
        for (String prelude : text.substring(PRELUDE.length(), end).trim().split("\\s+")) {
            source.append(withPreludes(text(prelude)));
        }
        return source.append(text, end + 1, text.length()).toString();
    }

    /**
     * The arguments every script with {@code clock.lua} in front takes: ARGV[1] the time ("" for Redis TIME; else
     * {@code clock}'s, tests only), ARGV[2] the key prefix, then the script's own.
     */
    static String[] args(LongSupplier clock, String prefix, String... own) {
        String[] args = new String[2 + own.length];
        args[0] = clock == null ? "" : Long.toString(clock.getAsLong());
        args[1] = prefix;
        System.arraycopy(own, 0, args, 2, own.length);
        return args;
    }

    private static String text(String name) {
        try (InputStream in = RedisScript.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource dev/relayguard/store/" + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dev/relayguard/store/" + name, e);
        }
    }

    String name() {
        return name;
    }

    String source() {
        return source;
    }

    /** The digest EVALSHA uses (what SCRIPT LOAD answers for this source). */
    String sha() {
        return sha;
    }

    /** Redis answered SCRIPT LOAD with another digest than ours (should not happen): trust Redis. */
    void useSha(String loadedSha) {
        this.sha = loadedSha;
    }

    static String sha1Hex(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8));
            StringBuilder hex = new StringBuilder(2 * digest.length);
            for (byte b : digest) {
                hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is missing from this JVM", e);
        }
    }
}
