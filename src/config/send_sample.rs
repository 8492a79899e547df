//! The `send-sample` subcommand's flags: where to send, which Kaizala event types, and how.

use clap::{Args, Subcommand};

use crate::kaizala::EventType;

/// What binspector can do besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// POST sample Kaizala webhook events to a URL (Kaizala itself has been retired), e.g. to
    /// a bin's capture URL.
    SendSample(SendSampleArgs),
}

/// The flags of `binspector send-sample`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Prints one line per request: event type, eventId and the status answered. \
        Exits non-zero if a request failed or was not answered 2xx.\n\n\
        Example: binspector send-sample --to https://bins.example.com/<bin> --event all"
)]
pub struct SendSampleArgs {
    /// The URL to POST to, e.g. a bin's capture URL.
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// The event type to send: one of the 13 Kaizala types (TextMessageCreated, SurveyResponse,
    /// ...; any case), or `all` for one of each.
    #[arg(long, value_name = "TYPE", value_parser = parse_event_choice)]
    pub event: EventChoice,

    /// Send each event twice with the same eventId, as Kaizala's at-least-once delivery can.
    #[arg(long)]
    pub twice: bool,

    /// The webhook's callBackToken, sent in the kz-callback-token header.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BINSPECTOR_SAMPLE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// The webhook's callBackContext, echoed in each event's `context`.
    #[arg(long, value_name = "TEXT")]
    pub context: Option<String>,

    /// Accept any certificate, e.g. binspector's self-signed one. Insecure: anyone on the path
    /// can read and change what is sent.
    #[arg(long)]
    pub insecure: bool,
}

/// The events `--event` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventChoice {
    /// One of each of the 13 types.
    All,
    /// Just this one.
    One(EventType),
}

impl EventChoice {
    /// The types to send, in Kaizala's documentation order.
    pub fn event_types(self) -> Vec<EventType> {
        match self {
            EventChoice::All => EventType::ALL.to_vec(),
            EventChoice::One(event_type) => vec![event_type],
        }
    }
}

/// Parses `--event`: `all`, or a Kaizala event type's name in any case.
pub fn parse_event_choice(text: &str) -> Result<EventChoice, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(EventChoice::All);
    }
    EventType::ALL
        .into_iter()
        .find(|kind| kind.name().eq_ignore_ascii_case(text))
        .map(EventChoice::One)
        .ok_or_else(|| {
            let names: Vec<&str> = EventType::ALL.map(EventType::name).to_vec();
            format!(
                "`{text}` is not a Kaizala event type; use `all` or one of {}",
                names.join(", ")
            )
        })
}
