package dev.relayguard.store;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.MemoryAuthState;
import io.lettuce.core.ScriptOutputType;

/**
 * The Redis {@link AuthState}: failed logins, AUTH bans, account throttles and known clients in the Redis of the
 * rate-limit store, so that every James node sharing it sees the same failures. The same rules as
 * {@link MemoryAuthState}, the same answers for the same sequence of calls.
 *
 * <p>Enabled by the Redis rate-limit store in relayguard.xml, nothing more to configure; the limits are those of
 * {@code <authLimits>}:
 * <pre>
 * &lt;rateLimits&gt;
 *   &lt;store&gt;redis&lt;/store&gt;
 *   &lt;redisURL&gt;redis://127.0.0.1:6379&lt;/redisURL&gt;
 * &lt;/rateLimits&gt;
 * </pre>
 *
 * <p><b>One round trip, one Lua script per operation</b> ({@code auth-*.lua}, with {@code auth.lua} in front of
 * each), atomic in Redis. The scripts read the clock of Redis ({@code TIME}, shared by all nodes). Failures are
 * sorted sets of epoch-millisecond scores, the most recent kept; blocks live in two sorted sets by end time
 * ({@code bans}, {@code throttles}), which {@link #bans()} and {@link #throttles()} read. Every key expires
 * ({@code PEXPIRE}) when nothing in it matters any more: failures after their interval, blocks at their end, known
 * clients {@code rememberFor} after their last successful login.
 *
 * <p><b>Keys.</b> Every key starts with {@value #KEY_PREFIX}: one Redis Cluster hash tag, {@code {auth}}, for the
 * whole AUTH state. So each script, {@link #recordFailure} included (it counts for a client and for an account at
 * once), touches keys of one slot, and the bounds hold in Redis too: at most {@code maxTrackedClients} clients and
 * {@code maxTrackedAccounts} accounts in each of two sets (failing or throttled; with known clients), those that
 * matter the shortest forgotten first. The price: with Redis Cluster the AUTH state lives on one master (failed
 * logins are few next to the rate-limit decisions, which keep one hash tag per key).
 *
 * <p><b>Connection.</b> The rate-limit store's ({@link RedisLimiterStore#runScript}): the same URL, timeout and
 * reconnection; {@link #close()} leaves it open (the store's owner closes the store).
 *
 * <p><b>Errors.</b> No method throws: when Redis does not answer within the store's timeout (down, paused,
 * unreachable) the reads answer "nothing known" (not banned, not throttled, not known, no blocks, -1 tracked), the
 * writes count nothing ({@link Failure#NOTHING}, {@link Success#UNKNOWN}), and {@link #healthy()} is false until
 * Redis answers again. One WARN when an incident starts, one INFO when Redis answers again.
 *
 * <p>Differences from {@link MemoryAuthState}, none in the answers of the rules: a reload that changes how many
 * failures are kept keeps the most recent ones (the memory state forgets them); known clients are ordered by their
 * last successful login only; above a bound, the subject that matters the shortest is forgotten first (the memory
 * state forgets the least recently used); {@link #trackedClients()} and {@link #trackedAccounts()} count only what
 * still matters.
 */
public final class RedisAuthState implements AuthState {
    private static final Logger LOGGER = LoggerFactory.getLogger(RedisAuthState.class);

    /** Every key of the AUTH state starts with this; {@code {auth}} is their one Redis Cluster hash tag. */
    public static final String KEY_PREFIX = RedisLimiterStore.KEY_PREFIX + "auth:{auth}:";
    private static final String BANS = KEY_PREFIX + "bans";
    private static final String THROTTLES = KEY_PREFIX + "throttles";
    private static final String CLIENTS = KEY_PREFIX + "clients";
    private static final String ACCOUNTS = KEY_PREFIX + "accounts";
    private static final String KNOWN = KEY_PREFIX + "known";

    private final RedisScript failureScript = RedisScript.resource("auth-failure.lua");
    private final RedisScript successScript = RedisScript.resource("auth-success.lua");
    private final RedisScript knownScript = RedisScript.resource("auth-known.lua");
    private final RedisScript attemptScript = RedisScript.resource("auth-attempt.lua");
    private final RedisScript blockScript = RedisScript.resource("auth-block.lua");
    private final RedisScript blocksScript = RedisScript.resource("auth-blocks.lua");
    private final RedisScript liftScript = RedisScript.resource("auth-lift.lua");
    private final RedisScript trackedScript = RedisScript.resource("auth-tracked.lua");

