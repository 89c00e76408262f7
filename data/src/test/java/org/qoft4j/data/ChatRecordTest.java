package org.qoft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.qoft4j.data.SampleEncoderTest.assertError;
import static org.qoft4j.data.SampleEncoderTest.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qoft4j.data.tokenizer.TestTokenizers;
import org.qoft4j.data.tokenizer.TextTokenizer;

/**
 * Chat records beyond role/content: tools and tool calls, ShareGPT (LLaMA-Factory's and Axolotl's reading),
 * chat_template_kwargs from the config and the record, reasoning; tokenized whole, as transformers tokenizes the
 * rendered chat.
 */
class ChatRecordTest {
    static final String TOOL = "{\"name\": \"get_weather\", \"description\": \"Weather.\", \"parameters\": {\"type\": \"object\", "
            + "\"properties\": {\"city\": {\"type\": \"string\"}}}}";

    /** The text of the scored tokens, one string per run of consecutive scored tokens. */
    static List<String> scored(TextTokenizer t, Sample s) {
        List<String> runs = new ArrayList<>();
        List<Long> run = new ArrayList<>();
        for (int i = 0; i <= s.length(); i++) {
            if (i < s.length() && s.labels()[i] != Sample.IGNORE) {
                run.add(s.inputIds()[i]);
            } else if (!run.isEmpty()) {
                runs.add(t.decode(run.stream().mapToLong(Long::longValue).toArray(), false));
                run.clear();
            }
        }
        return runs;
    }

