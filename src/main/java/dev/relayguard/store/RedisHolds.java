package dev.relayguard.store;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.core.Holds;
import io.lettuce.core.ScriptOutputType;

/**
 * The Redis {@link Holds}: probe bans ({@link #PROBE_BANS}) and senders' suspensions ({@link #SUSPENSIONS}) in the
 * Redis of the rate-limit store, so that every James node sharing it refuses a client banned on any node and a user
 * suspended on any node (by its limits, by an operator over JMX, after a suspicious login), and a restart of any node
 * keeps them. The same rule as the memory holds ({@code core.Suspensions}): the same answers
 * for the same sequence of calls.
 *
 * <p>Enabled by the Redis rate-limit store in relayguard.xml, nothing more to configure:
 * <pre>
 * &lt;rateLimits&gt;
 *   &lt;store&gt;redis&lt;/store&gt;
 *   &lt;redisURL&gt;redis://127.0.0.1:6379&lt;/redisURL&gt;
 * &lt;/rateLimits&gt;
 * </pre>
 *
 * <p><b>Keys</b> ({@code holds.lua} describes them): one table per Redis Cluster hash tag,
 * {@code relayguard:hold:{ban}:} and {@code relayguard:hold:{suspension}:}. A hold is one string key,
 * {@code <prefix>k:<key>} = {@code <until>|<reason>}, that expires ({@code PEXPIREAT}) when the hold ends; a sorted
 * set by end lists them; beside it {@code <prefix>s:<key>} = {@code <since>|<until>} keeps when it started, and
 * expires with it (a hold set by an earlier RelayGuard, which kept no start, reads as {@link Hold#START_UNKNOWN}; the
 * value of a hold is unchanged and no new Redis command is used, so that nodes of both versions read each other's holds
 * during a rolling upgrade and the README's ACL line still grants all). Hits are a list per key that expires after the rule's interval. Bounded as in memory: at most
 * {@code maxTracked} keys collecting hits (the one whose hits matter the shortest forgotten first) and, apart,
 * {@code maxHeld} holds (the other hold ending soonest dropped first, of equal ends the least key; the hold being set
 * always stays; counted in Redis, for every node).
 *
 * <p><b>One round trip, one Lua script per operation</b> ({@code hold-*.lua}, with {@code holds.lua} in front), atomic
 * in Redis, on the clock of Redis ({@code TIME}). {@link #holdOf} (at connect and at MAIL) is one EVALSHA of a read.
 * At the MAIL of a sender with message limits, on a standalone Redis, not even that: the message charge reads the
 * sender's suspension in its own script ({@link RedisLimiterStore#acquireUnlessHeld}, {@code hold-read.lua}).
 *
 * <p><b>Errors.</b> As {@link Holds} says: {@link #holdOf} answers {@link Holds#UNAVAILABLE} when Redis does not
 * answer within the store's timeout (the caller applies {@code <onStoreFailure>}), {@link #countHit} counts nothing;
 * {@link #hold}, {@link #lift} and {@link #active} throw {@link IllegalStateException}; the counts answer -1. One WARN
 * when an incident starts, one INFO when Redis answers again. A hold or lift that Redis did not answer in time was
 * sent all the same: a paused Redis may run it when it resumes (the exception's message says so), so the operator
 * lists the holds once Redis answers.
 */
public final class RedisHolds implements Holds {
    private static final Logger LOGGER = LoggerFactory.getLogger(RedisHolds.class);

    /** The table of probe bans: keys are client keys ({@code core.ProbeBans.keyOf}). */
    public static final String PROBE_BANS = "ban";
    /** The table of senders' suspensions: keys are rate subjects ({@code user:<name>}, {@code ip:<address>}). */
    public static final String SUSPENSIONS = "suspension";

    private static final String FOREVER = "-1";
    /** 2^53: from here on a hold's end is kept as "until lifted" (see {@link #hold}). */
    private static final long MAX_EXACT_END = 1L << 53;
    /** The operators' calls that change holds. */
    private static final Set<String> WRITES = Set.of("hold", "lift");

