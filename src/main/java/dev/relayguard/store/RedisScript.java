package dev.relayguard.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** A Lua script shipped as a class path resource, with the SHA-1 that Redis caches it under. */
final class RedisScript {
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
        try (InputStream in = RedisScript.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource dev/relayguard/store/" + name);
            }
            return new RedisScript(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
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
