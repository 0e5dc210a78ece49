-- RedisLimiterBenchmark's anchor: one EVALSHA that does nothing (a bare round trip through the store's connection).
return 1
