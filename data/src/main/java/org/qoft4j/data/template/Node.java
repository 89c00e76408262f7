package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The template's syntax tree; expressions evaluate with Python semantics ({@link Py}), statements render into a
 * StringBuilder.
 *
 * <p>Longer than 400 lines because every node type, with how it evaluates or renders, is one small nested class here:
 * the whole tree is one page to read against jinja2's nodes and runtime, and no node type is more than a screen.
 */
final class Node {
    private Node() {
    }

    // ================================================================ expressions

    abstract static class Expr {
        final int line;

        Expr(int line) {
            this.line = line;
        }

        abstract Object eval(Frame f);
    }

    static final class Const extends Expr {
        final Object value;

        Const(int line, Object value) {
            super(line);
            this.value = value;
        }

        @Override
        Object eval(Frame f) {
            return value;
        }
    }

    static final class Name extends Expr {
        final String name;

        Name(int line, String name) {
            super(line);
            this.name = name;
        }

        @Override
        Object eval(Frame f) {
            return f.lookup(name);
        }
    }

    static final class ListLit extends Expr {
        final List<Expr> items;
        final boolean tuple;

        ListLit(int line, List<Expr> items, boolean tuple) {
            super(line);
            this.items = items;
            this.tuple = tuple;
        }

        @Override
        Object eval(Frame f) {
            List<Object> r = new ArrayList<>(items.size());
            for (Expr e : items) r.add(e.eval(f));
            return tuple ? PyTuple.of(r) : r;
        }
    }

    static final class DictLit extends Expr {
        final List<Expr> keys, values;

        DictLit(int line, List<Expr> keys, List<Expr> values) {
            super(line);
            this.keys = keys;
            this.values = values;
        }

