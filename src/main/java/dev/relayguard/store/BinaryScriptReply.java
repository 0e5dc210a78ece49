package dev.relayguard.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.CommandOutput;

/**
 * A script's flat array reply as Redis sent it: integers as {@link Long}, bulk strings as {@code byte[]} (binary
 * safe: {@code acquire.lua} answers with packed counters, which a UTF-8 codec would mangle), nil as null. A reply
 * that is not an array is its one element.
 */
final class BinaryScriptReply extends CommandOutput<String, String, List<Object>> {
    BinaryScriptReply() {
        super(StringCodec.UTF8, new ArrayList<>());
    }

    @Override
    public void set(long integer) {
        output.add(integer);
    }

    @Override
    public void set(ByteBuffer bytes) {
        if (bytes == null) {
            output.add(null);
            return;
        }
        byte[] value = new byte[bytes.remaining()];
        bytes.get(value);
        output.add(value);
    }
}
