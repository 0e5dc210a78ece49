package dev.relayguard.core;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Compares James's {@code <authorizedAddresses>} with RelayGuard's trusted networks and lists what James
 * trusts and RelayGuard does not: the classic Docker/NAT mistake ({@code 0.0.0.0/0}, {@code 172.16.0.0/12})
 * that turns a server into an open relay. RelayGuard still refuses those clients; this tells the operator.
 *
 * <p>Understands James's formats: {@code 1.2.3.4}, {@code 127.0.0.*}, {@code 10.0.0.0/8},
 * {@code 10.0.0.0/255.0.0.0}, IPv6 literals and CIDR. Host names are reported as unverifiable.
 */
public final class AuthorizedAddressesAudit {
    private static final Pattern SEPARATORS = Pattern.compile("[\\s,]+");

    private AuthorizedAddressesAudit() {
    }

    /** One James entry that RelayGuard does not trust, with the explanation an operator reads. */
    public static final class Mismatch {
        private final String entry;
        private final String explanation;

        Mismatch(String entry, String explanation) {
            this.entry = entry;
            this.explanation = explanation;
        }

        public String entry() {
            return entry;
        }

        public String explanation() {
            return explanation;
        }

        @Override
        public String toString() {
            return entry + " (" + explanation + ")";
        }
    }

    /**
     * @param authorizedAddresses the raw text of James's {@code <authorizedAddresses>} (comma/space separated)
     */
    public static List<Mismatch> mismatches(String authorizedAddresses, TrustedNetworks trusted) {
        List<Mismatch> result = new ArrayList<>();
        if (authorizedAddresses == null || authorizedAddresses.isBlank()) {
            return result;
        }
        for (String entry : SEPARATORS.split(authorizedAddresses.trim())) {
            if (entry.isEmpty()) {
                continue;
            }
            IpNetwork network;
            try {
                network = toNetwork(entry);
            } catch (IllegalArgumentException e) {
                result.add(new Mismatch(entry, "not an address RelayGuard can compare (" + e.getMessage() + ")"));
                continue;
            }
            if (!trusted.covers(network)) {
                result.add(new Mismatch(entry, "James lets it relay, RelayGuard does not trust it and will refuse its relaying"));
            }
        }
        return result;
    }

    static IpNetwork toNetwork(String entry) {
        if (entry.contains("*")) {
            return wildcard(entry);
        }
        int slash = entry.indexOf('/');
        if (slash > 0 && entry.substring(slash + 1).contains(".")) {
            return netmask(entry.substring(0, slash), entry.substring(slash + 1));
        }
        IpNetwork parsed;
        try {
            parsed = IpNetwork.parse(entry);
        } catch (IllegalArgumentException e) {
            // James masks host bits itself ("10.1.2.3/8" means 10.0.0.0/8); so do we when comparing.
            if (slash > 0) {
                byte[] address = IpNetwork.parseAddressLiteral(entry.substring(0, slash));
                return IpNetwork.of(address, Integer.parseInt(entry.substring(slash + 1)));
            }
            throw e;
        }
        return parsed;
    }

    private static IpNetwork wildcard(String entry) {
        String[] parts = entry.split("\\.", -1);
        StringBuilder base = new StringBuilder();
        int prefix = 0;
        boolean wild = false;
        for (int i = 0; i < 4; i++) {
            String part = i < parts.length ? parts[i] : "*";
            if (part.equals("*") || wild) {
                wild = true;
                part = "0";
            } else {
                prefix += 8;
            }
            base.append(i == 0 ? "" : ".").append(part);
        }
        return IpNetwork.parse(base + "/" + prefix);
    }

    private static IpNetwork netmask(String address, String mask) {
        byte[] maskBytes = IpNetwork.parseAddressLiteral(mask);
        int prefix = 0;
        for (byte b : maskBytes) {
            prefix += Integer.bitCount(b & 0xff);
        }
        return IpNetwork.of(IpNetwork.parseAddressLiteral(address), prefix);
    }
}
