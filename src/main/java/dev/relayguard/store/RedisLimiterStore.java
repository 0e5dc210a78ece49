package dev.relayguard.store;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.core.Holds;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.SlidingWindow;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.limit.Ticket;
import dev.relayguard.store.KnownCounters.PrecomputedWrite;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;

/**
 * The Redis {@link LimiterStore}: the counters of a key live in one Redis hash, {@code relayguard:{<key>}}
 * (the braces are a Redis Cluster hash tag), so that every James node sharing the Redis sees the same counts.
 * It implements the same {@link SlidingWindow} rule as
 * {@link dev.relayguard.limit.MemoryLimiterStore} and gives identical decisions for identical sequences.
 *
 * <p>One round trip per decision: {@link #acquire} is one EVALSHA of {@code acquire.lua}, which reads the
 * clock of Redis itself (all nodes share it), checks every charge and counts all of them or none. When Redis
 * has lost its script cache (restart, fail-over, SCRIPT FLUSH) the call falls back to EVAL, which caches the
 * script again.
 *
 * <p>An admission on a key that no other node charged since this node's last one skips the script's decision:
 * this node remembers what its last admission on a key left in the counters ({@link KnownCounters}, the keys charged
 * lately), computes the next admission itself (the same rule and layout, {@link PackedCounter}) and sends the write
 * with the values it assumes; {@code unchanged.lua} applies it only when the counters are still exactly those values,
 * the decision clock is in the sub-buckets the node computed for and the key's own expiry ({@code x}, read there)
 * needs no extending, and otherwise decides in full in the same call. So the answer is always the one the full
 * script gives (another node's count, a ticket given back, a reset, an expiry make Redis decide in full); refusals
 * and their retry delays are always decided by the script.
 *
 * <p>The hash holds one field per counter ({@link #field}: its {@code counterId} and {@code :t}, e.g.
 * {@code m60000:t}), whose value packs the counter's 11 sub-buckets and their running total (the newest sub-bucket
 * index, the total, then the amounts counted in it and the ten before it: {@code counters.lua}), and a field
 * {@code x}, when the key expires. So a decision costs Redis three commands inside the script, {@code TIME},
 * {@code HMGET} and {@code HSET} (at MAIL, with the sender's suspension read first, one or two {@code GET}s more:
 * {@link #acquireUnlessHeld}), and in the newest sub-bucket (most decisions) reads a counter's first 12 bytes and
 * repacks its first 16 (56 bytes in all: the hash stays a listpack under Redis's default
 * {@code hash-max-listpack-value} of 64); the key's TTL is set to twice what its longest counter needs (window + one sub-bucket)
 * with {@code PEXPIRE}, only when less than that need is left: about once per window and key, and idle keys expire.
 * Counters of the layouts before it are never read: the packed counters without a total (fields named by the
 * counterId alone) are ignored, and keys with two fields per sub-bucket ({@code <counterId>:<slot>:b} and
 * {@code :n}, no {@code x}) are deleted by their first decision. So a node upgraded mid-window counts that key from
 * zero (up to one window of extra admissions), and while old and new nodes share a Redis during a rolling upgrade
 * each version counts apart.
 *
 * <p>{@link #estimate} is one EVALSHA of {@code estimate.lua}: the same decision ({@code decide.lua}, which both
 * scripts begin with), nothing written.
 *
 * <p>Failures never escape {@link #acquire}, {@link #estimate} and {@link #release}: a timeout, a refused connection
 * or Redis being down makes {@link #acquire} and {@link #estimate} answer {@link LimitDecision#storeFailed} within
 * about {@code timeout}, and the caller applies its fail-open / fail-closed policy. Lettuce reconnects by
 * itself; a store created while Redis is down connects on a later call. One WARN is logged when an incident starts
 * and one INFO when Redis answers again: the only log lines of an incident (the caller counts it in a metric). {@link #usage} and {@link #reset} (management operations) throw {@link IllegalStateException} instead.
 *
 * <p>A decision this store gave up on is never counted later: {@code acquire.lua} gets a deadline on the Redis
 * clock and counts nothing when it starts after it (see {@link #scriptDeadline} for the clock arithmetic). So
 * when a paused or overloaded Redis finally runs the EVALSHAs already written to its socket, the messages that
 * were refused (fail-closed) or let through uncounted (fail-open) at the timeout do not charge the user.
 *
 * <p>Counters lost behind our back (FLUSHALL, FLUSHDB, a restart or fail-over of a Redis without persistence)
 * are detected with a marker key, {@value #MARKER_KEY}, checked every second: one WARN per incident, the
 * {@link #onCountersReset} listeners (the {@code relayguard.rate.store-reset} metric), and
 * {@link #countersIntact()} false until the longest window charged has passed. With Redis Cluster the marker
 * lives on one master: a loss of another master alone is not detected.
 */
public final class RedisLimiterStore implements LimiterStore {
    private static final Logger LOGGER = LoggerFactory.getLogger(RedisLimiterStore.class);

    /** Every key this store writes starts with this. */
    public static final String KEY_PREFIX = "relayguard:";
    /** {@link #field} by counterId: one per limit ever configured (a measure and a window), a handful. */
    private static final ConcurrentMap<String, String> FIELDS = new ConcurrentHashMap<>();
    /** {@link #field} in UTF-8, by the field: what {@code acquire.lua}'s arguments carry (see {@link #acquireArguments}). */
    private static final ConcurrentMap<String, byte[]> FIELD_BYTES = new ConcurrentHashMap<>();
    private static final byte[] EMPTY = new byte[0];
    /** How often a store that never reached Redis tries to connect again (and the longest reconnect delay). */
    private static final Duration RECONNECT_INTERVAL = Duration.ofSeconds(1);
    private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(2);
    /**
     * No timer per command in Lettuce: every caller waits for its reply with its own deadline ({@link #await}) and
     * cancels it then, so Lettuce's command timeouts ({@code TimeoutOptions.enabled}) would only add, per command, a
     * task scheduled on Lettuce's event executors and cancelled again (an MPSC queue offer and, often, a thread
     * woken), which profiles of the benchmarks showed among the largest costs of a decision.
     */
    private static final TimeoutOptions NO_COMMAND_TIMEOUTS = TimeoutOptions.builder().timeoutCommands(false).build();

    /** One open connection, standalone or cluster: both offer the same async command interface. */
    private static final class Connection {
        final StatefulConnection<String, String> stateful;
        final RedisClusterAsyncCommands<String, String> commands;

        Connection(StatefulConnection<String, String> stateful, RedisClusterAsyncCommands<String, String> commands) {
            this.stateful = stateful;
            this.commands = commands;
        }
    }

    private final boolean cluster;
    private final Duration timeout;
    private final List<RedisURI> uris;
    private final String description;
    private final ClientResources resources;
    private final AbstractRedisClient client;
    /** Null in production (the scripts read TIME); tests pass a fake clock to compare with the memory store. */
    private final LongSupplier clock;

