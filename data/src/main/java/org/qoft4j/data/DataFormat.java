package org.qoft4j.data;

/** The JSONL record formats {@link SampleEncoder} reads. */
public enum DataFormat {
    /** {@code {"text": ...}} */
    TEXT,
    /** {@code {"instruction": ..., "input": ..., "output": ...}} */
    ALPACA,
    /** {@code {"messages": [{"role": ..., "content": ...}, ...]}} */
    CHAT,
    /** {@code {"conversations": [{"from": ..., "value": ...}, ...]}} (ShareGPT, as LLaMA-Factory and Axolotl read it) */
    SHAREGPT,
    /** {@code {"input_ids": [...], "labels": [...]}} */
    TOKENS
}