    @Test
    void shareGptReadsAsTheEquivalentMessagesRecord(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            SampleEncoder e = new SampleEncoder(t, false, 0);
            String tools = new ObjectMapper().writeValueAsString(List.of(new ObjectMapper().readTree(TOOL))); // a JSON string, as in glaive_toolcall
            Sample sharegpt = e.encode(json("{\"system\": \"Be exact.\", \"tools\": " + new ObjectMapper().writeValueAsString(tools) + ", \"conversations\": ["
                    + "{\"from\": \"human\", \"value\": \"Weather in Bern?\"},"
                    + "{\"from\": \"function_call\", \"value\": \"{\\\"name\\\": \\\"get_weather\\\", \\\"arguments\\\": {\\\"city\\\": \\\"Bern\\\"}}\"},"
                    + "{\"from\": \"observation\", \"value\": \"18 C\"},"
                    + "{\"from\": \"gpt\", \"value\": \"It is 18 C.\"}]}"));
            Sample messages = e.encode(json("{\"tools\": [{\"type\": \"function\", \"function\": " + TOOL + "}], \"messages\": ["
                    + "{\"role\": \"system\", \"content\": \"Be exact.\"},"
                    + "{\"role\": \"user\", \"content\": \"Weather in Bern?\"},"
                    + "{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"type\": \"function\", \"function\": "
                    + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\"}}}]},"
                    + "{\"role\": \"tool\", \"content\": \"18 C\"},"
                    + "{\"role\": \"assistant\", \"content\": \"It is 18 C.\"}]}"));
            assertEquals(messages, sharegpt);
            List<String> runs = scored(t, sharegpt);
            assertEquals(List.of("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Bern\"}}\n</tool_call><|im_end|>\n",
                    "It is 18 C.<|im_end|>\n"), runs, "the tool call and the answer are scored, with their end of turn; the tool result is not");
            String all = t.decode(sharegpt.inputIds(), false);
            assertTrue(all.contains("<tool_response>\n18 C\n</tool_response>") && all.contains("\"name\": \"get_weather\", \"description\""), all);
            assertArrayEquals(t.encodeRaw(all), sharegpt.inputIds(), "the rendered chat tokenized whole, as transformers does");
        }
    }

    @Test
    void parallelFunctionCallsAndAxolotlRoles(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"conversations\": ["
                    + "{\"from\": \"user\", \"value\": \"Bern and Chur?\"},"
                    + "{\"from\": \"function_call\", \"value\": \"[{\\\"name\\\": \\\"w\\\", \\\"arguments\\\": {\\\"c\\\": \\\"Bern\\\"}}, "
                    + "{\\\"name\\\": \\\"w\\\", \\\"arguments\\\": {\\\"c\\\": \\\"Chur\\\"}}]\"},"
                    + "{\"from\": \"tool\", \"value\": \"18\"}, {\"from\": \"tool\", \"value\": \"20\"},"
                    + "{\"from\": \"assistant\", \"value\": \"18 and 20.\"}]}"));
            List<String> runs = scored(t, s);
            assertEquals(2, runs.size(), runs.toString());
            assertTrue(runs.get(0).contains("\"c\": \"Bern\"") && runs.get(0).contains("\"c\": \"Chur\""), runs.get(0));
            assertTrue(t.decode(s.inputIds(), false).contains("<tool_response>\n18\n</tool_response>\n<tool_response>\n20\n</tool_response>"));
        }
    }

    @Test
    void malformedShareGptSaysWhatWasExpected(@TempDir Path dir) throws IOException {
        try (TextTokenizer t = TextTokenizer.load(TestTokenizers.qwen(dir))) {
            SampleEncoder e = new SampleEncoder(t, false, 0);
            assertError(e, "{\"conversations\": []}", "non-empty array of {\"from\", \"value\"}");
            assertError(e, "{\"conversations\": [{\"from\": \"bot\", \"value\": \"x\"}]}", "unknown \"from\": 'bot'");
            assertError(e, "{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}, {\"from\": \"system\", \"value\": \"s\"}]}",
                    "conversations[1]: a system message must come first");
            assertError(e, "{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}, {\"from\": \"function_call\", \"value\": \"get_weather(x)\"}]}",
                    "conversations[1]: a function_call value must be JSON");
            assertError(e, "{\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}, {\"from\": \"function_call\", \"value\": \"{\\\"name\\\": \\\"f\\\"}\"}]}",
                    "needs \"name\" and \"arguments\"");
            assertError(e, "{\"tools\": \"[{oops\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]}", "\"tools\" is a string but not JSON");
            assertError(e, "{\"conversations\": [{\"from\": \"human\", \"value\": 3}]}", "string \"from\" and \"value\"");
            assertError(e, "{\"chat_template_kwargs\": [1], \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "\"chat_template_kwargs\" to be an object");
        }
    }

    /** A byte-level tokenizer carrying a real tokenizer_config.json from test-data (its template and special tokens). */
    static Path withRealTemplate(Path dir, String template, List<String> specials) throws IOException {
        Path cfg = AssistantSpansTemplatesTest.TEST_DATA.resolve("tokenizers").resolve(template).resolve("tokenizer_config.json");
        @SuppressWarnings("unchecked") Map<String, Object> config = new ObjectMapper().readValue(cfg.toFile(), LinkedHashMap.class);
        config.remove("added_tokens_decoder");
        return TestTokenizers.write(dir, specials, false, config);
    }

    @Test
    void templateKwargsComeFromTheConfigAndTheRecordWins(@TempDir Path dir) throws IOException {
        Path d = withRealTemplate(dir, "llama3_1_instruct",
                List.of("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"));
        try (TextTokenizer t = TextTokenizer.load(d)) {
            String record = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}";
            String own = "{\"chat_template_kwargs\": {\"date_string\": \"02 Feb 2026\"}, " + record.substring(1);
            assertTrue(text(t, new SampleEncoder(t, false, 0), record).contains("Today Date: 26 Jul 2024"), "the template's default");
            SampleEncoder withConfig = new SampleEncoder(t, false, 0, Map.of("date_string", "01 Jan 2026"));
            assertTrue(text(t, withConfig, record).contains("Today Date: 01 Jan 2026"), "chat-template-kwargs of the config");
            assertTrue(text(t, withConfig, own).contains("Today Date: 02 Feb 2026"), "the record's own chat_template_kwargs win");
            // tools given as a kwarg reach the template as apply_chat_template(tools=...) does
            SampleEncoder withTools = new SampleEncoder(t, false, 0, Map.of("tools", List.of(Map.of("type", "function",
                    "function", Map.of("name", "get_weather", "parameters", Map.of())))));
            String rendered = text(t, withTools, record);
            assertTrue(rendered.contains("Environment: ipython") && rendered.contains("\"name\": \"get_weather\""), rendered);
            assertEquals(List.of("Hello<|eot_id|>"), scored(t, withTools.encode(json(record))));
        }
    }

    private static String text(TextTokenizer t, SampleEncoder e, String record) throws IOException {
        return t.decode(e.encode(json(record)).inputIds(), false);
    }

    @Test
    void qwen3ScoresTheReasoningItRendersAndEveryTurn(@TempDir Path dir) throws IOException {
        Path d = withRealTemplate(dir, "qwen3", List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>",
                "</tool_call>", "<tool_response>", "</tool_response>"));
        try (TextTokenizer t = TextTokenizer.load(d)) {
            Sample s = new SampleEncoder(t, false, 0).encode(json("{\"messages\": ["
                    + "{\"role\": \"user\", \"content\": \"Is 91 prime?\"},"
                    + "{\"role\": \"assistant\", \"content\": \"No.\", \"reasoning_content\": \"91 = 7 x 13.\"},"
                    + "{\"role\": \"user\", \"content\": \"And 97?\"},"
                    + "{\"role\": \"assistant\", \"content\": \"Yes.\", \"reasoning_content\": \"No divisor up to 9.\"}]}"));
            // Qwen3 drops the reasoning of turns before the last user message: what is not rendered is not trained on
            assertEquals(List.of("No.<|im_end|>\n", "<think>\nNo divisor up to 9.\n</think>\n\nYes.<|im_end|>\n"), scored(t, s));
            Sample off = new SampleEncoder(t, false, 0, Map.of("enable_thinking", false)).encode(json("{\"messages\": ["
                    + "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"},"
                    + "{\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Ciao\"}]}"));
            // enable_thinking=false: the generation prompt ends with an empty think block, so for the last turn it is prompt, not answer
            assertEquals(List.of("Hello<|im_end|>\n", "Ciao<|im_end|>\n"), scored(t, off));
            String text = t.decode(off.inputIds(), false);
            assertTrue(text.contains("<think>\n\n</think>\n\nCiao") && !text.contains("<think>\n\n</think>\n\nHello"), text);
        }
    }
}