    private final RedisScript acquireScript = RedisScript.resource("acquire.lua");
    private final RedisScript releaseScript = RedisScript.resource("release.lua");
    private final RedisScript usageScript = RedisScript.resource("usage.lua");
    private final RedisScript estimateScript = RedisScript.resource("estimate.lua");

    private final Object lock = new Object();
    private volatile Connection connection;
    /** The connection attempt under way, if any (guarded by lock). */
    private CompletableFuture<Connection> connecting;
    /** When the next connection attempt may start, once one was made (guarded by lock). */
    private long nextAttemptNanos;
    private boolean attempted;
    private String lastConnectFailure = "not connected yet";
    private boolean closed;

    /** True between the first failure of an incident and the next success: one WARN, then one INFO. */
    private final AtomicBoolean failing = new AtomicBoolean();

    /** {@code acquire.lua} answered "past the deadline": nothing was counted. */
    private static final long EXPIRED = -1;
    /** Estimated (Redis TIME - System.currentTimeMillis()), see {@link #scriptDeadline}. */
    private volatile long clockOffsetMillis;
    private volatile boolean clockOffsetKnown;
    /** {@code unchanged.lua} applied the write this node computed: every charge admitted and counted. */
    private static final long PRECOMPUTED = 2;
    /** {@code unchanged.lua}'s status: the hold of KEYS[2] is in force, nothing counted. */
    private static final long HELD = 3;
    /** What the inner acquire answers when Redis refused the hold's keys beside the counters' (CROSSSLOT). */
    private static final Object CROSS_SLOT = new Object();
    /**
     * Whether {@link #acquireUnlessHeld} sends the hold's keys with the counters' in one script: true until a Redis that
     * enforces hash slots though configured as standalone refuses it (CROSSSLOT), then false for good (one WARN).
     */
    private volatile boolean holdsInOneScript = true;

    /**
     * What this node's last admission left in the counters of the keys it charged lately, by Redis key: the next
     * decision on such a key sends the write it computed from them ({@link KnownCounters}), which Redis applies only
     * when the counters are unchanged. Only saves Redis work: a decision never depends on it. At most about
     * {@value #MOST_KNOWN_KEYS} keys (0.3 to 0.8 kB each, by the number of counters charged: at most ~13 MB); past
     * that the first tenth in the map's (hash) order is forgotten (with more keys sending at once than that, their
     * decisions take the full script more often, as every decision did before).
     */
    private final ConcurrentMap<String, KnownCounters> knownCounters = new ConcurrentHashMap<>();
    private static final int MOST_KNOWN_KEYS = 16_384;
    private final AtomicBoolean evicting = new AtomicBoolean();
    private final LongAdder precomputedWrites = new LongAdder();
    private final LongAdder fullDecisions = new LongAdder();

    // ----- counters lost behind our back: a marker key, checked every MARKER_INTERVAL -----

