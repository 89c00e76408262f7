package org.qoft4j.gguf;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * One GGUF metadata value. Java forms: integers of every width as {@link Long} (UINT64 as its raw 64 bits), FLOAT32
 * as {@link Float}, FLOAT64 as {@link Double}, BOOL as {@link Boolean}, STRING as {@link String}; an ARRAY is an
 * unmodifiable {@link List} of its elements in those forms (an array of arrays holds {@link GgufValue}s).
 *
 * @param elementType the type of an ARRAY's elements; null for other types
 */
public record GgufValue(GgufValueType type, Object value, GgufValueType elementType) {
    public GgufValue {
        if (type == null || value == null) throw new IllegalArgumentException("a GGUF value needs a type and a value");
        if ((type == GgufValueType.ARRAY) != (elementType != null))
            throw new IllegalArgumentException("an element type is given for arrays, and only for arrays (" + type + ", " + elementType + ")");
        if (type == GgufValueType.ARRAY) {
            if (!(value instanceof List<?> list)) throw new IllegalArgumentException("an ARRAY value is a List, got " + value.getClass().getName());
            List<Object> copy = new ArrayList<>(list.size());
            for (Object o : list) {
                check(elementType, o);
                copy.add(o);
            }
            value = Collections.unmodifiableList(copy);
        } else {
            check(type, value);
        }
    }

    private static void check(GgufValueType t, Object v) {
        boolean ok = switch (t) {
            case UINT8 -> v instanceof Long l && l >= 0 && l <= 0xFFL;
            case INT8 -> v instanceof Long l && l >= Byte.MIN_VALUE && l <= Byte.MAX_VALUE;
            case UINT16 -> v instanceof Long l && l >= 0 && l <= 0xFFFFL;
            case INT16 -> v instanceof Long l && l >= Short.MIN_VALUE && l <= Short.MAX_VALUE;
            case UINT32 -> v instanceof Long l && l >= 0 && l <= 0xFFFF_FFFFL;
            case INT32 -> v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE;
            case UINT64, INT64 -> v instanceof Long;
            case FLOAT32 -> v instanceof Float;
            case FLOAT64 -> v instanceof Double;
            case BOOL -> v instanceof Boolean;
            case STRING -> v instanceof String;
            case ARRAY -> v instanceof GgufValue g && g.type == GgufValueType.ARRAY;
        };
        if (!ok) throw new IllegalArgumentException("value " + v + " (" + (v == null ? "null" : v.getClass().getSimpleName()) + ") is not a valid " + t);
    }

    public static GgufValue uint8(long v) {
        return new GgufValue(GgufValueType.UINT8, v, null);
    }

    public static GgufValue int8(long v) {
        return new GgufValue(GgufValueType.INT8, v, null);
    }

    public static GgufValue uint16(long v) {
        return new GgufValue(GgufValueType.UINT16, v, null);
    }

    public static GgufValue int16(long v) {
        return new GgufValue(GgufValueType.INT16, v, null);
    }

    public static GgufValue uint32(long v) {
        return new GgufValue(GgufValueType.UINT32, v, null);
    }

    public static GgufValue int32(long v) {
        return new GgufValue(GgufValueType.INT32, v, null);
    }

    public static GgufValue uint64(long v) {
        return new GgufValue(GgufValueType.UINT64, v, null);
    }

    public static GgufValue int64(long v) {
        return new GgufValue(GgufValueType.INT64, v, null);
    }

    public static GgufValue float32(float v) {
        return new GgufValue(GgufValueType.FLOAT32, v, null);
    }

    public static GgufValue float64(double v) {
        return new GgufValue(GgufValueType.FLOAT64, v, null);
    }

    public static GgufValue bool(boolean v) {
        return new GgufValue(GgufValueType.BOOL, v, null);
    }

    public static GgufValue string(String v) {
        return new GgufValue(GgufValueType.STRING, v, null);
    }

    public static GgufValue array(GgufValueType elementType, List<?> elements) {
        return new GgufValue(GgufValueType.ARRAY, elements, elementType);
    }

    public static GgufValue strings(List<String> v) {
        return array(GgufValueType.STRING, v);
    }

    public static GgufValue float32s(float[] v) {
        List<Float> l = new ArrayList<>(v.length);
        for (float f : v) l.add(f);
        return array(GgufValueType.FLOAT32, l);
    }

    public static GgufValue int32s(int[] v) {
        List<Long> l = new ArrayList<>(v.length);
        for (int i : v) l.add((long) i);
        return array(GgufValueType.INT32, l);
    }

    public long asLong() {
        if (!type.isInteger()) throw new IllegalStateException("a " + type + " value is not an integer");
        return (Long) value;
    }

    public double asDouble() {
        if (value instanceof Float f) return f;
        if (value instanceof Double d) return d;
        return asLong();
    }

    public String asString() {
        if (type != GgufValueType.STRING) throw new IllegalStateException("a " + type + " value is not a string");
        return (String) value;
    }

    public boolean asBoolean() {
        if (type != GgufValueType.BOOL) throw new IllegalStateException("a " + type + " value is not a bool");
        return (Boolean) value;
    }

    public List<?> asList() {
        if (type != GgufValueType.ARRAY) throw new IllegalStateException("a " + type + " value is not an array");
        return (List<?>) value;
    }

    /** A short text form for listings: arrays show their first {@code maxElements} elements and their length. */
    public String display(int maxElements) {
        if (type == GgufValueType.ARRAY) {
            List<?> l = asList();
            StringBuilder b = new StringBuilder(elementType.name().toLowerCase(Locale.ROOT)).append('[').append(l.size()).append("] [");
            for (int i = 0; i < Math.min(maxElements, l.size()); i++) {
                if (i > 0) b.append(", ");
                Object o = l.get(i);
                b.append(o instanceof String s ? quote(s, 40) : o instanceof GgufValue g ? g.display(maxElements) : o);
            }
            return b.append(l.size() > maxElements ? ", ...]" : "]").toString();
        }
        if (type == GgufValueType.STRING) return quote(asString(), 120);
        if (type == GgufValueType.UINT64) return Long.toUnsignedString(asLong());
        return String.valueOf(value);
    }

    private static String quote(String s, int max) {
        String shown = s.length() > max ? s.substring(0, max) + "..." : s;
        return '"' + shown.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t").replace("\"", "\\\"") + '"'
                + (s.length() > max ? " (" + s.length() + " chars)" : "");
    }
}
