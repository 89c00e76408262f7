package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code {% macro %}} (or the body of a {@code {% call %}} block, as {@code caller}): called with Python-style
 * arguments, it renders its body in a new frame over the frame it was defined in and returns the text. Extra
 * positional arguments are {@code varargs}, extra keyword arguments {@code kwargs}; missing ones are undefined.
 */
final class Macro implements PyCallable {
    private final String name;
    private final List<String> params;
    private final List<Node.Expr> defaults; // for the last defaults.size() params
    private final List<Node.Stmt> body;
    private final Frame closure;

    Macro(String name, List<String> params, List<Node.Expr> defaults, List<Node.Stmt> body, Frame closure) {
        this.name = name;
        this.params = params;
        this.defaults = defaults;
        this.body = body;
        this.closure = closure;
    }

    @Override
    public Object call(List<Object> args, Map<String, Object> kwargs) {
        Frame f = new Frame(closure);
        Map<String, Object> extraKw = new LinkedHashMap<>(kwargs);
        int firstDefault = params.size() - defaults.size();
        for (int i = 0; i < params.size(); i++) {
            String p = params.get(i);
            if (i < args.size()) {
                if (extraKw.containsKey(p)) throw TemplateException.type("macro '" + name + "' got multiple values for argument '" + p + "'");
                f.set(p, args.get(i));
            } else if (extraKw.containsKey(p)) {
                f.set(p, extraKw.remove(p));
            } else if (i >= firstDefault) {
                f.set(p, defaults.get(i - firstDefault).eval(f));
            } else {
                f.set(p, Undefined.withHint("parameter '" + p + "' was not provided"));
            }
        }
        if (!extraKw.containsKey("caller")) f.set("caller", Undefined.withHint("No caller defined"));
        else f.set("caller", extraKw.remove("caller"));
        f.set("varargs", args.size() > params.size() ? PyTuple.of(new ArrayList<>(args.subList(params.size(), args.size()))) : new PyTuple());
        f.set("kwargs", extraKw);
        StringBuilder out = new StringBuilder();
        Node.renderAll(body, f, out);
        return out.toString();
    }

    @Override
    public String toString() {
        return "<Macro '" + name + "'>";
    }
}
