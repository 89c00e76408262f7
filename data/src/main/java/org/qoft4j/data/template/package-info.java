/**
 * Hugging Face chat templates rendered exactly as transformers renders them: a small Jinja2 interpreter (lexer,
 * parser, tree evaluator) with Python value semantics, set up as transformers sets up jinja2
 * ({@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)} with loop controls, its
 * {@code tojson}, {@code raise_exception}, {@code strftime_now} and {@code {% generation %}}).
 *
 * <p>Entry points: {@link org.qoft4j.data.template.ChatTemplateRenderer} (tokenizer_config.json or a model
 * directory; messages, tools, documents, add_generation_prompt, continue_final_message, extra kwargs such as
 * enable_thinking and date_string; {@code {% generation %}} spans) and {@link org.qoft4j.data.template.JinjaTemplate}
 * (any template with a map of plain values).
 *
 * <p>Why an own engine: Jinja2's semantics that chat templates depend on (whitespace control with trim_blocks and
 * lstrip_blocks, scoping of {@code set} in loops, {@code namespace}, slices with steps, Python's str/list/dict
 * methods and truthiness, Python's repr/str of values, {@code json.dumps} output, sandbox refusals, undefined
 * handling) are easier to get exact in about 4,800 lines written for them than by patching a Java-flavoured engine, and
 * values in the context are only ever data: no string is parsed as template code after compilation.
 *
 * <p>How it is checked: scripts/hf_chat_template.py renders with Python's jinja2 set up as transformers; the tests
 * compare byte for byte with its committed output (test-data/chat-templates: real templates x conversations, and
 * Jinja2 semantics snippets) and with a live run when python3+jinja2 are installed (plus seeded random
 * conversations).
 *
 * <p>Known differences from Python (none used by the templates tested): values Python prints by identity (bound
 * methods, generators from an unconsumed {@code |map}) print differently; {@code dict.items()/keys()/values()} are
 * lists; macros accept surplus arguments into varargs/kwargs where jinja2 raises when the macro does not use them;
 * recursive for loops, extends/include/import/block and the filters urlize, urlencode, xmlattr, wordwrap,
 * filesizeformat, random, groupby are not supported (a clear error); {@code %g} formatting and case mapping follow
 * Java (Unicode 13 in JDK 17).
 */
package org.qoft4j.data.template;