    /** The key whose value changes only when Redis lost its data (see {@code marker.lua}). */
    public static final String MARKER_KEY = KEY_PREFIX + "marker";
    private static final Duration MARKER_INTERVAL = Duration.ofSeconds(1);
    private final RedisScript markerScript = RedisScript.resource("marker.lua");
    private final java.util.concurrent.ScheduledExecutorService markerChecks;
    private final List<Runnable> resetListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The marker value seen last (null before the first check that reached Redis). */
    private String knownMarker;
    private final java.util.concurrent.atomic.AtomicLong resets = new java.util.concurrent.atomic.AtomicLong();
    private volatile long lastResetNanos;
    private volatile String lastResetNote = "";
    /** The longest window charged so far: how long counters under-count after a reset. */
    private final java.util.concurrent.atomic.AtomicLong longestWindowMillis = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param redisURL e.g. {@code redis://127.0.0.1:6379}; every form in {@link #checkURL}
     *                 ({@code rediss://}, {@code redis://user:password@host:port/db}, {@code redis-sentinel://...#master},
     *                 comma-separated seed URLs for a cluster)
     * @param cluster  use Redis Cluster (the key's hash tag keeps every decision on one node)
     * @param timeout  the longest a decision waits for Redis
     * @throws IllegalArgumentException when {@link #checkURL} refuses the URL (no password in the message)
     */
    public RedisLimiterStore(String redisURL, boolean cluster, Duration timeout) {
        this(redisURL, cluster, timeout, null);
    }

    /** With {@code clock} non-null the scripts use its time instead of Redis TIME (tests only). */
    RedisLimiterStore(String redisURL, boolean cluster, Duration timeout, LongSupplier clock) {
        Objects.requireNonNull(redisURL, "redisURL");
        if (timeout == null || timeout.isZero() || timeout.isNegative()) {
            throw new IllegalArgumentException("the Redis timeout must be positive");
        }
        this.cluster = cluster;
        this.timeout = timeout;
        this.clock = clock;
        this.uris = parseRedacted(redisURL, cluster, timeout);
        this.description = describe(uris);
        this.resources = DefaultClientResources.builder()
            .ioThreadPoolSize(2)
            .computationThreadPoolSize(2)
            // The default backoff grows to 30 s: after a long outage, decisions would fail long after Redis is back.
            .reconnectDelay(Delay.exponential(Duration.ofMillis(50), RECONNECT_INTERVAL, 2, TimeUnit.MILLISECONDS))
            .build();
        SocketOptions socketOptions = SocketOptions.builder()
            .connectTimeout(timeout.compareTo(RECONNECT_INTERVAL) > 0 ? timeout : RECONNECT_INTERVAL)
            .keepAlive(true)
            .build();
        if (cluster) {
            RedisClusterClient clusterClient = RedisClusterClient.create(resources, uris);
            clusterClient.setOptions(ClusterClientOptions.builder()
                .autoReconnect(true)
                // While disconnected, fail at once instead of queueing a decision that would be counted later.
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .socketOptions(socketOptions)
                .timeoutOptions(NO_COMMAND_TIMEOUTS)
                .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                    .enableAllAdaptiveRefreshTriggers()
                    .enablePeriodicRefresh(Duration.ofMinutes(1))
                    .build())
                .build());
            this.client = clusterClient;
        } else {
            RedisClient redisClient = RedisClient.create(resources);
            redisClient.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .socketOptions(socketOptions)
                .timeoutOptions(NO_COMMAND_TIMEOUTS)
                .build());
            this.client = redisClient;
        }
        synchronized (lock) {
            startConnect(); // in the background: the constructor never waits for Redis nor fails because of it
        }
        this.markerChecks = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "relayguard-redis-marker");
            thread.setDaemon(true);
            return thread;
        });
        markerChecks.scheduleWithFixedDelay(this::checkMarkerSafely, 0, MARKER_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * The hash field holding a counter in the current layout, {@code <counterId>:t} (e.g. {@code m60000:t}: its 11
     * sub-buckets and their running total, {@code counters.lua}). Fields of the layout before it (named by the
     * counterId alone, no total) are never read.
     */
    static String field(String counterId) {
        return FIELDS.computeIfAbsent(counterId, id -> id + ":t");
    }

    /** The Redis key holding the counters of {@code key}: {@code relayguard:{<key>}}. */
    public static String redisKey(String key) {
        return KEY_PREFIX + "{" + key + "}";
    }

    @Override
    public LimitDecision acquire(String key, List<Charge> charges) {
        if (charges.isEmpty()) {
            return LimitDecision.admitted(Ticket.NONE);
        }
        return (LimitDecision) acquire(key, charges, null, null);
    }

    /**
     * One round trip for both when {@code holds} are {@link RedisHolds} on this very store and Redis is standalone:
     * {@code acquire.lua} reads the hold first ({@code unchanged.lua}, KEYS[2] and KEYS[3]) and counts nothing when
     * it holds. With Redis Cluster (the holds' hash tag is not the sender's), other holds or no charges: the two calls
     * of the default; so too, from the first refusal on, behind a "standalone" address that enforces hash slots (a
     * cluster-aware proxy: CROSSSLOT, one WARN). When Redis cannot answer, the one call fails once: one store failure
     * for the caller's failure mode (the two calls failed twice).
     */
    @Override
    public HoldOrDecision acquireUnlessHeld(String key, List<Charge> charges, Holds holds, String holdKey) {
        if (cluster || !holdsInOneScript || charges.isEmpty() || !(holds instanceof RedisHolds) || !((RedisHolds) holds).isKeptIn(this)) {
            return LimiterStore.super.acquireUnlessHeld(key, charges, holds, holdKey);
        }
        Object answer = acquire(key, charges, ((RedisHolds) holds).keysOf(holdKey), holdKey);
        if (answer == CROSS_SLOT) {
            holdsInOneScript = false;
            LOGGER.warn("Redis {} refused a script over two hash slots (CROSSSLOT): it enforces Redis Cluster's slots although "
                + "relayguard.xml says <cluster>false</cluster> (a cluster-aware proxy, a sharded database, or a cluster that "
                + "should be configured with <cluster>true</cluster>). From now on the MAIL-time suspension lookup is a call "
                + "of its own beside the message charge: two round trips instead of one, the same decisions.", description);
            return LimiterStore.super.acquireUnlessHeld(key, charges, holds, holdKey);
        }
        return answer instanceof Holds.Hold ? HoldOrDecision.held((Holds.Hold) answer)
            : HoldOrDecision.decided((LimitDecision) answer);
    }

    /**
     * @param holdKeys null, or the two keys of a hold to check first ({@link RedisHolds#keysOf}) in the same script
     * @return the {@link LimitDecision}, or the {@link Holds.Hold} of {@code holdKey} in force (nothing counted)
     */
    private Object acquire(String key, List<Charge> charges, String[] holdKeys, String holdKey) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String now = nowArgument();
        int n = charges.size();
        String[] fields = new String[n];
        for (int i = 0; i < n; i++) {
            Limit limit = charges.get(i).limit();
            fields[i] = field(limit.counterId());
            noteWindow(limit.window().toMillis());
        }
        String redisKey = redisKey(key);
        try {
            for (int attempt = 1; ; attempt++) {
                long sentMillis = System.currentTimeMillis();
                long scriptDeadline = scriptDeadline(sentMillis, deadline);
                KnownCounters before = knownCounters.get(redisKey);
                PrecomputedWrite write = before == null ? null : precomputedWrite(before, charges, fields, now, sentMillis);
                List<Object> reply = runBinary(acquireScript, redisKey, holdKeys, now, scriptDeadline, charges, fields, write, deadline);
                long receivedMillis = System.currentTimeMillis();
                long status;
                long redisMillis;
                try {
                    status = number(reply.get(0));
                    redisMillis = number(reply.get(1));
                } catch (RuntimeException e) {
                    throw new IllegalStateException("unexpected reply " + reply, e);
                }
                if (status != EXPIRED) {
                    sampleClock(sentMillis, receivedMillis, redisMillis);
                    try {
                        LimitDecision decision;
                        if (status == HELD && holdKeys != null) {
                            succeeded();
                            return RedisHolds.hold(holdKey, reply.get(2), reply.get(3), reply.get(4));
                        } else if (status == PRECOMPUTED && write != null) {
                            precomputedWrites.increment();
                            remember(redisKey, KnownCounters.after(before, fields, write.updated));
                            decision = admitted(key, charges, write.buckets);
                        } else {
                            fullDecisions.increment();
                            decision = decision(key, charges, reply);
                            if (status == 1) {
                                remember(redisKey, reply, before, fields);
                            }
                        }
                        succeeded();
                        return decision;
                    } catch (RuntimeException e) {
                        throw new IllegalStateException("unexpected reply " + reply, e);
                    }
                }
                // Expired although the answer came in time: our estimate of the Redis clock was wrong (a clock
                // step, a fail-over to a node with another clock). Nothing was counted; learn and try once more.
                clockOffsetMillis = redisMillis - sentMillis;
                clockOffsetKnown = true;
                if (attempt >= 2) {
                    throw new TimeoutException("Redis answered past the decision deadline twice (its clock is "
                        + clockOffsetMillis + " ms from ours)");
                }
            }
        } catch (Exception e) {
            if (holdKeys != null && e instanceof RedisCommandExecutionException && String.valueOf(e.getMessage()).startsWith("CROSSSLOT")) {
                return CROSS_SLOT;
            }
            return LimitDecision.storeFailed(failed("acquire", e));
        }
    }

    /** Acquisitions counted by the precomputed write of this node ({@code unchanged.lua}): tests, benchmarks. */
    long precomputedWrites() {
        return precomputedWrites.sum();
    }

    /** Acquisitions decided by the full script ({@code decide.lua}, {@code acquire.lua}): tests, benchmarks. */
    long fullDecisions() {
        return fullDecisions.sum();
    }

    /**
     * The write of {@code known} for these charges on the decision clock (the test clock, or our estimate of Redis
     * {@code TIME}), or null: no estimate of the Redis clock yet, or only the script can decide.
     */
    private PrecomputedWrite precomputedWrite(KnownCounters known, List<Charge> charges, String[] fields, String nowArgument,
                                              long sentMillis) {
        long now;
        if (!nowArgument.isEmpty()) {
            now = Long.parseLong(nowArgument);
        } else if (clockOffsetKnown) {
            now = sentMillis + clockOffsetMillis;
        } else {
            return null;
        }
        return known.writeFor(charges, fields, now);
    }

