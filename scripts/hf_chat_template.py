#!/usr/bin/env python3
"""Reference renderer for Hugging Face chat templates: Python jinja2 set up the way transformers sets it up.

The Java engine (org.qoft4j.data.template) is tested against this script, byte for byte.

transformers' setup (utils/chat_template_utils.py, _compile_jinja_template and render_jinja_template;
tokenization_utils_base.apply_chat_template), reproduced here:
  - ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
  - filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
  - globals raise_exception(msg) -> jinja2.exceptions.TemplateError(msg), strftime_now(fmt) -> datetime.now().strftime(fmt)
  - {% generation %}...{% endgeneration %} (AssistantTracker) is a call block whose body renders as is; its spans are
    recorded as return_assistant_tokens_mask records them and written as "generation" (code point offsets)
  - the template is rendered with messages, tools, documents, add_generation_prompt, the tokenizer's special tokens
    (bos_token, eos_token, ..., additional_special_tokens) and any extra keyword arguments (extra kwargs win)
  - continue_final_message: "CONTINUE_FINAL_MESSAGE_TAG " is appended to the final message's content (or to the last
    text block of a list content), the chat is rendered, and the result is cut where the tag starts (rstripped when
    the template did not keep the tag's trailing space)
  - a tokenizer_config whose chat_template is a list of {"name", "template"} picks "tool_use" when tools are given
    and the config has it, else "default"

Usage:
  scripts/hf_chat_template.py CASES.json [--config-root DIR] [--only NAME]   -> JSON results on stdout
  scripts/hf_chat_template.py --snippets SNIPPETS.json                     -> each snippet's result on stdout
SNIPPETS.json: {"now": ..., "snippets": [{"id": ..., "template": ..., "context": {...}}, ...]}; output
  {"jinja2": version, "results": {ID: {"text": ...} | {"error": TYPE, "message": ...}}}
CASES.json: {"now": "2026-01-15T10:30:00", "templates": ["llama3_1", ...], "conversations": [{"id": ..., "messages": [...],
             "tools": ..., "documents": ..., "add_generation_prompt": bool, "continue_final_message": bool,
             "kwargs": {...}}, ...]}
Each template NAME is read from CONFIG_ROOT/NAME/tokenizer_config.json (default: test-data/tokenizers next to this repo).
Output: {"jinja2": version, "results": {NAME: {CONVERSATION_ID: {"text": ...} | {"error": TYPE, "message": ...}}}}
"""
import argparse
import copy
import datetime as _dt
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

TAG = "CONTINUE_FINAL_MESSAGE_TAG "
SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


class GenerationBlock(jinja2.ext.Extension):
    """transformers' AssistantTracker: {% generation %} body {% endgeneration %} renders its body and, while a render
    tracks them, records (start, end) with start = the length of the blocks the template has yielded so far; it
    records only once a block was yielded or an index recorded (transformers' is_active())."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        self.blocks = None
        self.indices = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        rv = caller()
        if self.blocks or self.indices:
            start = len("".join(self.blocks))
            self.indices.append((start, start + len(rv)))
        return rv


def make_env(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def token_text(tok):
    """A special token in tokenizer_config: a string or an AddedToken dict {"content": ...}."""
    if isinstance(tok, dict):
        return tok.get("content")
    return tok


def special_tokens_map(cfg):
    out = {}
    for key in SPECIAL_TOKEN_KEYS:
        value = token_text(cfg.get(key))
        if value is not None:
            out[key] = value
    extra = cfg.get("additional_special_tokens")
    if extra:
        out["additional_special_tokens"] = [token_text(t) for t in extra]
    return out


def pick_template(cfg, tools):
    tpl = cfg.get("chat_template")
    if isinstance(tpl, list):
        named = {t["name"]: t["template"] for t in tpl}
        if tools is not None and "tool_use" in named:
            return named["tool_use"]
        if "default" in named:
            return named["default"]
        raise ValueError("no default chat template among " + ", ".join(named))
    if tpl is None:
        raise ValueError("tokenizer_config has no chat_template")
    return tpl


def render(env, cfg, conv):
    tools = conv.get("tools")
    source = pick_template(cfg, tools)
    template = env.from_string(source)
    messages = copy.deepcopy(conv["messages"])
    add_generation_prompt = conv.get("add_generation_prompt", False)
    cont = conv.get("continue_final_message", False)
    if cont and add_generation_prompt:
        raise ValueError("continue_final_message and add_generation_prompt are not compatible")
    final_message = None
    if cont:
        final_message = messages[-1]["content"]
        if isinstance(final_message, (list, tuple)):
            for block in reversed(final_message):
                if "text" in block:
                    final_message = block["text"]
                    block["text"] = block["text"] + TAG
                    break
            else:
                raise ValueError("continue_final_message is set but we could not find any text to continue in the final message!")
        else:
            messages[-1]["content"] = messages[-1]["content"] + TAG
    kwargs = dict(special_tokens_map(cfg))
    kwargs.update(conv.get("kwargs", {}))
    tracker = next(e for e in env.extensions.values() if isinstance(e, GenerationBlock))
    tracker.blocks, tracker.indices = [], []
    try:
        for block in template.generate(messages=messages, tools=tools, documents=conv.get("documents"),
                                       add_generation_prompt=add_generation_prompt, **kwargs):
            tracker.blocks.append(block)
        text = "".join(tracker.blocks)
        indices = [list(i) for i in tracker.indices]
    finally:
        tracker.blocks, tracker.indices = None, None
    if cont:
        if final_message.strip() not in text or TAG.strip() not in text:
            raise ValueError("continue_final_message is set but the final message does not appear in the chat after "
                             "applying the chat template!")
        loc = text.rindex(TAG.strip())
        text = text[:loc] if text[loc:loc + len(TAG)] == TAG else text[:loc].rstrip()
    return text, indices


def run_snippets(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    env = make_env(_dt.datetime.fromisoformat(doc["now"]))
    results = {}
    for sn in doc["snippets"]:
        try:
            results[sn["id"]] = {"text": env.from_string(sn["template"]).render(**sn.get("context", {}))}
        except Exception as e:  # the error is part of the expected result
            results[sn["id"]] = {"error": type(e).__name__, "message": str(e)}
    json.dump({"jinja2": jinja2.__version__, "results": results}, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="?")
    ap.add_argument("--snippets", help="render small templates with their contexts instead")
    ap.add_argument("--config-root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test-data", "tokenizers"))
    ap.add_argument("--only", help="render only this template")
    args = ap.parse_args()
    if args.snippets:
        run_snippets(args.snippets)
        return
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)
    now = _dt.datetime.fromisoformat(cases["now"])
    env = make_env(now)
    results = {}
    for name in cases["templates"]:
        if args.only and name != args.only:
            continue
        with open(os.path.join(args.config_root, name, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        per = {}
        for conv in cases["conversations"]:
            try:
                text, indices = render(env, cfg, conv)
                per[conv["id"]] = {"text": text}
                if indices:  # {% generation %} spans, as return_assistant_tokens_mask computes them (code point offsets)
                    per[conv["id"]]["generation"] = indices
            except Exception as e:  # the error is part of the expected result
                per[conv["id"]] = {"error": type(e).__name__, "message": str(e)}
        results[name] = per
    json.dump({"jinja2": jinja2.__version__, "results": results}, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
