package dev.relayguard.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

import javax.imageio.ImageIO;

import dev.relayguard.bench.SmtpThroughput.Options;
import dev.relayguard.bench.SmtpThroughput.RunResult;

/** {@code throughput.png}: plain Java2D, headless. Throughput per round, then James's timers and client round trips. */
final class SmtpThroughputPlot {
    private static final Color[] COLORS = {new Color(0x4C72B0), new Color(0xDD8452), new Color(0x55A868), new Color(0xC44E52)};
    private static final int WIDTH = 2170;
    private static final int HEIGHT = 620;

    private SmtpThroughputPlot() {
    }

    static void draw(Options options, List<RunResult> results, Path file) throws IOException {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
        g.drawString("SMTP throughput and latency, James 3.8.1 stock vs with RelayGuard (load: " + options.loadName() + ")", 20, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString(String.format(Locale.ROOT, "%d clients, %d recipients/msg among %d mailboxes, warm-up %d s, measured %d s per run, "
                + "%d round(s), %d CPUs; timer p99 cumulative since James start", options.clients, options.recipients, options.mailboxes,
            options.warmupSeconds, options.measureSeconds, options.rounds, Runtime.getRuntime().availableProcessors()), 20, 50);
        List<String> variants = options.variants;
        int legendX = 20;
        for (int s = 0; s < variants.size(); s++) {
            g.setColor(COLORS[s % COLORS.length]);
            g.fillRect(legendX, 62, 14, 14);
            g.setColor(Color.BLACK);
            g.drawString(variants.get(s), legendX + 20, 74);
            legendX += 40 + g.getFontMetrics().stringWidth(variants.get(s));
        }

        // Panel 1: messages per second, per round and mean.
        List<String> groups = new ArrayList<>();
        List<double[]> values = new ArrayList<>();
        for (int round = 1; round <= options.rounds; round++) {
            groups.add("round " + round);
            double[] row = new double[variants.size()];
            for (int s = 0; s < variants.size(); s++) {
                row[s] = Double.NaN;
                for (RunResult r : results) {
                    if (r.round == round && r.variant.equals(variants.get(s))) {
                        row[s] = r.messagesPerSecond;
                    }
                }
            }
            values.add(row);
        }
        groups.add("mean");
        values.add(means(results, variants, r -> r.messagesPerSecond));
        panel(g, 20, 95, 560, 500, "Throughput (messages/s accepted)", "msgs/s", groups, values, "%.0f");

        // Panel 2: James's own RCPT and MAIL timers.
        List<String> timerGroups = List.of("SMTP-rcpt mean", "SMTP-rcpt p99", "SMTP-mail mean", "SMTP-mail p99");
        List<double[]> timerValues = List.of(
            means(results, variants, r -> r.timerMean("SMTP-rcpt")),
            means(results, variants, r -> r.timerP99("SMTP-rcpt")),
            means(results, variants, r -> r.timerMean("SMTP-mail")),
            means(results, variants, r -> r.timerP99("SMTP-mail")));
        panel(g, 600, 95, 500, 500, "James's SMTP command timers over JMX (µs)", "µs", timerGroups, timerValues, "%.1f");

        // Panel 3: client round trips.
        List<String> clientGroups = List.of("RCPT mean", "RCPT p99", "MAIL mean", "DATA end mean");
        List<double[]> clientValues = List.of(
            means(results, variants, r -> r.clientRcpt.meanMicros),
            means(results, variants, r -> r.clientRcpt.p99Micros),
            means(results, variants, r -> r.clientMail.meanMicros),
            means(results, variants, r -> r.clientData.meanMicros));
        panel(g, 1120, 95, 510, 500, "Client round-trip times (µs, includes CPU queueing)", "µs", clientGroups, clientValues, "%.0f");

        // Panel 4: James's CPU time per message, from /proc.
        List<String> cpuGroups = List.of("total", "without JIT", "SMTP threads", "spooler");
        List<double[]> cpuValues = List.of(
            means(results, variants, r -> r.jamesCpuMillisPerMessage * 1000),
            means(results, variants, r -> r.cpuMillisPerMessageWithoutJit() * 1000),
            means(results, variants, r -> r.cpuGroup("smtp")),
            means(results, variants, r -> r.cpuGroup("spooler")));
        panel(g, 1650, 95, 500, 500, "James CPU time per message (µs, /proc)", "µs", cpuGroups, cpuValues, "%.0f");
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    private static double[] means(List<RunResult> results, List<String> variants, Function<RunResult, Double> f) {
        double[] row = new double[variants.size()];
        for (int s = 0; s < variants.size(); s++) {
            row[s] = SmtpThroughputReport.mean(results, variants.get(s), f);
        }
        return row;
    }

    private static void panel(Graphics2D g, int x, int y, int w, int h, String title, String unit, List<String> groups,
                              List<double[]> values, String format) {
        Font plain = new Font(Font.SANS_SERIF, Font.PLAIN, 11);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.setColor(Color.BLACK);
        g.drawString(title, x + 10, y + 15);
        g.setFont(plain);
        int left = x + 60;
        int right = x + w - 10;
        int top = y + 40;
        int bottom = y + h - 40;
        double max = 0;
        for (double[] row : values) {
            for (double v : row) {
                if (!Double.isNaN(v)) {
                    max = Math.max(max, v);
                }
            }
        }
        double step = niceStep(max <= 0 ? 1 : max * 1.15 / 5);
        double top_value = Math.ceil((max <= 0 ? 1 : max * 1.15) / step) * step;
        FontMetrics metrics = g.getFontMetrics();
        g.setStroke(new BasicStroke(1f));
        for (double tick = 0; tick <= top_value + step / 2; tick += step) {
            int ty = bottom - (int) Math.round(tick / top_value * (bottom - top));
            g.setColor(new Color(0xE6E6E6));
            g.drawLine(left, ty, right, ty);
            g.setColor(Color.DARK_GRAY);
            String label = step >= 1 ? String.format(Locale.ROOT, "%.0f", tick) : String.format(Locale.ROOT, "%.1f", tick);
            g.drawString(label, left - 6 - metrics.stringWidth(label), ty + 4);
        }
        g.setColor(Color.BLACK);
        g.drawLine(left, top, left, bottom);
        g.drawLine(left, bottom, right, bottom);
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(unit, -(top + bottom) / 2 - metrics.stringWidth(unit) / 2, x + 14);
        rotated.dispose();
        int groupWidth = (right - left) / Math.max(1, groups.size());
        for (int i = 0; i < groups.size(); i++) {
            double[] row = values.get(i);
            int gx = left + i * groupWidth;
            int barWidth = Math.max(4, (groupWidth - 20) / Math.max(1, row.length));
            for (int s = 0; s < row.length; s++) {
                if (Double.isNaN(row[s])) {
                    continue;
                }
                int bh = (int) Math.round(row[s] / top_value * (bottom - top));
                int bx = gx + 10 + s * barWidth;
                g.setColor(COLORS[s % COLORS.length]);
                g.fillRect(bx, bottom - bh, barWidth - 2, bh);
                g.setColor(Color.BLACK);
                String label = String.format(Locale.ROOT, format, row[s]);
                Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 10);
                g.setFont(small);
                int lw = g.getFontMetrics().stringWidth(label);
                g.drawString(label, bx + (barWidth - 2 - lw) / 2, bottom - bh - 3);
                g.setFont(plain);
            }
            String name = groups.get(i);
            g.drawString(name, gx + (groupWidth - metrics.stringWidth(name)) / 2, bottom + 16);
        }
    }

    private static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double normalized = raw / magnitude;
        double nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 2.5 ? 2.5 : normalized <= 5 ? 5 : 10;
        return nice * magnitude;
    }
}
