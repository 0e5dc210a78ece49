package dev.relayguard.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

import redis.embedded.RedisServer;

/** A real redis-server process (the binary shipped in embedded-redis) on a free loopback port, for tests. */
public final class EmbeddedRedis {
    private final int port;
    private RedisServer server;

    private EmbeddedRedis(int port) {
        this.port = port;
    }

    /**
     * Started on a port that was free a moment ago. redis-server cannot bind port 0 (0 means no TCP at all), so
     * when another process took the port in between, it starts again on another one (at most 5 attempts).
     */
    public static EmbeddedRedis started() {
        for (int attempt = 1; ; attempt++) {
            EmbeddedRedis redis = new EmbeddedRedis(freePort());
            try {
                redis.start();
                return redis;
            } catch (RuntimeException e) {
                try {
                    redis.stop();
                } catch (RuntimeException ignored) {
                    // it did not start
                }
                if (attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void start() {
        try {
            server = RedisServer.newRedisServer()
                .bind("127.0.0.1")
                .port(port)
                .setting("save \"\"")
                .setting("appendonly no")
                .build();
            server.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void stop() {
        try {
            if (server != null) {
                server.stop();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String url() {
        return "redis://127.0.0.1:" + port;
    }
}
