package org.qoft4j.data.template;

import java.util.HashMap;
import java.util.Map;

/**
 * One variable scope. jinja2's scoping, which chat templates depend on: a {@code {% for %}} iteration, a macro call,
 * a {@code {% set %}...{% endset %}} body and a {@code {% with %}} block each get a new frame, so {@code {% set %}}
 * inside them never changes the enclosing scope (templates use {@code namespace()} for that); {@code {% if %}}
 * does not. Lookups fall through to the enclosing frames, then the render context, then the globals.
 */
final class Frame {
    private final Map<String, Object> vars;
    private final Frame parent;
    final RenderState state;

    Frame(Frame parent) {
        this.parent = parent;
        this.vars = new HashMap<>();
        this.state = parent.state;
    }

    /** A frame over a given map (the render context, the globals) with the render's state. */
    Frame(Frame parent, Map<String, Object> vars, RenderState state) {
        this.parent = parent;
        this.vars = vars;
        this.state = state;
    }

    /** Per-render state: the template's top-level output and what {@code {% generation %}} blocks recorded. */
    static final class RenderState {
        final StringBuilder root = new StringBuilder();
        /** Output statements that wrote to the top level so far (jinja2's yielded blocks, empty ones included). */
        int rootWrites;
        final java.util.List<int[]> generationSpans = new java.util.ArrayList<>();

        void wrote(StringBuilder out) {
            if (out == root) rootWrites++;
        }
    }

    Object lookup(String name) {
        for (Frame f = this; f != null; f = f.parent) {
            Object v = f.vars.get(name);
            if (v != null || f.vars.containsKey(name)) return v;
        }
        return Undefined.variable(name);
    }

    void set(String name, Object value) {
        vars.put(name, value);
    }
}
