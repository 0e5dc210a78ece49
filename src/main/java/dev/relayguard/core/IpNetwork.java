package dev.relayguard.core;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An IPv4 or IPv6 network in CIDR form ({@code 10.0.0.0/8}, {@code 2001:db8::/32}); a bare address is a
 * single-host network. Parsing never touches DNS. An IPv4-mapped IPv6 network ({@code ::ffff:10.0.0.0/104})
 * and an IPv4-mapped IPv6 client are both compared as IPv4, so a dual-stack listener cannot dodge a rule.
 */
public final class IpNetwork {
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");
    private static final byte[] MAPPED_PREFIX = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff};

    private final byte[] network;
    private final int prefixLength;

    private IpNetwork(byte[] network, int prefixLength) {
        this.network = network;
        this.prefixLength = prefixLength;
    }

    /**
     * Parses {@code address[/prefix]}.
     *
     * @throws IllegalArgumentException with a message saying what is wrong (never a DNS lookup)
     */
    public static IpNetwork parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty network");
        }
        String trimmed = text.trim();
        int slash = trimmed.indexOf('/');
        String addressPart = slash < 0 ? trimmed : trimmed.substring(0, slash);
        byte[] address = parseAddressLiteral(addressPart);
        int maxPrefix = address.length * 8;
        int prefix = maxPrefix;
        if (slash >= 0) {
            String prefixPart = trimmed.substring(slash + 1);
            if (!prefixPart.matches("\\d{1,3}")) {
                throw new IllegalArgumentException("prefix length '" + prefixPart + "' is not a number");
            }
            prefix = Integer.parseInt(prefixPart);
            if (prefix > maxPrefix) {
                throw new IllegalArgumentException("prefix length must be 0.." + maxPrefix + ", got " + prefix);
            }
        }
        if (address.length == 16 && isMapped(address) && prefix >= 96) {
            address = Arrays.copyOfRange(address, 12, 16);
            prefix -= 96;
        }
        byte[] masked = mask(address, prefix);
        if (!Arrays.equals(masked, address)) {
            throw new IllegalArgumentException("host bits set: did you mean " + render(masked) + "/" + prefix + "?");
        }
        return new IpNetwork(masked, prefix);
    }

    /** Parses an IPv4 dotted quad or an IPv6 literal into its bytes, without DNS. */
    public static byte[] parseAddressLiteral(String literal) {
        byte[] ipv4 = dottedQuad(literal);
        if (ipv4 != null) {
            return ipv4;
        }
        if (literal.indexOf(':') >= 0 && IPV6_CHARS.matcher(literal).matches()
                && (literal.charAt(0) == ':' || Character.digit(literal.charAt(0), 16) >= 0)) {
            try {
                // Starting with a hex digit or ':' and containing ':', the JDK parses it as an IPv6 literal
                // and fails without any name lookup when it is not one.
                InetAddress parsed = InetAddress.getByName(literal);
                return parsed.getAddress().length == 4 ? mapped(parsed.getAddress()) : parsed.getAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("'" + literal + "' is not an IPv6 address");
            }
        }
        throw new IllegalArgumentException("'" + literal + "' is not an IPv4 or IPv6 address");
    }

    /**
     * The four bytes of a dotted-quad IPv4 literal (RFC 5321 section 4.1.3 {@code IPv4-address-literal}: four
     * {@code Snum} of 0 to 255 in decimal digits, here without leading zeros, which some resolvers read as octal),
     * or null when it is not one. Read without a regex: the mailets parse every mail's remote address.
     */
    private static byte[] dottedQuad(String literal) {
        int length = literal.length();
        if (length < 7 || length > 15) {
            return null;
        }
        byte[] bytes = new byte[4];
        int part = 0;
        int value = 0;
        int digits = 0;
        for (int i = 0; i <= length; i++) {
            char c = i < length ? literal.charAt(i) : '.';
            if (c >= '0' && c <= '9') {
                if (digits > 0 && value == 0) {
                    return null; // a leading zero
                }
                value = value * 10 + (c - '0');
                if (++digits > 3 || value > 255) {
                    return null;
                }
            } else if (c == '.' && digits > 0 && part < 4) {
                bytes[part++] = (byte) value;
                value = 0;
                digits = 0;
            } else {
                return null;
            }
        }
        return part == 4 ? bytes : null;
    }

    /** The address a rule compares: an IPv4-mapped IPv6 address becomes its IPv4 address. */
    public static byte[] comparableBytes(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (address instanceof Inet6Address && isMapped(bytes)) {
            return Arrays.copyOfRange(bytes, 12, 16);
        }
        return bytes;
    }

    public boolean contains(InetAddress address) {
        return address != null && containsBytes(comparableBytes(address));
    }

    /** True when every address of {@code other} is in this network. */
    public boolean covers(IpNetwork other) {
        return other.network.length == network.length
            && other.prefixLength >= prefixLength
            && containsBytes(other.network);
    }

    private boolean containsBytes(byte[] candidate) {
        if (candidate.length != network.length) {
            return false;
        }
        return Arrays.equals(mask(candidate, prefixLength), network);
    }

    public boolean isIpv4() {
        return network.length == 4;
    }

    public int prefixLength() {
        return prefixLength;
    }

    /** The network of {@code address} with its host bits cleared (James's reading of "10.1.2.3/8"). */
    static IpNetwork of(byte[] address, int prefixLength) {
        if (prefixLength < 0 || prefixLength > address.length * 8) {
            throw new IllegalArgumentException("prefix length must be 0.." + address.length * 8 + ", got " + prefixLength);
        }
        byte[] bytes = address.length == 16 && isMapped(address) ? Arrays.copyOfRange(address, 12, 16) : address.clone();
        int prefix = bytes.length == address.length ? prefixLength : Math.max(0, prefixLength - 96);
        return new IpNetwork(mask(bytes, prefix), prefix);
    }

    private static boolean isMapped(byte[] bytes) {
        return bytes.length == 16 && Arrays.equals(Arrays.copyOfRange(bytes, 0, 12), MAPPED_PREFIX);
    }

    private static byte[] mapped(byte[] ipv4) {
        byte[] bytes = Arrays.copyOf(MAPPED_PREFIX, 16);
        System.arraycopy(ipv4, 0, bytes, 12, 4);
        return bytes;
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] masked = address.clone();
        for (int i = 0; i < masked.length; i++) {
            int bitsInThisByte = Math.max(0, Math.min(8, prefix - i * 8));
            masked[i] &= (byte) (0xff << (8 - bitsInThisByte));
        }
        return masked;
    }

    private static String render(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return render(network) + "/" + prefixLength;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IpNetwork && ((IpNetwork) o).prefixLength == prefixLength
            && Arrays.equals(((IpNetwork) o).network, network);
    }

    @Override
    public int hashCode() {
        return Objects.hash(prefixLength, Arrays.hashCode(network));
    }
}
