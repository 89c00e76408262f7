package org.qoft4j.data.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.qoft4j.data.template.Lexer.Token;
import org.qoft4j.data.template.Lexer.Type;
import org.qoft4j.data.template.Node.Arguments;
import org.qoft4j.data.template.Node.Expr;
import org.qoft4j.data.template.Node.Stmt;
import org.qoft4j.data.template.Node.Target;

/**
 * jinja2's grammar (jinja2/parser.py) over the lexer's tokens: statements for, if/elif/else, set (also as a block
 * and on {@code ns.attr}), macro, call, filter, with, break/continue (loopcontrols) and transformers'
 * generation block; expressions with jinja2's precedence (if-else &lt; or &lt; and &lt; not &lt; comparisons and
 * in &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary - + &lt; postfix . [] () | is).
 *
 * <p>Longer than 400 lines because it follows jinja2/parser.py rule by rule, in one place, so the two can be read
 * side by side when a template parses differently.
 */
final class Parser {
    private final List<Token> tokens;
    private int p;
    private boolean sawGeneration;

    private Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Stmt> parse(String source) {
        return parseTemplate(source).body();
    }

    /** A parsed template and whether it has {@code {% generation %}} blocks anywhere (macros included). */
    record Parsed(List<Stmt> body, boolean hasGeneration) {}

    static Parsed parseTemplate(String source) {
        Parser parser = new Parser(Lexer.tokenize(source));
        List<Stmt> body = parser.subparse(null);
        if (parser.cur().type != Type.EOF) throw parser.fail("unexpected " + parser.cur());
        return new Parsed(body, parser.sawGeneration);
    }

    // ---------------------------------------------------------------- token stream

    private Token cur() {
        return tokens.get(p);
    }

    private Token look() {
        return tokens.get(Math.min(p + 1, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(p);
        if (t.type != Type.EOF) p++;
        return t;
    }

    private TemplateException fail(String msg) {
        return TemplateException.syntax(msg, cur().line);
    }

    private boolean skipOp(String op) {
        if (cur().isOp(op)) {
            p++;
            return true;
        }
        return false;
    }

    private boolean skipName(String name) {
        if (cur().isName(name)) {
            p++;
            return true;
        }
        return false;
    }

    private Token expectOp(String op) {
        if (!cur().isOp(op)) throw fail("expected token '" + op + "', got " + cur());
        return next();
    }

    private Token expectName() {
        if (cur().type != Type.NAME) throw fail("expected token 'name', got " + cur());
        return next();
    }

    private void expectName(String name) {
        if (!cur().isName(name)) throw fail("expected token '" + name + "', got " + cur());
        next();
    }

    private void expect(Type type) {
        if (cur().type != type) {
            String want = type == Type.BLOCK_END ? "end of statement block" : type == Type.VAR_END ? "end of print statement" : type.toString();
            throw fail("expected token '" + want + "', got " + cur());
        }
        next();
    }

    // ---------------------------------------------------------------- statements

    /** Template body up to (not consuming) a block whose tag name is in endTags; null: to the end. */
    private List<Stmt> subparse(Set<String> endTags) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Token t = cur();
            switch (t.type) {
                case DATA -> {
                    next();
                    body.add(new Node.Text(t.line, t.text));
                }
                case VAR_BEGIN -> {
                    next();
                    body.add(new Node.Output(t.line, parseTuple(false, true, null, false)));
                    expect(Type.VAR_END);
                }
                case BLOCK_BEGIN -> {
                    next();
                    if (endTags != null && cur().type == Type.NAME && endTags.contains(cur().text)) return body;
                    body.add(parseStatement());
                    expect(Type.BLOCK_END);
                }
                case EOF -> {
                    if (endTags != null) throw fail("Unexpected end of template. Jinja was looking for the following tags: " + String.join(" or ", endTags) + ".");
                    return body;
                }
                default -> throw fail("unexpected " + t);
            }
        }
    }

    /** A block's body up to one of endTags; dropNeedle consumes the end tag's name. */
    private List<Stmt> parseStatements(Set<String> endTags, boolean dropNeedle) {
        skipOp(":");
        expect(Type.BLOCK_END);
        List<Stmt> body = subparse(endTags);
        if (dropNeedle) next();
        return body;
    }

