"""The official OpenAI SDK against `switchyard serve --mock`: plain, streamed, headers, and
the exception classes the SDK raises for switchyard's errors. Run by tests/sdk.rs."""

import os
import sys

import openai
from openai import OpenAI

base = os.environ["SWITCHYARD_URL"] + "/v1"
client = OpenAI(base_url=base, api_key=os.environ["SWITCHYARD_TOKEN"], max_retries=2)
msgs = [{"role": "user", "content": "Summarize this."}]

# Plain, with the step's features in extra_body, and the headers.
raw = client.chat.completions.with_raw_response.create(
    model="support", messages=msgs, max_tokens=100,
    extra_body={"switchyard": {"role": "summarize"}},
)
answer = raw.parse()
assert answer.choices[0].message.content, answer
assert raw.headers["x-switchyard-policy"] == "support", raw.headers
assert raw.headers["x-switchyard-tier"], raw.headers
assert raw.headers["x-switchyard-cost-usd"], raw.headers

# Streamed, with usage asked for.
stream = client.chat.completions.create(
    model="support", messages=msgs, max_tokens=100, stream=True,
    stream_options={"include_usage": True},
    extra_body={"switchyard": {"role": "summarize"}},
)
text, usage = "", None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
assert text, "no streamed text"
assert usage is not None and usage.completion_tokens > 0, usage


def expect(exc, **kw):
    args = dict(model="support", messages=msgs, max_tokens=100,
                extra_body={"switchyard": {"role": "summarize"}})
    args.update(kw)
    c = kw.pop("_client", None) or client
    args.pop("_client", None)
    try:
        c.chat.completions.create(**args)
    except exc as e:
        return e
    raise AssertionError(f"expected {exc.__name__}")


expect(openai.BadRequestError, extra_body={"switchyard": {"nope": 1}})
expect(openai.AuthenticationError, _client=OpenAI(base_url=base, api_key="wrong", max_retries=0))
expect(openai.PermissionDeniedError, messages=[
    {"role": "user", "content": "x"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "page"}])
expect(openai.NotFoundError, model="no-such-policy")
expect(openai.APIStatusError, messages=[{"role": "user", "content": "x" * 300_000}])
e = expect(openai.RateLimitError, model="capped")
assert e.status_code == 429 and e.response.headers.get("x-should-retry") == "false"
# Tool calls: the mock calls the first tool offered, and answers in text once the tool's
# result comes back. Tool output is untrusted unless the caller says otherwise (this policy's
# guard would refuse it), so the second turn says so.
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
ask = [{"role": "user", "content": "Weather in Rome?"}]
trusted = {"switchyard": {"role": "summarize", "untrusted_input": False}}


def second_turn(call_id, name, arguments):
    return ask + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "sunny, 24C"}]


first = client.chat.completions.create(
    model="support", messages=ask, tools=tools, max_tokens=100,
    extra_body={"switchyard": {"role": "summarize"}})
assert first.choices[0].finish_reason == "tool_calls", first
call = first.choices[0].message.tool_calls[0]
assert call.function.name == "get_weather", call
second = client.chat.completions.create(
    model="support", messages=second_turn(call.id, call.function.name, call.function.arguments),
    tools=tools, max_tokens=100, extra_body=trusted)
assert second.choices[0].message.content, second
assert not second.choices[0].message.tool_calls, second

# The same, streamed: the call arrives as tool_calls deltas.
stream = client.chat.completions.create(
    model="support", messages=ask, tools=tools, max_tokens=100, stream=True,
    extra_body={"switchyard": {"role": "summarize"}})
call_id, name, arguments, finish = None, "", "", None
for chunk in stream:
    if not chunk.choices:
        continue
    for tc in chunk.choices[0].delta.tool_calls or []:
        call_id = tc.id or call_id
        if tc.function is not None:
            name += tc.function.name or ""
            arguments += tc.function.arguments or ""
    finish = chunk.choices[0].finish_reason or finish
assert (name, finish) == ("get_weather", "tool_calls"), (name, finish)
assert call_id, "no tool call id streamed"
stream = client.chat.completions.create(
    model="support", messages=second_turn(call_id, name, arguments), tools=tools,
    max_tokens=100, stream=True, extra_body=trusted)
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
assert text, "no streamed text after the tool result"
print("openai ok")
sys.exit(0)
