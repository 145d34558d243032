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
print("anthropic ok")