    private Stmt parseStatement() {
        Token t = cur();
        if (t.type != Type.NAME) throw fail("tag name expected");
        return switch (t.text) {
            case "for" -> parseFor();
            case "if" -> parseIf();
            case "set" -> parseSet();
            case "macro" -> parseMacro();
            case "call" -> parseCallBlock();
            case "filter" -> parseFilterBlock();
            case "with" -> parseWith();
            case "break", "continue" -> {
                next();
                yield new Node.LoopJump(t.line, t.text.equals("break"));
            }
            case "generation" -> {
                next();
                sawGeneration = true;
                yield new Node.Generation(t.line, parseStatements(Set.of("endgeneration"), true));
            }
            case "block", "extends", "include", "import", "from", "autoescape", "do" ->
                    throw fail("the '" + t.text + "' tag is not supported in chat templates");
            default -> throw fail("Encountered unknown tag '" + t.text + "'.");
        };
    }

    private Stmt parseFor() {
        int line = next().line;
        Target target = parseAssignTarget(true, false, Set.of("in"));
        expectName("in");
        Expr iter = parseTuple(false, false, Set.of("recursive"), false);
        Expr filter = skipName("if") ? parseExpression(true) : null;
        if (skipName("recursive")) throw fail("recursive for loops are not supported");
        List<Stmt> body = parseStatements(Set.of("endfor", "else"), false);
        List<Stmt> otherwise = List.of();
        if (next().text.equals("else")) otherwise = parseStatements(Set.of("endfor"), true);
        return new Node.For(line, target, iter, filter, body, otherwise);
    }

    private Stmt parseIf() {
        int line = next().line;
        List<Expr> tests = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> otherwise = List.of();
        while (true) {
            tests.add(parseTuple(false, false, null, false));
            bodies.add(parseStatements(Set.of("elif", "else", "endif"), false));
            Token t = next();
            if (t.isName("elif")) continue;
            if (t.isName("else")) otherwise = parseStatements(Set.of("endif"), true);
            break;
        }
        return new Node.If(line, tests, bodies, otherwise);
    }

    private Stmt parseSet() {
        int line = next().line;
        Target target = parseAssignTarget(true, true, null);
        if (skipOp("=")) return new Node.Assign(line, target, parseTuple(false, true, null, false));
        Node.Filter filter = cur().isOp("|") ? (Node.Filter) parseFilter(null, false) : null;
        List<Stmt> body = parseStatements(Set.of("endset"), true);
        return new Node.AssignBlock(line, target, filter, body);
    }

    private Stmt parseMacro() {
        int line = next().line;
        String name = expectName().text;
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        parseSignature(params, defaults);
        return new Node.MacroDef(line, name, params, defaults, parseStatements(Set.of("endmacro"), true));
    }

    private void parseSignature(List<String> params, List<Expr> defaults) {
        expectOp("(");
        while (!cur().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            String name = expectName().text;
            if (skipOp("=")) defaults.add(parseExpression(true));
            else if (!defaults.isEmpty()) throw fail("non-default argument follows default argument");
            params.add(name);
        }
        expectOp(")");
    }

    private Stmt parseCallBlock() {
        int line = next().line;
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        if (cur().isOp("(")) parseSignature(params, defaults);
        Expr call = parseExpression(true);
        if (!(call instanceof Node.Call c)) throw fail("expected call");
        return new Node.CallBlock(line, c, params, defaults, parseStatements(Set.of("endcall"), true));
    }

    private Stmt parseFilterBlock() {
        int line = next().line;
        Node.Filter filter = (Node.Filter) parseFilter(null, true);
        return new Node.FilterBlock(line, filter, parseStatements(Set.of("endfilter"), true));
    }

    private Stmt parseWith() {
        int line = next().line;
        List<Target> targets = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (cur().type != Type.BLOCK_END) {
            if (!targets.isEmpty()) expectOp(",");
            targets.add(parseAssignTarget(true, false, null));
            expectOp("=");
            values.add(parseExpression(true));
        }
        return new Node.With(line, targets, values, parseStatements(Set.of("endwith"), true));
    }

    /** A name, a tuple of names ({@code a, b} / {@code (a, b)}), or with withNamespace {@code ns.attr}. */
    private Target parseAssignTarget(boolean withTuple, boolean withNamespace, Set<String> extraEnd) {
        if (withNamespace && cur().type == Type.NAME && look().isOp(".")) {
            String ns = next().text;
            next();
            return new Target(ns, expectName().text, null);
        }
        Expr e = withTuple ? parseTuple(true, false, extraEnd, false) : parsePrimary();
        return toTarget(e);
    }

    private Target toTarget(Expr e) {
        if (e instanceof Node.Name n) return new Target(n.name, null, null);
        if (e instanceof Node.ListLit l && l.tuple) {
            List<Target> items = new ArrayList<>();
            for (Expr x : l.items) items.add(toTarget(x));
            return new Target(null, null, items);
        }
        throw fail("can't assign to " + e.getClass().getSimpleName());
    }

