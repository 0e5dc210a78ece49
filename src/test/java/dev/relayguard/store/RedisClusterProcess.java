package dev.relayguard.store;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.StringJoiner;

/**
 * A real Redis Cluster for tests: three masters ({@link RedisServerProcess}, Debian's {@code redis-server} with
 * {@code --cluster-enabled yes}) on 127.0.0.1, joined with
 * {@code redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes}; ready when every node reports
 * {@code cluster_state:ok}.
 *
 * <pre>{@code
 * try (RedisClusterProcess cluster = RedisClusterProcess.start()) {
 *     new RedisLimiterStore(cluster.url(), true, timeout);   // <redisURL>cluster.url()</redisURL> <cluster>true</cluster>
 *     cluster.nodes().get(0).cli("CLUSTER", "KEYSLOT", "k");
 * }
 * }</pre>
 */
public final class RedisClusterProcess implements AutoCloseable {
    private static final int MASTERS = 3;
    private static final long READY_MILLIS = 60_000;

    private final List<RedisServerProcess> nodes = new ArrayList<>();

    /** Three masters, no replicas, every slot assigned; {@code extraArgs} go to every node (e.g. requirepass). */
    public static RedisClusterProcess start(String... extraArgs) {
        return new RedisClusterProcess(extraArgs);
    }

    private RedisClusterProcess(String... extraArgs) {
        try {
            for (int i = 0; i < MASTERS; i++) {
                List<String> args = new ArrayList<>(List.of("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "5000"));
                args.addAll(Arrays.asList(extraArgs));
                nodes.add(RedisServerProcess.builder().args(args.toArray(new String[0])).start());
            }
            List<String> create = new ArrayList<>(List.of(RedisServerProcess.binary("redis-cli"), "--cluster", "create"));
            for (RedisServerProcess node : nodes) {
                create.add(node.address());
            }
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            RedisServerProcess.run(create, READY_MILLIS);
            awaitOk();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void awaitOk() {
        long deadline = System.currentTimeMillis() + READY_MILLIS;
        for (RedisServerProcess node : nodes) {
            while (true) {
                String info = node.cli("CLUSTER", "INFO");
                if (info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:" + MASTERS)) {
                    break;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("cluster not ok within " + READY_MILLIS + " ms on " + node.address() + ":\n" + info);
                }
                RedisServerProcess.sleep(50);
            }
        }
    }

    /** The three masters, in the order they were created (each serves a third of the slots). */
    public List<RedisServerProcess> nodes() {
        return List.copyOf(nodes);
    }

    /** The comma-separated seed URLs RelayGuard's {@code <redisURL>} takes, e.g. {@code redis://127.0.0.1:7000,redis://...}. */
    public String url() {
        StringJoiner joiner = new StringJoiner(",");
        for (RedisServerProcess node : nodes) {
            joiner.add(node.url());
        }
        return joiner.toString();
    }

    /** The master serving {@code key} now: the one whose {@code CLUSTER NODES} "myself" line lists its slot. */
    public RedisServerProcess nodeOf(String key) {
        int slot = Integer.parseInt(nodes.get(0).cli("CLUSTER", "KEYSLOT", key));
        for (RedisServerProcess node : nodes) {
            if (ownsSlot(node, slot)) {
                return node;
            }
        }
        throw new IllegalStateException("no master serves slot " + slot + " of " + key);
    }

    private static boolean ownsSlot(RedisServerProcess node, int slot) {
        for (String line : node.cli("CLUSTER", "NODES").split("\n")) {
            if (!line.contains("myself")) {
                continue;
            }
            String[] fields = line.trim().split(" ");
            for (int i = 8; i < fields.length; i++) {
                String range = fields[i];
                if (range.startsWith("[")) {
                    continue;
                }
                int dash = range.indexOf('-');
                int from = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
                int to = Integer.parseInt(dash < 0 ? range : range.substring(dash + 1));
                if (slot >= from && slot <= to) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Stops every node and deletes their directories. */
    @Override
    public void close() {
        for (RedisServerProcess node : nodes) {
            try {
                node.close();
            } catch (RuntimeException e) {
                // keep closing the others
            }
        }
    }
}