    /** After a full decision that admitted: the packed values {@code acquire.lua} answered with. */
    private void remember(String redisKey, List<Object> reply, KnownCounters before, String[] fields) {
        int n = fields.length;
        if (reply.size() != 3 + 2 * n) {
            knownCounters.remove(redisKey);
            return;
        }
        byte[][] values = new byte[n][];
        for (int i = 0; i < n; i++) {
            Object value = reply.get(3 + n + i);
            if (!(value instanceof byte[]) || !PackedCounter.isPacked((byte[]) value)) {
                knownCounters.remove(redisKey);
                return;
            }
            values[i] = (byte[]) value;
        }
        remember(redisKey, KnownCounters.after(before, fields, values));
    }

    private void remember(String redisKey, KnownCounters known) {
        if (knownCounters.put(redisKey, known) == null && knownCounters.size() > MOST_KNOWN_KEYS
                && evicting.compareAndSet(false, true)) {
            try {
                // the first tenth of the keys in the map's (hash) order; each comes back at its next admission
                Iterator<String> keys = knownCounters.keySet().iterator();
                for (int left = MOST_KNOWN_KEYS / 10; left > 0 && keys.hasNext(); left--) {
                    keys.next();
                    keys.remove();
                }
            } finally {
                evicting.set(false);
            }
        }
    }

    private static LimitDecision admitted(String key, List<Charge> charges, long[] buckets) {
        List<Ticket.Entry> entries = new ArrayList<>(charges.size());
        for (int i = 0; i < charges.size(); i++) {
            Charge charge = charges.get(i);
            Limit limit = charge.limit();
            entries.add(new Ticket.Entry(limit.counterId(), limit.window().toMillis(), buckets[i], charge.amount()));
        }
        return LimitDecision.admitted(new Ticket(key, entries));
    }

    /**
     * The ARGV of {@code estimate.lua} (decide.lua's): now, the deadline (left empty: estimate counts nothing), n, then
     * the n fields, windows, maxima, amounts. {@link #acquire} writes the same values itself ({@link #acquireArguments}).
     */
    private String[] chargeArguments(List<Charge> charges) {
        int n = charges.size();
        String[] args = new String[3 + 4 * n];
        args[0] = nowArgument();
        args[1] = "";
        args[2] = Integer.toString(n);
        for (int i = 0; i < n; i++) {
            Limit limit = charges.get(i).limit();
            args[3 + i] = field(limit.counterId());
            args[3 + n + i] = Long.toString(limit.window().toMillis());
            args[3 + 2 * n + i] = Long.toString(limit.max());
            args[3 + 3 * n + i] = Long.toString(charges.get(i).amount());
        }
        return args;
    }

    /** One EVALSHA of {@code estimate.lua}: {@code acquire.lua}'s decision, nothing written. */
    @Override
    public LimitDecision estimate(String key, List<Charge> charges) {
        if (charges.isEmpty()) {
            return LimitDecision.admitted(Ticket.NONE);
        }
        try {
            List<Object> reply = run(estimateScript, ScriptOutputType.MULTI, key, chargeArguments(charges),
                System.nanoTime() + timeout.toNanos());
            LimitDecision decision;
            try {
                decision = number(reply.get(0)) == 1 ? LimitDecision.admitted(Ticket.NONE) : decision(key, charges, reply);
            } catch (RuntimeException e) {
                throw new IllegalStateException("unexpected reply " + reply, e);
            }
            succeeded();
            return decision;
        } catch (Exception e) {
            return LimitDecision.storeFailed(failed("estimate", e));
        }
    }

    /**
     * The deadline passed to {@code acquire.lua}, in epoch millis on the clock of Redis: a script that starts later
     * counts nothing, so a decision this store gave up on (a timeout answered fail-open or fail-closed) is never
     * charged afterwards, e.g. when a paused Redis resumes and runs the EVALSHAs already in its socket.
     *
     * <p>Why this clock arithmetic. Only Redis can tell when the script runs (its {@code TIME}), and only this JVM
     * knows when it stops waiting (its {@code deadline}). Rather than trusting both clocks to agree (NTP), every
     * reply carries Redis {@code TIME} and this store keeps {@code offset = redisTime - sentTime} from the replies
     * that came back quickly (round trip at most {@link #margin()}): an upper bound of the true offset, too high
     * by at most that round trip. The script deadline is {@code sentTime + offset + timeout - margin}, so with
     * such an estimate the script may only run before the moment this store gives up; the margin also covers the
     * way back of the answer. The first decision, with no sample yet, assumes offset 0 (synced clocks). A wrong
     * estimate is corrected by itself: an "expired" answer that arrives before our own deadline means Redis is
     * ahead of the estimate; the store learns the offset from that answer and retries once (nothing was counted).
     * An estimate too far the other way (Redis behind) only widens the window for a late charge by that error,
     * and the next quick reply corrects it.
     */
    private long scriptDeadline(long sentMillis, long deadlineNanos) {
        long remainingMillis = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        long offset = clockOffsetKnown ? clockOffsetMillis : 0;
        return sentMillis + offset + Math.max(0, remainingMillis - margin());
    }

    /** How long before giving up the script must have started: a fifth of the timeout, at most 200 ms. */
    private long margin() {
        return Math.min(timeout.toMillis() / 5, 200);
    }

    private void sampleClock(long sentMillis, long receivedMillis, long redisMillis) {
        if (receivedMillis - sentMillis <= margin()) {
            clockOffsetMillis = redisMillis - sentMillis;
            clockOffsetKnown = true;
        }
    }

    /** The current estimate of (Redis TIME - our clock), in ms (tests). */
    long clockOffsetMillis() {
        return clockOffsetMillis;
    }

    /** Tests: pretend the clocks differ by this much (the store must correct it by itself). */
    void assumeClockOffset(long offsetMillis) {
        clockOffsetMillis = offsetMillis;
        clockOffsetKnown = true;
    }

    private static LimitDecision decision(String key, List<Charge> charges, List<Object> reply) {
        if (number(reply.get(0)) == 1) {
            int n = charges.size();
            if (reply.size() != 2 + n && reply.size() != 3 + 2 * n) { // estimate.lua; acquire.lua (x and the values follow)
                throw new IllegalStateException("expected " + n + " buckets");
            }
            long[] buckets = new long[n];
            for (int i = 0; i < n; i++) {
                buckets[i] = number(reply.get(2 + i));
            }
            return admitted(key, charges, buckets);
        }
        Limit limit = charges.get(Math.toIntExact(number(reply.get(2)) - 1)).limit();
        return LimitDecision.refused(limit, number(reply.get(3)), number(reply.get(4)) == 1);
    }

    private static long number(Object value) {
        if (value instanceof Number) {
            return ((Number) value).longValue();
        }
        throw new IllegalStateException("not an integer: " + value);
    }

