package org.qoft4j.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The engine's contract beyond Jinja2 parity (which JinjaSnippetsTest pins): data stays data, errors, immutability, reuse. */
class JinjaTemplateTest {
    private static String render(String template, Map<String, ?> ctx) {
        return JinjaTemplate.compile(template).render(ctx);
    }

    @Test
    void valuesThatLookLikeTemplateCodeAreNeverExecuted() {
        String code = "{{ 7*7 }} {% if true %}yes{% endif %} {{ raise_exception('x') }} {# c #}";
        assertEquals(code, render("{{ m }}", Map.of("m", code)));
        assertEquals("[" + code + "]", render("{{ '[' + m + ']' }}", Map.of("m", code)));
        assertEquals(code.toUpperCase(), render("{{ m|upper }}", Map.of("m", code)));
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessageVerbatim() {
        RaisedException e = assertThrows(RaisedException.class,
                () -> render("{% if messages|length > 1 %}{{ raise_exception('Only ' ~ 1 ~ ' message, got ' ~ messages|length) }}{% endif %}",
                        Map.of("messages", List.of("a", "b"))));
        assertEquals("Only 1 message, got 2", e.getMessage());
        assertEquals("TemplateError", e.pythonType());
    }

    @Test
    void errorsNameTheTemplateLine() {
        TemplateException e = assertThrows(TemplateException.class, () -> render("a\nb\n{{ x.y.z }}\n", Map.of()));
        assertEquals(3, e.line());
        assertEquals("UndefinedError", e.pythonType());
        assertEquals("'x' is undefined", e.detail());
        TemplateException syntax = assertThrows(TemplateException.class, () -> JinjaTemplate.compile("ok\n{% for x in %}"));
        assertEquals("TemplateSyntaxError", syntax.pythonType());
        assertEquals(2, syntax.line());
    }

    @Test
    void theTemplateCannotChangeTheCallersData() {
        List<Object> msgs = new ArrayList<>(List.of("a"));
        TemplateException e = assertThrows(TemplateException.class, () -> render("{{ msgs.append('b') }}", Map.of("msgs", msgs)));
        assertEquals("SecurityError", e.pythonType());
        assertEquals(List.of("a"), msgs);
        assertEquals("a|a", render("{% set m = msgs %}{% set m = m + ['b'] %}{{ msgs|join }}|{{ msgs[0] }}", Map.of("msgs", msgs)));
        assertEquals(List.of("a"), msgs);
    }

    @Test
    void pythonStringSemanticsNotJavas() {
        assertEquals("['a', 'b', '', ''] ['x', 'y'] 2 🙂", render("{{ 'a,b,,'.split(',') }} {{ ' x  y '.split() }} {{ s|length }} {{ s[-1] }}", Map.of("s", "a🙂")));
        assertEquals("[3, 2, 1] [1, 3]", render("{{ l[::-1] }} {{ l[::2] }}", Map.of("l", List.of(1, 2, 3))));
    }

    @Test
    void aCompiledTemplateRendersConcurrently() throws Exception {
        JinjaTemplate t = JinjaTemplate.compile("{% set ns = namespace(n=0) %}{% for i in range(k) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int k = 0; k < 200; k++) {
                int kk = k;
                results.add(pool.submit(() -> t.render(Map.of("k", kk))));
            }
            for (int k = 0; k < 200; k++) assertEquals(String.valueOf(k * (k - 1) / 2), results.get(k).get());
        } finally {
            pool.shutdownNow();
        }
    }
}
