"""The official Anthropic SDK against `switchyard serve --mock`: plain, streamed, headers, and
the exception classes for switchyard's errors. Run by tests/sdk.rs."""

import os

import anthropic
from anthropic import Anthropic

url = os.environ["SWITCHYARD_URL"]
client = Anthropic(base_url=url, api_key=os.environ["SWITCHYARD_TOKEN"], max_retries=2)
msgs = [{"role": "user", "content": "Summarize this."}]
step = {"switchyard": {"role": "summarize"}}

raw = client.messages.with_raw_response.create(
    model="support", max_tokens=100, messages=msgs, extra_body=step)
msg = raw.parse()
assert msg.content[0].text, msg
assert raw.headers["x-switchyard-policy"] == "support", raw.headers
assert raw.headers["x-switchyard-cost-usd"], raw.headers

with client.messages.stream(model="support", max_tokens=100, messages=msgs,
                            extra_body=step) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
assert text, "no streamed text"
assert final.usage.output_tokens > 0, final.usage


def expect(exc, c=None, **kw):
    args = dict(model="support", max_tokens=100, messages=msgs, extra_body=step)
    args.update(kw)
    try:
        (c or client).messages.create(**args)
    except exc as e:
        return e
    raise AssertionError(f"expected {exc.__name__}")


expect(anthropic.BadRequestError, extra_body={"switchyard": {"nope": 1}})
expect(anthropic.AuthenticationError, c=Anthropic(base_url=url, api_key="wrong", max_retries=0))
expect(anthropic.NotFoundError, model="no-such-policy")
e = expect(anthropic.RateLimitError, model="capped")
assert e.response.headers.get("x-should-retry") == "false"
# Tool calls: the mock calls the first tool offered, and answers in text once the tool's
# result comes back. Tool output is untrusted unless the caller says otherwise (this policy's
# guard would refuse it), so the second turn says so.
tools = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
ask = [{"role": "user", "content": "Weather in Rome?"}]
trusted = {"switchyard": {"role": "summarize", "untrusted_input": False}}


def second_turn(block):
    return ask + [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": block.id, "content": "sunny, 24C"}]}]


first = client.messages.create(model="support", max_tokens=100, messages=ask, tools=tools,
                               extra_body=step)
assert first.stop_reason == "tool_use", first
block = first.content[0]
assert block.type == "tool_use" and block.name == "get_weather", first
second = client.messages.create(model="support", max_tokens=100, messages=second_turn(block),
                                tools=tools, extra_body=trusted)
assert second.content[0].type == "text" and second.content[0].text, second

# The same, streamed: the call arrives as a tool_use block with input_json_delta pieces.
with client.messages.stream(model="support", max_tokens=100, messages=ask, tools=tools,
                            extra_body=step) as s:
    final = s.get_final_message()
assert final.stop_reason == "tool_use", final
block = final.content[0]
assert block.type == "tool_use" and block.name == "get_weather", final
with client.messages.stream(model="support", max_tokens=100, messages=second_turn(block),
                            tools=tools, extra_body=trusted) as s:
    text = "".join(s.text_stream)
assert text, "no streamed text after the tool result"
print("anthropic ok")