    /**
     * True when every entry of the ticket sits in the sub-bucket that the Redis clock is in now: the transaction is
     * accepted on its reservation, without a second decision and its release (no round trip at all). The Redis
     * clock is estimated from the replies to earlier decisions ({@link #scriptDeadline}; the ticket's own
     * acquisition is the latest sample): an upper bound, too late by at most that reply's round trip (plus 2 ms
     * for the clocks' whole milliseconds), so a ticket found current here is current on Redis too (its sub-bucket
     * is at most the current one on Redis and at least the one of the estimate). False when no quick reply was
     * seen yet; then the caller charges again, exact either way. The bound assumes neither clock stepped since the
     * last sample (an NTP step of this JVM's clock backwards by d could accept a reservation up to d late).
     */
    @Override
    public boolean isCurrent(Ticket ticket) {
        long now;
        if (clock != null) {
            now = clock.getAsLong();
        } else if (clockOffsetKnown) {
            // + 2 ms: both clocks are read in whole milliseconds, so the estimate may be up to that much behind.
            now = System.currentTimeMillis() + clockOffsetMillis + 2;
        } else {
            return false;
        }
        for (Ticket.Entry entry : ticket.entries()) {
            if (entry.bucket() != SlidingWindow.bucketAt(now, entry.windowMillis())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void release(Ticket ticket) {
        if (ticket == null || ticket.isEmpty() || !ticket.markReleased()) {
            return;
        }
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            List<Ticket.Entry> entries = ticket.entries();
            int n = entries.size();
            String[] args = new String[1 + 3 * n];
            args[0] = Integer.toString(n);
            for (int i = 0; i < n; i++) {
                Ticket.Entry entry = entries.get(i);
                args[1 + i] = field(entry.counterId());
                args[1 + n + i] = Long.toString(entry.bucket());
                args[1 + 2 * n + i] = Long.toString(entry.amount());
            }
            run(releaseScript, ScriptOutputType.INTEGER, ticket.key(), args, deadline);
            succeeded();
        } catch (Exception e) {
            failed("release", e);
        }
    }

    /** @throws IllegalStateException when Redis does not answer */
    @Override
    public Map<Limit, Long> usage(String key, List<Limit> limits) {
        Map<Limit, Long> usage = new LinkedHashMap<>();
        if (limits.isEmpty()) {
            return usage;
        }
        int n = limits.size();
        String[] args = new String[3 + 2 * n];
        args[0] = nowArgument();
        args[1] = "";
        args[2] = Integer.toString(n);
        for (int i = 0; i < n; i++) {
            args[3 + i] = field(limits.get(i).counterId());
            args[3 + n + i] = Long.toString(limits.get(i).window().toMillis());
        }
        try {
            List<Object> reply = run(usageScript, ScriptOutputType.MULTI, key, args, System.nanoTime() + timeout.toNanos());
            for (int i = 0; i < limits.size(); i++) {
                usage.put(limits.get(i), number(reply.get(i)));
            }
            succeeded();
            return usage;
        } catch (Exception e) {
            throw new IllegalStateException(failed("usage", e), e);
        }
    }

    /** @throws IllegalStateException when Redis does not answer */
    @Override
    public void reset(String key) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            knownCounters.remove(redisKey(key));
            await(connection(deadline).commands.del(redisKey(key)), deadline);
            succeeded();
        } catch (Exception e) {
            throw new IllegalStateException(failed("reset", e), e);
        }
    }

    @Override
    public long trackedKeys() {
        return -1;
    }

    @Override
    public String kind() {
        return StoreKind.REDIS.configName();
    }

    /** The Redis this store talks to, e.g. {@code 127.0.0.1:6379} (no credentials). */
    public String description() {
        return description;
    }

    @Override
    public void close() {
        Connection open;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            open = connection;
            connection = null;
        }
        markerChecks.shutdownNow();
        if (open != null) {
            try {
                open.stateful.close();
            } catch (RuntimeException e) {
                LOGGER.debug("Closing the Redis connection to {} failed", description, e);
            }
        }
        try {
            client.shutdown(Duration.ZERO, SHUTDOWN_TIMEOUT);
        } catch (RuntimeException e) {
            LOGGER.debug("Shutting the Redis client for {} down failed", description, e);
        }
        try {
            resources.shutdown(0, SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            LOGGER.debug("Shutting the Redis client resources down failed", e);
        }
    }

    // ----- counters lost behind our back -----