    private final RedisScript ofScript = RedisScript.resource("hold-of.lua");
    private final RedisScript hitScript = RedisScript.resource("hold-hit.lua");
    private final RedisScript setScript = RedisScript.resource("hold-set.lua");
    private final RedisScript liftScript = RedisScript.resource("hold-lift.lua");
    private final RedisScript listScript = RedisScript.resource("hold-list.lua");
    private final RedisScript countScript = RedisScript.resource("hold-count.lua");

    private final RedisLimiterStore redis;
    private final String table;
    private final String prefix;
    /** Null in production (the scripts read TIME); tests pass a fake clock. */
    private final LongSupplier clock;
    private volatile Settings settings;
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * @param redis    the rate-limit store whose Redis connection these holds share (left open by {@link #close})
     * @param table    {@link #PROBE_BANS} or {@link #SUSPENSIONS}
     * @param settings the rule and bounds
     */
    public RedisHolds(RedisLimiterStore redis, String table, Settings settings) {
        this(redis, table, settings, null);
    }

    /** With {@code clock} non-null the scripts use its time instead of Redis TIME (tests only). */
    RedisHolds(RedisLimiterStore redis, String table, Settings settings, LongSupplier clock) {
        this.redis = Objects.requireNonNull(redis, "redis");
        this.table = Objects.requireNonNull(table, "table");
        this.prefix = prefixOf(table);
        this.settings = Objects.requireNonNull(settings, "settings");
        this.clock = clock;
    }

    /** The prefix of every key of a table: {@code relayguard:hold:{<table>}:}. */
    public static String prefixOf(String table) {
        return RedisLimiterStore.KEY_PREFIX + "hold:{" + table + "}:";
    }

    /** The new rule applies from the next hit; the new bounds from the next hit or hold (holds and hits are kept). */
    @Override
    public void reconfigure(Settings newSettings) {
        this.settings = Objects.requireNonNull(newSettings);
    }

    @Override
    public Hold holdOf(String key) {
        Object reply = call("holdOf", ofScript, ScriptOutputType.MULTI, keys(prefix + "k:" + key), args(key));
        if (reply == null) {
            return UNAVAILABLE;
        }
        List<?> answer = (List<?>) reply;
        return answer.isEmpty() ? null : hold(key, answer.get(0), answer.get(1), answer.get(2));
    }

    @Override
    public Hold countHit(String key, String reason) {
        Settings current = settings;
        if (current.hits() == 0) {
            return null;
        }
        Object reply = call("countHit", hitScript, ScriptOutputType.INTEGER, tableKeys(key), args(key, reasonOf(reason),
            Integer.toString(current.hits()), Long.toString(current.withinMillis()), Long.toString(current.holdMillis()),
            Integer.toString(current.maxTracked()), Integer.toString(current.maxHeld())));
        long until = reply == null ? 0 : ((Number) reply).longValue();
        // the hold started with this hit, on the script's clock: its end less holdFor
        return until == 0 ? null : new Hold(key, until - current.holdMillis(), until, reasonOf(reason));
    }

    @Override
    public void hold(String key, long untilMillis, String reason) {
        // Lua numbers are doubles: an end from 2^53 ms on (the year 287396) is exact no more, and PEXPIREAT refuses
        // what it rounds to; such an end means "until lifted".
        String until = untilMillis >= MAX_EXACT_END ? FOREVER : Long.toString(untilMillis);
        demand("hold", setScript, ScriptOutputType.INTEGER, tableKeys(key),
            args(key, until, reasonOf(reason), Integer.toString(settings.maxHeld())));
    }

    @Override
    public boolean lift(String key) {
        Object reply = demand("lift", liftScript, ScriptOutputType.INTEGER, tableKeys(key), args(key));
        return ((Number) reply).longValue() == 1;
    }

    @Override
    public List<Hold> active() {
        List<?> flat = (List<?>) demand("active", listScript, ScriptOutputType.MULTI, keys(prefix + "held", prefix + "tracked"), args());
        List<Hold> result = new ArrayList<>(flat.size() / 4);
        for (int i = 0; i + 3 < flat.size(); i += 4) {
            result.add(hold(String.valueOf(flat.get(i)), flat.get(i + 1), flat.get(i + 2), flat.get(i + 3)));
        }
        return result;
    }

    @Override
    public int trackedCount() {
        List<?> counts = counts();
        return counts == null ? -1 : Math.toIntExact(((Number) counts.get(0)).longValue() + ((Number) counts.get(1)).longValue());
    }

    @Override
    public int heldCount() {
        List<?> counts = counts();
        return counts == null ? -1 : Math.toIntExact(((Number) counts.get(0)).longValue());
    }

    /** Holds dropped early, counted in Redis (every node's); -1 when Redis does not answer. */
    @Override
    public long droppedHolds() {
        List<?> counts = counts();
        return counts == null ? -1 : ((Number) counts.get(2)).longValue();
    }

    private List<?> counts() {
        return (List<?>) call("count", countScript, ScriptOutputType.MULTI,
            keys(prefix + "held", prefix + "tracked", prefix + "dropped"), args());
    }

    @Override
    public boolean healthy() {
        return !failing.get();
    }

    @Override
    public String kind() {
        return "redis " + redis.description() + " " + prefix;
    }

    /** Stops using the store's connection (without closing it); afterwards the SMTP path gets UNAVAILABLE. */
    @Override
    public void close() {
        closed = true;
    }

    // ----- one script call -----

    /** The script's reply, or null when Redis did not answer (logged once per incident). */
    private Object call(String operation, RedisScript script, ScriptOutputType type, String[] keys, String[] args) {
        try {
            return demand(operation, script, type, keys, args);
        } catch (IllegalStateException e) {
            return null;
        }
    }

    /** The script's reply; {@link IllegalStateException} when Redis did not answer (logged once per incident). */
    private Object demand(String operation, RedisScript script, ScriptOutputType type, String[] keys, String[] args) {
        if (closed) {
            throw new IllegalStateException("redis " + redis.description() + ": closed");
        }
        Object reply;
        try {
            reply = redis.runScript(script, type, keys, args);
        } catch (RuntimeException e) {
            if (failing.compareAndSet(false, true)) {
                LOGGER.warn("Redis {} holds failed ({}): {}. Until Redis answers again, <onStoreFailure> decides whether "
                    + "clients and senders are let through unchecked or deferred; further failures are not logged.",
                    table, operation, e.getMessage());
            } else {
                LOGGER.debug("Redis {} holds failed ({}): {}", table, operation, e.getMessage());
            }
            if (WRITES.contains(operation)) { // sent but unanswered: Redis may still run it when it resumes
                throw new IllegalStateException(e.getMessage() + "; the " + operation + " may still take effect if Redis runs it "
                    + "late: list the holds once Redis answers", e);
            }
            throw e instanceof IllegalStateException ? (IllegalStateException) e : new IllegalStateException(e.getMessage(), e);
        }
        if (failing.get() && failing.compareAndSet(true, false)) {
            LOGGER.info("Redis {} holds {} answer again", table, redis.description());
        }
        return reply;
    }

    private String[] tableKeys(String key) {
        return keys(prefix + "k:" + key, prefix + "h:" + key, prefix + "tracked", prefix + "held");
    }

    private static String[] keys(String... keys) {
        return keys;
    }

    private String[] args(String... own) {
        return RedisScript.args(clock, prefix, own);
    }

    private static String reasonOf(String reason) {
        return reason == null ? "" : reason;
    }

    /**
     * A hold as a script answers it ({@code hold-read.lua}'s {@code holdAt}): until (-1: until lifted), reason, since
     * (-1: unknown, {@link Hold#START_UNKNOWN}); until and since as numbers or their text, the reason as text or UTF-8
     * bytes.
     */
    static Hold hold(String key, Object until, Object reason, Object since) {
        String end = text(until);
        return new Hold(key, Long.parseLong(text(since)), FOREVER.equals(end) ? Hold.FOREVER : Long.parseLong(end), text(reason));
    }

    private static String text(Object value) {
        return value instanceof byte[] ? new String((byte[]) value, StandardCharsets.UTF_8) : String.valueOf(value);
    }

    /** True when these holds live in the Redis of {@code store}, on its connection. */
    boolean isKeptIn(RedisLimiterStore store) {
        return redis == store;
    }

    /** The two keys of {@code key}'s hold that {@code hold-read.lua}'s {@code holdAt} reads: its value and its start. */
    String[] keysOf(String key) {
        return new String[] {prefix + "k:" + key, prefix + "s:" + key};
    }
}