    // ---------------------------------------------------------------- expressions

    private boolean isTupleEnd(Set<String> extraEnd) {
        Token t = cur();
        if (t.type == Type.VAR_END || t.type == Type.BLOCK_END || t.isOp(")")) return true;
        return extraEnd != null && t.type == Type.NAME && extraEnd.contains(t.text);
    }

    /** jinja2's parse_tuple: one expression, or a tuple when commas follow. */
    private Expr parseTuple(boolean simplified, boolean withCondexpr, Set<String> extraEnd, boolean explicitParens) {
        int line = cur().line;
        List<Expr> args = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!args.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            args.add(simplified ? parsePrimary() : parseExpression(withCondexpr));
            if (cur().isOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple) {
            if (!args.isEmpty()) return args.get(0);
            if (!explicitParens) throw fail("Expected an expression, got " + cur());
        }
        return new Node.ListLit(line, args, true);
    }

    private Expr parseExpression(boolean withCondexpr) {
        return withCondexpr ? parseCondexpr() : parseOr();
    }

    private Expr parseCondexpr() {
        Expr e = parseOr();
        while (cur().isName("if")) {
            int line = next().line;
            Expr test = parseOr();
            Expr otherwise = skipName("else") ? parseCondexpr() : null;
            e = new Node.CondExpr(line, test, e, otherwise);
        }
        return e;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (cur().isName("or")) {
            int line = next().line;
            left = new Node.Or(line, left, parseAnd());
        }
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (cur().isName("and")) {
            int line = next().line;
            left = new Node.And(line, left, parseNot());
        }
        return left;
    }

    private Expr parseNot() {
        if (cur().isName("not")) {
            int line = next().line;
            return new Node.Not(line, parseNot());
        }
        return parseCompare();
    }

    private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

    private Expr parseCompare() {
        int line = cur().line;
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = cur();
            if (t.type == Type.OP && COMPARE_OPS.contains(t.text)) {
                next();
                ops.add(t.text);
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && look().isName("in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Node.Compare(line, first, ops, rest);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (cur().isOp("+") || cur().isOp("-")) {
            Token t = next();
            left = new Node.BinOp(t.line, t.text, left, parseConcat());
        }
        return left;
    }

    private Expr parseConcat() {
        int line = cur().line;
        List<Expr> parts = new ArrayList<>();
        parts.add(parseMath2());
        while (skipOp("~")) parts.add(parseMath2());
        return parts.size() == 1 ? parts.get(0) : new Node.Concat(line, parts);
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
            Token t = next();
            left = new Node.BinOp(t.line, t.text, left, parsePow());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (cur().isOp("**")) {
            Token t = next();
            left = new Node.BinOp(t.line, "**", left, parseUnary(true));
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        Token t = cur();
        Expr node;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            node = new Node.Unary(t.line, t.text.equals("-"), parseUnary(false));
        } else {
            node = parsePrimary();
        }
        node = parsePostfix(node);
        if (withFilter) node = parseFilterExpr(node);
        return node;
    }

    private Expr parsePrimary() {
        Token t = cur();
        switch (t.type) {
            case NAME -> {
                next();
                return switch (t.text) {
                    case "true", "True" -> new Node.Const(t.line, true);
                    case "false", "False" -> new Node.Const(t.line, false);
                    case "none", "None" -> new Node.Const(t.line, null);
                    default -> new Node.Name(t.line, t.text);
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder();
                while (cur().type == Type.STRING) sb.append((String) next().value);
                return new Node.Const(t.line, sb.toString());
            }
            case INT, FLOAT -> {
                next();
                return new Node.Const(t.line, t.value);
            }
            case OP -> {
                if (t.isOp("(")) {
                    next();
                    Expr e = parseTuple(false, true, null, true);
                    expectOp(")");
                    return e;
                }
                if (t.isOp("[")) return parseList();
                if (t.isOp("{")) return parseDict();
                throw fail("unexpected " + t);
            }
            default -> throw fail("unexpected " + t);
        }
    }

    private Expr parseList() {
        int line = expectOp("[").line;
        List<Expr> items = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!items.isEmpty()) expectOp(",");
            if (cur().isOp("]")) break;
            items.add(parseExpression(true));
        }
        expectOp("]");
        return new Node.ListLit(line, items, false);
    }

