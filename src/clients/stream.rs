//! A streamed answer: the provider's SSE body, parsed event by event with
//! `eventsource-stream` and translated into canonical [`ChatEvent`]s as each arrives.
//! Nothing is buffered to the end.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::Stream;

use super::anthropic;
use super::chat::{ChatEvent, ChatResponse, ResponseBuilder};
use super::error::CallError;
use super::http::transport_error;
use super::openai;

/// The translation of one provider's stream.
#[derive(Debug)]
pub(crate) enum Decoder {
    /// OpenAI `chat.completion.chunk`s.
    Openai(openai::StreamDecoder),
    /// Anthropic named events.
    Anthropic(anthropic::StreamDecoder),
}

impl Decoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<(), CallError> {
        let mut events = Vec::new();
        match self {
            Decoder::Openai(d) => d.decode(data, &mut events)?,
            Decoder::Anthropic(d) => d.decode(data, &mut events)?,
        }
        out.extend(events);
        Ok(())
    }

    fn is_done(&self) -> bool {
        match self {
            Decoder::Openai(d) => d.is_done(),
            Decoder::Anthropic(d) => d.is_done(),
        }
    }
}

type SseEvents =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// A streamed answer, as canonical events. Dropping it closes the upstream connection.
///
/// It ends (`None`) after the provider's end marker (`data: [DONE]`, `message_stop`); a
/// stream that breaks or ends before it yields one [`CallError::StreamCut`] and then ends.
pub struct ChatStream {
    events: SseEvents,
    decoder: Decoder,
    pending: VecDeque<ChatEvent>,
    delivered: bool,
    finished: bool,
    timeout: Duration,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("decoder", &self.decoder)
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl ChatStream {
    pub(crate) fn new(response: reqwest::Response, decoder: Decoder, timeout: Duration) -> Self {
        ChatStream {
            events: Box::pin(response.bytes_stream().eventsource()),
            decoder,
            pending: VecDeque::new(),
            delivered: false,
            finished: false,
            timeout,
        }
    }

    /// Reads until an event is ready (`true`) or the stream ended at its end marker
    /// (`false`). Errors keep their own kind here; [`Stream::poll_next`] turns those after
    /// the first delivered event into `StreamCut`.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, CallError>> {
        loop {
            if !self.pending.is_empty() {
                return Poll::Ready(Ok(true));
            }
            if self.finished {
                return Poll::Ready(Ok(false));
            }
            if self.decoder.is_done() {
                // The end marker came: the rest of the body (if any) is not waited for.
                self.finished = true;
                return Poll::Ready(Ok(false));
            }
            match self.events.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.finished = true;
                    return Poll::Ready(Err(CallError::Connect(
                        "the stream ended before its end marker".into(),
                    )));
                }
                Poll::Ready(Some(Ok(event))) => {
                    if let Err(e) = self.decoder.decode(&event.data, &mut self.pending) {
                        self.finished = true;
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.finished = true;
                    let error = match e {
                        EventStreamError::Transport(e) => transport_error(&e, self.timeout),
                        other => CallError::InvalidResponse(other.to_string()),
                    };
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    /// Waits for the first event without taking it: until it arrives, a failure is the
    /// call's (and may be retried).
    pub(crate) async fn first_event(&mut self) -> Result<(), CallError> {
        match std::future::poll_fn(|cx| self.poll_fill(cx)).await? {
            true => Ok(()),
            false => Err(CallError::InvalidResponse(
                "the stream ended without any event".into(),
            )),
        }
    }

    /// Reads the rest of the stream and folds it into the answer a plain call returns.
    pub async fn collect_response(mut self) -> Result<ChatResponse, CallError> {
        let mut builder = ResponseBuilder::new();
        while let Some(event) = futures_util::StreamExt::next(&mut self).await {
            builder.push(&event?);
        }
        Ok(builder.finish())
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatEvent, CallError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.poll_fill(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(true)) => {
                this.delivered = true;
                Poll::Ready(this.pending.pop_front().map(Ok))
            }
            Poll::Ready(Ok(false)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => {
                let e = if this.delivered {
                    CallError::StreamCut(e.to_string())
                } else {
                    e
                };
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}
