package org.qoft4j.data.template;

import java.util.AbstractList;

/** Python's range object: a lazy list of ints that prints as {@code range(start, stop[, step])}. */
final class PyRange extends AbstractList<Object> {
    final long start, stop, step;
    private final int size;

    PyRange(long start, long stop, long step, int size) {
        this.start = start;
        this.stop = stop;
        this.step = step;
        this.size = size;
    }

    @Override
    public Object get(int index) {
        if (index < 0 || index >= size) throw new IndexOutOfBoundsException(index);
        return start + index * step;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String toString() {
        return "range(" + start + ", " + stop + (step != 1 ? ", " + step : "") + ")";
    }
}