        @Override
        Object eval(Frame f) {
            Map<Object, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < keys.size(); i++) {
                Object k = keys.get(i).eval(f);
                if (k instanceof List && !(k instanceof PyTuple) || k instanceof Map) throw TemplateException.type("unhashable type: '" + Py.typeName(k) + "'");
                if (k instanceof Markup mk) k = mk.value;
                Object existing = Py.findKey(m, k);
                m.put(existing == Py.NO_KEY ? k : existing, values.get(i).eval(f));
            }
            return m;
        }
    }

    static final class GetAttr extends Expr {
        final Expr obj;
        final String name;

        GetAttr(int line, Expr obj, String name) {
            super(line);
            this.obj = obj;
            this.name = name;
        }

        @Override
        Object eval(Frame f) {
            return Py.getattr(obj.eval(f), name);
        }
    }

    static final class GetItem extends Expr {
        final Expr obj, key;

        GetItem(int line, Expr obj, Expr key) {
            super(line);
            this.obj = obj;
            this.key = key;
        }

        @Override
        Object eval(Frame f) {
            Object o = obj.eval(f);
            Object k = key.eval(f);
            if (k instanceof Slice s) return slice(o, s); // jinja2 compiles slices to a plain Python subscript
            return Py.getitem(o, k);
        }

        private static Object slice(Object o, Slice s) {
            if (o instanceof Undefined u) throw u.fail();
            if (!(o instanceof List) && !Py.isStr(o)) throw TemplateException.type("'" + Py.typeName(o) + "' object is not subscriptable");
            if (!Slice.boundsOk(s)) throw TemplateException.type("slice indices must be integers or None or have an __index__ method");
            return Py.getitem(o, s);
        }
    }

    static final class SliceExpr extends Expr {
        final Expr start, stop, step;

        SliceExpr(int line, Expr start, Expr stop, Expr step) {
            super(line);
            this.start = start;
            this.stop = stop;
            this.step = step;
        }

        @Override
        Object eval(Frame f) {
            return new Slice(start == null ? null : start.eval(f), stop == null ? null : stop.eval(f), step == null ? null : step.eval(f));
        }
    }

    /** Positional and keyword argument expressions of a call, filter or test. */
    static final class Arguments {
        final List<Expr> args;
        final List<String> kwNames;
        final List<Expr> kwValues;
        final Expr starArgs, starKwargs;

        Arguments(List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr starArgs, Expr starKwargs) {
            this.args = args;
            this.kwNames = kwNames;
            this.kwValues = kwValues;
            this.starArgs = starArgs;
            this.starKwargs = starKwargs;
        }

        static final Arguments NONE = new Arguments(List.of(), List.of(), List.of(), null, null);

        List<Object> positional(Frame f, Object first) {
            List<Object> r = new ArrayList<>(args.size() + 1);
            if (first != NO_FIRST) r.add(first);
            for (Expr e : args) r.add(e.eval(f));
            if (starArgs != null) r.addAll(Py.iterate(starArgs.eval(f)));
            return r;
        }

        Map<String, Object> keywords(Frame f) {
            if (kwNames.isEmpty() && starKwargs == null) return Map.of();
            Map<String, Object> r = new LinkedHashMap<>();
            for (int i = 0; i < kwNames.size(); i++) r.put(kwNames.get(i), kwValues.get(i).eval(f));
            if (starKwargs != null) {
                Object m = starKwargs.eval(f);
                if (!(m instanceof Map<?, ?> map)) throw TemplateException.type("argument after ** must be a mapping, not " + Py.typeName(m));
                for (Map.Entry<?, ?> e : map.entrySet()) r.put(Py.str(e.getKey()), e.getValue());
            }
            return r;
        }
    }

    static final Object NO_FIRST = new Object();

    static final class Call extends Expr {
        final Expr fn;
        final Arguments arguments;

        Call(int line, Expr fn, Arguments arguments) {
            super(line);
            this.fn = fn;
            this.arguments = arguments;
        }

        @Override
        Object eval(Frame f) {
            return callWith(f, null);
        }

        /** Evaluates the call, adding {@code caller} for a {@code {% call %}} block. */
        Object callWith(Frame f, Object caller) {
            Object target = fn.eval(f);
            List<Object> args = arguments.positional(f, NO_FIRST);
            Map<String, Object> kwargs = arguments.keywords(f);
            if (caller != null) {
                kwargs = new LinkedHashMap<>(kwargs);
                kwargs.put("caller", caller);
            }
            return Py.call(target, args, kwargs);
        }
    }

    static final class Filter extends Expr {
        final Expr value; // null inside {% filter %} and {% set x | f %}: the block's text
        final String name;
        final Arguments arguments;

        Filter(int line, Expr value, String name, Arguments arguments) {
            super(line);
            this.value = value;
            this.name = name;
            this.arguments = arguments;
        }

        @Override
        Object eval(Frame f) {
            return apply(f, value.eval(f));
        }

        /** Applies this filter chain to a given value (the innermost filter receives it). */
        Object applyChain(Frame f, Object input) {
            Object v = value == null ? input : ((Filter) value).applyChain(f, input);
            return apply(f, v);
        }

        private Object apply(Frame f, Object v) {
            return Filters.apply(name, v, arguments.positional(f, NO_FIRST), arguments.keywords(f), f);
        }
    }

    static final class Test extends Expr {
        final Expr value;
        final String name;
        final Arguments arguments;

        Test(int line, Expr value, String name, Arguments arguments) {
            super(line);
            this.value = value;
            this.name = name;
            this.arguments = arguments;
        }

        @Override
        Object eval(Frame f) {
            return Tests.apply(name, value.eval(f), arguments.positional(f, NO_FIRST), arguments.keywords(f), f);
        }
    }

    static final class BinOp extends Expr {
        final String op;
        final Expr left, right;

        BinOp(int line, String op, Expr left, Expr right) {
            super(line);
            this.op = op;
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Frame f) {
            Object a = left.eval(f), b = right.eval(f);
            return switch (op) {
                case "+" -> Py.add(a, b);
                case "-" -> Py.sub(a, b);
                case "*" -> Py.mul(a, b);
                case "/" -> Py.truediv(a, b);
                case "//" -> Py.floordiv(a, b);
                case "%" -> Py.mod(a, b);
                default -> Py.pow(a, b);
            };
        }
    }

    static final class Concat extends Expr {
        final List<Expr> parts;

        Concat(int line, List<Expr> parts) {
            super(line);
            this.parts = parts;
        }

        @Override
        Object eval(Frame f) {
            StringBuilder sb = new StringBuilder();
            for (Expr e : parts) sb.append(Py.str(e.eval(f)));
            return sb.toString();
        }
    }

    static final class Compare extends Expr {
        final Expr first;
        final List<String> ops;
        final List<Expr> rest;

        Compare(int line, Expr first, List<String> ops, List<Expr> rest) {
            super(line);
            this.first = first;
            this.ops = ops;
            this.rest = rest;
        }

        @Override
        Object eval(Frame f) {
            Object a = first.eval(f);
            for (int i = 0; i < ops.size(); i++) {
                Object b = rest.get(i).eval(f);
                boolean ok = switch (ops.get(i)) {
                    case "==" -> Py.eq(a, b);
                    case "!=" -> !Py.eq(a, b);
                    case "in" -> Py.contains(b, a);
                    case "notin" -> !Py.contains(b, a);
                    default -> Py.compare(ops.get(i), a, b);
                };
                if (!ok) return false;
                a = b;
            }
            return true;
        }
    }

    static final class And extends Expr {
        final Expr left, right;

        And(int line, Expr left, Expr right) {
            super(line);
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Frame f) {
            Object a = left.eval(f);
            return Py.truthy(a) ? right.eval(f) : a;
        }
    }

    static final class Or extends Expr {
        final Expr left, right;

        Or(int line, Expr left, Expr right) {
            super(line);
            this.left = left;
            this.right = right;
        }

        @Override
        Object eval(Frame f) {
            Object a = left.eval(f);
            return Py.truthy(a) ? a : right.eval(f);
        }
    }

    static final class Not extends Expr {
        final Expr value;

        Not(int line, Expr value) {
            super(line);
            this.value = value;
        }

        @Override
        Object eval(Frame f) {
            return !Py.truthy(value.eval(f));
        }
    }

    static final class Unary extends Expr {
        final boolean negate;
        final Expr value;

        Unary(int line, boolean negate, Expr value) {
            super(line);
            this.negate = negate;
            this.value = value;
        }

        @Override
        Object eval(Frame f) {
            Object v = value.eval(f);
            return negate ? Py.neg(v) : Py.pos(v);
        }
    }

    static final class CondExpr extends Expr {
        final Expr test, then, otherwise; // otherwise may be null: undefined

        CondExpr(int line, Expr test, Expr then, Expr otherwise) {
            super(line);
            this.test = test;
            this.then = then;
            this.otherwise = otherwise;
        }

        @Override
        Object eval(Frame f) {
            if (Py.truthy(test.eval(f))) return then.eval(f);
            return otherwise == null ? Undefined.withHint("the inline if-expression on line " + line + " evaluated to false and no else section was defined.")
                    : otherwise.eval(f);
        }
    }

    // ================================================================ statements

    abstract static class Stmt {
        final int line;

        Stmt(int line) {
            this.line = line;
        }

        abstract void render(Frame f, StringBuilder out);
    }

    static void renderAll(List<Stmt> body, Frame f, StringBuilder out) {
        for (Stmt s : body) {
            try {
                s.render(f, out);
            } catch (TemplateException e) {
                throw e.atLine(s.line);
            }
        }
    }

    /** Break and continue travel as exceptions without stack traces. */
    static final class LoopControl extends RuntimeException {
        final boolean isBreak;

        LoopControl(boolean isBreak) {
            super(null, null, false, false);
            this.isBreak = isBreak;
        }
    }

    private static final LoopControl BREAK = new LoopControl(true);
    private static final LoopControl CONTINUE = new LoopControl(false);

    static final class Text extends Stmt {
        final String text;

        Text(int line, String text) {
            super(line);
            this.text = text;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            out.append(text);
            f.state.wrote(out);
        }
    }

    static final class Output extends Stmt {
        final Expr expr;

        Output(int line, Expr expr) {
            super(line);
            this.expr = expr;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            out.append(Py.str(expr.eval(f)));
            f.state.wrote(out);
        }
    }

    static final class If extends Stmt {
        final List<Expr> tests;
        final List<List<Stmt>> bodies;
        final List<Stmt> otherwise;

        If(int line, List<Expr> tests, List<List<Stmt>> bodies, List<Stmt> otherwise) {
            super(line);
            this.tests = tests;
            this.bodies = bodies;
            this.otherwise = otherwise;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            for (int i = 0; i < tests.size(); i++) {
                if (Py.truthy(tests.get(i).eval(f))) {
                    renderAll(bodies.get(i), f, out);
                    return;
                }
            }
            renderAll(otherwise, f, out);
        }
    }

    /** An assignment target: a name, {@code ns.attr}, or a tuple of names. */
    static final class Target {
        final String name;        // single name, or namespace variable for ns.attr
        final String attr;        // ns.attr
        final List<Target> items; // tuple target

        Target(String name, String attr, List<Target> items) {
            this.name = name;
            this.attr = attr;
            this.items = items;
        }

        void assign(Frame f, Object value) {
            if (items != null) {
                List<Object> vs = Py.iterate(value);
                if (vs.size() < items.size())
                    throw TemplateException.value("not enough values to unpack (expected " + items.size() + ", got " + vs.size() + ")");
                if (vs.size() > items.size()) throw TemplateException.value("too many values to unpack (expected " + items.size() + ")");
                for (int i = 0; i < items.size(); i++) items.get(i).assign(f, vs.get(i));
            } else if (attr != null) {
                Object ns = f.lookup(name);
                if (!(ns instanceof Namespace n)) throw new TemplateException("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
                n.attrs.put(attr, value);
            } else {
                f.set(name, value);
            }
        }
    }

    static final class For extends Stmt {
        final Target target;
        final Expr iter, filter;
        final List<Stmt> body, otherwise;

        For(int line, Target target, Expr iter, Expr filter, List<Stmt> body, List<Stmt> otherwise) {
            super(line);
            this.target = target;
            this.iter = iter;
            this.filter = filter;
            this.body = body;
            this.otherwise = otherwise;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            Object seq = iter.eval(f);
            List<Object> items = Py.iterate(seq);
            if (filter != null) {
                List<Object> kept = new ArrayList<>();
                for (Object item : items) {
                    Frame ff = new Frame(f);
                    target.assign(ff, item);
                    if (Py.truthy(filter.eval(ff))) kept.add(item);
                }
                items = kept;
            }
            if (items.isEmpty()) {
                renderAll(otherwise, new Frame(f), out);
                return;
            }
            LoopContext loop = new LoopContext(items, 0); // depth counts recursive calls only, not nesting
            for (int i = 0; i < items.size(); i++) {
                loop.index0 = i;
                Frame it = new Frame(f);
                target.assign(it, items.get(i));
                it.set("loop", loop);
                try {
                    renderAll(body, it, out);
                } catch (LoopControl c) {
                    if (c.isBreak) break;
                }
            }
        }
    }

    static final class Assign extends Stmt {
        final Target target;
        final Expr value;

        Assign(int line, Target target, Expr value) {
            super(line);
            this.target = target;
            this.value = value;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            target.assign(f, value.eval(f));
        }
    }

    static final class AssignBlock extends Stmt {
        final Target target;
        final Filter filter; // may be null
        final List<Stmt> body;

        AssignBlock(int line, Target target, Filter filter, List<Stmt> body) {
            super(line);
            this.target = target;
            this.filter = filter;
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            StringBuilder sb = new StringBuilder();
            renderAll(body, new Frame(f), sb);
            Object v = sb.toString();
            if (filter != null) v = filter.applyChain(f, v);
            target.assign(f, v);
        }
    }

    static final class MacroDef extends Stmt {
        final String name;
        final List<String> params;
        final List<Expr> defaults;
        final List<Stmt> body;

        MacroDef(int line, String name, List<String> params, List<Expr> defaults, List<Stmt> body) {
            super(line);
            this.name = name;
            this.params = params;
            this.defaults = defaults;
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            f.set(name, new Macro(name, params, defaults, body, f));
        }
    }

    static final class CallBlock extends Stmt {
        final Call call;
        final List<String> params;
        final List<Expr> defaults;
        final List<Stmt> body;

        CallBlock(int line, Call call, List<String> params, List<Expr> defaults, List<Stmt> body) {
            super(line);
            this.call = call;
            this.params = params;
            this.defaults = defaults;
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            out.append(Py.str(call.callWith(f, new Macro("caller", params, defaults, body, f))));
            f.state.wrote(out);
        }
    }

    static final class FilterBlock extends Stmt {
        final Filter filter;
        final List<Stmt> body;

        FilterBlock(int line, Filter filter, List<Stmt> body) {
            super(line);
            this.filter = filter;
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            StringBuilder sb = new StringBuilder();
            Frame inner = new Frame(f);
            renderAll(body, inner, sb);
            out.append(Py.str(filter.applyChain(inner, sb.toString())));
        }
    }

    static final class With extends Stmt {
        final List<Target> targets;
        final List<Expr> values;
        final List<Stmt> body;

        With(int line, List<Target> targets, List<Expr> values, List<Stmt> body) {
            super(line);
            this.targets = targets;
            this.values = values;
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            Frame inner = new Frame(f);
            for (int i = 0; i < targets.size(); i++) targets.get(i).assign(inner, values.get(i).eval(f));
            renderAll(body, inner, out);
        }
    }

    /**
     * transformers' {@code {% generation %}} (AssistantTracker): a call block whose body renders as is, in its own
     * scope, and whose span is recorded as transformers records it: from the length of the top-level output so far,
     * as long as the body's text (even inside a macro, where that offset is not where the text lands), and only once
     * something was written at the top level or a span was recorded (transformers' is_active()).
     */
    static final class Generation extends Stmt {
        final List<Stmt> body;

        Generation(int line, List<Stmt> body) {
            super(line);
            this.body = body;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            StringBuilder text = new StringBuilder();
            renderAll(body, new Frame(f), text);
            Frame.RenderState st = f.state;
            if (st.rootWrites > 0 || !st.generationSpans.isEmpty()) st.generationSpans.add(new int[] {st.root.length(), st.root.length() + text.length()});
            out.append(text);
            st.wrote(out);
        }
    }

    static final class LoopJump extends Stmt {
        final boolean isBreak;

        LoopJump(int line, boolean isBreak) {
            super(line);
            this.isBreak = isBreak;
        }

        @Override
        void render(Frame f, StringBuilder out) {
            throw isBreak ? BREAK : CONTINUE;
        }
    }
}