    @Override
    public boolean countersIntact() {
        if (resets.get() == 0) {
            return true;
        }
        long suspectNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(longestWindowMillis.get(), MARKER_INTERVAL.toMillis()));
        return System.nanoTime() - lastResetNanos > suspectNanos;
    }

    @Override
    public String countersResetNote() {
        return countersIntact() ? "" : lastResetNote;
    }

    @Override
    public void onCountersReset(Runnable listener) {
        resetListeners.add(Objects.requireNonNull(listener));
    }

    /** How many times this store found that Redis had lost every counter. */
    public long countersResets() {
        return resets.get();
    }

    private void noteWindow(long windowMillis) {
        long longest = longestWindowMillis.get();
        while (windowMillis > longest && !longestWindowMillis.compareAndSet(longest, windowMillis)) {
            longest = longestWindowMillis.get();
        }
    }

    private void checkMarkerSafely() {
        try {
            checkMarker();
        } catch (Throwable e) { // the schedule must survive anything
            LOGGER.debug("Checking the Redis marker on {} failed", description, e);
        }
    }

    /**
     * Reads {@link #MARKER_KEY} (creating it when missing). A value other than the one seen last means Redis lost
     * its data since: FLUSHALL/FLUSHDB, or a restart or fail-over of a Redis without persistence. The counters
     * restarted from zero; one WARN per incident on every node that sees it, the listeners (the metric) run once.
     * The first check of this store only learns the value: a marker missing then is a first start (or a loss
     * that happened while no node watched). Only when connected: the check never opens a connection itself.
     */
    void checkMarker() throws Exception {
        if (connection == null) {
            return;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        String candidate = UUID.randomUUID().toString();
        List<Object> reply = runOn(new String[] {MARKER_KEY}, markerScript, ScriptOutputType.MULTI, new String[] {candidate}, deadline);
        String value = String.valueOf(reply.get(1));
        String previous;
        synchronized (this) {
            previous = knownMarker;
            knownMarker = value;
        }
        if (previous == null) {
            LOGGER.debug("Watching Redis {} for lost counters: marker {} {} (a later value means a reset)", description,
                MARKER_KEY, number(reply.get(0)) == 1 ? "created" : "found");
            return;
        }
        if (previous.equals(value)) {
            return;
        }
        long count = resets.incrementAndGet();
        lastResetNanos = System.nanoTime();
        lastResetNote = Instant.now() + " redis " + description + ": every rate-limit counter was lost "
            + "(FLUSHALL, or a restart without persistence); limits under-count until the longest window has passed";
        LOGGER.warn("Redis {} lost every rate-limit counter (its marker {} is gone: FLUSHALL/FLUSHDB, or a restart or "
            + "fail-over without persistence). Limits count from zero again: up to a full window more can be accepted "
            + "(reset #{} seen by this node). The probe bans, suspensions (an operator's too) and AUTH bans kept in this Redis "
            + "are gone as well. Daily limits and lasting suspensions need Redis persistence (appendonly yes or RDB snapshots).",
            description, MARKER_KEY, count);
        for (Runnable listener : resetListeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                LOGGER.debug("A counters-reset listener failed", e);
            }
        }
    }

    // ----- one script call: EVALSHA, or EVAL when Redis lost its script cache -----

    private <T> T run(RedisScript script, ScriptOutputType type, String key, String[] args, long deadline) throws Exception {
        return runOn(new String[] {redisKey(key)}, script, type, args, deadline);
    }

    /**
     * Runs one script of another state kept in this Redis on this store's connection ({@link RedisAuthState} shares
     * it): the same timeout, connection attempts, reconnection and NOSCRIPT fallback as the rate-limit decisions,
     * without their incident log (the caller keeps its own).
     *
     * @param keys every key the script touches, all in one Redis Cluster slot (one hash tag)
     * @return the reply of Redis, within the timeout
     * @throws IllegalStateException saying why there is no reply (not connected, no answer within the timeout, an
     *     error from Redis), e.g. {@code redis 127.0.0.1:6379: no answer within 300 ms}
     */
    <T> T runScript(RedisScript script, ScriptOutputType type, String[] keys, String[] args) {
        try {
            return runOn(keys, script, type, args, System.nanoTime() + timeout.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("redis " + description + ": interrupted", e);
        } catch (Exception e) {
            throw new IllegalStateException("redis " + description + ": " + message(e), e);
        }
    }

    private <T> T runOn(String[] keys, RedisScript script, ScriptOutputType type, String[] args, long deadline) throws Exception {
        Connection open = connection(deadline);
        try {
            return await(open.commands.<T>evalsha(script.sha(), type, keys, args), deadline);
        } catch (RedisCommandExecutionException e) {
            if (!isNoScript(e)) {
                throw e;
            }
            // Redis restarted or failed over (or SCRIPT FLUSH): EVAL runs the script and caches it again.
            LOGGER.debug("Redis {} lost script {}: running it with EVAL", description, script.name());
            return await(open.commands.<T>eval(script.source(), type, keys, args), deadline);
        }
    }

    /**
     * {@code acquire.lua} through {@link BinaryScriptReply}: its packed values, in the precomputed write and in the
     * reply, are binary, which this connection's UTF-8 codec would mangle. Same NOSCRIPT fallback as {@link #runOn}.
     *
     * @param now            ARGV[1]: "" (the Redis clock) or the test clock's millis
     * @param scriptDeadline ARGV[2]: the deadline on the Redis clock ({@link #scriptDeadline})
     * @param write          the node's precomputed write ({@code unchanged.lua}'s arguments after decide.lua's), or null
     */
    private List<Object> runBinary(RedisScript script, String redisKey, String[] moreKeys, String now, long scriptDeadline,
                                   List<Charge> charges, String[] fields, PrecomputedWrite write, long deadline) throws Exception {
        Connection open = connection(deadline);
        try {
            return await(open.commands.dispatch(CommandType.EVALSHA, new BinaryScriptReply(),
                acquireArguments(script.sha(), false, redisKey, moreKeys, now, scriptDeadline, charges, fields, write)), deadline);
        } catch (RedisCommandExecutionException e) {
            if (!isNoScript(e)) {
                throw e;
            }
            LOGGER.debug("Redis {} lost script {}: running it with EVAL", description, script.name());
            return await(open.commands.dispatch(CommandType.EVAL, new BinaryScriptReply(),
                acquireArguments(script.source(), true, redisKey, moreKeys, now, scriptDeadline, charges, fields, write)), deadline);
        }
    }

    /**
     * The EVALSHA (or EVAL) arguments of {@code acquire.lua}: decide.lua's ARGV (now, the deadline, n, then the n
     * fields, windows, maxima and amounts), then the precomputed write when there is one. Numbers go as Lettuce's
     * integer arguments and fields and packed values as bytes, which Lettuce writes straight into the request; a
     * codec value (the key) is first encoded into a pooled buffer of its own, a cost per argument that profiles of
     * the benchmark showed as the largest part of Lettuce's work per decision.
     *
     * @param source true: {@code script} is the script's source (EVAL; UTF-8), false: its SHA-1 (EVALSHA)
     */
    private static CommandArgs<String, String> acquireArguments(String script, boolean source, String redisKey, String[] moreKeys,
                                                                String now, long scriptDeadline, List<Charge> charges,
                                                                String[] fields, PrecomputedWrite write) {
        CommandArgs<String, String> arguments = new CommandArgs<>(StringCodec.UTF8);
        if (source) {
            arguments.addValue(script);
        } else {
            arguments.add(script);
        }
        arguments.add(moreKeys == null ? 1 : 1 + moreKeys.length).addKey(redisKey);
        if (moreKeys != null) {
            for (String moreKey : moreKeys) {
                arguments.addKey(moreKey);
            }
        }
        if (now.isEmpty()) {
            arguments.add(EMPTY);
        } else {
            arguments.add(Long.parseLong(now));
        }
        int n = charges.size();
        arguments.add(scriptDeadline).add(n);
        byte[][] fieldBytes = new byte[n][];
        for (int i = 0; i < n; i++) {
            fieldBytes[i] = fieldBytes(fields[i]);
            arguments.add(fieldBytes[i]);
        }
        for (int i = 0; i < n; i++) {
            arguments.add(charges.get(i).limit().window().toMillis());
        }
        for (int i = 0; i < n; i++) {
            arguments.add(charges.get(i).limit().max());
        }
        for (int i = 0; i < n; i++) {
            arguments.add(charges.get(i).amount());
        }
        if (write != null) {
            if (write.validFrom == Long.MIN_VALUE) {
                arguments.add(EMPTY);
            } else {
                arguments.add(write.validFrom);
            }
            arguments.add(write.validUntil).add(write.need);
            for (int i = 0; i < n; i++) {
                arguments.add(write.expected[i]);
            }
            for (int i = 0; i < n; i++) {
                arguments.add(fieldBytes[i]).add(write.updated[i]);
            }
        }
        return arguments;
    }

    private static byte[] fieldBytes(String field) {
        byte[] bytes = FIELD_BYTES.get(field);
        return bytes != null ? bytes : FIELD_BYTES.computeIfAbsent(field, f -> f.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Benchmarks: {@code script} with the arguments {@link #acquire} sends for {@code charges} (decide.lua's, no
     * precomputed write), built, sent and read back exactly as {@link #acquire} does, on this store's connection.
     *
     * @return the script's reply as {@link BinaryScriptReply} reads it
     * @throws IllegalStateException when Redis does not answer within the timeout
     */
    List<Object> runWithAcquireArguments(RedisScript script, String key, List<Charge> charges) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int n = charges.size();
        String[] fields = new String[n];
        for (int i = 0; i < n; i++) {
            fields[i] = field(charges.get(i).limit().counterId());
        }
        try {
            return runBinary(script, redisKey(key), null, nowArgument(), scriptDeadline(System.currentTimeMillis(), deadline),
                charges, fields, null, deadline);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("redis " + description + ": interrupted", e);
        } catch (Exception e) {
            throw new IllegalStateException("redis " + description + ": " + message(e), e);
        }
    }

    private static boolean isNoScript(RedisCommandExecutionException e) {
        return e instanceof RedisNoScriptException || (e.getMessage() != null && e.getMessage().startsWith("NOSCRIPT"));
    }

    private String nowArgument() {
        return clock == null ? "" : Long.toString(clock.getAsLong());
    }

    /** Waits for a Redis answer until the deadline; unwraps what Lettuce failed with. */
    private <T> T await(CompletionStage<T> stage, long deadline) throws Exception {
        return await(stage, deadline, true);
    }

    /** @param cancel whether to give up on the answer at the deadline (never for a connection attempt others share) */
    private <T> T await(CompletionStage<T> stage, long deadline, boolean cancel) throws Exception {
        CompletableFuture<T> future = stage.toCompletableFuture();
        long remaining = deadline - System.nanoTime();
        try {
            if (remaining <= 0 && !future.isDone()) {
                throw new TimeoutException();
            }
            return future.get(Math.max(0, remaining), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            if (cancel) {
                future.cancel(false);
            }
            throw new TimeoutException("no answer from Redis within " + timeout.toMillis() + " ms");
        } catch (ExecutionException | CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw e;
        }
    }

    // ----- connecting: in the background, and again later when a store never reached Redis -----

    private Connection connection(long deadline) throws Exception {
        Connection open = connection;
        if (open != null) {
            return open;
        }
        CompletableFuture<Connection> attempt;
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("the Redis rate-limit store is closed");
            }
            if (connection != null) {
                return connection;
            }
            if (connecting == null) {
                if (attempted && System.nanoTime() - nextAttemptNanos < 0) {
                    throw new NotConnected(lastConnectFailure);
                }
                startConnect();
            }
            attempt = connecting;
        }
        if (attempt == null) { // the attempt completed at once
            synchronized (lock) {
                if (connection != null) {
                    return connection;
                }
                throw new NotConnected(lastConnectFailure);
            }
        }
        try {
            return await(attempt, deadline, false);
        } catch (TimeoutException e) {
            throw new NotConnected("cannot connect: no answer within " + timeout.toMillis() + " ms");
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) {
            throw new NotConnected("cannot connect: " + message(e));
        }
    }

    /** Starts a connection attempt; the caller holds lock. */
    private void startConnect() {
        attempted = true;
        nextAttemptNanos = System.nanoTime() + RECONNECT_INTERVAL.toNanos();
        CompletableFuture<Connection> attempt;
        try {
            attempt = connectAsync();
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        connecting = attempt;
        CompletableFuture<Connection> started = attempt;
        started.whenComplete((open, error) -> connected(started, open, error));
    }

    private CompletableFuture<Connection> connectAsync() {
        if (cluster) {
            // connectAsync needs the topology already loaded (only the blocking connect() loads it by itself).
            RedisClusterClient clusterClient = (RedisClusterClient) client;
            return clusterClient.refreshPartitionsAsync().toCompletableFuture()
                .thenCompose(loaded -> clusterClient.connectAsync(StringCodec.UTF8))
                .thenApply(c -> ready(new Connection(c, c.async())));
        }
        return ((RedisClient) client).connectAsync(StringCodec.UTF8, uris.get(0)).toCompletableFuture()
            .thenApply(c -> ready(new Connection(c, c.async())));
    }

    /**
     * Before anyone can use the connection: SCRIPT LOAD queued ahead of any EVALSHA. (No command timeout: every caller
     * waits with its own deadline, {@link #NO_COMMAND_TIMEOUTS}.)
     */
    private Connection ready(Connection open) {
        loadScripts(open);
        return open;
    }

    private void connected(CompletableFuture<Connection> attempt, Connection open, Throwable error) {
        boolean discard = false;
        synchronized (lock) {
            if (connecting == attempt) {
                connecting = null;
            }
            if (open == null) {
                lastConnectFailure = "cannot connect: " + message(error);
            } else if (closed) {
                discard = true;
            } else {
                connection = open;
            }
        }
        if (discard) {
            open.stateful.closeAsync();
        } else if (open != null) {
            LOGGER.debug("Connected to Redis {}", description);
        }
    }

    /** SCRIPT LOAD once per connection, so the first decisions already find the scripts (best effort). */
    private void loadScripts(Connection open) {
        for (RedisScript script : List.of(acquireScript, releaseScript, usageScript, estimateScript, markerScript)) {
            try {
                open.commands.scriptLoad(script.source()).whenComplete((sha, error) -> {
                    if (sha != null && !sha.equals(script.sha())) {
                        LOGGER.warn("Redis {} cached {} as {}, expected {}", description, script.name(), sha, script.sha());
                        script.useSha(sha);
                    }
                });
            } catch (RuntimeException e) {
                LOGGER.debug("SCRIPT LOAD {} on {} failed", script.name(), description, e);
            }
        }
    }

    // ----- incidents: one WARN when Redis stops answering, one INFO when it answers again -----

    /** Logs the first failure of an incident and returns the failure text for {@link LimitDecision#storeFailed}. */
    private String failed(String operation, Throwable error) {
        String text = "redis " + description + ": " + message(error);
        if (failing.compareAndSet(false, true)) {
            LOGGER.warn("Redis rate-limit store failed ({}): {}. Rate-limit decisions report a store failure until Redis "
                + "answers again; further failures are not logged.", operation, text);
        } else {
            LOGGER.debug("Redis rate-limit store failed ({}): {}", operation, text);
        }
        return text;
    }

    private void succeeded() {
        if (failing.get() && failing.compareAndSet(true, false)) {
            LOGGER.info("Redis rate-limit store {} answers again", description);
        }
    }

    private String message(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof TimeoutException || e instanceof RedisCommandTimeoutException) {
            return "no answer within " + timeout.toMillis() + " ms";
        }
        if (e instanceof RedisConnectionException) {
            // "Unable to connect to ..." wraps what really happened, e.g. "Connection refused: /10.0.0.1:6379"
            while (e.getCause() != null && e.getCause() != e && e.getCause().getMessage() != null) {
                e = e.getCause();
            }
        }
        String text = e.getMessage();
        if (text == null || text.isBlank()) {
            return e.getClass().getSimpleName();
        }
        text = text.strip();
        text = text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
        return text + hint(text);
    }

    /** What the operator can do about a refusal that is a configuration mistake, not an outage. */
    private static String hint(String failure) {
        if (failure.startsWith("WRONGPASS") || failure.startsWith("NOAUTH")) {
            return " (check the user and password in rateLimits.redisURL of relayguard.xml)";
        }
        if (failure.startsWith("NOPERM") || failure.contains("can't run this command")) { // the latter: inside a script
            return " (the Redis ACL of the user in rateLimits.redisURL lacks a command or key: see the ACL line in the README)";
        }
        if (failure.contains("certification path") || failure.contains("subject alternative name")) {
            return " (rediss://: trust the CA of Redis's certificate in the JVM trust store, -Djavax.net.ssl.trustStore, "
                + "and name the host the certificate names)";
        }
        return "";
    }

    /** No connection to Redis (yet): why. */
    private static final class NotConnected extends Exception {
        private static final long serialVersionUID = 1L;

        NotConnected(String message) {
            super(message, null, false, false);
        }
    }

    // ----- configuration -----

    /**
     * Checks a {@code redisURL} as this store reads it (what relayguard.xml is validated with): the one parser of
     * both. The forms:
     * <ul>
     *   <li>standalone ({@code <cluster>false</cluster>}): one {@code redis://[[user]:password@]host:port[/db]},
     *       {@code rediss://...} for TLS (the server certificate checked against the JVM's trust store,
     *       {@code -Djavax.net.ssl.trustStore=...}; {@code ?verifyPeer=NONE} checks nothing, {@code CA} the chain only), or
     *       {@code redis-sentinel://[[user]:password@]sentinel1:26379[,sentinel2:26379...]#mastername} for a master
     *       watched by Sentinel (Lettuce asks the sentinels for the master at every (re)connection; the password
     *       is the master's);</li>
     *   <li>Redis Cluster ({@code <cluster>true</cluster>}): one or more comma-separated seed URLs
     *       {@code redis://...,redis://...}; a bare {@code host:port} seed takes the scheme and credentials of the
     *       first. A Sentinel URL is refused (a cluster has no Sentinel).</li>
     * </ul>
     * Messages never contain a password ({@link #redact}).
     *
     * @throws IllegalArgumentException saying what is wrong: empty, several URLs for a standalone Redis, a Sentinel
     *     URL without {@code #mastername} or with {@code cluster} true, an unsupported scheme or a malformed URL
     */
    public static void checkURL(String redisURL, boolean cluster) {
        parseRedacted(redisURL, cluster, Duration.ofSeconds(1));
    }

    /** {@link #parseUris}, every failure an {@link IllegalArgumentException} without a password in its message. */
    private static List<RedisURI> parseRedacted(String redisURL, boolean cluster, Duration timeout) {
        try {
            return parseUris(redisURL, cluster, timeout);
        } catch (RuntimeException e) { // Lettuce's messages may quote the URL
            throw new IllegalArgumentException(redact(String.valueOf(e.getMessage())));
        }
    }

    /**
     * {@code redisURL} with every password replaced by {@code ****}, e.g. {@code redis://relayguard:****@10.0.0.5:6379}:
     * what logs, the policy summary, the reload diff and error messages show.
     */
    public static String redact(String redisURL) {
        if (redisURL == null) {
            return null;
        }
        Matcher matcher = USER_INFO.matcher(redisURL);
        StringBuilder result = new StringBuilder();
        while (matcher.find()) {
            String userInfo = matcher.group(1);
            int colon = userInfo.indexOf(':');
            String masked = colon < 0 ? "****" : userInfo.substring(0, colon) + ":****";
            matcher.appendReplacement(result, Matcher.quoteReplacement("://" + masked + "@"));
        }
        matcher.appendTail(result);
        return result.toString();
    }

    /** The user info of each URL in a text: after {@code ://}, up to the last {@code @} before the host's {@code /}. */
    private static final Pattern USER_INFO = Pattern.compile("://([^/?#]*)@");

    private static boolean isSentinel(String url) {
        String lower = url.toLowerCase(Locale.ROOT);
        return lower.startsWith("redis-sentinel:") || lower.startsWith("rediss-sentinel:");
    }

    static List<RedisURI> parseUris(String redisURL, boolean cluster, Duration timeout) {
        String text = redisURL.trim();
        if (text.isEmpty()) {
            throw new IllegalArgumentException("no Redis URL");
        }
        if (isSentinel(text)) {
            if (cluster) {
                throw new IllegalArgumentException("a Sentinel URL is for a standalone master watched by Sentinel, "
                    + "not for Redis Cluster: with <cluster>true</cluster> give the masters as redis://host:port seeds "
                    + "(comma-separated), or set <cluster>false</cluster> to use Sentinel");
            }
            int hash = text.indexOf('#');
            RedisURI uri = hash < 0 || text.substring(hash + 1).isBlank() ? null : RedisURI.create(text); // one URL, several sentinels
            if (uri == null || uri.getSentinelMasterId() == null || uri.getSentinelMasterId().isBlank() || uri.getSentinels().isEmpty()) {
                throw new IllegalArgumentException("a Sentinel URL names its sentinels and the master after '#', e.g. "
                    + "redis-sentinel://10.0.0.5:26379,10.0.0.6:26379#mymaster: " + redisURL);
            }
            uri.setTimeout(timeout);
            return List.of(uri);
        }
        List<String> parts = new ArrayList<>();
        for (String part : text.split(",")) {
            if (!part.trim().isEmpty()) {
                parts.add(part.trim());
            }
        }
        if (!cluster && parts.size() > 1) {
            throw new IllegalArgumentException("a standalone Redis takes one URL (several are for a cluster): " + redisURL);
        }
        List<RedisURI> uris = new ArrayList<>(parts.size());
        for (String part : parts) {
            RedisURI uri;
            if (part.contains("://")) {
                uri = RedisURI.create(part);
            } else if (uris.isEmpty()) {
                uri = RedisURI.create("redis://" + part);
            } else { // a bare host:port seed: the first URL's scheme, credentials and options
                RedisURI bare = RedisURI.create("redis://" + part);
                uri = RedisURI.builder(uris.get(0)).withHost(bare.getHost()).withPort(bare.getPort()).build();
            }
            if (isSentinel(part)) {
                throw new IllegalArgumentException("a Sentinel URL cannot be one of several: " + redisURL);
            }
            uri.setTimeout(timeout);
            uris.add(uri);
        }
        return uris;
    }

    private static String describe(List<RedisURI> uris) {
        StringJoiner joiner = new StringJoiner(",");
        for (RedisURI uri : uris) {
            if (uri.getHost() != null) {
                joiner.add(uri.getHost() + ":" + uri.getPort());
            } else if (!uri.getSentinels().isEmpty()) {
                StringJoiner sentinels = new StringJoiner(",");
                uri.getSentinels().forEach(sentinel -> sentinels.add(sentinel.getHost() + ":" + sentinel.getPort()));
                joiner.add(uri.getSentinelMasterId() + " via sentinel " + sentinels);
            } else {
                joiner.add(uri.getSocket() == null ? "?" : uri.getSocket());
            }
        }
        return joiner.toString();
    }
}