    private final RedisLimiterStore redis;
    /** Null in production (the scripts read TIME); tests pass a fake clock. */
    private final LongSupplier clock;
    private volatile AuthLimits limits;
    /** True between the first failure of an incident and the next answer: one WARN, then one INFO. */
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * @param redis  the rate-limit store whose Redis connection this state shares
     * @param limits {@code <authLimits>} of relayguard.xml
     */
    public RedisAuthState(RedisLimiterStore redis, AuthLimits limits) {
        this(redis, limits, null);
    }

    /** With {@code clock} non-null the scripts use its time instead of Redis TIME (tests only). */
    RedisAuthState(RedisLimiterStore redis, AuthLimits limits, LongSupplier clock) {
        this.redis = Objects.requireNonNull(redis, "redis");
        this.limits = Objects.requireNonNull(limits, "limits");
        this.clock = clock;
    }

    /** New limits: they travel with each script, so what Redis holds is kept as it is. */
    @Override
    public void reconfigure(AuthLimits newLimits) {
        this.limits = Objects.requireNonNull(newLimits);
    }

    @Override
    public Block banOf(String clientKey) {
        return blockOf("banOf", BANS, clientKey);
    }

    @Override
    public Block throttleOf(String account) {
        return blockOf("throttleOf", THROTTLES, account);
    }

    private Block blockOf(String operation, String blocks, String member) {
        return ask(operation, blockScript, ScriptOutputType.INTEGER, keys(blocks), args(member), null,
            reply -> block(member, number(reply)));
    }

    @Override
    public boolean isKnownClient(String account, String clientKey) {
        String remember = Long.toString(limits.rememberKnownClientsFor().toMillis());
        return ask("isKnownClient", knownScript, ScriptOutputType.INTEGER, keys(KEY_PREFIX + "k:" + account),
            args(clientKey, remember), false, reply -> number(reply) == 1);
    }

    /** One script: the ban, the throttle and the known client read together (one round trip before a password check). */
    @Override
    public Attempt checkAttempt(String clientKey, String account) {
        String remember = Long.toString(limits.rememberKnownClientsFor().toMillis());
        return ask("checkAttempt", attemptScript, ScriptOutputType.MULTI, keys(BANS, THROTTLES, KEY_PREFIX + "k:" + account),
            args(clientKey, account, remember), Attempt.FREE, reply -> blocks(reply, clientKey, account,
                (ban, throttle) -> ban == null && throttle == null ? Attempt.FREE : new Attempt(ban, throttle)));
    }

    @Override
    public Failure recordFailure(String clientKey, String account) {
        AuthLimits current = limits;
        String[] keys = keys(KEY_PREFIX + "c:" + clientKey, BANS, CLIENTS, KEY_PREFIX + "a:" + account, THROTTLES, ACCOUNTS,
            KEY_PREFIX + "cs:" + clientKey, KEY_PREFIX + "as:" + account);
        String[] args = args(
            clientKey, Integer.toString(current.clientBan().failures()), Integer.toString(current.clientBan().failures()),
            millis(current.clientBan().within()), millis(current.clientBan().blockFor()),
            Integer.toString(current.maxTrackedClients()),
            account, Integer.toString(current.accountHistory()), Integer.toString(current.accountThrottle().failures()),
            millis(current.accountThrottle().within()), millis(current.accountThrottle().blockFor()),
            Integer.toString(current.maxTrackedAccounts()));
        return ask("recordFailure", failureScript, ScriptOutputType.MULTI, keys, args, Failure.NOTHING, reply -> blocks(reply,
            clientKey, account, (ban, throttle) -> ban == null && throttle == null ? Failure.NOTHING : new Failure(ban, throttle)));
    }

    /** A script's {@code {banEnd, throttleEnd}} reply (0: none) as the client's and the account's blocks. */
    private static <T> T blocks(Object reply, String clientKey, String account, BiFunction<Block, Block, T> answer) {
        List<?> ends = (List<?>) reply;
        return answer.apply(block(clientKey, number(ends.get(0))), block(account, number(ends.get(1))));
    }