    private Expr parseDict() {
        int line = expectOp("{").line;
        List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
        while (!cur().isOp("}")) {
            if (!keys.isEmpty()) expectOp(",");
            if (cur().isOp("}")) break;
            keys.add(parseExpression(true));
            expectOp(":");
            values.add(parseExpression(true));
        }
        expectOp("}");
        return new Node.DictLit(line, keys, values);
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            if (cur().isOp(".") || cur().isOp("[")) node = parseSubscript(node);
            else if (cur().isOp("(")) node = parseCall(node);
            else return node;
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            if (cur().isOp("|")) node = parseFilter(node, false);
            else if (cur().isName("is")) node = parseTest(node);
            else if (cur().isOp("(")) node = parseCall(node);
            else return node;
        }
    }

    private Expr parseSubscript(Expr node) {
        Token t = next();
        if (t.isOp(".")) {
            Token attr = next();
            if (attr.type == Type.NAME) return new Node.GetAttr(t.line, node, attr.text);
            if (attr.type != Type.INT) throw TemplateException.syntax("expected name or number", attr.line);
            return new Node.GetItem(t.line, node, new Node.Const(attr.line, attr.value));
        }
        List<Expr> args = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!args.isEmpty()) expectOp(",");
            args.add(parseSubscribed());
        }
        expectOp("]");
        Expr arg = args.size() == 1 ? args.get(0) : new Node.ListLit(t.line, args, true);
        return new Node.GetItem(t.line, node, arg);
    }

    private Expr parseSubscribed() {
        int line = cur().line;
        Expr start = null;
        if (!skipOp(":")) {
            Expr e = parseExpression(true);
            if (!cur().isOp(":")) return e;
            next();
            start = e;
        }
        Expr stop = null, step = null;
        if (!cur().isOp(":") && !cur().isOp("]") && !cur().isOp(",")) stop = parseExpression(true);
        if (skipOp(":")) {
            if (!cur().isOp("]") && !cur().isOp(",")) step = parseExpression(true);
        }
        return new Node.SliceExpr(line, start, stop, step);
    }

    private Arguments parseCallArgs() {
        expectOp("(");
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        Expr starArgs = null, starKwargs = null;
        boolean requireComma = false;
        while (!cur().isOp(")")) {
            if (requireComma) {
                expectOp(",");
                if (cur().isOp(")")) break;
            }
            if (skipOp("*")) {
                if (starArgs != null || starKwargs != null) throw fail("invalid syntax for function call expression");
                starArgs = parseExpression(true);
            } else if (skipOp("**")) {
                if (starKwargs != null) throw fail("invalid syntax for function call expression");
                starKwargs = parseExpression(true);
            } else if (cur().type == Type.NAME && look().isOp("=")) {
                if (starKwargs != null) throw fail("invalid syntax for function call expression");
                kwNames.add(next().text);
                next();
                kwValues.add(parseExpression(true));
            } else {
                if (starArgs != null || starKwargs != null || !kwNames.isEmpty()) throw fail("invalid syntax for function call expression");
                args.add(parseExpression(true));
            }
            requireComma = true;
        }
        expectOp(")");
        return new Arguments(args, kwNames, kwValues, starArgs, starKwargs);
    }

    private Expr parseCall(Expr node) {
        int line = cur().line;
        return new Node.Call(line, node, parseCallArgs());
    }

    private Expr parseFilter(Expr node, boolean startInline) {
        while (cur().isOp("|") || startInline) {
            if (!startInline) next();
            Token t = expectName();
            StringBuilder name = new StringBuilder(t.text);
            while (skipOp(".")) name.append('.').append(expectName().text);
            Arguments args = cur().isOp("(") ? parseCallArgs() : Arguments.NONE;
            node = new Node.Filter(t.line, node, name.toString(), args);
            startInline = false;
        }
        return node;
    }

    private static final Set<Type> TEST_ARG_START = Set.of(Type.NAME, Type.STRING, Type.INT, Type.FLOAT);

    private Expr parseTest(Expr node) {
        int line = next().line; // 'is'
        boolean negated = skipName("not");
        StringBuilder name = new StringBuilder(expectName().text);
        while (skipOp(".")) name.append('.').append(expectName().text);
        Arguments args = Arguments.NONE;
        Token t = cur();
        if (t.isOp("(")) {
            args = parseCallArgs();
        } else if ((TEST_ARG_START.contains(t.type) || t.isOp("[") || t.isOp("{"))
                && !t.isName("else") && !t.isName("or") && !t.isName("and")) {
            if (t.isName("is")) throw fail("You cannot chain multiple tests with is");
            Expr arg = parsePostfix(parsePrimary());
            args = new Arguments(List.of(arg), List.of(), List.of(), null, null);
        }
        Expr test = new Node.Test(line, node, name.toString(), args);
        return negated ? new Node.Not(line, test) : test;
    }
}
