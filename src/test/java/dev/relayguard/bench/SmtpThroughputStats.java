package dev.relayguard.bench;

import java.util.List;

/** Small statistics for the throughput benchmark: mean, spread and a Student-t 95% confidence half-width. */
final class SmtpThroughputStats {
    final int n;
    final double mean;
    final double min;
    final double max;
    /** Sample standard deviation (NaN for fewer than two values). */
    final double sd;
    /** Half-width of the two-sided 95% confidence interval of the mean (NaN for fewer than two values). */
    final double ci95;

    private SmtpThroughputStats(int n, double mean, double min, double max, double sd, double ci95) {
        this.n = n;
        this.mean = mean;
        this.min = min;
        this.max = max;
        this.sd = sd;
        this.ci95 = ci95;
    }

    static SmtpThroughputStats of(List<Double> values) {
        double[] finite = values.stream().filter(v -> v != null && !v.isNaN() && !v.isInfinite())
            .mapToDouble(Double::doubleValue).toArray();
        int n = finite.length;
        if (n == 0) {
            return new SmtpThroughputStats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : finite) {
            sum += v;
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        double mean = sum / n;
        if (n < 2) {
            return new SmtpThroughputStats(n, mean, min, max, Double.NaN, Double.NaN);
        }
        double squares = 0;
        for (double v : finite) {
            squares += (v - mean) * (v - mean);
        }
        double sd = Math.sqrt(squares / (n - 1));
        return new SmtpThroughputStats(n, mean, min, max, sd, t95(n - 1) * sd / Math.sqrt(n));
    }

    /** Relative spread (max - min) / mean. */
    double relativeSpread() {
        return (max - min) / mean;
    }

    /** Two-sided 95% Student t quantile. */
    static double t95(int degreesOfFreedom) {
        double[] table = {Double.NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
            2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
        if (degreesOfFreedom < table.length) {
            return table[degreesOfFreedom];
        }
        return degreesOfFreedom < 30 ? 2.06 : degreesOfFreedom < 60 ? 2.02 : 1.98;
    }
}