    @Override
    public Success recordSuccess(String account, String clientKey) {
        AuthLimits current = limits;
        String[] keys = keys(KEY_PREFIX + "k:" + account, KNOWN, KEY_PREFIX + "a:" + account);
        String[] args = args(account, clientKey, millis(current.rememberKnownClientsFor()),
            Integer.toString(current.knownClientsPerAccount()), Integer.toString(current.maxTrackedAccounts()),
            millis(current.accountThrottle().within()), Integer.toString(current.accountHistory()));
        return ask("recordSuccess", successScript, ScriptOutputType.MULTI, keys, args, Success.UNKNOWN, reply -> {
            List<?> answer = (List<?>) reply;
            return new Success(number(answer.get(0)) == 1, Math.toIntExact(number(answer.get(1))));
        });
    }

    @Override
    public List<Block> bans() {
        return blocks("bans", BANS);
    }

    @Override
    public List<Block> throttles() {
        return blocks("throttles", THROTTLES);
    }

    private List<Block> blocks(String operation, String blocks) {
        return ask(operation, blocksScript, ScriptOutputType.MULTI, keys(blocks), args(), Collections.emptyList(), reply -> {
            List<?> flat = (List<?>) reply;
            List<Block> result = new ArrayList<>(flat.size() / 2);
            for (int i = 0; i + 1 < flat.size(); i += 2) {
                result.add(new Block(String.valueOf(flat.get(i)), number(flat.get(i + 1))));
            }
            return result;
        });
    }

    @Override
    public boolean liftBan(String clientKey) {
        return lift("liftBan", BANS, KEY_PREFIX + "c:" + clientKey, CLIENTS, clientKey, KEY_PREFIX + "cs:" + clientKey);
    }

    @Override
    public boolean liftThrottle(String account) {
        return lift("liftThrottle", THROTTLES, KEY_PREFIX + "a:" + account, ACCOUNTS, account, KEY_PREFIX + "as:" + account);
    }

    private boolean lift(String operation, String blocks, String failures, String tracked, String member, String spent) {
        return ask(operation, liftScript, ScriptOutputType.INTEGER, keys(blocks, failures, tracked, spent), args(member), false,
            reply -> number(reply) == 1);
    }

    /** The clients failing or banned now (those whose failures or ban still matter); -1 when Redis does not answer. */
    @Override
    public long trackedClients() {
        return ask("trackedClients", trackedScript, ScriptOutputType.INTEGER, keys(CLIENTS), args(), -1L, RedisAuthState::number);
    }

    /** The larger of the accounts failing or throttled and those with known clients; -1 when Redis does not answer. */
    @Override
    public long trackedAccounts() {
        return ask("trackedAccounts", trackedScript, ScriptOutputType.INTEGER, keys(ACCOUNTS, KNOWN), args(), -1L,
            RedisAuthState::number);
    }

    /** False from a call Redis did not answer until the next one it answers. */
    @Override
    public boolean healthy() {
        return !failing.get();
    }

    @Override
    public String kind() {
        return "redis";
    }

    /** Stops using the store's connection (without closing it); afterwards every call answers "nothing known". */
    @Override
    public void close() {
        closed = true;
    }

    // ----- one script call; "nothing known" when Redis does not answer -----

    private <T> T ask(String operation, RedisScript script, ScriptOutputType type, String[] keys, String[] args,
                      T nothingKnown, Function<Object, T> read) {
        if (closed) {
            return nothingKnown;
        }
        T answer;
        try {
            answer = read.apply(redis.runScript(script, type, keys, args));
        } catch (RuntimeException e) {
            failed(operation, e);
            return nothingKnown;
        }
        if (failing.get() && failing.compareAndSet(true, false)) {
            LOGGER.info("Redis AUTH state {} answers again", redis.description());
        }
        return answer;
    }

    private void failed(String operation, RuntimeException error) {
        if (failing.compareAndSet(false, true)) {
            LOGGER.warn("Redis AUTH state failed ({}): {}. Until Redis answers again, no failed login is counted and "
                + "nobody is banned or throttled from AUTH (James checks passwords alone); further failures are not "
                + "logged.", operation, error.getMessage());
        } else {
            LOGGER.debug("Redis AUTH state failed ({}): {}", operation, error.getMessage());
        }
    }

    private static String[] keys(String... keys) {
        return keys;
    }

    private String[] args(String... own) {
        return RedisScript.args(clock, KEY_PREFIX, own);
    }

    private static String millis(Duration duration) {
        return Long.toString(duration.toMillis());
    }

    private static Block block(String key, long ends) {
        return ends == 0 ? null : new Block(key, ends);
    }

    private static long number(Object value) {
        if (value instanceof Number) {
            return ((Number) value).longValue();
        }
        throw new IllegalStateException("not an integer: " + value);
    }
}
